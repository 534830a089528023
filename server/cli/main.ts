/**
 * The `sqlguard` command line (bin/sqlguard.mjs runs it through tsx): tools for the day the server
 * or its metadata database is gone, and `config` for a running server's configuration document. It reads process.env here and nowhere else, and never needs
 * the metadata database for `restore`.
 */
import { RECOVER_USAGE, RESTORE_USAGE, USAGE, UsageError, type CliIo } from "./usage.ts";

const io: CliIo = { out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`) };

/** Runs one command; resolves with the process exit code (2 for usage errors). */
export async function runCli(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const [command, ...rest] = argv;
  // `config` keeps its own exit codes (2 means "differs", so a usage error is 1) and help.
  if (command === "config") return (await import("./config-cli.ts")).runConfigCommand(rest, env, io, { isTTY: process.stdout.isTTY });
  const usage = command === "restore" ? RESTORE_USAGE : command === "recover-metadata" ? RECOVER_USAGE : USAGE;
  if (!command || rest.includes("--help") || rest.includes("-h") || command === "--help") {
    io.out(usage);
    return command && command !== "--help" && usage === USAGE ? 2 : 0;
  }
  // Ctrl-C stops a restore cleanly: the children are killed and a database it created is dropped.
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  process.once("SIGTERM", () => controller.abort());
  try {
    // Each command loads only what it uses (the metadata client is not needed to restore).
    if (command === "restore") return await (await import("./cli-restore.ts")).runRestoreCommand(rest, env, io, controller.signal);
    if (command === "recover-metadata") return await (await import("./recover-metadata.ts")).runRecoverMetadata(rest, env, io);
    io.err(`sqlguard: unknown command ${JSON.stringify(command)}\n${USAGE}`);
    return 2;
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      io.err(`sqlguard ${command}: ${(error as Error).message}\n${usage}`);
      return 2;
    }
    io.err(`sqlguard ${command}: ${(error as Error).message}`);
    return 1;
  }
}

runCli(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`sqlguard: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
