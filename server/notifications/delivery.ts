import http from "node:http";
import https from "node:https";
import { BlockedAddressError, guardedLookup, hostOf, isBlockedAddress, type WebhookNetwork } from "./address-guard.ts";

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
 * signed body never lands somewhere else. A host that is, or resolves to, a link-local or cloud
 * metadata address is refused without a connection (final, unless `network.allowLinkLocal`); the
 * check is made on the very addresses the connection uses.
 */
export async function deliver(
  request: { url: string; body: string; headers: Record<string, string> },
  policy: DeliveryPolicy,
  signal: AbortSignal,
  network: WebhookNetwork = {},
): Promise<DeliveryResult> {
  const url = new URL(request.url);
  const host = hostOf(url);
  if (!network.allowLinkLocal && isBlockedAddress(host)) return { ok: false, attempts: 0, status: null, error: new BlockedAddressError(host, host).message };
  const lookup = guardedLookup(network);
  let status: number | null = null;
  let error: string | null = null;
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    if (attempt > 1) await sleep(backoffMs(policy.baseDelayMs, attempt), signal);
    if (signal.aborted) return { ok: false, attempts: attempt - 1, status, error: "stopped" };
    const timeout = AbortSignal.timeout(policy.timeoutMs);
    try {
      status = await post(url, request, lookup, AbortSignal.any([signal, timeout]));
      if (status >= 200 && status < 300) return { ok: true, attempts: attempt, status, error: null };
      error = `the receiver answered HTTP ${status}`;
      if (!retryable(status)) return { ok: false, attempts: attempt, status, error };
    } catch (caught) {
      status = null;
      if (caught instanceof BlockedAddressError) return { ok: false, attempts: attempt, status, error: caught.message };
      const message = (caught as Error).message;
      const code = (caught as { code?: string }).code;
      error = timeout.aborted ? `no answer within ${policy.timeoutMs} ms` : code && !message.includes(code) ? `${message} (${code})` : message;
    }
  }
  return { ok: false, attempts: policy.maxAttempts, status, error };
}

/** One POST; resolves with the status as soon as it arrives (the body is not read). */
function post(
  url: URL,
  request: { body: string; headers: Record<string, string> },
  lookup: ReturnType<typeof guardedLookup>,
  signal: AbortSignal,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers = {
      "content-type": "application/json",
      "user-agent": "SQLGuard-Webhook/1",
      ...request.headers,
      "content-length": String(Buffer.byteLength(request.body)),
    };
    const req = (url.protocol === "https:" ? https : http).request(url, { method: "POST", headers, lookup, signal }, (res) => {
      resolve(res.statusCode ?? 0);
      res.destroy();
    });
    req.on("error", (e: NodeJS.ErrnoException) => reject(e.name === "AbortError" && e.cause instanceof BlockedAddressError ? e.cause : e));
    req.end(request.body);
  });
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
