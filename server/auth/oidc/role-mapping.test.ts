import { describe, expect, it } from "vitest";
import { claimValues, mapRole, type RoleMappingPolicy } from "./role-mapping.ts";

const mappings: RoleMappingPolicy["mappings"] = [
  { value: "dba", role: "OPERATOR" },
  { value: "dba-admins", role: "ADMIN" },
];

describe("claim-to-role mapping", () => {
  it.each([
    ["an admin group", { groups: ["dba-admins"] }, "VIEWER", "ADMIN"],
    ["the highest of several matches", { groups: ["dba", "dba-admins", "staff"] }, "VIEWER", "ADMIN"],
    ["an operator group", { groups: ["staff", "dba"] }, null, "OPERATOR"],
    ["no match: the default role", { groups: ["staff"] }, "VIEWER", "VIEWER"],
    ["no match and no default: refused", { groups: ["staff"] }, null, null],
    ["no claim at all: refused", {}, null, null],
    ["a string claim", { groups: "dba" }, null, "OPERATOR"],
    ["values compare exactly (case)", { groups: ["DBA-ADMINS"] }, null, null],
    ["a prefix is not a match", { groups: ["dba-admins-old"] }, null, null],
    ["non-string values are ignored", { groups: [1, { dba: true }, null] }, "VIEWER", "VIEWER"],
  ] as const)("%s", (_name, claims, defaultRole, expected) => {
    expect(mapRole(claims as Record<string, unknown>, { claim: "groups", mappings, defaultRole })).toBe(expected);
  });

  it("reads nested claims by a dotted path and space-separated strings", () => {
    const claims = { realm_access: { roles: ["offline", "dba-admins"] }, scope: "dba other" };
    expect(claimValues(claims, "realm_access.roles")).toEqual(["offline", "dba-admins"]);
    expect(mapRole(claims, { claim: "realm_access.roles", mappings, defaultRole: null })).toBe("ADMIN");
    expect(mapRole(claims, { claim: "scope", mappings, defaultRole: null })).toBe("OPERATOR");
    expect(claimValues(claims, "realm_access.missing.deeper")).toEqual([]);
  });
});
