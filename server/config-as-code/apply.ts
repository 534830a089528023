import { Prisma, type PrismaClient } from "../db/client.ts";
import { fingerprintOf } from "../encryption/age-keys.ts";
import { ConflictError } from "../errors.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import { RETENTION_LIMITS, type Section } from "./document.ts";
import type { Plan, PlannedChange } from "./plan.ts";
import type { CanonObject, CanonState, IdMaps } from "./state.ts";

export type Tx = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];

export type WriteDeps = {
  secrets: SecretBox;
  /** Password hashes for the users the plan creates (unusable random passwords). */
  newUserHashes: Map<string, string>;
  now: Date;
};

/** The order objects are written in: what others refer to first. Deletes run in the reverse order. */
const WRITE_ORDER: Section[] = ["dumpOptions", "storageTargets", "servers", "schedules", "webhooks", "users", "recoveryRecipients"];

/**
 * Writes a plan inside the caller's transaction: creates and updates in dependency order
 * (profiles, targets, servers, schedules with their links, retention and drills, webhooks,
 * users), then the deletes in reverse order. References are resolved by name through `ids`,
 * which grows as objects are created. Throws on any failure, so the transaction rolls back whole.
 */
export async function writePlan(tx: Tx, plan: Plan, desired: CanonState, ids: IdMaps, deps: WriteDeps): Promise<void> {
  const bySection = (section: Section, actions: PlannedChange["action"][]) => plan.changes.filter((c) => c.section === section && actions.includes(c.action));
  for (const section of WRITE_ORDER) {
    for (const change of bySection(section, ["CREATE", "UPDATE"])) {
      const o = desired[section].get(change.name)!;
      const id = ids[section].get(change.name) ?? null;
      const newId = await WRITERS[section](tx, o, id, ids, deps, change);
      ids[section].set(change.name, newId);
    }
  }
  for (const section of [...WRITE_ORDER].reverse()) {
    for (const change of bySection(section, ["DELETE"])) {
      const id = ids[section].get(change.name)!;
      await DELETERS[section](tx, id);
      ids[section].delete(change.name);
    }
  }
}

type Writer = (tx: Tx, o: CanonObject, id: number | null, ids: IdMaps, deps: WriteDeps, change: PlannedChange) => Promise<number>;

const seal = (deps: WriteDeps, v: unknown): string | null => (v == null ? null : deps.secrets.seal(String(v)));
const secretChanged = (change: PlannedChange, field: string) => change.action === "CREATE" || change.fields.some((f) => f.field === field);

