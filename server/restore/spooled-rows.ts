import { execFile } from "node:child_process";
import { createReadStream } from "node:fs";
import path from "node:path";
import type { ExtractedMember } from "../process/tar.ts";
import type { DumpDialect, DumpRowCounter } from "./dump-rows.ts";
import type { RestoreTools } from "./restore-tools.ts";

/** mydumper's data files: `<db>.<table>.sql` or `<db>.<table>.<chunk>.sql`; its schema files hold `-schema`. */
const MYDUMPER_DATA = /^.+\.sql$/;
/** `pg_restore -l`: `3342; 0 16388 TABLE DATA public items postgres`. */
const PG_TABLE_DATA = /^(\d+); \d+ \d+ TABLE DATA (\S+) (\S+) /;

/**
 * Feeds the rows of an unpacked PARALLEL dump to a drill's row counter, as a SQL stream of the
 * same dump would have: mydumper's data files are INSERT statements as they are; pg_dump -Fd's
 * `<id>.dat` files are COPY blocks without their COPY line, which `pg_restore -l` names.
 */
export async function countSpooledRows(
  counter: DumpRowCounter,
  dialect: DumpDialect,
  dir: string,
  members: ExtractedMember[],
  tools?: RestoreTools,
): Promise<void> {
  if (dialect === "mysql") {
    for (const m of members) if (MYDUMPER_DATA.test(m.name) && !m.name.includes("-schema")) await feed(counter, path.join(dir, m.name));
    return;
  }
  const listing = await new Promise<string>((resolve, reject) =>
    execFile(tools?.pgRestore?.path ?? "pg_restore", ["-l", "--", dir], { maxBuffer: 64 << 20 }, (error, stdout) => (error ? reject(error) : resolve(stdout))),
  );
  const names = new Set(members.map((m) => m.name));
  for (const line of listing.split("\n")) {
    const match = PG_TABLE_DATA.exec(line);
    if (!match || !names.has(`${match[1]}.dat`)) continue;
    counter.write(Buffer.from(`COPY ${match[2]}.${match[3]} FROM stdin;\n`));
    await feed(counter, path.join(dir, `${match[1]}.dat`));
  }
}

async function feed(counter: DumpRowCounter, file: string): Promise<void> {
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) counter.write(chunk);
  counter.write(Buffer.from("\n"));
}
