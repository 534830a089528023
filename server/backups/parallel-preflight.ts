import { parallelThreads } from "../runner/dumpers/parallel-dumper.ts";
import { withMysql, withPg } from "../runner/dumpers/server-session.ts";
import type { DumpProfile, DumpTools, ServerConnection } from "../runner/dumpers/types.ts";

/** Whether the PARALLEL engine can back up a server, and what it would lock there. */
export type ParallelPreflight = {
  /** True when the program is installed and the account has what the engine needs. */
  ready: boolean;
  /** mydumper or pg_dump, with its version; null when missing. */
  tool: string | null;
  threads: number;
  /** Why it cannot run (or what it will lack); empty when ready and complete. */
  problems: string[];
  /** What a PARALLEL dump locks on the server, and for how long. */
  locks: string;
};

const QUERY = { queryTimeoutMs: 10_000 };

const MYSQL_LOCKS =
  "FLUSH TABLES WITH READ LOCK on the whole server (mydumper's consistent mode, not --trx-consistency-only): every write on the server waits from the moment the lock is granted until all threads have opened their snapshots (usually well under a second), and non-InnoDB tables (MyISAM, Aria) stay locked while they are dumped. The lock itself waits for running statements; mydumper aborts when queries have run longer than 60 s (--long-query-guard).";

/**
 * The PARALLEL engine's pre-flight against a live server: the program on this machine, the
 * account's privileges (MySQL/MariaDB: RELOAD for the global lock; PROCESS to see long queries;
 * PostgreSQL: a free connection per thread, one more for the leader) and what it would lock.
 * Never throws: a failed look is a problem in the result.
 */
export async function parallelPreflight(conn: ServerConnection, tools: DumpTools, profile: DumpProfile | null): Promise<ParallelPreflight> {
  const threads = parallelThreads(profile);
  const problems: string[] = [];
  if (conn.engine === "POSTGRESQL") {
    const tool = tools.pgDump;
    if (!tool) problems.push("pg_dump is not installed on this machine");
    try {
      const { max, used, reserved } = await withPg(
        conn,
        null,
        async (c) => {
          const row = (
            await c.query<{ max: string; used: string; reserved: string }>(
              "SELECT current_setting('max_connections') AS max, (SELECT count(*) FROM pg_stat_activity)::text AS used, current_setting('superuser_reserved_connections') AS reserved",
            )
          ).rows[0]!;
          return { max: Number(row.max), used: Number(row.used), reserved: Number(row.reserved) };
        },
        QUERY,
      );
      const free = max - reserved - used;
      if (free < threads + 1)
        problems.push(`pg_dump --jobs=${threads} opens ${threads + 1} connections, but only ${Math.max(0, free)} of max_connections=${max} are free now`);
    } catch (error) {
      problems.push(`could not read the server's connection limits: ${(error as Error).message}`);
    }
    return {
      ready: problems.length === 0,
      tool: tool ? `${tool.path} (${tool.version})` : null,
      threads,
      problems,
      locks: `ACCESS SHARE locks on every table dumped, held by ${threads + 1} sessions sharing one exported snapshot until the dump ends: reads and writes go on, DDL on those tables (ALTER, DROP, TRUNCATE) waits.`,
    };
  }
  const tool = tools.mydumper ?? null;
  if (!tool) problems.push("mydumper is not installed on this machine (apt-get install mydumper)");
  let blocking = false;
  try {
    const privileges = await withMysql(
      conn,
      async (c) =>
        (
          (await c.query(
            // An account with global SELECT sees every account's rows here: only its own count.
            "SELECT PRIVILEGE_TYPE AS p FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')",
          )) as Array<{ p: string }>
        ).map((r) => r.p.toUpperCase()),
      QUERY,
    );
    const has = (p: string) => privileges.includes(p) || privileges.includes("ALL PRIVILEGES");
    if (!has("RELOAD")) {
      blocking = true;
      problems.push(
        "the account lacks the RELOAD privilege, which FLUSH TABLES WITH READ LOCK (mydumper's consistent snapshot) needs: GRANT RELOAD ON *.* TO …",
      );
    }
    if (!has("PROCESS")) problems.push("the account lacks PROCESS: mydumper cannot see other sessions' long queries before it takes the global lock");
  } catch (error) {
    blocking = true;
    problems.push(`could not read the account's privileges: ${(error as Error).message}`);
  }
  return { ready: tool !== null && !blocking, tool: tool ? `${tool.path} (${tool.version})` : null, threads, problems, locks: MYSQL_LOCKS };
}
