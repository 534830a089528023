import { withMysql, withPg } from "./target-database.ts";
import type { ServerConnection } from "../runner/dumpers/types.ts";

/** What a MySQL/MariaDB account may do, read from SHOW GRANTS (its own and its active role's). */
export type MysqlGrants = {
  /** CURRENT_USER() as `user@host`. */
  account: string;
  /** Privileges ON *.*, upper case (`ALL PRIVILEGES` kept as it is). */
  global: Set<string>;
  /** Privileges per database pattern (`%`/`_` wildcards, `\` escapes, as GRANT writes them). */
  databases: Array<{ pattern: string; privileges: Set<string> }>;
  /** The server logs binary and does not trust function creators: creating functions and triggers needs SUPER. */
  binlogNeedsSuper: boolean;
};

const GRANT_LINE = /^GRANT (.+?) ON (?:(?:FUNCTION|PROCEDURE|PACKAGE(?: BODY)?) )?(\*|`(?:[^`]|``)*`)\.(\*|`(?:[^`]|``)*`) TO /;
/** Any of these ON *.* lets an account name another account as DEFINER (MariaDB 10.5.2+: SET USER; MySQL 8: SET_USER_ID, 8.2+: SET_ANY_DEFINER). */
export const DEFINER_PRIVILEGES = ["SUPER", "SET USER", "SET_USER_ID", "SET_ANY_DEFINER"];

/**
 * The privileges of SHOW GRANTS lines, by level. Lines granting roles, and column or table level
 * grants, do not matter to a restore's CREATE statements and are left out. Pure.
 */
export function parseGrants(lines: string[]): Pick<MysqlGrants, "global" | "databases"> {
  const global = new Set<string>();
  const databases: MysqlGrants["databases"] = [];
  for (const line of lines) {
    const m = GRANT_LINE.exec(line);
    if (m?.[3] !== "*") continue;
    // Column lists (`SELECT (a, b)`) only appear on table grants, skipped above.
    const privileges = new Set(m[1]!.split(",").map((p) => p.trim().toUpperCase()));
    if (m[2] === "*") for (const p of privileges) global.add(p);
    else databases.push({ pattern: m[2]!.slice(1, -1).replace(/``/g, "`"), privileges });
  }
  return { global, databases };
}

/** Whether a database name matches a GRANT's database pattern (`%` any run, `_` one character, `\` escapes). */
export function matchesDatabasePattern(pattern: string, database: string): boolean {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "\\" && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === "%") re += "[\\s\\S]*";
    else if (c === "_") re += "[\\s\\S]";
    else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`, "i").test(database);
}

/** Whether the grants hold `privilege` on `database` (ALL PRIVILEGES included), at database or global level. */
export function holds(grants: Pick<MysqlGrants, "global" | "databases">, privilege: string, database: string): boolean {
  const has = (set: Set<string>) => set.has(privilege) || set.has("ALL PRIVILEGES") || set.has("ALL");
  return has(grants.global) || grants.databases.some((d) => matchesDatabasePattern(d.pattern, database) && has(d.privileges));
}

/** Whether the grants let the account create objects for another account. */
export function maySetDefiner(grants: Pick<MysqlGrants, "global">): boolean {
  return grants.global.has("ALL PRIVILEGES") || DEFINER_PRIVILEGES.some((p) => grants.global.has(p));
}

/** Reads the connecting account's grants. Throws the driver's error (access denied, unreachable). */
export async function readMysqlGrants(conn: ServerConnection): Promise<MysqlGrants> {
  return withMysql(conn, async (c) => {
    const [me] = (await c.query("SELECT CURRENT_USER() AS u")) as Array<{ u: string }>;
    const rows = (await c.query("SHOW GRANTS")) as Array<Record<string, string>>;
    const [vars] = (await c.query("SELECT @@log_bin AS logBin, @@log_bin_trust_function_creators AS trusted")) as Array<{ logBin: number; trusted: number }>;
    const parsed = parseGrants(rows.map((r) => Object.values(r)[0] ?? ""));
    const binlogNeedsSuper = Number(vars?.logBin) === 1 && Number(vars?.trusted) !== 1;
    return { account: me?.u ?? conn.username, ...parsed, binlogNeedsSuper };
  });
}

/** What a PostgreSQL role may do for a restore: whether it is a superuser, may create databases, and which roles it is a member of (of those asked). */
export type PgRoleFacts = { role: string; superuser: boolean; createDb: boolean; roles: Map<string, { exists: boolean; member: boolean }> };

/** Reads the connecting role's facts and, for each of `roles`, whether it exists and the role may act as it. */
export async function readPgRole(conn: ServerConnection, roles: string[]): Promise<PgRoleFacts> {
  return withPg(conn, null, async (c) => {
    const me = (
      await c.query<{ role: string; superuser: boolean; createdb: boolean }>(
        "SELECT current_user AS role, rolsuper AS superuser, rolcreatedb AS createdb FROM pg_roles WHERE rolname = current_user",
      )
    ).rows[0];
    const facts = new Map<string, { exists: boolean; member: boolean }>();
    for (const role of roles) {
      const { rows } = await c.query<{ member: boolean }>("SELECT pg_has_role(current_user, oid, 'MEMBER') AS member FROM pg_roles WHERE rolname = $1", [role]);
      facts.set(role, { exists: rows.length === 1, member: rows[0]?.member === true });
    }
    return { role: me?.role ?? conn.username, superuser: me?.superuser === true, createDb: me?.createdb === true, roles: facts };
  });
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
