import type { Role } from "../roles.ts";

/** One line of the claim-to-role mapping: users whose claim holds `value` get `role`. */
export type RoleMapping = { value: string; role: Role };

/** The mapping of the sign-in settings. */
export type RoleMappingPolicy = {
  /** The claim to read, e.g. `groups`; a dotted path reaches nested claims (`realm_access.roles`). */
  claim: string;
  mappings: RoleMapping[];
  /** The role of a user no mapping matches; null refuses them. */
  defaultRole: Role | null;
};

const RANK: Record<Role, number> = { VIEWER: 0, OPERATOR: 1, ADMIN: 2 };

/** The claim's values as strings: a string, a list of strings, or a space/comma-separated string. */
export function claimValues(claims: Record<string, unknown>, claim: string): string[] {
  let value: unknown = claims;
  for (const part of claim.split(".")) {
    value = value && typeof value === "object" ? (value as Record<string, unknown>)[part] : undefined;
  }
  if (typeof value === "string") return value.split(/[\s,]+/).filter(Boolean);
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return [];
}

/**
 * The role a user's claims give: the highest role among the mappings whose value the claim holds
 * (values compare exactly, case included, as providers send them); the default role when none
 * matches; null (refused) when there is no default either.
 */
export function mapRole(claims: Record<string, unknown>, policy: RoleMappingPolicy): Role | null {
  const values = new Set(claimValues(claims, policy.claim));
  let best: Role | null = null;
  for (const { value, role } of policy.mappings) {
    if (values.has(value) && (best === null || RANK[role] > RANK[best])) best = role;
  }
  return best ?? policy.defaultRole;
}
