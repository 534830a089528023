import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { DumpObjectScanner } from "./dump-objects-scan.ts";

/** What mariadb-dump 10.11 writes around definers (abridged), with data rows that only look like clauses. */
const MYSQL = [
  "/*M!999999\\- enable the sandbox mode */ ",
  "INSERT INTO `t` VALUES (1,'/*!50017 DEFINER=`root`@`localhost`*/');",
  "/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER orders_ai AFTER INSERT ON orders FOR EACH ROW SET @x = 1 */;;",
  "/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER `shop`.`q``t` BEFORE INSERT ON t FOR EACH ROW SET @x = 1 */;;",
  "/*!50106 CREATE*/ /*!50117 DEFINER=`ev`@`%`*/ /*!50106 EVENT `purge` ON SCHEDULE EVERY 1 DAY DISABLE DO SELECT 1 */ ;;",
  "CREATE DEFINER=`app`@`10.0.%` FUNCTION `f`() RETURNS int(11)",
  "CREATE DEFINER='old'@'%' PROCEDURE `p`()",
  "/*!50001 CREATE ALGORITHM=UNDEFINED */",
  "/*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */",
  "/*!50001 VIEW `v` AS select 1 AS `a` */;",
  "",
].join("\n");

const PG = [
  "CREATE TABLE public.items (id integer);",
  "ALTER TABLE public.items OWNER TO bob;",
  "COPY public.items (id) FROM stdin;",
  "ALTER TABLE public.x OWNER TO inside_copy;",
  "\\.",
  'ALTER FUNCTION public.f(integer) OWNER TO "Weird ""role""";',
  "ALTER SCHEMA app OWNER TO carol;",
  "ALTER TABLE ONLY public.items ADD CONSTRAINT items_pkey PRIMARY KEY (id);",
  "",
].join("\n");

async function scan(family: "mysql" | "pg", text: string, chunk: number) {
  const scanner = new DumpObjectScanner(family);
  const parts: Buffer[] = [];
  const data = Buffer.from(text);
  for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk));
  let out = "";
  await pipeline(Readable.from(parts), scanner, new Writable({ write: (c, _e, done) => ((out += c.toString()), done()) }));
  expect(out).toBe(text);
  return scanner;
}

describe("DumpObjectScanner", () => {
  it.each([1, 7, 64, 1 << 16])("finds each MySQL object, its definer and line, in chunks of %i bytes", async (chunk) => {
    const scanner = await scan("mysql", MYSQL, chunk);
    expect(scanner.objects).toEqual([
      { kind: "TRIGGER", name: "orders_ai", account: "root@localhost", line: 3 },
      { kind: "TRIGGER", name: "q`t", account: "root@localhost", line: 4 },
      { kind: "EVENT", name: "purge", account: "ev@%", line: 5 },
      { kind: "FUNCTION", name: "f", account: "app@10.0.%", line: 6 },
      { kind: "PROCEDURE", name: "p", account: "old@%", line: 7 },
      { kind: "VIEW", name: "v", account: "root@localhost", line: 8 },
    ]);
    // The client names the line a statement begins on: a view's is the line before its clause.
    expect(scanner.objectAt(8)?.name).toBe("v");
    expect(scanner.objectAt(3)?.name).toBe("orders_ai");
    // A statement without a definer (a SET refused for SUPER) names no object.
    expect(scanner.objectAt(9)).toBeNull();
    expect(scanner.objectAt(2)).toBeNull();
  });

  it.each([1, 5, 1 << 16])("finds the OWNER TO roles of a plain pg_dump, none inside COPY data, in chunks of %i bytes", async (chunk) => {
    const scanner = await scan("pg", PG, chunk);
    expect(scanner.objects).toEqual([
      { kind: "TABLE", name: "public.items", account: "bob", line: 2 },
      { kind: "FUNCTION", name: "public.f(integer)", account: 'Weird "role"', line: 6 },
      { kind: "SCHEMA", name: "app", account: "carol", line: 7 },
    ]);
  });

  it("holds at most the head of a long line (a huge INSERT passes through)", async () => {
    const long = `INSERT INTO t VALUES ${"(1),".repeat(500_000)}(2);\nCREATE DEFINER=\`a\`@\`b\` PROCEDURE \`p\`()\n`;
    const scanner = await scan("mysql", long, 1 << 16);
    expect(scanner.objects).toEqual([{ kind: "PROCEDURE", name: "p", account: "a@b", line: 2 }]);
  });
});
