import { requireRole, type Principal } from "../auth/roles.ts";
import type { DashboardService } from "../backups/dashboard.service.ts";
import type { PrismaClient } from "../db/client.ts";
import type { NotificationChannel } from "../db/generated/client.ts";
import { ValidationError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../scheduler/clock.ts";
import type { CronDriver } from "../scheduler/cron-driver.ts";
import type { NotificationChannelsService } from "./channels.service.ts";
import type { DeliveryResult } from "./delivery.ts";
import { facts } from "./events.ts";
import { collectWeeklyReport } from "./report/weekly-data.ts";
import { weeklyReportMail } from "./report/weekly-mail.ts";
import type { ChannelSender } from "./sender.ts";

/** When the report goes out: a cron expression in a time zone (SQLGUARD_WEEKLY_REPORT_CRON / _TIMEZONE). */
export type WeeklyReportSchedule = { expression: string; timezone: string };
export const DEFAULT_WEEKLY_REPORT: WeeklyReportSchedule = { expression: "0 8 * * 1", timezone: "UTC" };

const JOB = "weekly-report";
/** A channel whose report went out less than this before a due time is not sent it again (another instance did). */
const CLAIM_MS = 24 * 3_600_000;

/**
 * The weekly report by e-mail (opt-in per EMAIL channel: `weeklyReport`). A croner job (its own
 * driver, so the scheduler's reconcile never touches it) fires at the configured time; each
 * opted-in channel is claimed through `lastWeeklyReportAt` in one conditional update, so with
 * several instances sharing the metadata database exactly one of them sends it. `sendNow` sends it
 * to one EMAIL channel at once (admin). Every mail is kept in the delivery log as WEEKLY_REPORT.
 */
export class WeeklyReportService {
  readonly #log: Logger;

  constructor(
    private readonly deps: {
      prisma: PrismaClient;
      dashboard: Pick<DashboardService, "get">;
      channels: Pick<NotificationChannelsService, "get">;
      sender: ChannelSender;
      clock: Pick<Clock, "now">;
      logger: Logger;
      /** The overdue grace: RPO compliance allows it, as the dashboard does. */
      graceMs: number;
      schedule: WeeklyReportSchedule;
      publicUrl?: string;
      /** Stops retries at shutdown (the notifier's). */
      signal: () => AbortSignal;
    },
  ) {
    this.#log = deps.logger.child({ component: "weekly-report" });
  }

  /** Puts the job on `cron` (main.ts, where the scheduler runs). Throws on an invalid expression or zone. */
  start(cron: CronDriver): void {
    cron.set(JOB, this.deps.schedule, (dueAt) => this.runDue(dueAt).then(() => {}));
  }

  /** The time zone the report's days and times are written in. */
  get timezone(): string {
    return this.deps.schedule.timezone;
  }

  /**
   * One due time: sends the report to every enabled EMAIL channel with the report turned on that
   * this instance claims. Returns the channels it sent to.
   */
  async runDue(dueAt: Date): Promise<Array<{ channelId: number; result: DeliveryResult }>> {
    const { prisma } = this.deps;
    const channels = await prisma.notificationChannel.findMany({ where: { kind: "EMAIL", enabled: true, weeklyReport: true }, orderBy: { id: "asc" } });
    const claimed: NotificationChannel[] = [];
    for (const c of channels) {
      const before = new Date(dueAt.getTime() - CLAIM_MS);
      const won = await prisma.notificationChannel.updateMany({
        where: { id: c.id, weeklyReport: true, OR: [{ lastWeeklyReportAt: null }, { lastWeeklyReportAt: { lt: before } }] },
        data: { lastWeeklyReportAt: dueAt },
      });
      if (won.count === 1) claimed.push(c);
    }
    if (claimed.length === 0) return [];
    const mail = await this.#mail();
    const out: Array<{ channelId: number; result: DeliveryResult }> = [];
    for (const channel of claimed) out.push({ channelId: channel.id, result: await this.#send(channel, mail) });
    this.#log.info({ channels: out.length, failed: out.filter((o) => !o.result.ok).length }, "weekly report sent");
    return out;
  }

  /** sendWeeklyReport: the report to one EMAIL channel now, whether or not it opted in. Admin role. */
  async sendNow(principal: Principal | null, channelId: number): Promise<DeliveryResult> {
    requireRole(principal, "ADMIN");
    const channel = await this.deps.channels.get(principal, channelId);
    if (channel.kind !== "EMAIL")
      throw new ValidationError("channelId", `channel ${channelId} is ${channel.kind}: the weekly report goes to EMAIL channels only`);
    const result = await this.#send(channel, await this.#mail());
    if (result.ok) await this.deps.prisma.notificationChannel.update({ where: { id: channel.id }, data: { lastWeeklyReportAt: this.deps.clock.now() } });
    return result;
  }

  async #mail() {
    const report = await collectWeeklyReport(this.deps, this.deps.clock.now(), this.deps.schedule.timezone);
    return weeklyReportMail(report, this.deps.publicUrl);
  }

  #send(channel: NotificationChannel, mail: ReturnType<typeof weeklyReportMail>): Promise<DeliveryResult> {
    const f = facts({ event: "WEEKLY_REPORT", occurredAt: this.deps.clock.now().toISOString() });
    return this.deps.sender.send(channel, f, { mail, signal: this.deps.signal() });
  }
}
