import { describe, expect, it } from "vitest";
import { globProblem, globToRegExp, selectDatabases } from "./glob.ts";

describe("globToRegExp", () => {
  it.each([
    ["*", "anything", true],
    ["shop_*", "shop_eu", true],
    ["shop_*", "Shop_eu", false],
    ["db?", "db1", true],
    ["db?", "db12", false],
    ["db[0-9]", "db7", true],
    ["db[!0-9]", "db7", false],
    ["db[!0-9]", "dbx", true],
    ["a.b", "axb", false],
    ["a.b", "a.b", true],
    ["we;ird $(x)", "we;ird $(x)", true],
    ["café*", "café_prod", true],
    ["(x)+", "(x)+", true],
  ])("%s matches %s: %s", (pattern, name, expected) => {
    expect(globToRegExp(pattern).test(name)).toBe(expected);
  });
});

describe("globProblem", () => {
  it.each([
    ["", "must not be empty"],
    [" db", "must not start or end with spaces"],
    ["db[abc", "has a '[' without its closing ']'"],
    ["db[]", "empty character set at position 3"],
    ["db\u0001", "must not contain control characters"],
  ])("%j is refused: %s", (pattern, problem) => {
    expect(globProblem(pattern)).toBe(problem);
  });

  it.each(["*", "shop_[a-z]*", "db?", "[!_]*"])("%j is accepted", (pattern) => {
    expect(globProblem(pattern)).toBeNull();
  });
});

describe("selectDatabases", () => {
  const names = ["app", "app_test", "shop", "shop_archive", "metrics"];

  it("takes every database when nothing is included", () => {
    expect(selectDatabases(names, [], [])).toEqual(names);
  });

  it("applies include, then exclude, keeping order", () => {
    expect(selectDatabases(names, ["app*", "shop*"], ["*_test", "*_archive"])).toEqual(["app", "shop"]);
  });

  it("excludes even what an include names exactly", () => {
    expect(selectDatabases(names, ["metrics"], ["metrics"])).toEqual([]);
  });
});
