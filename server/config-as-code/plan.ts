import { relocatedFields } from "../catalog/storage-relocation.ts";
import type { FieldProblem } from "../errors.ts";
import { formatPath, SECRET_FIELDS, SECTIONS, type Section } from "./document.ts";
import type { CanonObject, CanonState } from "./state.ts";

export type ChangeAction = "CREATE" | "UPDATE" | "DELETE";

/** One field of a change. Values are JSON; a secret's are only "set" / "changed" / null. */
export type FieldChange = { field: string; before: unknown; after: unknown; secret: boolean };

export type PlannedChange = { action: ChangeAction; section: Section; name: string; fields: FieldChange[] };

export type Plan = { changes: PlannedChange[]; warnings: string[] };

/** What a plan needs to know beyond the two states. */
export type PlanFacts = {
  /** Artifacts each storage target holds (stored, being written or corrupt), by name. */
  heldArtifacts: Map<string, number>;
  /** The user applying the document: never pruned. */
  actor: string | null;
  /** Where each object sits in the document, for problem paths. */
  indexOf: (section: Section, name: string) => number;
};

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Field-level differences of one object; secrets compared by value, shown as set / changed. */
export function diffObject(section: Section, before: CanonObject | null, after: CanonObject | null): FieldChange[] {
  const fields = Object.keys(after ?? before ?? {});
  const out: FieldChange[] = [];
  for (const field of fields) {
    const b = before?.[field] ?? null;
    const a = after?.[field] ?? null;
    const secret = SECRET_FIELDS[section].includes(field);
    if (secret) {
      // An unreadable stored secret (a changed key) is never equal: a document's value replaces it.
      if (b === a && typeof b !== "symbol") continue;
      out.push({ field, before: b == null ? null : "set", after: a == null ? null : b == null ? "set" : "changed", secret: true });
      continue;
    }
    if (section === "schedules" && field === "retention") {
      // One change per target, so the plan says which target's rule changes.
      const br = (b ?? {}) as Record<string, unknown>;
      const ar = (a ?? {}) as Record<string, unknown>;
      for (const target of [...new Set([...Object.keys(br), ...Object.keys(ar)])].sort()) {
        if (!same(br[target] ?? null, ar[target] ?? null))
          out.push({ field: `retention.${target}`, before: br[target] ?? null, after: ar[target] ?? null, secret: false });
      }
      continue;
    }
    if (!same(b, a)) out.push({ field, before: b, after: a, secret: false });
  }
  return out;
}

/**
 * Compares the document (desired) with the installation (current): every object to create,
 * update or (with `prune`) delete. Refuses, as problems with their document path, what an apply
 * must never do: re-point a storage target that holds artifacts, or leave no enabled admin.
 * A storage target that holds artifacts is never pruned (a warning says so).
 */
export function planChanges(desired: CanonState, current: CanonState, prune: boolean, facts: PlanFacts): { plan: Plan; problems: FieldProblem[] } {
  const changes: PlannedChange[] = [];
  const warnings: string[] = [];
  const problems: FieldProblem[] = [];
  for (const section of SECTIONS) {
    for (const [name, after] of desired[section]) {
      const before = current[section].get(name) ?? null;
      const fields = diffObject(section, before, after);
      if (!before) changes.push({ action: "CREATE", section, name, fields });
      else if (fields.length) changes.push({ action: "UPDATE", section, name, fields });
      if (section === "storageTargets" && before && fields.length) {
        const moved = relocatedFields(before as never, after as never);
        const held = facts.heldArtifacts.get(name) ?? 0;
        if (moved.length && held) {
          problems.push({
            field: formatPath([section, facts.indexOf(section, name), moved[0]!]),
            problem: `storage target ${name} holds ${held} backup artifact(s), which changing its ${moved.join(", ")} would strand; add a new target instead, or move them and use updateStorageTarget with migration ARTIFACTS_MOVED`,
          });
        }
      }
      if (section === "users" && !before) {
        warnings.push(
          `${formatPath([section, facts.indexOf(section, name)])}: user ${name} is created without a password; an admin sets one (updateUser) before they can sign in`,
        );
      }
    }
    if (!prune) continue;
    for (const [name, before] of current[section]) {
      if (desired[section].has(name)) continue;
      if (section === "storageTargets" && (facts.heldArtifacts.get(name) ?? 0) > 0) {
        warnings.push(`storage target ${name} is not in the document but still holds ${facts.heldArtifacts.get(name)} backup artifact(s): it is kept`);
        continue;
      }
      if (section === "users" && name === facts.actor) {
        warnings.push(`user ${name} is not in the document but is applying it: it is kept`);
        continue;
      }
      changes.push({ action: "DELETE", section, name, fields: diffObject(section, before, null) });
    }
  }
  // The users as they will be: at least one enabled admin must remain.
  const users = new Map(current.users);
  for (const [name, u] of desired.users) users.set(name, u);
  for (const c of changes) if (c.section === "users" && c.action === "DELETE") users.delete(c.name);
  if (users.size && ![...users.values()].some((u) => u.role === "ADMIN" && !u.disabled)) {
    problems.push({ field: "users", problem: "the last enabled admin cannot be removed, demoted or disabled" });
  }
  return { plan: { changes, warnings }, problems };
}

/** "2 to create, 1 to update, 0 to delete", or that nothing changes. */
export function summarize(plan: Plan): string {
  if (plan.changes.length === 0) return "No changes: the installation matches the document.";
  const count = (a: ChangeAction) => plan.changes.filter((c) => c.action === a).length;
  return `${count("CREATE")} to create, ${count("UPDATE")} to update, ${count("DELETE")} to delete.`;
}
