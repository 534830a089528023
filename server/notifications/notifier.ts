import crypto from "node:crypto";
import { requireRole, type Principal } from "../auth/roles.ts";
import type { PrismaClient } from "../db/client.ts";
import type { NotificationChannel, NotificationIncident, NotificationRule } from "../db/generated/client.ts";
import { NotFoundError, ValidationError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { RestoreEvent } from "../restore/events.ts";
import type { BackupEvent } from "../runner/events.ts";
import type { Clock } from "../scheduler/clock.ts";
import type { NotificationChannelsService } from "./channels.service.ts";
import type { DeliveryPolicy, DeliveryResult } from "./delivery.ts";
import { facts, type MessageFacts, type NotificationEvent } from "./events.ts";
import { scheduleCovers } from "../catalog/server-selector.ts";
import { messageOf } from "./message.ts";
import { eventsOf, scheduleIdsOf, selectorOf, selects } from "./rules.service.ts";
import type { ChannelSender } from "./sender.ts";
import { buildBody, eventOf, type BackupFacts, type DrillFacts, type OverdueFacts } from "./webhook-payload.ts";

type RuleWithChannel = NotificationRule & { channel: NotificationChannel };
/** Where an event happened: the server (with its labels), the database, the schedules it belongs to. */
type Scope = { server: string; labels: Record<string, string> | null; database: string | null; scheduleIds: number[] };

const ENDED = new Set(["SUCCEEDED", "PARTIAL", "FAILED"]);
const FINISHED = ["SUCCEEDED", "PARTIAL", "FAILED", "DELETED"] as const;
const REMEMBERED = 10_000;

/**
 * Turns backup, restore and scheduler events into messages on the notification channels, through
 * the rules: which events, for which servers (names or labels) and schedules. Failures of one
 * database open one incident per (rule, channel, database): the first failure is sent, later ones
 * stay quiet for the rule's quietMinutes after each message (then one reminder), and the first
 * success closes the incident with one recovery message. HEALTHCHECKS channels get the /start,
 * success and /fail pings of every backup in their rules' scope. Everything runs in the
 * background; a channel gets one message per event even when several of its rules match.
 */
export class Notifier {
  readonly #log: Logger;
  readonly #stop = new AbortController();
  readonly #pending = new Set<Promise<unknown>>();
  readonly #chains = new Map<string, Promise<unknown>>();
  readonly #overdueSent = new Set<string>();
  #closed = false;

  constructor(
    private readonly deps: {
      prisma: PrismaClient;
      channels: Pick<NotificationChannelsService, "get">;
      sender: ChannelSender;
      logger: Logger;
      clock: Pick<Clock, "now">;
    },
  ) {
    this.#log = deps.logger.child({ component: "notifications" });
  }

  /** The BackupEvents hook: returns at once. Events of one database are handled in order. */
  onBackupEvent(event: BackupEvent): void {
    if (this.#closed || event.type !== "STATUS" || !(event.status === "RUNNING" || ENDED.has(event.status))) return;
    void this.#inOrder(`backup:${event.backupId}`, () => this.#backupEvent(event.backupId, event.status));
  }

  /** The RestoreEvents hook: failed drills, corrupt or missing copies, unreadable storage targets. */
  onRestoreEvent(e: RestoreEvent): void {
    if (this.#closed) return;
    if (e.type === "DRILL_FINISHED" && e.status === "FAILED") {
      void this.notifyDrillFailed(e.sourceServerName, e.database, { id: e.drillId, backupId: e.backupId, restoreMs: e.restoreMs, error: e.error });
    } else if (e.type === "VERIFIED" && e.result !== "OK" && e.result !== "MANIFEST_PROBLEM") {
      const event: NotificationEvent = e.result === "UNREADABLE" ? "STORAGE_UNREACHABLE" : "CORRUPT_COPY";
      const detail = `storage target ${e.storageTargetName}: ${e.result === "MISSING" ? "the object is gone" : e.result === "CORRUPT" ? "the bytes differ from the recorded SHA-256" : "storage did not answer"}`;
      void this.#track(this.#simple(event, e.serverName, e.database, { backupId: e.backupId, detail }));
    }
  }

  /** A restore drill failed. */
  notifyDrillFailed(server: string, database: string, drill: DrillFacts): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#track(
      this.#simple("DRILL_FAILED", server, database, {
        backupId: drill.backupId,
        error: drill.error,
        detail: `drill #${drill.id}`,
        webhook: buildBody({ event: "DRILL_FAILED", server, database, drill }),
      }),
    );
  }

  /** The overdue watch: once per database and expected-by time. */
  notifyOverdue(server: string, database: string | null, overdue: OverdueFacts): Promise<void> {
    const key = `${server}\u0000${database ?? ""}\u0000${overdue.expectedBy?.getTime() ?? ""}`;
    if (this.#closed || this.#overdueSent.has(key)) return Promise.resolve();
    this.#overdueSent.add(key);
    if (this.#overdueSent.size > REMEMBERED) this.#overdueSent.delete(this.#overdueSent.values().next().value!);
    return this.#track(
      (async () => {
        const schedules = overdue.lateSchedules.length
          ? await this.deps.prisma.schedule.findMany({ where: { name: { in: overdue.lateSchedules } }, select: { id: true } })
          : [];
        const detail = `expected by ${overdue.expectedBy?.toISOString() ?? "?"}; last success ${overdue.lateSchedules.length ? `(schedule ${overdue.lateSchedules.join(", ")}) ` : ""}${overdue.lastSuccessAt?.toISOString() ?? "never"}`;
        await this.#simple("OVERDUE", server, database, {
          scheduleIds: schedules.map((s) => s.id),
          detail,
          webhook: buildBody({ event: "OVERDUE", server, database, overdue }),
        });
      })(),
    );
  }

  /**
   * The health checks found a storage target unreachable (once per outage: the monitor reports
   * transitions). Sent to the rules with STORAGE_UNREACHABLE whose schedules write to the target
   * (rules without schedules: always) and whose servers include one those schedules cover (an
   * empty selector: always); a rule's quiet period holds back a repeat about the same target.
   */
  notifyStorageDown(target: { id: number; name: string }, error: string | null): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#track(this.#storageDown(target, error));
  }

  async #storageDown(target: { id: number; name: string }, error: string | null): Promise<void> {
    const { prisma } = this.deps;
    const row = await prisma.storageTarget.findUnique({ where: { id: target.id }, select: { isDefault: true } });
    const schedules = await prisma.schedule.findMany({
      where: {
        enabled: true,
        OR: [{ storageTargets: { some: { storageTargetId: target.id } } }, ...(row?.isDefault ? [{ storageTargets: { none: {} } }] : [])],
      },
      select: { id: true, serverLabels: true, servers: { select: { serverId: true } } },
    });
    const servers = await prisma.server.findMany({ where: { enabled: true }, select: { id: true, name: true, labels: true } });
    const covered = servers.filter((s) =>
      schedules.some((sc) => scheduleCovers({ serverIds: sc.servers.map((x) => x.serverId), serverLabels: sc.serverLabels }, s)),
    );
    const scheduleIds = schedules.map((s) => s.id);
    const rules = (
      await prisma.notificationRule.findMany({ where: { enabled: true, channel: { enabled: true } }, include: { channel: true }, orderBy: { id: "asc" } })
    ).filter((rule) => {
      if (rule.channel.kind === "HEALTHCHECKS" || !eventsOf(rule).includes("STORAGE_UNREACHABLE")) return false;
      const ids = scheduleIdsOf(rule);
      if (ids.length && !ids.some((id) => scheduleIds.includes(id))) return false;
      const selector = selectorOf(rule);
      if (!selector.names?.length && !Object.keys(selector.matchLabels ?? {}).length) return true;
      return covered.some((s) => selects(selector, { name: s.name, labels: s.labels as Record<string, string> | null }));
    });
    const detail = `storage target ${target.name}`;
    const f = facts({
      event: "STORAGE_UNREACHABLE",
      occurredAt: this.#now().toISOString(),
      target: target.name,
      error,
      detail: "found by the periodic health check (write, read back and delete a probe object)",
      webhook: {
        ...buildBody({ event: "STORAGE_UNREACHABLE", server: null, database: null }),
        summary: `Storage target ${target.name} is unreachable`,
        storageTarget: target.name,
        error,
      },
    });
    const sends: Array<{ rule: RuleWithChannel; f: MessageFacts }> = [];
    for (const rule of rules) {
      if (rule.quietMinutes > 0) {
        const recent = await prisma.notificationDelivery.findFirst({
          where: {
            ruleId: rule.id,
            event: "STORAGE_UNREACHABLE",
            serverName: null,
            status: "SENT",
            summary: messageOf(f).title,
            createdAt: { gte: new Date(this.#now().getTime() - rule.quietMinutes * 60_000) },
          },
          select: { id: true },
        });
        if (recent) {
          await this.deps.sender.suppressed(rule.channel, rule.id, f, `a message about ${detail} went out less than ${rule.quietMinutes} minutes ago`);
          continue;
        }
      }
      sends.push({ rule, f });
    }
    await this.#sendAll(sends);
  }

  /** Any other event (e.g. PITR_CHAIN_BROKEN from the log archiver) of a database. */
  notify(event: NotificationEvent, server: string, database: string | null, extra: { error?: string; detail?: string; backupId?: number } = {}): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#track(this.#simple(event, server, database, extra));
  }

  /** testNotificationChannel: one TEST message (a single attempt). Admin role; throws NOT_FOUND. */
  async test(principal: Principal | null, channelId: number): Promise<DeliveryResult> {
    const channel = await this.deps.channels.get(principal, channelId);
    const f = facts({ event: "TEST", occurredAt: this.#now().toISOString(), ping: "success" });
    return this.deps.sender.send(channel, f, { policy: { maxAttempts: 1, baseDelayMs: 0, timeoutMs: 10_000 } as DeliveryPolicy, signal: this.#stop.signal });
  }

  /** retryNotificationDelivery: sends a FAILED delivery's message again, as a new delivery. Admin role. */
  async retry(principal: Principal | null, deliveryId: number): Promise<DeliveryResult> {
    requireRole(principal, "ADMIN");
    const row = await this.deps.prisma.notificationDelivery.findUnique({ where: { id: deliveryId }, include: { channel: true } });
    if (!row) throw new NotFoundError("notification delivery", deliveryId);
    if (row.status !== "FAILED") throw new ValidationError("id", `delivery ${deliveryId} is ${row.status}: only FAILED deliveries can be sent again`);
    if (row.event === "WEEKLY_REPORT") throw new ValidationError("id", "send the weekly report again with sendWeeklyReport");
    return this.deps.sender.send(row.channel, row.facts as MessageFacts, { ruleId: row.ruleId, signal: this.#stop.signal });
  }

  /** Resolves once every notification under way has been delivered or given up (tests). */
  async idle(): Promise<void> {
    while (this.#pending.size) await Promise.allSettled([...this.#pending]);
  }

  /** Shutdown: no new notifications; those under way get `graceMs`, then retries stop. */
  async stop(graceMs = 5_000): Promise<void> {
    this.#closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    this.#stop.abort();
    await this.idle();
  }

  /** The signal sends of the weekly report use (stopped at shutdown). */
  get signal(): AbortSignal {
    return this.#stop.signal;
  }

  async #backupEvent(backupId: number, status: string): Promise<void> {
    const { prisma } = this.deps;
    const b = await prisma.backup.findUnique({
      where: { id: backupId },
      include: { server: { select: { name: true, labels: true } }, schedule: { select: { name: true } } },
    });
    if (!b) return;
    const server = b.server?.name ?? b.serverName;
    const schedule = b.schedule?.name ?? b.scheduleName;
    const scope: Scope = {
      server,
      labels: (b.server?.labels ?? null) as Record<string, string> | null,
      database: b.database,
      scheduleIds: b.scheduleId ? [b.scheduleId] : [],
    };
    const rules = await this.#rules(scope);
    if (rules.length === 0) return;
    const base = { server, database: b.database, schedule, backupId: b.id, occurredAt: this.#now().toISOString() };
    if (status === "RUNNING") {
      const webhook = buildBody({ event: "STARTED", server, database: b.database, schedule });
      await this.#sendAll(
        rules.filter((r) => r.channel.kind === "HEALTHCHECKS").map((r) => ({ rule: r, f: facts({ ...base, event: "STARTED", ping: "start", webhook }) })),
      );
      return;
    }
    // Events of one database are handled one after the other, so incidents never race.
    await this.#inOrder(`db:${server}\u0000${b.database}`, async () => {
      const previous =
        b.serverId === null
          ? null
          : await prisma.backup.findFirst({
              where: { serverId: b.serverId, database: b.database, id: { not: b.id }, createdAt: { lte: b.createdAt }, status: { in: [...FINISHED] } },
              orderBy: [{ createdAt: "desc" }, { id: "desc" }],
              select: { id: true, status: true, finishedAt: true },
            });
      const event = eventOf(b.status, previous?.status ?? null);
      if (!event) return;
      const backupFacts: BackupFacts = { ...b, server, schedule };
      const webhook = buildBody({ event, server, database: b.database, schedule, backup: backupFacts, previous: event === "RECOVERY" ? previous : null });
      const sends: Array<{ rule: RuleWithChannel; f: MessageFacts }> = [];
      for (const rule of rules) {
        if (rule.channel.kind === "HEALTHCHECKS") {
          sends.push({ rule, f: facts({ ...base, event, error: b.error, webhook, ping: b.status === "SUCCEEDED" ? "success" : "fail" }) });
          continue;
        }
        const wants = new Set(eventsOf(rule));
        if (event === "FAILURE") {
          if (!wants.has("FAILURE") && !wants.has("RECOVERY")) continue;
          const { incident, isNew } = await this.#openIncident(rule, server, b.database, b.id, b.error, b.finishedAt ?? this.#now());
          if (!wants.has("FAILURE")) continue;
          const f = facts({ ...base, event: "FAILURE", error: b.error, since: incident.openedAt.toISOString(), failures: incident.failures, webhook });
          const quietUntil = incident.notifiedAt ? incident.notifiedAt.getTime() + rule.quietMinutes * 60_000 : 0;
          if (isNew || rule.quietMinutes === 0 || this.#now().getTime() >= quietUntil) {
            await prisma.notificationIncident.update({ where: { id: incident.id }, data: { notifiedAt: this.#now(), heldBack: 0 } });
            sends.push({ rule, f });
          } else {
            await prisma.notificationIncident.update({ where: { id: incident.id }, data: { heldBack: { increment: 1 } } });
            await this.deps.sender.suppressed(rule.channel, rule.id, f, `quiet until ${new Date(quietUntil).toISOString()} (incident ${incident.id})`);
          }
        } else {
          const incident = await this.#closeIncident(rule, server, b.database);
          if ((incident || event === "RECOVERY") && wants.has("RECOVERY")) {
            const failures = incident?.failures ?? null;
            sends.push({
              rule,
              f: facts({
                ...base,
                event: "RECOVERY",
                since: incident?.openedAt.toISOString() ?? previous?.finishedAt?.toISOString() ?? null,
                failures,
                webhook,
              }),
            });
          } else if (wants.has("SUCCESS")) {
            sends.push({
              rule,
              f: facts({
                ...base,
                event: "SUCCESS",
                webhook: event === "SUCCESS" ? webhook : buildBody({ event: "SUCCESS", server, database: b.database, schedule, backup: backupFacts }),
              }),
            });
          }
        }
      }
      await this.#sendAll(sends);
    });
  }

  /** An event without incidents: sent to the rules that want it, once per quiet period per database. */
  async #simple(
    event: NotificationEvent,
    server: string,
    database: string | null,
    extra: { backupId?: number | null; error?: string | null; detail?: string | null; scheduleIds?: number[]; webhook?: MessageFacts["webhook"] },
  ): Promise<void> {
    const { prisma } = this.deps;
    const row = await prisma.server.findUnique({ where: { name: server }, select: { labels: true } });
    let scheduleIds = extra.scheduleIds ?? [];
    let schedule: string | null = null;
    if (extra.backupId != null) {
      const b = await prisma.backup.findUnique({ where: { id: extra.backupId }, select: { scheduleId: true, scheduleName: true } });
      if (b?.scheduleId) scheduleIds = [b.scheduleId];
      schedule = b?.scheduleName ?? null;
    }
    const rules = (await this.#rules({ server, labels: (row?.labels ?? null) as Record<string, string> | null, database, scheduleIds })).filter(
      (r) => r.channel.kind !== "HEALTHCHECKS" && eventsOf(r).includes(event),
    );
    const f = facts({
      event,
      occurredAt: this.#now().toISOString(),
      server,
      database,
      schedule,
      backupId: extra.backupId ?? null,
      error: extra.error ?? null,
      detail: extra.detail ?? null,
      webhook: extra.webhook ?? buildBody({ event, server, database }),
    });
    const sends: Array<{ rule: RuleWithChannel; f: MessageFacts }> = [];
    for (const rule of rules) {
      if (rule.quietMinutes > 0) {
        const recent = await prisma.notificationDelivery.findFirst({
          where: {
            ruleId: rule.id,
            channelId: rule.channelId,
            event,
            serverName: server,
            database,
            status: "SENT",
            createdAt: { gte: new Date(this.#now().getTime() - rule.quietMinutes * 60_000) },
          },
          select: { id: true },
        });
        if (recent) {
          await this.deps.sender.suppressed(
            rule.channel,
            rule.id,
            f,
            `a ${event} message about this database went out less than ${rule.quietMinutes} minutes ago`,
          );
          continue;
        }
      }
      sends.push({ rule, f });
    }
    await this.#sendAll(sends);
  }

  /** The enabled rules of enabled channels whose servers and schedules take this scope. */
  async #rules(scope: Scope): Promise<RuleWithChannel[]> {
    const rules = await this.deps.prisma.notificationRule.findMany({
      where: { enabled: true, channel: { enabled: true } },
      include: { channel: true },
      orderBy: { id: "asc" },
    });
    return rules.filter((rule) => {
      if (!selects(selectorOf(rule), { name: scope.server, labels: scope.labels })) return false;
      const ids = scheduleIdsOf(rule);
      if (ids.length === 0) return true;
      return scope.scheduleIds.some((id) => ids.includes(id));
    });
  }

  /** One message per channel and event, even when several of its rules matched. */
  async #sendAll(sends: Array<{ rule: RuleWithChannel; f: MessageFacts }>): Promise<void> {
    const seen = new Set<string>();
    const unique = sends.filter(({ rule, f }) => {
      const key = `${rule.channelId}:${f.event}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    await Promise.all(unique.map(({ rule, f }) => this.deps.sender.send(rule.channel, f, { ruleId: rule.id, signal: this.#stop.signal })));
  }

  async #openIncident(
    rule: NotificationRule,
    server: string,
    database: string,
    backupId: number,
    error: string | null,
    at: Date,
  ): Promise<{ incident: NotificationIncident; isNew: boolean }> {
    const { prisma } = this.deps;
    const openKey = incidentKey(rule, server, database);
    const open = await prisma.notificationIncident.findUnique({ where: { openKey } });
    if (open) {
      const incident = await prisma.notificationIncident.update({ where: { id: open.id }, data: { failures: { increment: 1 }, lastError: error } });
      return { incident, isNew: false };
    }
    try {
      const incident = await prisma.notificationIncident.create({
        data: { ruleId: rule.id, channelId: rule.channelId, serverName: server, database, openKey, openedAt: at, firstBackupId: backupId, lastError: error },
      });
      return { incident, isNew: true };
    } catch (caught) {
      // Another process opened it first (the key is unique while open).
      if ((caught as { code?: string }).code !== "P2002") throw caught;
      const incident = await prisma.notificationIncident.update({ where: { openKey }, data: { failures: { increment: 1 }, lastError: error } });
      return { incident, isNew: false };
    }
  }

  async #closeIncident(rule: NotificationRule, server: string, database: string): Promise<NotificationIncident | null> {
    const openKey = incidentKey(rule, server, database);
    const open = await this.deps.prisma.notificationIncident.findUnique({ where: { openKey } });
    if (!open) return null;
    const closed = await this.deps.prisma.notificationIncident.updateMany({ where: { id: open.id, openKey }, data: { openKey: null, closedAt: this.#now() } });
    return closed.count === 1 ? open : null;
  }

  #now(): Date {
    return this.deps.clock.now();
  }

  #inOrder<T>(key: string, work: () => Promise<T>): Promise<void> {
    const previous = this.#chains.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const tracked = this.#track(next);
    this.#chains.set(key, tracked);
    void tracked.finally(() => {
      if (this.#chains.get(key) === tracked) this.#chains.delete(key);
    });
    return tracked;
  }

  #track<T>(work: Promise<T>): Promise<void> {
    const task = work.then(
      () => {},
      (error: unknown) => this.#log.warn({ err: error }, "notification failed"),
    );
    this.#pending.add(task);
    void task.finally(() => this.#pending.delete(task));
    return task;
  }
}

/** The open-incident key of (rule, channel, database): hashed, as names can be long. */
function incidentKey(rule: Pick<NotificationRule, "id" | "channelId">, server: string, database: string): string {
  return `${rule.id}:${rule.channelId}:${crypto.createHash("sha256").update(`${server}\u0000${database}`).digest("hex")}`;
}
