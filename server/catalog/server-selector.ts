/**
 * Which servers a schedule covers: the servers chosen by id, plus every server carrying all of its
 * `serverLabels`; neither = every server. Pure, so the scheduler (at each tick), the coverage of the
 * dashboard and health service, and the GraphQL type all read the same rule.
 */

export type LabelSelector = Record<string, string>;

/** The stored selector (JSON column) as a map, or null when the schedule selects no labels. */
export function selectorOf(stored: unknown): LabelSelector | null {
  if (!stored || typeof stored !== "object" || Array.isArray(stored)) return null;
  const entries = Object.entries(stored as Record<string, unknown>).map(([k, v]) => [k, String(v)] as const);
  return entries.length ? Object.fromEntries(entries) : null;
}

/** Whether a server's labels carry every key/value of the selector. */
export function labelsMatch(labels: unknown, selector: LabelSelector): boolean {
  const own = (labels && typeof labels === "object" ? labels : {}) as Record<string, unknown>;
  return Object.entries(selector).every(([k, v]) => k in own && String(own[k]) === v);
}

/** Whether a schedule (its chosen server ids and label selector) covers a server. */
export function scheduleCovers(schedule: { serverIds: number[]; serverLabels: unknown }, server: { id: number; labels: unknown }): boolean {
  const selector = selectorOf(schedule.serverLabels);
  if (schedule.serverIds.length === 0 && !selector) return true;
  return schedule.serverIds.includes(server.id) || (selector !== null && labelsMatch(server.labels, selector));
}