const WRITERS: Record<Section, Writer> = {
  dumpOptions: async (tx, o, id) => {
    const { name: _n, ...data } = o as Prisma.DumpOptionsCreateInput;
    if (id == null) return (await tx.dumpOptions.create({ data: { ...data, name: String(o.name) } })).id;
    await tx.dumpOptions.update({ where: { id }, data });
    return id;
  },
  storageTargets: async (tx, o, id, _ids, deps, change) => {
    const { secretAccessKey, ...rest } = o;
    const data = {
      ...(rest as Omit<Prisma.StorageTargetCreateInput, "secretAccessKeyEnc">),
      ...(secretChanged(change, "secretAccessKey") ? { secretAccessKeyEnc: seal(deps, secretAccessKey) } : {}),
    };
    if (id == null) return (await tx.storageTarget.create({ data })).id;
    await tx.storageTarget.update({ where: { id }, data });
    // Records of writes to an old location mean nothing at a new one (re-pointing is refused when artifacts are held).
    if (change.fields.some((f) => ["kind", "path", "bucket", "prefix", "endpoint"].includes(f.field)))
      await tx.storageUpload.deleteMany({ where: { storageTargetId: id } });
    return id;
  },
  servers: async (tx, o, id, ids, deps, change) => {
    const { password, dumpOptions, pitr, ...rest } = o;
    const p = pitr as { enabled: boolean; rpoSeconds: number; storageTargets: string[] } | null;
    const pitrTargets = (p?.storageTargets ?? []).map((n) => ids.storageTargets.get(n)!);
    const data = {
      ...(rest as Omit<Prisma.ServerUncheckedCreateInput, "passwordEnc" | "dumpOptionsId">),
      dumpOptionsId: dumpOptions == null ? null : ids.dumpOptions.get(String(dumpOptions))!,
      pitrEnabled: p?.enabled ?? false,
      pitrRpoSeconds: p?.rpoSeconds ?? 60,
      pitrStorageTargetIds: pitrTargets.length ? pitrTargets : Prisma.DbNull,
      ...(secretChanged(change, "password") ? { passwordEnc: seal(deps, password) } : {}),
    };
    if (id == null) return (await tx.server.create({ data })).id;
    await tx.server.update({ where: { id }, data });
    return id;
  },
  schedules: async (tx, o, id, ids, deps, change) => {
    const sel = o.servers as { names: string[]; matchLabels: Record<string, string> | null } | null;
    const drill = o.drill as { server: string; cron: string | null; enabled: boolean; pitr?: boolean } | null;
    const drillChanged = change.action === "CREATE" || change.fields.some((f) => f.field === "drill");
    const data = {
      name: String(o.name),
      description: (o.description as string | null) ?? null,
      cronExpression: String(o.cronExpression),
      timezone: String(o.timezone),
      enabled: Boolean(o.enabled),
      missedRunPolicy: o.missedRunPolicy as "RUN_ONCE" | "SKIP",
      serverLabels: sel?.matchLabels ?? Prisma.DbNull,
      ...(drillChanged
        ? {
            drillEnabled: drill?.enabled ?? false,
            drillServerId: drill ? ids.servers.get(drill.server)! : null,
            drillCron: drill?.cron ?? null,
            drillPitr: drill?.pitr ?? false,
            // As setScheduleDrill does: a drill cron counts from now.
            lastDrillAt: drill?.cron ? deps.now : null,
          }
        : {}),
    };
    const scheduleId = id == null ? (await tx.schedule.create({ data })).id : (await tx.schedule.update({ where: { id }, data })).id;
    await tx.scheduleServer.deleteMany({ where: { scheduleId } });
    const serverIds = (sel?.names ?? []).map((n) => ids.servers.get(n)!);
    if (serverIds.length) await tx.scheduleServer.createMany({ data: serverIds.map((serverId) => ({ scheduleId, serverId })) });
    await tx.scheduleStorageTarget.deleteMany({ where: { scheduleId } });
    const targetIds = (o.storageTargets as string[]).map((n) => ids.storageTargets.get(n)!);
    if (targetIds.length) await tx.scheduleStorageTarget.createMany({ data: targetIds.map((storageTargetId) => ({ scheduleId, storageTargetId })) });
    const retention = o.retention as Record<string, Record<string, unknown>>;
    const wanted = Object.keys(retention).map((t) => ids.storageTargets.get(t)!);
    await tx.retentionRule.deleteMany({ where: { scheduleId, storageTargetId: { notIn: wanted } } });
    for (const [target, rule] of Object.entries(retention)) {
      const storageTargetId = ids.storageTargets.get(target)!;
      const values = {
        keepForever: Boolean(rule.keepForever),
        ...Object.fromEntries(RETENTION_LIMITS.map((f) => [f, (rule[f] as number | null) ?? null])),
        minKeep: Number(rule.minKeep ?? 1),
      };
      await tx.retentionRule.upsert({
        where: { scheduleId_storageTargetId: { scheduleId, storageTargetId } },
        create: { scheduleId, storageTargetId, ...values },
        update: values,
      });
    }
    return scheduleId;
  },
  webhooks: async (tx, o, id, ids, deps, change) => {
    const { secret, schedule, ...rest } = o;
    const data = {
      ...(rest as Omit<Prisma.WebhookUncheckedCreateInput, "secretEnc" | "scheduleId">),
      scheduleId: schedule == null ? null : ids.schedules.get(String(schedule))!,
      ...(secretChanged(change, "secret") ? { secretEnc: seal(deps, secret) } : {}),
    };
    if (id == null) return (await tx.webhook.create({ data })).id;
    await tx.webhook.update({ where: { id }, data });
    return id;
  },
  users: async (tx, o, id, _ids, deps, change) => {
    const data = { username: String(o.username), role: o.role as "ADMIN" | "OPERATOR" | "VIEWER", disabled: Boolean(o.disabled) };
    if (id == null) return (await tx.user.create({ data: { ...data, passwordHash: deps.newUserHashes.get(data.username)! } })).id;
    // A new role or disabling ends the user's sessions, as updateUser does.
    if (change.fields.some((f) => f.field === "role" || (f.field === "disabled" && f.after === true))) await tx.session.deleteMany({ where: { userId: id } });
    await tx.user.update({ where: { id }, data });
    return id;
  },
  recoveryRecipients: (tx, o) => writeRecipient(tx, o),
};

/**
 * A recovery recipient: added, relabelled, or brought back from retirement (the recipient is the
 * key's identity). The instance key's own recipient is refused: it is not a recovery key.
 */
async function writeRecipient(tx: Tx, o: CanonObject): Promise<number> {
  const recipient = String(o.recipient);
  const label = String(o.label);
  const existing = await tx.encryptionKey.findUnique({ where: { recipient } });
  if (existing?.kind === "INSTANCE") throw new ConflictError("recoveryRecipients", `recipient ${recipient} is this instance's own key, not a recovery key`);
  if (existing) return (await tx.encryptionKey.update({ where: { id: existing.id }, data: { label, retiredAt: null } })).id;
  return (await tx.encryptionKey.create({ data: { kind: "RECOVERY", label, recipient, fingerprint: fingerprintOf(recipient) } })).id;
}

const DELETERS: Record<Section, (tx: Tx, id: number) => Promise<unknown>> = {
  dumpOptions: (tx, id) => tx.dumpOptions.delete({ where: { id } }),
  storageTargets: (tx, id) => tx.storageTarget.delete({ where: { id } }),
  servers: (tx, id) => tx.server.delete({ where: { id } }),
  schedules: (tx, id) => tx.schedule.delete({ where: { id } }),
  webhooks: (tx, id) => tx.webhook.delete({ where: { id } }),
  users: (tx, id) => tx.user.delete({ where: { id } }),
  // Retired, never deleted: the artifacts encrypted to it still record that it opens them.
  recoveryRecipients: (tx, id) => tx.encryptionKey.update({ where: { id }, data: { retiredAt: new Date() } }),
};
