import crypto from "node:crypto";
import { quoteIdent } from "../db/connection.ts";
import type { ServerConnection } from "../runner/dumpers/types.ts";
import { createDefinitions, dropStatements, listObjects, readDefinitions, type DatabaseObjects, type MysqlDefinition } from "./mysql-objects.ts";
import { withMysql } from "./target-database.ts";
import { named, type TargetReport } from "./target-state.ts";

/** How long the swap waits by default for the target's tables to be free (open transactions hold them). */
const LOCK_WAIT_SECONDS = 60;

/** A scratch database name no one else uses: `sqlguard_restore_<random>`. */
export function scratchDatabaseName(): string {
  return `sqlguard_restore_${crypto.randomBytes(4).toString("hex")}`;
}

/** Creates the scratch database with the target's default character set and collation (a dump does not carry them). */
export async function createScratch(conn: ServerConnection, target: string, scratch: string): Promise<void> {
  await withMysql(conn, async (c) => {
    const rows = (await c.query(
      "SELECT DEFAULT_CHARACTER_SET_NAME AS cs, DEFAULT_COLLATION_NAME AS co FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
      [target],
    )) as Array<{ cs: string; co: string }>;
    const charset = rows[0] ? ` CHARACTER SET ${rows[0].cs} COLLATE ${rows[0].co}` : " CHARACTER SET utf8mb4";
    await c.query(`CREATE DATABASE ${quoteIdent(scratch)}${charset}`);
  });
}

/**
 * After the load: reads the scratch database's routine, view, trigger and event definitions, then
 * drops its triggers and events (a table with triggers cannot move to another database, and an
 * event must not fire in the scratch copy). The target is not touched.
 */
export async function prepareScratch(conn: ServerConnection, scratch: string): Promise<MysqlDefinition[]> {
  return withMysql(conn, async (c) => {
    const defs = await readDefinitions(c, scratch);
    const objects = await listObjects(c, scratch);
    for (const sql of dropStatements(scratch, { triggers: objects.triggers, routines: [], events: objects.events })) await c.query(sql);
    return defs;
  });
}

/**
 * Swaps a complete, verified scratch copy in for `target`. One RENAME TABLE statement moves the
 * target's tables and views aside under `sqlguard_old_<nonce>_<n>` names inside the target (a
 * rename within a database keeps their triggers, and views cannot leave their database) and the
 * scratch tables in under their names; MySQL/MariaDB apply it atomically, so before it the target
 * is exactly as it was. Then the target's own triggers, routines and events are dropped, the
 * backup's are created from `defs`, the old tables and views are dropped, and the scratch database
 * with them. Never throws: returns what the target is left as (REPLACED, or UNTOUCHED when the
 * rename failed cleanly, INCOMPLETE / UNKNOWN with what to do otherwise). Not cancellable.
 */
