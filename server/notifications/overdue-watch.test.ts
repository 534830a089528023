import { describe, expect, it } from "vitest";
import { memoryLogger } from "../testing/test-db.ts";
import { OverdueWatch } from "./overdue-watch.ts";

const clock = { now: () => new Date("2026-11-23T12:00:00Z"), every: () => () => {} };

describe("OverdueWatch", () => {
  it("reports every overdue database to the webhooks and asks only for overdue ones", async () => {
    const asked: unknown[] = [];
    const sent: Array<[string, string | null, string[]]> = [];
    const watch = new OverdueWatch({
      health: {
        list: async (_p, filter) => {
          asked.push(filter);
          return [
            {
              serverId: 1,
              serverName: "prod",
              database: "shop",
              lastSuccessAt: null,
              expectedBy: new Date("2026-11-23T11:00:00Z"),
              overdue: true,
              schedules: ["hourly"],
              lateSchedules: ["hourly"],
            },
          ];
        },
      },
      notifications: { notifyOverdue: async (server, database, facts) => void sent.push([server, database, facts.lateSchedules]) },
      clock,
      logger: memoryLogger().logger,
      intervalMs: 1000,
    });
    expect(await watch.check()).toBe(1);
    expect(asked).toEqual([{ overdueOnly: true }]);
    expect(sent).toEqual([["prod", "shop", ["hourly"]]]);
  });

  it("logs and carries on when the health query fails", async () => {
    const { logger, lines } = memoryLogger();
    const watch = new OverdueWatch({
      health: { list: async () => Promise.reject(new Error("database gone")) },
      notifications: { notifyOverdue: async () => {} },
      clock,
      logger,
      intervalMs: 1000,
    });
    expect(await watch.check()).toBe(0);
    expect(lines.join("")).toContain("could not check for overdue databases");
  });
});
