import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { SandboxLineFilter, understandsSandboxLine } from "./sandbox-line.ts";

const OLD_LINE = "/*!999999\\- enable the sandbox mode */ \n";
const NEW_LINE = "/*M!999999\\- enable the sandbox mode */ \n";
const DUMP = "-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)\n--\nCREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n";

/** `text` through the filter, cut into chunks of `size` bytes. */
async function filtered(text: string, size = 1 << 16): Promise<string> {
  const data = Buffer.from(text, "utf8");
  const chunks = Array.from({ length: Math.ceil(data.length / size) }, (_, i) => data.subarray(i * size, (i + 1) * size));
  const filter = new SandboxLineFilter();
  const [out] = await Promise.all([buffer(filter), pipeline(Readable.from(chunks), filter)]);
  return out.toString("utf8");
}

describe("SandboxLineFilter", () => {
  it.each([
    ["the /*M! form", NEW_LINE + DUMP, DUMP],
    ["the first /*! form", OLD_LINE + DUMP, DUMP],
    ["without the trailing space", `/*M!999999\\- enable the sandbox mode */\n${DUMP}`, DUMP],
    ["with a CRLF line end", `/*M!999999\\- enable the sandbox mode */ \r\n${DUMP}`, DUMP],
    ["a dump that is only that line", NEW_LINE, ""],
    ["that line without a line end", "/*M!999999\\- enable the sandbox mode */ ", ""],
    ["a dump without it (Oracle's mysqldump)", DUMP, DUMP],
    ["the line anywhere but first", DUMP + NEW_LINE, DUMP + NEW_LINE],
    ["a lookalike first line", `/*M!999999\\- enable the sandbox mode */ SELECT 1;\n${DUMP}`, `/*M!999999\\- enable the sandbox mode */ SELECT 1;\n${DUMP}`],
    ["a short input without a line end", "SELECT 1;", "SELECT 1;"],
    ["an empty input", "", ""],
    ["a first line longer than the look-ahead", `-- ${"x".repeat(1000)}\n${DUMP}`, `-- ${"x".repeat(1000)}\n${DUMP}`],
  ])("%s", async (_case, input, expected) => {
    for (const size of [1, 3, 40, 41, 42, 1 << 16]) expect(await filtered(input, size), `chunks of ${size}`).toBe(expected);
  });

  it("passes binary data after the first line byte for byte", async () => {
    const body = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256));
    const filter = new SandboxLineFilter();
    const collected = buffer(filter);
    await pipeline(Readable.from([Buffer.from(NEW_LINE.slice(0, 10)), Buffer.concat([Buffer.from(NEW_LINE.slice(10)), body])]), filter);
    expect((await collected).equals(body)).toBe(true);
  });
});

describe("understandsSandboxLine", () => {
  it.each([
    ["mariadb  Ver 15.1 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)", "mariadb", true],
    ["mariadb  Ver 15.1 Distrib 10.11.8-MariaDB, for debian-linux-gnu (x86_64)", "mariadb", true],
    ["mariadb  Ver 15.1 Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)", "mariadb", false],
    ["mysql  Ver 15.1 Distrib 10.5.25-MariaDB, for Linux (x86_64)", "mariadb", true],
    ["mysql  Ver 15.1 Distrib 10.4.34-MariaDB, for Linux (x86_64)", "mariadb", false],
    ["mariadb  Ver 15.1 Distrib 10.9.8-MariaDB, for Linux (x86_64)", "mariadb", false],
    ["mariadb from 11.3.2-MariaDB, client 15.2 for Linux (x86_64)", "mariadb", false],
    ["mariadb from 11.4.2-MariaDB, client 15.2 for Linux (x86_64)", "mariadb", true],
    ["mariadb from 11.8.3-MariaDB, client 15.2 for debian-linux-gnu (x86_64)", "mariadb", true],
    ["mysql  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)", "mysql", false],
    ["mysql  Ver 9.1.0 for Linux on x86_64 (MySQL Community Server - GPL)", "mysql", false],
  ] as const)("%s (%s): %s", (version, flavor, expected) => {
    expect(understandsSandboxLine({ flavor, version })).toBe(expected);
  });
});
