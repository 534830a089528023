import { spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";

/**
 * How a child process ended, with the end of what it wrote to stderr. `stopped`: this process
 * ended it (its abort signal fired and the child died of the signal sent, or exited after it), so
 * whatever it reports is a consequence, not a cause.
 */
export type ExitInfo = { code: number | null; signal: NodeJS.Signals | null; stderrTail: string; stopped: boolean };

export type ChildHandle = {
  pid: number | undefined;
  stdin: Writable;
  stdout: Readable;
  /** Resolves when the process has exited (never rejects; a spawn failure is code 127). */
  exited: Promise<ExitInfo>;
};

/** Variables a dump or compressor child inherits; everything else (SQLGUARD_SECRET_KEY…) stays out. */
const INHERITED = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"];
const TAIL_BYTES = 8192;
const KILL_GRACE_MS = 5000;

/**
 * Spawns a program without a shell (arguments are never interpreted) and a minimal environment
 * plus `env`. Keeps the last 8 KiB of stderr. When `signal` aborts, sends SIGTERM, then SIGKILL
 * after a grace period.
 */
export function spawnChild(command: string, args: string[], options: SpawnOptions = {}): ChildHandle {
  const { child, handle } = start(command, args, options, "pipe");
  // A child that exits early closes its stdin: the EPIPE surfaces in the exit code, not as a crash.
  child.stdin!.on("error", () => {});
  return { ...handle, stdin: child.stdin! };
}

/**
 * Like spawnChild, but the program reads `source` (another child's stdout) directly: its file
 * descriptor is handed over, so the data flows from process to process without passing through
 * this one. The caller must not read `source` itself.
 */
export function spawnReading(command: string, args: string[], source: Readable, options: SpawnOptions = {}): Omit<ChildHandle, "stdin"> {
  return start(command, args, options, source).handle;
}

type SpawnOptions = { env?: Record<string, string>; signal?: AbortSignal };

function start(command: string, args: string[], options: SpawnOptions, stdin: "pipe" | Readable) {
  const env: Record<string, string> = {};
  for (const name of INHERITED) if (process.env[name] !== undefined) env[name] = process.env[name]!;
  const child = spawn(command, args, { env: { ...env, ...options.env }, stdio: [stdin, "pipe", "pipe"] });

  let tail = Buffer.alloc(0);
  child.stderr!.on("data", (chunk: Buffer) => {
    tail = Buffer.concat([tail, chunk]);
    if (tail.length > TAIL_BYTES) tail = tail.subarray(tail.length - TAIL_BYTES);
  });

  // The signals this process sent: a child that died of another one (a SIGKILL from elsewhere
  // before the grace period ran out) was not stopped by us, even if we asked it to stop.
  const sent = new Set<NodeJS.Signals>();
  const onAbort = () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (child.kill("SIGTERM")) sent.add("SIGTERM");
    setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null && child.kill("SIGKILL")) sent.add("SIGKILL");
    }, KILL_GRACE_MS).unref();
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener("abort", onAbort, { once: true });

  const exited = new Promise<ExitInfo>((resolve) => {
    let spawnError: Error | undefined;
    child.on("error", (error) => {
      spawnError = error;
    });
    child.on("close", (code, signal) => {
      options.signal?.removeEventListener("abort", onAbort);
      const stderrTail = spawnError ? `${command}: ${spawnError.message}` : tail.toString("utf8");
      const stopped = signal !== null ? sent.has(signal) : sent.size > 0 && code !== 0;
      resolve({ code: spawnError ? 127 : code, signal, stderrTail, stopped });
    });
  });
  return { child, handle: { pid: child.pid, stdout: child.stdout!, exited } };
}

/**
 * Text of a writer whose reader went away (the pipe or socket it writes to was closed): SIGPIPE,
 * or the write error reported by mysqldump ("Got errno 32 on write", "errno 104" on a socket
 * pair), pg_dump ("could not write to output file"), zstd ("Broken pipe").
 */
const BROKEN_PIPE = /errno:? (32|104)\b|broken pipe|connection reset by peer|could not write to (the )?output file/i;

/**
 * Why a child ended, for telling the cause of a failure from its consequences: "ok" (exit 0),
 * "stopped" (this process ended it), "broken-pipe" (its reader went away first), or "failed"
 * (it failed on its own: an error, or a signal from elsewhere).
 */
export function endingOf(exit: ExitInfo): "ok" | "stopped" | "broken-pipe" | "failed" {
  if (exit.code === 0 && exit.signal === null) return "ok";
  if (exit.stopped) return "stopped";
  if (exit.signal === "SIGPIPE" || (exit.signal === null && BROKEN_PIPE.test(exit.stderrTail))) return "broken-pipe";
  return "failed";
}

/** "exited with code 2" / "was killed by SIGKILL". */
export function howItEnded(exit: ExitInfo): string {
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

/** The last `lines` lines of a text, for error messages. */
export function lastLines(text: string, lines = 5): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}
