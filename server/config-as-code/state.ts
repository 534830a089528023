import { DEFAULT_PORTS } from "../catalog/servers.service.ts";
import { selectorOf } from "../catalog/server-selector.ts";
import type { PrismaClient } from "../db/client.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import { RETENTION_LIMITS, SECTIONS, type ConfigurationDoc, type RetentionDoc, type Section } from "./document.ts";

/**
 * Both sides of a plan in one canonical shape: every field present (null when unset), lists and
 * label maps sorted, references by name, secrets as their plain values. The installation is read
 * into it (`loadState`), a parsed document is brought to it (`canonicalDocument`), and the plan
 * compares the two field by field.
 */

export type CanonObject = Record<string, unknown>;
/** Per section, the objects by their name. */
export type CanonState = Record<Section, Map<string, CanonObject>>;

/** A stored secret that cannot be opened (the key changed): never equal to any value. */
export const UNREADABLE_SECRET = Symbol("unreadable secret");

/** The installation's ids by name, for writing references. */
export type IdMaps = Record<Section, Map<string, number>>;

type Db = Pick<PrismaClient, "server" | "dumpOptions" | "storageTarget" | "schedule" | "webhook" | "user" | "encryptionKey">;

const sortedObject = (o: unknown): Record<string, string> => {
  const src = (o && typeof o === "object" ? o : {}) as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(src)
      .sort()
      .map((k) => [k, String(src[k])]),
  );
};

/** A retention rule as the document writes it (limits null when unset). */
export function canonicalRetention(r: Partial<Record<keyof RetentionDoc, unknown>>): CanonObject {
  return {
    keepForever: Boolean(r.keepForever),
    ...Object.fromEntries(RETENTION_LIMITS.map((f) => [f, r[f] ?? null])),
    minKeep: r.minKeep ?? 1,
  };
}

/** The server selector: null = every server; else the names and label selector. */
function canonicalSelector(names: string[], labels: Record<string, string> | null): CanonObject | null {
  if (names.length === 0 && !labels) return null;
  return { names: [...names].sort(), matchLabels: labels ? sortedObject(labels) : null };
}

/** Reads the installation as the canonical state, with its ids by name. */
export async function loadState(db: Db, secrets: SecretBox): Promise<{ state: CanonState; ids: IdMaps }> {
  const [dumpOptions, targets, servers, schedules, webhooks, users, recipients] = await Promise.all([
    db.dumpOptions.findMany(),
    db.storageTarget.findMany(),
    db.server.findMany(),
    db.schedule.findMany({ include: { servers: true, storageTargets: true, retentionRules: true } }),
    db.webhook.findMany(),
    db.user.findMany(),
    // Recovery recipients in use; the instance key and retired keys are not part of a document.
    db.encryptionKey.findMany({ where: { kind: "RECOVERY", retiredAt: null } }),
  ]);
  const open = (enc: string | null): string | symbol | null => {
    if (enc == null) return null;
    try {
      return secrets.open(enc);
    } catch {
      return UNREADABLE_SECRET;
    }
  };
  const nameOf = <T extends { id: number; name: string }>(rows: T[]) => new Map(rows.map((r) => [r.id, r.name]));
  const dumpName = nameOf(dumpOptions);
  const targetName = nameOf(targets);
  const serverName = nameOf(servers);
  const scheduleName = nameOf(schedules);

  const state = emptyState();
  for (const d of dumpOptions) {
    const { id: _id, createdAt: _c, updatedAt: _u, ...rest } = d;
    state.dumpOptions.set(d.name, { ...rest, mysqlExtraFlags: d.mysqlExtraFlags ?? [], pgExtraFlags: d.pgExtraFlags ?? [] });
  }
  for (const t of targets) {
    state.storageTargets.set(t.name, {
      name: t.name,
      kind: t.kind,
      enabled: t.enabled,
      isDefault: t.isDefault,
      path: t.path,
      bucket: t.bucket,
      region: t.region,
      endpoint: t.endpoint,
      prefix: t.prefix,
      forcePathStyle: t.forcePathStyle,
      accessKeyId: t.accessKeyId,
      secretAccessKey: open(t.secretAccessKeyEnc),
    });
  }
  for (const s of servers) {
    state.servers.set(s.name, {
      name: s.name,
      engine: s.engine,
      host: s.host,
      port: s.port,
      username: s.username,
      password: open(s.passwordEnc),
      tls: s.tls,
      allowPublicKeyRetrieval: s.allowPublicKeyRetrieval,
      enabled: s.enabled,
      labels: sortedObject(s.labels),
      includeDatabases: s.includeDatabases,
      excludeDatabases: s.excludeDatabases,
      maxConcurrent: s.maxConcurrent,
      dumpOptions: s.dumpOptionsId == null ? null : (dumpName.get(s.dumpOptionsId) ?? null),
      pitr: canonicalPitr(
        s.pitrEnabled,
        s.pitrRpoSeconds,
        (Array.isArray(s.pitrStorageTargetIds) ? (s.pitrStorageTargetIds as number[]) : []).flatMap((id) => targetName.get(id) ?? []),
      ),
    });
  }
  for (const s of schedules) {
    const names = s.servers.flatMap((l) => serverName.get(l.serverId) ?? []);
    state.schedules.set(s.name, {
      name: s.name,
      description: s.description,
      cronExpression: s.cronExpression,
      timezone: s.timezone,
      enabled: s.enabled,
      missedRunPolicy: s.missedRunPolicy,
      servers: canonicalSelector(names, selectorOf(s.serverLabels)),
      storageTargets: s.storageTargets.flatMap((l) => targetName.get(l.storageTargetId) ?? []).sort(),
      retention: Object.fromEntries(
        s.retentionRules
          .map((r) => [targetName.get(r.storageTargetId)!, canonicalRetention(r)] as const)
          .filter(([k]) => k)
          .sort(([a], [b]) => a.localeCompare(b)),
      ),
      drill:
        s.drillServerId != null && serverName.has(s.drillServerId)
          ? { server: serverName.get(s.drillServerId)!, cron: s.drillCron, enabled: s.drillEnabled, pitr: s.drillPitr }
          : null,
    });
  }
  for (const w of webhooks) {
    state.webhooks.set(w.name, {
      name: w.name,
      url: w.url,
      secret: open(w.secretEnc),
      format: w.format,
      onFailure: w.onFailure,
      onRecovery: w.onRecovery,
      onOverdue: w.onOverdue,
      onSuccess: w.onSuccess,
      schedule: w.scheduleId == null ? null : (scheduleName.get(w.scheduleId) ?? null),
      enabled: w.enabled,
    });
  }
  for (const u of users) state.users.set(u.username, { username: u.username, role: u.role, disabled: u.disabled });
  for (const k of recipients) state.recoveryRecipients.set(k.recipient, { label: k.label, recipient: k.recipient });

  const ids: IdMaps = {
    dumpOptions: new Map(dumpOptions.map((r) => [r.name, r.id])),
    storageTargets: new Map(targets.map((r) => [r.name, r.id])),
    servers: new Map(servers.map((r) => [r.name, r.id])),
    schedules: new Map(schedules.map((r) => [r.name, r.id])),
    webhooks: new Map(webhooks.map((r) => [r.name, r.id])),
    users: new Map(users.map((r) => [r.username, r.id])),
    recoveryRecipients: new Map(recipients.map((r) => [r.recipient, r.id])),
  };
  return { state, ids };
}

