import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { describe, expect, it } from "vitest";
import { DefinerRewriter, type RewrittenDefiner } from "./definer-rewrite.ts";

/** What mariadb-dump 10.11 writes for a trigger, an event, a function, a procedure and a view (abridged). */
const DUMP = [
  "/*M!999999\\- enable the sandbox mode */ ",
  "-- Host: 127.0.0.1    Database: d",
  "INSERT INTO `t` VALUES (1,'/*!50017 DEFINER=`root`@`localhost`*/'),(2,'CREATE DEFINER=`x`@`y`');",
  "/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = NEW.a + 1 */;;",
  "/*!50106 CREATE*/ /*!50117 DEFINER=`root`@`localhost`*/ /*!50106 EVENT `e` ON SCHEDULE EVERY 1 DAY DISABLE DO SELECT 1 */ ;;",
  "CREATE DEFINER=`app``s`@`10.0.%` FUNCTION `f`() RETURNS int(11)",
  "    DETERMINISTIC",
  "RETURN 1 ;;",
  "CREATE DEFINER='old'@'%' PROCEDURE `p`()",
  "SELECT 'DEFINER=`root`@`localhost`' ;;",
  "/*!50001 CREATE ALGORITHM=UNDEFINED */",
  "/*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */",
  "/*!50001 VIEW `v` AS select `t`.`a` AS `a` from `t` */;",
  "CREATE ALGORITHM=UNDEFINED DEFINER=`zoë`@`localhost` SQL SECURITY INVOKER VIEW `w` AS select 1",
  "CREATE OR REPLACE DEFINER=root@localhost TRIGGER t2 AFTER INSERT ON t FOR EACH ROW SET @x = 1",
  "/*!50013 DEFINER=CURRENT_USER SQL SECURITY DEFINER */",
  "",
].join("\n");

const EXPECTED = [
  "/*M!999999\\- enable the sandbox mode */ ",
  "-- Host: 127.0.0.1    Database: d",
  "INSERT INTO `t` VALUES (1,'/*!50017 DEFINER=`root`@`localhost`*/'),(2,'CREATE DEFINER=`x`@`y`');",
  "/*!50003 CREATE*/ /*!50017 DEFINER=CURRENT_USER*/ /*!50003 TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = NEW.a + 1 */;;",
  "/*!50106 CREATE*/ /*!50117 DEFINER=CURRENT_USER*/ /*!50106 EVENT `e` ON SCHEDULE EVERY 1 DAY DISABLE DO SELECT 1 */ ;;",
  "CREATE DEFINER=CURRENT_USER FUNCTION `f`() RETURNS int(11)",
  "    DETERMINISTIC",
  "RETURN 1 ;;",
  "CREATE DEFINER=CURRENT_USER PROCEDURE `p`()",
  "SELECT 'DEFINER=`root`@`localhost`' ;;",
  "/*!50001 CREATE ALGORITHM=UNDEFINED */",
  "/*!50013 DEFINER=CURRENT_USER SQL SECURITY DEFINER */",
  "/*!50001 VIEW `v` AS select `t`.`a` AS `a` from `t` */;",
  "CREATE ALGORITHM=UNDEFINED DEFINER=CURRENT_USER SQL SECURITY INVOKER VIEW `w` AS select 1",
  "CREATE OR REPLACE DEFINER=CURRENT_USER TRIGGER t2 AFTER INSERT ON t FOR EACH ROW SET @x = 1",
  "/*!50013 DEFINER=CURRENT_USER SQL SECURITY DEFINER */",
  "",
].join("\n");

async function run(chunks: Buffer[]): Promise<{ out: string; definers: RewrittenDefiner[]; count: number }> {
  const definers: RewrittenDefiner[] = [];
  const rewriter = new DefinerRewriter((d) => definers.push(d));
  const out = await text(Readable.from(chunks).pipe(rewriter));
  return { out, definers, count: rewriter.rewritten };
}

describe("DefinerRewriter", () => {
  it("rewrites the DEFINER clauses of triggers, events, routines and views to CURRENT_USER, and nothing in data or bodies", async () => {
    const { out, definers, count } = await run([Buffer.from(DUMP)]);
    expect(out).toBe(EXPECTED);
    expect(count).toBe(7);
    expect(definers).toEqual([
      { user: "root", host: "localhost" },
      { user: "root", host: "localhost" },
      { user: "app`s", host: "10.0.%" },
      { user: "old", host: "%" },
      { user: "root", host: "localhost" },
      { user: "zoë", host: "localhost" },
      { user: "root", host: "localhost" },
    ]);
  });

  it("gives the same output however the stream is cut: at every byte, in 1-byte chunks, in 7-byte chunks", async () => {
    const bytes = Buffer.from(DUMP);
    for (let cut = 1; cut < bytes.length; cut++) {
      const { out } = await run([bytes.subarray(0, cut), bytes.subarray(cut)]);
      if (out !== EXPECTED) throw new Error(`wrong output when cut at byte ${cut}:\n${out}`);
    }
    for (const size of [1, 7]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      expect((await run(chunks)).out).toBe(EXPECTED);
    }
  });

  it("holds at most 2 KiB of a line: a long line starting like a clause passes unchanged, in constant memory", async () => {
    const long = `CREATE TABLE x (${"a INT, ".repeat(2000)}b INT);\n`;
    const after = "/*!50003 CREATE*/ /*!50017 DEFINER=`u`@`h`*/ /*!50003 TRIGGER z */;;\n";
    const chunks = [...Buffer.from(long + after)].reduce<Buffer[]>((acc, _b, i, all) => {
      if (i % 100 === 0) acc.push(Buffer.from(all.slice(i, i + 100)));
      return acc;
    }, []);
    const rewriter = new DefinerRewriter();
    let held = 0;
    const out: Buffer[] = [];
    for (const chunk of chunks) {
      rewriter.write(chunk);
      let c: Buffer | null;
      while ((c = rewriter.read() as Buffer | null) !== null) out.push(c);
      const bytesIn = out.reduce((n, b) => n + b.length, 0);
      held = Math.max(held, chunks.slice(0, chunks.indexOf(chunk) + 1).reduce((n, b) => n + b.length, 0) - bytesIn);
    }
    rewriter.end();
    let c: Buffer | null;
    while ((c = rewriter.read() as Buffer | null) !== null) out.push(c);
    expect(held).toBeLessThanOrEqual(2048 + 100);
    expect(Buffer.concat(out).toString()).toBe(`${long}/*!50003 CREATE*/ /*!50017 DEFINER=CURRENT_USER*/ /*!50003 TRIGGER z */;;\n`);
  });

  it("passes a last line without a newline, and an empty stream", async () => {
    expect((await run([Buffer.from("CREATE DEFINER=`a`@`b` PROCEDURE p() SELECT 1")])).out).toBe("CREATE DEFINER=CURRENT_USER PROCEDURE p() SELECT 1");
    expect((await run([Buffer.from("CREATE DEF")])).out).toBe("CREATE DEF");
    expect((await run([])).out).toBe("");
  });
});
