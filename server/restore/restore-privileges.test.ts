import { describe, expect, it } from "vitest";
import { holds, matchesDatabasePattern, maySetDefiner, parseGrants } from "./restore-privileges.ts";
import { mysqlProblems, pgProblems } from "./restore-preflight.ts";

const APP = [
  "GRANT USAGE ON *.* TO `alice`@`%` IDENTIFIED BY PASSWORD '*A4B6157319038724E3560894F7F932C8886EBFCF'",
  "GRANT ALL PRIVILEGES ON `shop`.* TO `alice`@`%`",
  "GRANT SELECT, CREATE VIEW, TRIGGER ON `rep\\_%`.* TO `alice`@`%`",
  "GRANT EXECUTE ON PROCEDURE `shop`.`p` TO `alice`@`%`",
  "GRANT SELECT (a) ON `shop`.`t` TO `alice`@`%`",
  "GRANT `reporting` TO `alice`@`%`",
];

describe("parseGrants / holds", () => {
  const grants = parseGrants(APP);
  it.each([
    ["CREATE", "shop", true],
    ["TRIGGER", "shop", true],
    ["CREATE ROUTINE", "shop", true],
    ["CREATE", "shop2", false],
    ["CREATE VIEW", "rep_2026", true],
    ["CREATE", "rep_2026", false],
    ["TRIGGER", "repX2026", false],
  ])("%s on %s: %s", (privilege, database, expected) => {
    expect(holds(grants, privilege, database)).toBe(expected);
  });

  it("reads global privileges; only SUPER, SET USER (SET_USER_ID, SET_ANY_DEFINER) or ALL ON *.* may set a definer", () => {
    expect(maySetDefiner(grants)).toBe(false);
    expect(maySetDefiner(parseGrants(["GRANT SELECT, SET USER ON *.* TO `a`@`%`"]))).toBe(true);
    expect(maySetDefiner(parseGrants(["GRANT SUPER ON *.* TO `a`@`%`"]))).toBe(true);
    expect(maySetDefiner(parseGrants(["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"]))).toBe(true);
    expect(maySetDefiner(parseGrants(["GRANT SET_USER_ID ON *.* TO `a`@`%`"]))).toBe(true);
    expect(maySetDefiner(parseGrants(["GRANT ALL PRIVILEGES ON `db`.* TO `a`@`%`"]))).toBe(false);
  });

  it.each([
    ["shop", "shop", true],
    ["shop", "SHOP", true],
    ["sh_p", "shop", true],
    ["sh\\_p", "shop", false],
    ["sh\\_p", "sh_p", true],
    ["%", "anything", true],
    ["a.b", "axb", false],
  ])("pattern %s matches %s: %s", (pattern, database, expected) => {
    expect(matchesDatabasePattern(pattern, database)).toBe(expected);
  });
});

describe("mysqlProblems / pgProblems", () => {
  const target = { sourceDatabase: "shop", database: "app", exists: false };
  const objects = [
    { kind: "TRIGGER", name: "orders_ai", account: "root@localhost", line: 3 },
    { kind: "PROCEDURE", name: "p", account: "alice@%", line: 9 },
  ];
  it("a foreign definer needs SET USER / SUPER (solved by a rewrite); a missing kind privilege is not", () => {
    const grants = { account: "alice@%", ...parseGrants(["GRANT CREATE, INSERT ON `app`.* TO `alice`@`%`"]), binlogNeedsSuper: false };
    expect(mysqlProblems(objects, grants, target)).toEqual([
      {
        kind: "TRIGGER",
        name: "shop.orders_ai",
        definer: "root@localhost",
        problem: "trigger shop.orders_ai is defined by root@localhost; alice@% lacks SET USER / SUPER",
        solvedByRewrite: true,
      },
      {
        kind: "TRIGGER",
        name: "shop.orders_ai",
        definer: "root@localhost",
        problem: "alice@% lacks TRIGGER on app (needed for trigger shop.orders_ai)",
        solvedByRewrite: false,
      },
      {
        kind: "PROCEDURE",
        name: "shop.p",
        definer: "alice@%",
        problem: "alice@% lacks CREATE ROUTINE on app (needed for procedure shop.p)",
        solvedByRewrite: false,
      },
    ]);
  });

  it("the new database needs CREATE; an existing one a scratch database next to it; binary logging needs SUPER for triggers", () => {
    const none = { account: "bob@%", ...parseGrants([]), binlogNeedsSuper: true };
    const problems = mysqlProblems([objects[0]!], none, { ...target, exists: true }).map((p) => p.problem);
    expect(problems).toContain("bob@% lacks CREATE on sqlguard_restore_* (restoring over app goes through such a scratch database)");
    expect(problems).toContain("the server logs binary and log_bin_trust_function_creators is off: bob@% lacks SUPER to create trigger shop.orders_ai");
    expect(mysqlProblems([], none, target).map((p) => p.problem)).toEqual(["bob@% lacks CREATE on app (needed to create the database)"]);
  });

  it("PostgreSQL: an owner that does not exist or that the role is not a member of; a superuser has none", () => {
    const owned = [
      { kind: "TABLE", name: "public.a", account: "ghost", line: 1 },
      { kind: "TABLE", name: "public.b", account: "bob", line: 2 },
      { kind: "TABLE", name: "public.c", account: "team", line: 3 },
      { kind: "TABLE", name: "public.d", account: "app", line: 4 },
    ];
    const roles = new Map([
      ["ghost", { exists: false, member: false }],
      ["bob", { exists: true, member: false }],
      ["team", { exists: true, member: true }],
    ]);
    const facts = { role: "app", superuser: false, createDb: false, roles };
    expect(pgProblems(owned, facts, { database: "x", exists: false }).map((p) => p.problem)).toEqual([
      "app may not create databases (CREATEDB)",
      "table public.a is owned by ghost; role ghost does not exist on this server",
      "table public.b is owned by bob; app is not a member of bob",
    ]);
    expect(pgProblems(owned, { ...facts, superuser: true }, { database: "x", exists: false })).toEqual([]);
  });
});
