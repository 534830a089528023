import { describe, expect, it } from "vitest";
import { selectDeletions, summarize, type RetentionCandidate, type RetentionDecision, type RetentionPolicy } from "./select-deletions.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const NO_LIMITS: RetentionPolicy = {
  keepForever: false,
  maxAgeDays: null,
  keepLast: null,
  gfsHourly: null,
  gfsDaily: null,
  gfsWeekly: null,
  gfsMonthly: null,
  gfsYearly: null,
  minKeep: 0,
};
const rule = (fields: Partial<RetentionPolicy>): RetentionPolicy => ({ ...NO_LIMITS, ...fields });
const UTC = { timezone: "UTC", failedGraceMs: 7 * DAY };

type Status = RetentionCandidate["status"];

/** `count` backups `stepMs` apart from `from`, ids counting up from `firstId`; each takes 5 minutes. */
function series(from: string, stepMs: number, count: number, opts: { status?: Status; firstId?: number } = {}) {
  const start = Date.parse(from);
  return Array.from({ length: count }, (_, i): RetentionCandidate => {
    const at = start + i * stepMs;
    return {
      id: (opts.firstId ?? 1) + i,
      status: opts.status ?? "SUCCEEDED",
      createdAt: new Date(at),
      startedAt: new Date(at),
      finishedAt: new Date(at + 5 * MINUTE),
    };
  });
}

/** Daily backups at `time` (UTC) on every day from `first` to `last` inclusive. */
function daily(first: string, last: string, time = "02:00", opts: { status?: Status; firstId?: number } = {}) {
  const days = (Date.parse(last) - Date.parse(first)) / DAY + 1;
  return series(`${first}T${time}:00Z`, DAY, days, opts);
}

/** Start times (ISO, UTC) of the kept candidates, oldest first. */
function keptTimes(candidates: RetentionCandidate[], decisions: RetentionDecision[]): string[] {
  const keep = new Set(decisions.filter((d) => d.action === "KEEP").map((d) => d.id));
  return candidates
    .filter((c) => keep.has(c.id))
    .map((c) => c.startedAt!.toISOString())
    .sort();
}

const iso = (...times: string[]) => times.map((t) => new Date(t).toISOString()).sort();
const at = (date: string, time = "02:00") => `${date}T${time}:00.000Z`;
const decisionOf = (decisions: RetentionDecision[], id: number) => decisions.find((d) => d.id === id)!;

