import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ServerConnection } from "../runner/dumpers/types.ts";
import { createDecompressor } from "./artifact-read.ts";
import { RestoreError } from "./errors.ts";
import { DumpObjectScanner, type DumpObject } from "./dump-objects-scan.ts";
import type { ArtifactSource } from "./restore-artifact.ts";
import { holds, maySetDefiner, readMysqlGrants, readPgRole, type MysqlGrants, type PgRoleFacts } from "./restore-privileges.ts";

/** One thing that would make the restore fail as the restoring user. */
export type PreflightProblem = {
  /** TRIGGER, VIEW, PROCEDURE, FUNCTION, EVENT, TABLE…, or DATABASE for the target itself. */
  kind: string;
  /** `source_db.object` (MySQL/MariaDB), the object as pg_dump names it, or the target database. */
  name: string;
  /** The account the dump names for the object (DEFINER or OWNER TO), when it names one. */
  definer: string | null;
  /** In words, with the object, its definer, the restoring user and what it lacks. */
  problem: string;
  /** Rewriting the definers (dropping the owners) makes this problem go away. */
  solvedByRewrite: boolean;
};

/** What a pre-flight found. */
export type RestorePreflight = {
  /** The account the restore would run as (CURRENT_USER() / current_user). */
  restoringUser: string;
  /** The distinct DEFINER accounts (MySQL/MariaDB) or OWNER TO roles (PostgreSQL) in the dump. */
  definers: string[];
  /** How many objects of the dump name an account. */
  objectCount: number;
  problems: PreflightProblem[];
  /** The restore stream can rewrite the definers (drop the owners) of this artifact. */
  canRewriteDefiners: boolean;
  warnings: string[];
};

/** At most this many problems are listed; a warning says how many more there are. */
const MAX_PROBLEMS = 200;
const KIND_PRIVILEGE: Record<string, string> = {
  TRIGGER: "TRIGGER",
  VIEW: "CREATE VIEW",
  PROCEDURE: "CREATE ROUTINE",
  FUNCTION: "CREATE ROUTINE",
  EVENT: "EVENT",
};

/**
 * Reads a plain SQL artifact once (decompressed, not verified: the restore verifies) and lists the
 * objects that name an account. A custom-format or PARALLEL artifact is not read: null.
 */
export async function scanArtifact(source: ArtifactSource, family: "mysql" | "pg", signal: AbortSignal): Promise<DumpObject[] | null> {
  if (source.format !== "sql") return null;
  const scanner = new DumpObjectScanner(family);
  const decompressor = createDecompressor(source.compression, signal);
  const input = await source.open(signal);
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  await pipeline([input, decompressor.stream, scanner, sink] as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream], { signal });
  await decompressor.finished;
  return scanner.objects;
}

/**
 * The pre-flight of a restore into `database` as the account of `conn`: what the dump's objects
 * need (a foreign DEFINER needs SET USER / SUPER; each kind its CREATE privilege; a new database
 * CREATE) against what SHOW GRANTS (PostgreSQL: pg_roles, pg_has_role) says the account holds.
 * Throws a RestoreError (STORAGE_FAILED) when the artifact cannot be read, the driver's error
 * when the account cannot sign in.
 */
export async function preflightRestore(
  source: ArtifactSource,
  conn: ServerConnection,
  target: { sourceDatabase: string; database: string; exists: boolean },
  signal: AbortSignal,
): Promise<RestorePreflight> {
  const family = conn.engine === "POSTGRESQL" ? "pg" : "mysql";
  const objects = await scanArtifact(source, family, signal).catch((error: Error) => {
    throw new RestoreError("STORAGE_FAILED", `reading the artifact failed: ${error.message}`, { cause: error });
  });
  const warnings: string[] = [];
  if (source.format === "tar") warnings.push("a PARALLEL (mydumper / pg_dump directory) artifact is not looked into: its definers and owners are not checked");
  if (source.format === "pg-custom")
    warnings.push("a pg_dump custom archive is always restored without its owners (pg_restore --no-owner): the restoring role owns every object");
  const found = objects ?? [];
  const definers = [...new Set(found.map((o) => o.account))].sort();
  let restoringUser: string;
  let problems: PreflightProblem[];
  if (family === "mysql") {
    const grants = await readMysqlGrants(conn);
    restoringUser = grants.account;
    problems = mysqlProblems(found, grants, target);
  } else {
    const facts = await readPgRole(conn, definers);
    restoringUser = facts.role;
    problems = pgProblems(found, facts, target);
  }
  // Said when a rewrite is what the user is offered.
  const foreign = definers.filter((d) => (family === "mysql" ? !sameAccount(d, restoringUser) : d !== restoringUser));
  if (foreign.length && source.format === "sql" && problems.some((p) => p.solvedByRewrite))
    warnings.push(
      family === "mysql"
        ? `rewriting the definers makes ${restoringUser} the definer of every object: triggers, events and SQL SECURITY DEFINER views and routines then run with its privileges instead of ${foreign.join(", ")}'s`
        : `dropping the owners makes ${restoringUser} the owner of every object instead of ${foreign.join(", ")}`,
    );
  if (problems.length > MAX_PROBLEMS) warnings.push(`${problems.length - MAX_PROBLEMS} more problems of the same kinds are not listed`);
  return {
    restoringUser,
    definers,
    objectCount: found.length,
    problems: problems.slice(0, MAX_PROBLEMS),
    canRewriteDefiners: source.format === "sql",
    warnings,
  };
}

