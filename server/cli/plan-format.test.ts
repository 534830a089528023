import { describe, expect, it } from "vitest";
import { type CliPlan, formatPlan, fromWire, wantsColour } from "./plan-format.ts";

const plan: CliPlan = {
  summary: "1 to create, 1 to update, 1 to delete.",
  empty: false,
  applied: false,
  dryRun: true,
  prune: true,
  warnings: ["users[1]: user ops is created without a password"],
  changes: [
    {
      action: "CREATE",
      kind: "servers",
      name: "new-db",
      fields: [
        { field: "host", before: null, after: "db.internal", secret: false },
        { field: "tlsCa", before: null, after: null, secret: false },
        { field: "password", before: null, after: "set", secret: true },
      ],
    },
    {
      action: "UPDATE",
      kind: "schedules",
      name: "nightly",
      fields: [
        { field: "cronExpression", before: "0 3 * * *", after: "0 4 * * *", secret: false },
        { field: "retention.local", before: { keepLast: 3 }, after: { keepLast: 5 }, secret: false },
      ],
    },
    { action: "DELETE", kind: "webhooks", name: "old-hook", fields: [{ field: "url", before: "set", after: null, secret: true }] },
  ],
};

describe("formatPlan", () => {
  it("prints creates, updates with before → after, deletes, warnings and the summary; secrets only as set/changed", () => {
    expect(formatPlan(plan, false)).toEqual([
      "+ servers new-db",
      '    host: "db.internal"',
      "    password: set (secret)",
      "~ schedules nightly",
      '    cronExpression: "0 3 * * *" → "0 4 * * *"',
      '    retention.local: {"keepLast":3} → {"keepLast":5}',
      "- webhooks old-hook",
      "warning: users[1]: user ops is created without a password",
      "Plan: 1 to create, 1 to update, 1 to delete.",
    ]);
  });

  it("colours creates green, updates yellow, deletes red on a terminal", () => {
    const lines = formatPlan(plan, true);
    expect(lines[0]).toBe("\u001b[32m+ servers new-db\u001b[0m");
    expect(lines[3]).toBe("\u001b[33m~ schedules nightly\u001b[0m");
    expect(lines[6]).toBe("\u001b[31m- webhooks old-hook\u001b[0m");
    expect(lines[4]).toContain('\u001b[31m"0 3 * * *"\u001b[0m → \u001b[32m"0 4 * * *"\u001b[0m');
  });

  it("says when the plan was applied, and when nothing changes", () => {
    expect(formatPlan({ ...plan, dryRun: false, applied: true }, false).at(-1)).toBe("Applied: 1 to create, 1 to update, 1 to delete.");
    expect(formatPlan({ ...plan, changes: [], warnings: [], empty: true, summary: "No changes: the installation matches the document." }, false)).toEqual([
      "No changes: the installation matches the document.",
    ]);
  });
});

describe("wantsColour", () => {
  it.each([
    [true, {}, true],
    [true, { NO_COLOR: "1" }, false],
    [true, { NO_COLOR: "" }, true],
    [false, {}, false],
    [undefined, {}, false],
  ] as const)("TTY %s, env %j → %s", (tty, env, expected) => {
    expect(wantsColour(tty, env)).toBe(expected);
  });
});

describe("fromWire", () => {
  it("decodes the JSON text of before/after", () => {
    const decoded = fromWire({
      ...plan,
      changes: [{ action: "UPDATE", kind: "servers", name: "a", fields: [{ field: "labels", before: '{"env":"dev"}', after: null, secret: false }] }],
    });
    expect(decoded.changes[0]!.fields[0]).toEqual({ field: "labels", before: { env: "dev" }, after: null, secret: false });
  });
});
