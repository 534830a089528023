import type { AuditLog } from "../audit/audit-log.ts";
import type { PrismaClient } from "../db/client.ts";
import type { SecretBox } from "../secrets/secret-box.ts";

export type ConfigEntity = "server" | "dumpOptions" | "storageTarget" | "schedule" | "retentionRule" | "user";

/** Told after every committed configuration change; the scheduler reconciles on it. */
export type ConfigListener = (change: { entity: ConfigEntity; id: number; action: "create" | "update" | "delete" }) => void;

/** What the configuration services need, and nothing more. */
export type CatalogDeps = {
  prisma: PrismaClient;
  secrets: SecretBox;
  audit: AuditLog;
  onChange: ConfigListener;
};

type Tx = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];

const AUDIT_TYPES: Record<ConfigEntity, string> = {
  server: "Server",
  dumpOptions: "DumpOptions",
  storageTarget: "StorageTarget",
  schedule: "Schedule",
  retentionRule: "RetentionRule",
  user: "User",
};

/**
 * Runs one configuration write in a transaction with its audit row (before/after, secrets
 * redacted), then tells the listener. `write` returns the row as it is after the change.
 */
export async function commitChange<T extends { id: number }>(
  deps: CatalogDeps,
  change: { actor: string; entity: ConfigEntity; action: "create" | "update" | "delete"; before: object | null },
  write: (tx: Tx) => Promise<T>,
): Promise<T> {
  const row = await deps.prisma.$transaction(async (tx) => {
    const after = await write(tx);
    await deps.audit.record(
      change.actor,
      `${change.entity}.${change.action}`,
      AUDIT_TYPES[change.entity],
      after.id,
      change.before,
      change.action === "delete" ? null : after,
      tx,
    );
    return after;
  });
  deps.onChange({ entity: change.entity, id: row.id, action: change.action });
  return row;
}