/** MySQL/MariaDB problems of restoring `objects` as the account of `grants`. Pure. */
export function mysqlProblems(
  objects: DumpObject[],
  grants: MysqlGrants,
  target: { sourceDatabase: string; database: string; exists: boolean },
): PreflightProblem[] {
  const me = grants.account;
  const problems: PreflightProblem[] = [];
  const { database } = target;
  if (!target.exists && !holds(grants, "CREATE", database))
    problems.push({
      kind: "DATABASE",
      name: database,
      definer: null,
      problem: `${me} lacks CREATE on ${database} (needed to create the database)`,
      solvedByRewrite: false,
    });
  // Restoring over a database goes through a scratch database next to it (mysql-swap.ts).
  if (target.exists && !holds(grants, "CREATE", "sqlguard_restore_00000000"))
    problems.push({
      kind: "DATABASE",
      name: database,
      definer: null,
      problem: `${me} lacks CREATE on sqlguard_restore_* (restoring over ${database} goes through such a scratch database)`,
      solvedByRewrite: false,
    });
  const setDefiner = maySetDefiner(grants);
  const lacking = new Set<string>();
  for (const o of objects) {
    const name = `${target.sourceDatabase}.${o.name}`;
    const kind = o.kind.toLowerCase();
    if (!sameAccount(o.account, me) && !setDefiner)
      problems.push({
        kind: o.kind,
        name,
        definer: o.account,
        problem: `${kind} ${name} is defined by ${o.account}; ${me} lacks SET USER / SUPER`,
        solvedByRewrite: true,
      });
    const privilege = KIND_PRIVILEGE[o.kind];
    if (privilege && !holds(grants, privilege, database) && !lacking.has(o.kind)) {
      lacking.add(o.kind);
      problems.push({
        kind: o.kind,
        name,
        definer: o.account,
        problem: `${me} lacks ${privilege} on ${database} (needed for ${kind} ${name})`,
        solvedByRewrite: false,
      });
    }
    if (grants.binlogNeedsSuper && (o.kind === "FUNCTION" || o.kind === "TRIGGER") && !grants.global.has("SUPER") && !grants.global.has("ALL PRIVILEGES")) {
      if (!lacking.has("binlog")) {
        lacking.add("binlog");
        problems.push({
          kind: o.kind,
          name,
          definer: o.account,
          problem: `the server logs binary and log_bin_trust_function_creators is off: ${me} lacks SUPER to create ${kind} ${name}`,
          solvedByRewrite: false,
        });
      }
    }
  }
  return problems;
}

/** PostgreSQL problems of restoring `objects` (their OWNER TO roles) as the role of `facts`. Pure. */
export function pgProblems(objects: DumpObject[], facts: PgRoleFacts, target: { database: string; exists: boolean }): PreflightProblem[] {
  const problems: PreflightProblem[] = [];
  const me = facts.role;
  if (!target.exists && !facts.superuser && !facts.createDb)
    problems.push({ kind: "DATABASE", name: target.database, definer: null, problem: `${me} may not create databases (CREATEDB)`, solvedByRewrite: false });
  if (facts.superuser) return problems;
  for (const o of objects) {
    if (o.account === me) continue;
    const role = facts.roles.get(o.account);
    const why = !role?.exists ? `role ${o.account} does not exist on this server` : !role.member ? `${me} is not a member of ${o.account}` : null;
    if (why)
      problems.push({
        kind: o.kind,
        name: o.name,
        definer: o.account,
        problem: `${o.kind.toLowerCase()} ${o.name} is owned by ${o.account}; ${why}`,
        solvedByRewrite: true,
      });
  }
  return problems;
}

/** `user@host` accounts compared as MySQL does: the user exactly, the host without case. */
function sameAccount(a: string, b: string): boolean {
  const split = (x: string) => {
    const at = x.lastIndexOf("@");
    return [x.slice(0, at), x.slice(at + 1).toLowerCase()];
  };
  const [ua, ha] = split(a);
  const [ub, hb] = split(b);
  return ua === ub && ha === hb;
}
