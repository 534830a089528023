/** Retry policy of one delivery. */
export type DeliveryPolicy = {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Delay before the second attempt; doubles per attempt (with jitter), at most 5 minutes. */
  baseDelayMs: number;
  /** Each attempt is abandoned after this long. */
  timeoutMs: number;
};

/** The result of one delivery: the last HTTP status (null when no response came) and why it gave up. */
export type DeliveryResult = { ok: boolean; attempts: number; status: number | null; error: string | null };

export const DEFAULT_DELIVERY: DeliveryPolicy = { maxAttempts: 5, baseDelayMs: 2_000, timeoutMs: 10_000 };

/**
 * POSTs `body` to `url` until a 2xx answer, retrying with exponential backoff after network
 * errors, timeouts, 408, 429 and 5xx (any other 4xx is final: the receiver rejects the request).
 * Never throws; `signal` stops waiting and retrying (shutdown). Redirects are not followed, so a
 * signed body never lands somewhere else.
 */
export async function deliver(
  request: { url: string; body: string; headers: Record<string, string> },
  policy: DeliveryPolicy,
  signal: AbortSignal,
): Promise<DeliveryResult> {
  let status: number | null = null;
  let error: string | null = null;
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    if (attempt > 1) await sleep(backoffMs(policy.baseDelayMs, attempt), signal);
    if (signal.aborted) return { ok: false, attempts: attempt - 1, status, error: "stopped" };
    try {
      const response = await fetch(request.url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "SQLGuard-Webhook/1", ...request.headers },
        body: request.body,
        redirect: "manual",
        signal: AbortSignal.any([signal, AbortSignal.timeout(policy.timeoutMs)]),
      });
      status = response.status;
      await response.body?.cancel().catch(() => {});
      if (status >= 200 && status < 300) return { ok: true, attempts: attempt, status, error: null };
      error = `the receiver answered HTTP ${status}`;
      if (!retryable(status)) return { ok: false, attempts: attempt, status, error };
    } catch (caught) {
      status = null;
      const cause = (caught as { cause?: { code?: string } }).cause?.code;
      error =
        (caught as Error).name === "TimeoutError" ? `no answer within ${policy.timeoutMs} ms` : `${(caught as Error).message}${cause ? ` (${cause})` : ""}`;
    }
  }
  return { ok: false, attempts: policy.maxAttempts, status, error };
}

function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function backoffMs(baseMs: number, attempt: number): number {
  const exp = Math.min(baseMs * 2 ** (attempt - 2), 300_000);
  return Math.round(exp * (0.75 + Math.random() * 0.5));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
