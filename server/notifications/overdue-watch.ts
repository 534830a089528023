import type { Principal } from "../auth/roles.ts";
import type { Logger } from "../observability/logger.ts";
import type { BackupHealthService } from "../scheduler/backup-health.service.ts";
import type { Clock } from "../scheduler/clock.ts";
import type { WebhookDispatcher } from "./dispatcher.ts";

/** The process itself, reading health on nobody's behalf. */
const SYSTEM: Principal = { userId: 0, username: "sqlguard", role: "VIEWER", via: "session" };

/**
 * Looks for overdue databases every `intervalMs` and tells the webhooks. The dispatcher sends one
 * OVERDUE event per database and expected-by time, so polling again repeats nothing.
 */
export class OverdueWatch {
  #stopTimer: (() => void) | null = null;
  #running = false;

  constructor(
    private readonly deps: {
      health: Pick<BackupHealthService, "list">;
      notifications: Pick<WebhookDispatcher, "notifyOverdue">;
      clock: Clock;
      logger: Logger;
      intervalMs: number;
    },
  ) {}

  start(): void {
    this.#stopTimer = this.deps.clock.every(this.deps.intervalMs, () => void this.check());
  }

  stop(): void {
    this.#stopTimer?.();
    this.#stopTimer = null;
  }

  /** One pass: every overdue database is reported (once per expected-by time). */
  async check(): Promise<number> {
    if (this.#running) return 0;
    this.#running = true;
    try {
      const overdue = await this.deps.health.list(SYSTEM, { overdueOnly: true });
      for (const h of overdue) {
        void this.deps.notifications.notifyOverdue(h.serverName, h.database, {
          expectedBy: h.expectedBy,
          lastSuccessAt: h.lastSuccessAt,
          lateSchedules: h.lateSchedules,
        });
      }
      return overdue.length;
    } catch (error) {
      this.deps.logger.warn({ err: error, component: "overdue-watch" }, "could not check for overdue databases");
      return 0;
    } finally {
      this.#running = false;
    }
  }
}