export async function swapIn(
  conn: ServerConnection,
  target: string,
  scratch: string,
  defs: MysqlDefinition[],
  options: { lockWaitSeconds?: number } = {},
): Promise<TargetReport & { error?: string }> {
  const nonce = crypto.randomBytes(3).toString("hex");
  let before: DatabaseObjects | null = null;
  let old: Array<[string, string]> = [];
  let renamed = false;
  let step = "reading the target";
  // The driver's own error (the session wrapper rewords it as a connection problem).
  let failure: unknown = null;
  try {
    return await withMysql(conn, async (c) => {
      try {
        await c.query("SET SESSION lock_wait_timeout = ?", [options.lockWaitSeconds ?? LOCK_WAIT_SECONDS]);
        before = await listObjects(c, target);
        const incoming = (await listObjects(c, scratch)).tables;
        old = oldNames(nonce, [...before.tables, ...before.views], new Set([...before.tables, ...before.views, ...incoming]));
        const pairs = [
          ...old.map(([from, to]) => `${quoteIdent(target)}.${quoteIdent(from)} TO ${quoteIdent(target)}.${quoteIdent(to)}`),
          ...incoming.map((t) => `${quoteIdent(scratch)}.${quoteIdent(t)} TO ${quoteIdent(target)}.${quoteIdent(t)}`),
        ];
        step = "swapping the tables (RENAME TABLE)";
        if (pairs.length) await c.query(`RENAME TABLE ${pairs.join(", ")}`);
        renamed = true;
        step = "dropping the target's own triggers, routines and events";
        for (const sql of dropStatements(target, before)) await c.query(sql);
        step = "creating the backup's routines, views, triggers and events";
        await c.query(`USE ${quoteIdent(target)}`);
        await createDefinitions(c, defs);
        step = "dropping the original tables and views";
        const views = old.filter(([from]) => before!.views.includes(from)).map(([, to]) => `${quoteIdent(target)}.${quoteIdent(to)}`);
        const tables = old.filter(([from]) => before!.tables.includes(from)).map(([, to]) => `${quoteIdent(target)}.${quoteIdent(to)}`);
        if (views.length) await c.query(`DROP VIEW IF EXISTS ${views.join(", ")}`);
        // They may reference each other; nothing else is dropped in this session.
        await c.query("SET SESSION foreign_key_checks = 0");
        if (tables.length) await c.query(`DROP TABLE IF EXISTS ${tables.join(", ")}`);
        await c.query("SET SESSION foreign_key_checks = 1");
        step = "dropping the scratch database";
        const scratchDropped = await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(scratch)}`).then(
          () => true,
          () => false,
        );
        return {
          state: "REPLACED" as const,
          detail: scratchDropped
            ? `${named(target)} now holds the backup; its former contents were dropped`
            : `${named(target)} now holds the backup; the emptied scratch database ${named(scratch)} could not be dropped: drop it by hand`,
        };
      } catch (error) {
        failure = error;
        throw error;
      }
    });
  } catch (caught) {
    const error = driverMessage(failure ?? caught);
    if (renamed) return { ...incomplete(target, scratch, nonce, step, error), error };
    return { ...(await afterFailedRename(conn, target, scratch, nonce, before, old, step)), error };
  }
}

/**
 * The rename failed or the connection was lost around it: an atomic RENAME TABLE either happened
 * or did not, so look. The target is UNTOUCHED when every one of its objects still has its name
 * (the scratch copy is then dropped), INCOMPLETE when the swap did happen, UNKNOWN when the server
 * cannot tell us.
 */
async function afterFailedRename(
  conn: ServerConnection,
  target: string,
  scratch: string,
  nonce: string,
  before: DatabaseObjects | null,
  old: Array<[string, string]>,
  step: string,
): Promise<TargetReport> {
  try {
    const now = await withMysql(conn, (c) => listObjects(c, target));
    const names = new Set([...now.tables, ...now.views]);
    const kept = before === null || [...before.tables, ...before.views].every((n) => names.has(n));
    const moved = old.some(([, to]) => names.has(to));
    if (kept && !moved) {
      const dropped = await withMysql(conn, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(scratch)}`)).then(
        () => true,
        () => false,
      );
      return {
        state: "UNTOUCHED",
        detail: `${named(target)} was not changed (${step} failed); ${
          dropped ? `the scratch database ${named(scratch)} was dropped` : `the scratch database ${named(scratch)} could not be dropped: drop it by hand`
        }`,
      };
    }
    if (moved) return incomplete(target, scratch, nonce, step, "the swap happened nonetheless");
  } catch {
    // The server cannot be asked: say what to look for.
  }
  return {
    state: "UNKNOWN",
    detail: `the connection was lost while ${step}: if ${named(target)} holds tables named sqlguard_old_*, the swap happened (those are its former tables: keep them to recover, drop them otherwise); if not, ${named(target)} is unchanged and the restored copy is in the scratch database ${named(scratch)} (drop it)`,
  };
}

function incomplete(target: string, scratch: string, nonce: string, step: string, error: string): TargetReport {
  return {
    state: "INCOMPLETE",
    detail: `the tables of ${named(target)} were replaced with the backup's, but ${step} failed (${error}): its former tables and views are kept in it as sqlguard_old_${nonce}_* (rename them back to recover, drop them otherwise); the scratch database ${named(scratch)} holds the backup's routines and views: compare, then drop it`,
  };
}

/** `sqlguard_old_<nonce>_<n>` for each name, avoiding every name in `taken`. */
function oldNames(nonce: string, names: string[], taken: Set<string>): Array<[string, string]> {
  let n = 0;
  return names.map((from) => {
    let to: string;
    do to = `sqlguard_old_${nonce}_${++n}`;
    while (taken.has(to));
    return [from, to];
  });
}

function driverMessage(error: unknown): string {
  const e = error as { text?: unknown; message?: unknown };
  return String(e.text ?? e.message ?? error);
}
