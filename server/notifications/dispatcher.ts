import type { Principal } from "../auth/roles.ts";
import type { PrismaClient } from "../db/client.ts";
import type { Logger } from "../observability/logger.ts";
import type { BackupEvent } from "../runner/events.ts";
import type { WebhookNetwork } from "./address-guard.ts";
import { DEFAULT_DELIVERY, deliver, type DeliveryPolicy, type DeliveryResult } from "./delivery.ts";
import { buildBody, eventOf, pingUrl, signature, type BackupFacts, type DrillFacts, type OverdueFacts, type WebhookBody } from "./webhook-payload.ts";
import type { WebhookTarget, WebhooksService } from "./webhooks.service.ts";

/** What the dispatcher needs. */
export type DispatcherDeps = {
  prisma: PrismaClient;
  webhooks: Pick<WebhooksService, "targets" | "target">;
  logger: Logger;
  delivery?: Partial<DeliveryPolicy>;
  /** Which addresses deliveries may reach (link-local and metadata ones refused by default). */
  network?: WebhookNetwork;
};

const ENDED = new Set(["SUCCEEDED", "PARTIAL", "FAILED"]);
const FINISHED = ["SUCCEEDED", "PARTIAL", "FAILED", "DELETED"] as const;
const REMEMBERED = 10_000;

/**
 * Sends webhook notifications for the BackupEvents bus. When a backup ends, GENERIC webhooks get
 * FAILURE, RECOVERY or SUCCESS (by their flags; RECOVERY also reaches those that want successes),
 * and HEALTHCHECKS webhooks get the matching ping (/start when a backup starts, the URL itself on
 * success, /fail on failure or partial; their flags do not apply). Every call happens in the
 * background with retries (see deliver), so a slow or broken receiver never holds a backup back.
 * The scheduler reports overdue databases through notifyOverdue.
 */
export class WebhookDispatcher {
  readonly #log: Logger;
  readonly #policy: DeliveryPolicy;
  readonly #stop = new AbortController();
  readonly #pending = new Set<Promise<unknown>>();
  readonly #overdueSent = new Set<string>();
  readonly #started = new Map<number, Promise<void>>();
  #closed = false;

  constructor(private readonly deps: DispatcherDeps) {
    this.#log = deps.logger.child({ component: "webhooks" });
    this.#policy = { ...DEFAULT_DELIVERY, ...deps.delivery };
  }

