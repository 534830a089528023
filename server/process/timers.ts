/**
 * Node clamps a timer delay above 2^31 - 1 ms (about 24.8 days) to 1 ms, so a long configured
 * interval would fire at once, and then keep firing. These timers wait in steps of at most that
 * much, so any delay a setting can hold waits as long as it says.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Calls `fn` once after `ms` (any length); returns the function that cancels it. */
export function setLongTimeout(fn: () => void, ms: number, options: { unref?: boolean } = {}): () => void {
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  const dueAt = Date.now() + Math.max(0, ms);
  const arm = () => {
    const left = dueAt - Date.now();
    if (left <= 0) return fn();
    timer = setTimeout(() => !cancelled && arm(), Math.min(left, MAX_TIMER_MS));
    if (options.unref) timer.unref();
  };
  arm();
  return () => {
    cancelled = true;
    clearTimeout(timer);
  };
}

/** Calls `fn` every `ms` (any length, at least 1); returns the function that stops it. */
export function setLongInterval(fn: () => void, ms: number, options: { unref?: boolean } = {}): () => void {
  if (ms <= MAX_TIMER_MS) {
    const timer = setInterval(fn, Math.max(1, ms));
    if (options.unref) timer.unref();
    return () => clearInterval(timer);
  }
  let stopped = false;
  let cancel = () => {};
  const next = () => {
    cancel = setLongTimeout(
      () => {
        if (stopped) return;
        next();
        fn();
      },
      ms,
      options,
    );
  };
  next();
  return () => {
    stopped = true;
    cancel();
  };
}