export function emptyState(): CanonState {
  return Object.fromEntries(SECTIONS.map((s) => [s, new Map()])) as CanonState;
}

/** A parsed document in the canonical shape; `secretValues` maps "section/name/field" to the resolved secret. */
export function canonicalDocument(doc: ConfigurationDoc, secretValues: Map<string, string>): CanonState {
  const state = emptyState();
  const secret = (section: Section, name: string, field: string) => secretValues.get(`${section}/${name}/${field}`) ?? null;
  for (const d of doc.dumpOptions) {
    state.dumpOptions.set(d.name, {
      ...d,
      description: d.description ?? null,
      setGtidPurged: d.setGtidPurged ?? null,
      columnStatistics: d.columnStatistics ?? null,
    });
  }
  for (const t of doc.storageTargets) {
    state.storageTargets.set(t.name, {
      name: t.name,
      kind: t.kind,
      enabled: t.enabled,
      isDefault: t.isDefault,
      path: t.path ?? null,
      bucket: t.bucket ?? null,
      region: t.region ?? null,
      endpoint: t.endpoint ?? null,
      prefix: t.prefix,
      forcePathStyle: t.forcePathStyle,
      accessKeyId: t.accessKeyId || null,
      secretAccessKey: secret("storageTargets", t.name, "secretAccessKey"),
    });
  }
  for (const s of doc.servers) {
    state.servers.set(s.name, {
      name: s.name,
      engine: s.engine,
      host: s.host,
      port: s.port ?? DEFAULT_PORTS[s.engine],
      username: s.username,
      password: secret("servers", s.name, "password"),
      tls: s.tls,
      allowPublicKeyRetrieval: s.allowPublicKeyRetrieval,
      enabled: s.enabled,
      labels: sortedObject(s.labels),
      includeDatabases: s.includeDatabases,
      excludeDatabases: s.excludeDatabases,
      maxConcurrent: s.maxConcurrent,
      dumpOptions: s.dumpOptions ?? null,
      pitr: s.pitr ? canonicalPitr(s.pitr.enabled, s.pitr.rpoSeconds, s.pitr.storageTargets) : null,
    });
  }
  for (const s of doc.schedules) {
    const sel = s.servers;
    const servers = !sel
      ? null
      : Array.isArray(sel)
        ? canonicalSelector([...new Set(sel)], null)
        : canonicalSelector([...new Set(sel.names ?? [])], Object.keys(sel.matchLabels ?? {}).length ? sel.matchLabels! : null);
    state.schedules.set(s.name, {
      name: s.name,
      description: s.description ?? null,
      cronExpression: s.cronExpression,
      timezone: s.timezone,
      enabled: s.enabled,
      missedRunPolicy: s.missedRunPolicy,
      servers,
      storageTargets: [...new Set(s.storageTargets)].sort(),
      retention: Object.fromEntries(
        Object.keys(s.retention)
          .sort()
          .map((k) => [k, canonicalRetention(s.retention[k]!)]),
      ),
      drill: s.drill ? { server: s.drill.server, cron: s.drill.cron ?? null, enabled: s.drill.enabled, pitr: s.drill.pitr ?? false } : null,
    });
  }
  for (const w of doc.webhooks) {
    state.webhooks.set(w.name, { ...w, secret: secret("webhooks", w.name, "secret"), schedule: w.schedule ?? null });
  }
  for (const u of doc.users) state.users.set(u.username, { ...u });
  for (const r of doc.recoveryRecipients) state.recoveryRecipients.set(r.recipient, { label: r.label, recipient: r.recipient });
  return state;
}

/** A server's point-in-time recovery settings; null when off with the defaults (as a document without `pitr`). */
function canonicalPitr(enabled: boolean, rpoSeconds: number, storageTargets: string[]): CanonObject | null {
  if (!enabled && rpoSeconds === 60 && storageTargets.length === 0) return null;
  return { enabled, rpoSeconds, storageTargets: [...new Set(storageTargets)].sort() };
}