  /** The BackupEvents hook: returns at once; the work runs in the background. */
  onBackupEvent(event: BackupEvent): void {
    if (event.type !== "STATUS" || event.status === "PENDING") return;
    // A backup's end is notified after its start: a /fail must not overtake its /start.
    const started = this.#started.get(event.backupId);
    if (event.status !== "RUNNING") this.#started.delete(event.backupId);
    if (this.#closed || !(event.status === "RUNNING" || ENDED.has(event.status))) return;
    const task = this.#track(started ? started.then(() => this.#backupEvent(event.backupId, event.status)) : this.#backupEvent(event.backupId, event.status));
    if (event.status === "RUNNING") this.#started.set(event.backupId, task);
  }

  /**
   * For the scheduler: `database` of `server` is overdue. GENERIC webhooks with onOverdue get an
   * OVERDUE event, once per expected-by time (the global ones and those of the late schedules).
   */
  notifyOverdue(server: string, database: string | null, facts: OverdueFacts): Promise<void> {
    const key = `${server}\u0000${database ?? ""}\u0000${facts.expectedBy?.getTime() ?? ""}`;
    if (this.#closed || this.#overdueSent.has(key)) return Promise.resolve();
    this.#overdueSent.add(key);
    if (this.#overdueSent.size > REMEMBERED) this.#overdueSent.delete(this.#overdueSent.values().next().value!);
    return this.#track(
      (async () => {
        const hooks = await this.deps.webhooks.targets({ scheduleNames: facts.lateSchedules });
        const body = buildBody({ event: "OVERDUE", server, database, overdue: facts });
        await Promise.all(hooks.filter((h) => h.format === "GENERIC" && h.onOverdue).map((h) => this.#send(h, h.url, body)));
      })(),
    );
  }

  /** A restore drill failed: GENERIC webhooks that want failures get a DRILL_FAILED event. */
  notifyDrillFailed(server: string, database: string, drill: DrillFacts): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#track(
      (async () => {
        const hooks = await this.deps.webhooks.targets({});
        const body = buildBody({ event: "DRILL_FAILED", server, database, drill });
        await Promise.all(hooks.filter((h) => h.format === "GENERIC" && h.onFailure).map((h) => this.#send(h, h.url, body)));
      })(),
    );
  }

  /** testWebhook: one TEST delivery (a single attempt) to a webhook. Admin role; throws NOT_FOUND. */
  async test(principal: Principal | null, id: number): Promise<DeliveryResult> {
    const hook = await this.deps.webhooks.target(principal, id);
    const body = buildBody({ event: "TEST", server: null, database: null });
    const url = hook.format === "HEALTHCHECKS" ? pingUrl(hook.url, "success", 0) : hook.url;
    return this.#send(hook, url, body, { ...this.#policy, maxAttempts: 1 });
  }

  /** Resolves once every notification under way has been delivered or given up (tests). */
  async idle(): Promise<void> {
    while (this.#pending.size) await Promise.allSettled([...this.#pending]);
  }

  /** Shutdown: takes no new notification, gives those under way `graceMs`, then stops retrying and waits. */
  async stop(graceMs = 5_000): Promise<void> {
    this.#closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    this.#stop.abort();
    await this.idle();
  }

  async #backupEvent(backupId: number, status: string): Promise<void> {
    const { prisma } = this.deps;
    const b = await prisma.backup.findUnique({
      where: { id: backupId },
      include: { server: { select: { name: true } }, schedule: { select: { name: true } } },
    });
    if (!b) return;
    const hooks = await this.deps.webhooks.targets({ scheduleId: b.scheduleId });
    if (hooks.length === 0) return;
    const server = b.server?.name ?? b.serverName;
    const schedule = b.schedule?.name ?? b.scheduleName;
    if (status === "RUNNING") {
      const body = buildBody({ event: "STARTED", server, database: b.database, schedule });
      await Promise.all(hooks.filter((h) => h.format === "HEALTHCHECKS").map((h) => this.#send(h, pingUrl(h.url, "start", b.id), body)));
      return;
    }
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
    const facts: BackupFacts = { ...b, server, schedule };
    const body = buildBody({ event, server, database: b.database, schedule, backup: facts, previous: event === "RECOVERY" ? previous : null });
    const ping = event === "FAILURE" ? "fail" : "success";
    await Promise.all(
      hooks.flatMap((h) => {
        if (h.format === "HEALTHCHECKS") return [this.#send(h, pingUrl(h.url, ping, b.id), body)];
        const wanted = event === "FAILURE" ? h.onFailure : event === "RECOVERY" ? h.onRecovery || h.onSuccess : h.onSuccess;
        return wanted ? [this.#send(h, h.url, body)] : [];
      }),
    );
  }

  /** One delivery, logged by webhook id, name and host: never the secret, the full URL or the body. */
  async #send(hook: WebhookTarget, url: string, body: WebhookBody, policy = this.#policy): Promise<DeliveryResult> {
    const text = JSON.stringify(body);
    const headers: Record<string, string> = { "x-sqlguard-event": body.event, "x-sqlguard-delivery": body.deliveryId };
    if (hook.secret) headers["x-sqlguard-signature"] = signature(hook.secret, text);
    const result = await deliver({ url, body: text, headers }, policy, this.#stop.signal, this.deps.network);
    const fields = { webhookId: hook.id, webhook: hook.name, host: new URL(url).host, event: body.event, attempts: result.attempts, status: result.status };
    if (result.ok) this.#log.info(fields, "webhook delivered");
    else this.#log.warn({ ...fields, reason: result.error }, "webhook delivery failed");
    return result;
  }

  #track<T>(work: Promise<T>): Promise<void> {
    const task = work.then(
      () => {},
      (error: unknown) => this.#log.warn({ err: error }, "webhook notification failed"),
    );
    this.#pending.add(task);
    void task.finally(() => this.#pending.delete(task));
    return task;
  }
}
