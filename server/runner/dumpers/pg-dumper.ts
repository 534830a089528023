import path from "node:path";
import { extraFlagProblem, PG_EXTRA_FLAGS } from "../../catalog/dump-flags.ts";
import { versionNumbers } from "./tools.ts";
import { pgClientEnv } from "../../process/client-args.ts";
import type { DumpCommand, DumpProfile, DumpTools, ServerConnection } from "./types.ts";

/** The tool and record columns hold at most this much. */
const DESCRIPTION_MAX = 1024;

/**
 * The `pg_dump` command for one database. Every connection setting, the database name included,
 * travels in libpq's environment variables, so argv holds only dump flags and nothing needs
 * quoting. A custom-format archive is left uncompressed: the pipeline compresses. Throws an Error
 * when pg_dump is older than the server (it refuses such dumps) or an extra flag is not allowed.
 */
export function buildPgDump(conn: ServerConnection, profile: DumpProfile | null, database: string, tools: DumpTools, serverVersion: string): DumpCommand {
  const tool = tools.pgDump;
  if (!tool) throw new Error("pg_dump is not installed on this machine");
  if (database.length === 0) throw new Error("the database name is empty");
  if (database.includes("\0")) throw new Error("the database name contains a NUL character");
  const toolMajor = versionNumbers(tool.version)[0] ?? 0;
  const serverMajor = versionNumbers(serverVersion)[0] ?? 0;
  if (toolMajor < serverMajor) {
    // pg_dump itself would refuse ("server version mismatch"); say which one and what to install.
    throw new Error(
      `pg_dump ${toolMajor} (${tool.path}) cannot dump a PostgreSQL ${serverMajor} server: install pg_dump ${serverMajor} or newer (postgresql-client-${serverMajor} from apt.postgresql.org; the Docker image's PG_CLIENT_MAJOR build argument)`,
    );
  }

  const custom = profile?.pgFormat === "CUSTOM";
  const args = [
    custom ? "--format=custom" : "--format=plain",
    ...(custom ? ["--compress=0"] : []),
    // Never wait for a password on a terminal: a missing one is an error.
    "--no-password",
    ...((profile?.noOwner ?? true) ? ["--no-owner"] : []),
    ...((profile?.noPrivileges ?? false) ? ["--no-privileges"] : []),
    ...checkedExtraFlags(profile?.pgExtraFlags ?? []),
  ];
  const env = pgClientEnv(conn, database, "sqlguard");
  const description = `${path.basename(tool.path)} ${versionNumbers(tool.version).join(".")} ${args.join(" ")}`;
  return {
    command: tool.path,
    args,
    env,
    description: description.length > DESCRIPTION_MAX ? `${description.slice(0, DESCRIPTION_MAX - 1)}…` : description,
    format: custom ? "pg-custom" : "sql",
    cleanup: async () => {},
  };
}

/**
 * The profile's extra flags, each re-checked against the allow-list (the profile was validated
 * when saved, but the list may have shrunk since). Throws naming the first refused flag.
 */
function checkedExtraFlags(value: unknown): string[] {
  if (!Array.isArray(value) || !value.every((f): f is string => typeof f === "string")) {
    throw new Error("the profile's extra pg_dump flags are not a list of strings");
  }
  for (const flag of value) {
    // hasOwn first: the allow-list is a plain object, where `in` also finds "constructor"…
    const known = Object.hasOwn(PG_EXTRA_FLAGS, flag.split("=", 1)[0]!);
    const problem = known ? extraFlagProblem(flag, "pg") : "it is not an allowed pg_dump flag";
    if (problem) throw new Error(`extra flag ${JSON.stringify(flag)} refused: ${problem}`);
  }
  return value;
}