describe("selectDeletions: which successful backups a rule keeps", () => {
  // Each case: a history, a rule and a clock; the expectation is written out by hand.
  const cases: {
    name: string;
    candidates: RetentionCandidate[];
    policy: RetentionPolicy;
    now: string;
    timezone?: string;
    kept: string[];
  }[] = [
    {
      name: "keepLast keeps the N newest",
      candidates: daily("2026-11-01", "2026-11-20"),
      policy: rule({ keepLast: 3 }),
      now: "2026-11-20T12:00:00Z",
      kept: iso(at("2026-11-18"), at("2026-11-19"), at("2026-11-20")),
    },
    {
      name: "maxAgeDays keeps backups at most N days old, the boundary included",
      candidates: daily("2026-11-01", "2026-11-20"),
      policy: rule({ maxAgeDays: 3 }),
      now: "2026-11-20T02:00:00Z",
      kept: iso(at("2026-11-17"), at("2026-11-18"), at("2026-11-19"), at("2026-11-20")),
    },
    {
      name: "GFS daily 7 + weekly 4 + monthly 12 over two years of daily backups",
      candidates: daily("2024-11-21", "2026-11-20"),
      policy: rule({ gfsDaily: 7, gfsWeekly: 4, gfsMonthly: 12, minKeep: 1 }),
      now: "2026-11-20T12:00:00Z",
      kept: iso(
        // daily: the last 7 days
        ...["14", "15", "16", "17", "18", "19", "20"].map((d) => at(`2026-11-${d}`)),
        // weekly: Sundays closing W44-W46 (W47's newest is Friday the 20th, already daily; W46's is the 15th)
        at("2026-11-08"),
        at("2026-11-01"),
        // monthly: last day of Dec 2025 .. Oct 2026 (November's newest is the 20th)
        ...["2025-12-31", "2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"].map((d) => at(d)),
        ...["2026-06-30", "2026-07-31", "2026-08-31", "2026-09-30", "2026-10-31"].map((d) => at(d)),
      ),
    },
    {
      name: "GFS yearly keeps the newest backup of each of the most recent years with a backup",
      candidates: [...daily("2022-12-30", "2023-01-02"), ...daily("2025-12-30", "2026-01-02", "02:00", { firstId: 10 })],
      policy: rule({ gfsYearly: 3 }),
      now: "2026-01-02T12:00:00Z",
      // 2026, 2025 and 2023; 2022 is the fourth year with a backup
      kept: iso(at("2023-01-02"), at("2025-12-31"), at("2026-01-02")),
    },
    {
      name: "Europe/Berlin spring forward (2026-03-29): the missing 02:00 hour is no period",
      // every 30 min from 23:00 CET to 06:00 CEST local; 02:00-03:00 local does not exist
      candidates: series("2026-03-28T22:00:00Z", 30 * MINUTE, 13),
      policy: rule({ gfsHourly: 5 }),
      now: "2026-03-29T04:10:00Z",
      timezone: "Europe/Berlin",
      // local hours 06, 05, 04, 03 (CEST) and 01 (CET)
      kept: iso("2026-03-29T04:00Z", "2026-03-29T03:30Z", "2026-03-29T02:30Z", "2026-03-29T01:30Z", "2026-03-29T00:30Z"),
    },
    {
      name: "Europe/Berlin fall back (2026-10-25): the repeated 02:00 hour is two periods",
      // every 20 min from 01:00 CEST to 03:40 CET local
      candidates: series("2026-10-24T23:00:00Z", 20 * MINUTE, 12),
      policy: rule({ gfsHourly: 3 }),
      now: "2026-10-25T03:00:00Z",
      timezone: "Europe/Berlin",
      // 03:00 CET, 02:00 CET, 02:00 CEST (not 01:00 CEST, as one merged 02:00 bucket would give)
      kept: iso("2026-10-25T02:40Z", "2026-10-25T01:40Z", "2026-10-25T00:40Z"),
    },
    {
      name: "America/New_York fall back (2026-11-01): the repeated 01:00 hour is two periods",
      candidates: series("2026-11-01T04:00:00Z", 30 * MINUTE, 8),
      policy: rule({ gfsHourly: 3 }),
      now: "2026-11-01T08:00:00Z",
      timezone: "America/New_York",
      // 02:00 EST, 01:00 EST, 01:00 EDT
      kept: iso("2026-11-01T07:30Z", "2026-11-01T06:30Z", "2026-11-01T05:30Z"),
    },
    {
      name: "America/New_York: the 23-hour spring-forward day (2026-03-08) is one daily period",
      candidates: series("2026-03-06T12:00:00Z", HOUR, 73),
      policy: rule({ gfsDaily: 3 }),
      now: "2026-03-09T13:00:00Z",
      timezone: "America/New_York",
      // Mar 9 08:00 EDT, Mar 8 23:00 EDT, Mar 7 23:00 EST
      kept: iso("2026-03-09T12:00Z", "2026-03-09T03:00Z", "2026-03-08T04:00Z"),
    },
    {
      name: "Europe/Berlin: the 25-hour fall-back day (2026-10-25) is one daily period",
      candidates: series("2026-10-24T00:00:00Z", HOUR, 60),
      policy: rule({ gfsDaily: 3 }),
      now: "2026-10-26T12:00:00Z",
      timezone: "Europe/Berlin",
      // Oct 26 12:00 CET, Oct 25 23:00 CET, Oct 24 23:00 CEST
      kept: iso("2026-10-26T11:00Z", "2026-10-25T22:00Z", "2026-10-24T21:00Z"),
    },
    {
      name: "monthly periods follow the zone: 23:30 UTC on Jan 31 is February in Berlin",
      candidates: daily("2026-01-29", "2026-02-02", "23:30"),
      policy: rule({ gfsMonthly: 2 }),
      now: "2026-02-03T00:00:00Z",
      timezone: "Europe/Berlin",
      kept: iso("2026-01-30T23:30Z", "2026-02-02T23:30Z"),
    },
    {
      name: "the same history in UTC keeps Jan 31 instead",
      candidates: daily("2026-01-29", "2026-02-02", "23:30"),
      policy: rule({ gfsMonthly: 2 }),
      now: "2026-02-03T00:00:00Z",
      kept: iso("2026-01-31T23:30Z", "2026-02-02T23:30Z"),
    },
    {
      name: "weekly across 2026-W53 into 2027-W01",
      candidates: daily("2026-12-14", "2027-01-10"),
      policy: rule({ gfsWeekly: 4 }),
      now: "2027-01-10T12:00:00Z",
      // Sundays closing 2026-W51, W52, W53 (Thu 2026-12-31 .. Sun 2027-01-03) and 2027-W01
      kept: iso(at("2026-12-20"), at("2026-12-27"), at("2027-01-03"), at("2027-01-10")),
    },
    {
      name: "weekly: 2024-12-30 already belongs to 2025-W01",
      candidates: daily("2024-12-25", "2025-01-02"),
      policy: rule({ gfsWeekly: 2 }),
      now: "2025-01-02T12:00:00Z",
      kept: iso(at("2024-12-29"), at("2025-01-02")),
    },
  ];

  it.each(cases)("$name", ({ candidates, policy, now, timezone, kept }) => {
    const decisions = selectDeletions(candidates, policy, new Date(now), { ...UTC, timezone: timezone ?? "UTC" });
    expect(keptTimes(candidates, decisions)).toEqual(kept);
  });
});

