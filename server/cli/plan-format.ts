/** A configuration plan as the CLI prints it: text (coloured on a terminal) or JSON. */

export type CliFieldChange = { field: string; before: unknown; after: unknown; secret: boolean };
export type CliChange = { action: "CREATE" | "UPDATE" | "DELETE"; kind: string; name: string; fields: CliFieldChange[] };
export type CliPlan = {
  summary: string;
  empty: boolean;
  applied: boolean;
  dryRun: boolean;
  prune: boolean;
  warnings: string[];
  changes: CliChange[];
};

/** The plan as GraphQL returns it: before/after are JSON text. */
export type WirePlan = Omit<CliPlan, "changes"> & {
  changes: Array<Omit<CliChange, "fields"> & { fields: Array<{ field: string; before: string | null; after: string | null; secret: boolean }> }>;
};

/** The GraphQL selection of a plan. */
export const PLAN_SELECTION = `summary empty applied dryRun prune warnings changes { action kind name fields { field before after secret } }`;

/** Decodes before/after from JSON text into values. */
export function fromWire(plan: WirePlan): CliPlan {
  const parse = (v: string | null): unknown => (v == null ? null : JSON.parse(v));
  return { ...plan, changes: plan.changes.map((c) => ({ ...c, fields: c.fields.map((f) => ({ ...f, before: parse(f.before), after: parse(f.after) })) })) };
}

/** Colour on a terminal, unless NO_COLOR is set (https://no-color.org: any non-empty value). */
export function wantsColour(isTTY: boolean | undefined, env: Record<string, string | undefined>): boolean {
  return Boolean(isTTY) && !env.NO_COLOR;
}

const CODES = { green: 32, yellow: 33, red: 31, dim: 2, bold: 1 } as const;
type Paint = (colour: keyof typeof CODES, text: string) => string;

const SIGN = { CREATE: "+", UPDATE: "~", DELETE: "-" } as const;
const COLOUR = { CREATE: "green", UPDATE: "yellow", DELETE: "red" } as const;

function value(v: unknown): string {
  return v === null || v === undefined ? "(none)" : JSON.stringify(v);
}

/** A secret is only ever "set", "changed" or "removed": its value is never in a plan. */
function secretLine(f: CliFieldChange): string {
  if (f.after == null) return "removed (secret)";
  return `${f.before == null ? "set" : "changed"} (secret)`;
}

/**
 * The plan as lines: `+ kind name` for creates (green, with their fields), `~ kind name` with
 * `field: before → after` for updates (yellow), `- kind name` for deletes (red), then warnings
 * and the summary. Without colour the same text, no escape codes.
 */
export function formatPlan(plan: CliPlan, colour: boolean): string[] {
  const paint: Paint = (c, text) => (colour ? `\u001b[${CODES[c]}m${text}\u001b[0m` : text);
  const lines: string[] = [];
  for (const change of plan.changes) {
    const c = COLOUR[change.action];
    lines.push(paint(c, `${SIGN[change.action]} ${change.kind} ${change.name}`));
    if (change.action === "DELETE") continue;
    for (const f of change.fields) {
      if (change.action === "CREATE" && f.after == null) continue;
      if (f.secret) lines.push(`    ${f.field}: ${secretLine(f)}`);
      else if (change.action === "CREATE") lines.push(`    ${f.field}: ${value(f.after)}`);
      else lines.push(`    ${f.field}: ${paint("red", value(f.before))} → ${paint("green", value(f.after))}`);
    }
  }
  for (const warning of plan.warnings) lines.push(paint("yellow", `warning: ${warning}`));
  const done = plan.applied ? "Applied: " : plan.empty ? "" : plan.dryRun ? "Plan: " : "";
  lines.push(paint("bold", `${done}${plan.summary}`));
  return lines;
}
