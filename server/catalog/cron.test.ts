import { Cron } from "croner";
import { describe, expect, it } from "vitest";
import { cronZone, isTimeZone, nextRuns } from "./cron.ts";

describe("cronZone", () => {
  it("computes UTC schedules as a zero offset, with the same fire times as croner's named UTC zone", () => {
    const from = new Date("2026-03-28T22:59:30Z"); // across Europe's DST change, where local zones would shift
    for (const expression of ["0 3 * * *", "*/5 * * * *", "30 2 * * 0", "0 0 1 * *", "15 1 29 2 *", "0 */6 * * 1-5"]) {
      const named = new Cron(expression, { timezone: "UTC", paused: true }).nextRuns(12, from);
      expect(cronZone("UTC")).toEqual({ utcOffset: 0 });
      expect(nextRuns(expression, "UTC", 12, from).map((d) => d.toISOString())).toEqual(named.map((d) => d.toISOString()));
    }
  });

  it("keeps a named zone for every other zone", () => {
    expect(cronZone("Europe/Berlin")).toEqual({ timezone: "Europe/Berlin" });
    // 03:00 in Berlin is 01:00 UTC in winter and 02:00 UTC before the change back.
    expect(nextRuns("0 3 * * *", "Europe/Berlin", 1, new Date("2026-01-10T00:00:00Z"))[0]!.toISOString()).toBe("2026-01-10T02:00:00.000Z");
    expect(nextRuns("0 3 * * *", "Europe/Berlin", 1, new Date("2026-07-10T00:00:00Z"))[0]!.toISOString()).toBe("2026-07-10T01:00:00.000Z");
  });

  it("tells IANA zones from unknown ones", () => {
    expect(isTimeZone("UTC")).toBe(true);
    expect(isTimeZone("America/New_York")).toBe(true);
    expect(isTimeZone("Mars/Olympus")).toBe(false);
    expect(isTimeZone("")).toBe(false);
  });
});