describe("selectDeletions: safety and status handling", () => {
  it("keeps the last minKeep successful backups, however old, after weeks of failures (pgbackweb#121)", () => {
    const ok = daily("2026-09-01", "2026-09-30");
    const failed = daily("2026-10-01", "2026-11-20", "02:00", { status: "FAILED", firstId: 100 });
    const candidates = [...ok, ...failed];
    const decisions = selectDeletions(candidates, rule({ maxAgeDays: 7, minKeep: 3 }), new Date("2026-11-20T12:00:00Z"), UTC);

    // failed runs younger than the 7-day grace stay for inspection, the rest go
    const failedKept = iso(...["14", "15", "16", "17", "18", "19", "20"].map((d) => at(`2026-11-${d}`)));
    expect(keptTimes(candidates, decisions)).toEqual([...iso(at("2026-09-28"), at("2026-09-29"), at("2026-09-30")), ...failedKept]);
    expect(decisionOf(decisions, 30).reasons).toEqual(["keep: newest 3 (minKeep)"]);
    expect(decisionOf(decisions, 1).reasons).toEqual(["delete: older than 7 days and not selected by any rule"]);
    expect(decisionOf(decisions, 100).reasons).toEqual(["delete: failed, past grace period"]);
  });

  it("deletes FAILED and CANCELLED runs past the grace period (from finishedAt) and keeps younger ones", () => {
    const now = new Date("2026-11-20T12:00:00Z");
    const candidates: RetentionCandidate[] = [
      ...series("2026-11-20T00:00:00Z", HOUR, 1),
      { id: 2, status: "FAILED", createdAt: new Date("2026-11-10T00:00Z"), startedAt: null, finishedAt: new Date("2026-11-13T11:00Z") },
      { id: 3, status: "FAILED", createdAt: new Date("2026-11-10T00:00Z"), startedAt: null, finishedAt: new Date("2026-11-13T13:00Z") },
      { id: 4, status: "CANCELLED", createdAt: new Date("2026-11-01T00:00Z"), startedAt: null, finishedAt: null },
      { id: 5, status: "CANCELLED", createdAt: new Date("2026-11-19T00:00Z"), startedAt: null, finishedAt: null },
    ];
    const decisions = selectDeletions(candidates, rule({ keepLast: 5 }), now, UTC);
    expect(decisions.map((d) => [d.id, d.action])).toEqual([
      [1, "KEEP"],
      [2, "DELETE"],
      [3, "KEEP"],
      [4, "DELETE"],
      [5, "KEEP"],
    ]);
    expect(decisionOf(decisions, 3).reasons).toEqual(["keep: failed, within grace period"]);
    expect(decisionOf(decisions, 4).reasons).toEqual(["delete: cancelled, past grace period"]);
  });

  it("never deletes RUNNING or PENDING backups, however old", () => {
    const candidates = [
      ...daily("2026-01-01", "2026-01-01", "02:00", { status: "RUNNING" }),
      ...daily("2026-01-02", "2026-01-02", "02:00", { status: "PENDING", firstId: 2 }),
      ...daily("2026-11-01", "2026-11-20", "02:00", { firstId: 10 }),
    ];
    const decisions = selectDeletions(candidates, rule({ keepLast: 1 }), new Date("2026-11-20T12:00:00Z"), UTC);
    expect(decisionOf(decisions, 1)).toEqual({ id: 1, action: "KEEP", reasons: ["keep: running, never deleted"] });
    expect(decisionOf(decisions, 2)).toEqual({ id: 2, action: "KEEP", reasons: ["keep: pending, never deleted"] });
    expect(summarize(decisions).delete).toBe(19);
  });

  it("a rule without any limit deletes nothing, not even old failed runs", () => {
    const candidates = [...daily("2024-01-01", "2026-11-20"), ...daily("2024-01-01", "2024-01-05", "03:00", { status: "FAILED", firstId: 5000 })];
    const now = new Date("2026-11-20T12:00:00Z");
    for (const policy of [NO_LIMITS, rule({ gfsDaily: 0, keepLast: 0, minKeep: 1 })]) {
      const decisions = selectDeletions(candidates, policy, now, UTC);
      expect(summarize(decisions).delete).toBe(0);
      expect(decisionOf(decisions, 1).reasons).toEqual(["keep: the rule sets no limit"]);
    }
  });

  it("keepForever keeps every successful or partial backup but still clears old failed runs", () => {
    const candidates = [
      ...daily("2020-01-01", "2020-12-31"),
      ...daily("2021-01-01", "2021-01-03", "02:00", { status: "PARTIAL", firstId: 1000 }),
      ...daily("2021-01-04", "2021-01-04", "02:00", { status: "FAILED", firstId: 2000 }),
    ];
    const decisions = selectDeletions(candidates, rule({ keepForever: true, minKeep: 1 }), new Date("2026-11-20T12:00:00Z"), UTC);
    expect(summarize(decisions).deleteIds).toEqual([2000]);
    expect(decisionOf(decisions, 1).reasons).toEqual(["keep: keepForever"]);
    expect(decisionOf(decisions, 1002).reasons).toEqual(["keep: keepForever", "keep: newest 1 (minKeep)"]);
  });

  it("orders ties in startedAt by id, whatever the input order", () => {
    const same = new Date("2026-11-20T02:00:00Z");
    const candidate = (id: number): RetentionCandidate => ({ id, status: "SUCCEEDED", createdAt: same, startedAt: same, finishedAt: null });
    const candidates = [candidate(7), candidate(9), candidate(8)];
    const decisions = selectDeletions(candidates, rule({ keepLast: 1, gfsDaily: 1 }), new Date("2026-11-21T00:00:00Z"), UTC);
    expect(decisions.map((d) => [d.id, d.action])).toEqual([
      [7, "DELETE"],
      [9, "KEEP"],
      [8, "DELETE"],
    ]);
  });

  it("uses createdAt while startedAt is null", () => {
    const candidates: RetentionCandidate[] = [
      { id: 1, status: "SUCCEEDED", createdAt: new Date("2026-11-19T02:00Z"), startedAt: null, finishedAt: null },
      { id: 2, status: "SUCCEEDED", createdAt: new Date("2026-11-01T02:00Z"), startedAt: new Date("2026-11-18T02:00Z"), finishedAt: null },
    ];
    const decisions = selectDeletions(candidates, rule({ keepLast: 1 }), new Date("2026-11-20T00:00:00Z"), UTC);
    expect(summarize(decisions).deleteIds).toEqual([2]);
  });

  it("lists every rule that keeps a backup, with the period it represents", () => {
    const candidates = daily("2026-11-01", "2026-11-20");
    const policy = rule({ keepLast: 3, maxAgeDays: 30, gfsDaily: 2, gfsWeekly: 1, gfsMonthly: 1, minKeep: 1 });
    const decisions = selectDeletions(candidates, policy, new Date("2026-11-20T12:00:00Z"), UTC);
    expect(decisionOf(decisions, 20).reasons).toEqual([
      "keep: newest 3 (keepLast)",
      "keep: younger than 30 days (maxAgeDays)",
      "keep: daily 2026-11-20",
      "keep: weekly 2026-W47",
      "keep: monthly 2026-11",
      "keep: newest 1 (minKeep)",
    ]);
    const berlin = selectDeletions(series("2026-10-25T00:30:00Z", HOUR, 2), rule({ gfsHourly: 2 }), new Date("2026-10-25T02:00Z"), {
      ...UTC,
      timezone: "Europe/Berlin",
    });
    expect(berlin.map((d) => d.reasons)).toEqual([["keep: hourly 2026-10-25 02:00+02:00"], ["keep: hourly 2026-10-25 02:00+01:00"]]);
  });

  it("labels weeks by ISO week-year: 2027-01-03 is 2026-W53, 2024-12-30 is 2025-W01", () => {
    const label = (first: string, last: string, date: string) => {
      const candidates = daily(first, last);
      const decisions = selectDeletions(candidates, rule({ gfsWeekly: 1 }), new Date(`${date}T12:00:00Z`), UTC);
      return decisions.filter((d) => d.action === "KEEP").map((d) => d.reasons);
    };
    expect(label("2026-12-28", "2027-01-03", "2027-01-03")).toEqual([["keep: weekly 2026-W53"]]);
    expect(label("2027-01-04", "2027-01-05", "2027-01-05")).toEqual([["keep: weekly 2027-W01"]]);
    expect(label("2024-12-30", "2024-12-30", "2024-12-30")).toEqual([["keep: weekly 2025-W01"]]);
  });

  it("is idempotent: selecting again from the kept backups deletes nothing more", () => {
    const history = series("2025-06-01T00:15:00Z", HOUR, 24 * 540);
    const now = new Date("2026-11-20T12:00:00Z");
    const options = { timezone: "Europe/Berlin", failedGraceMs: DAY };
    const policies = [
      rule({ keepLast: 10, minKeep: 1 }),
      rule({ gfsHourly: 24, gfsDaily: 7, gfsWeekly: 4, gfsMonthly: 12, gfsYearly: 3, minKeep: 2 }),
      rule({ keepLast: 5, gfsDaily: 14, gfsMonthly: 6, minKeep: 1 }),
    ];
    for (const policy of policies) {
      const first = selectDeletions(history, policy, now, options);
      const keep = new Set(first.filter((d) => d.action === "KEEP").map((d) => d.id));
      const second = selectDeletions(
        history.filter((c) => keep.has(c.id)),
        policy,
        now,
        options,
      );
      expect(summarize(first).delete).toBeGreaterThan(0);
      expect(summarize(second).delete).toBe(0);
    }
  });

  it("throws RangeError for an unknown timezone", () => {
    expect(() => selectDeletions([], rule({ gfsDaily: 1 }), new Date("2026-11-20T00:00Z"), { timezone: "Mars/Olympus", failedGraceMs: 0 })).toThrow(RangeError);
  });

  it("summarize counts the decisions and lists the ids to delete", () => {
    expect(
      summarize([
        { id: 1, action: "DELETE", reasons: [] },
        { id: 2, action: "KEEP", reasons: [] },
        { id: 3, action: "DELETE", reasons: [] },
      ]),
    ).toEqual({ total: 3, keep: 1, delete: 2, deleteIds: [1, 3] });
  });
});
