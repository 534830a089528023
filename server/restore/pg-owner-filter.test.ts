import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { describe, expect, it } from "vitest";
import { PgOwnerFilter } from "./pg-owner-filter.ts";

/** What pg_dump 15 writes without --no-owner (abridged), with COPY rows that look like owner statements. */
const DUMP = [
  "SET statement_timeout = 0;",
  "CREATE SCHEMA app;",
  "ALTER SCHEMA app OWNER TO app_owner;",
  "CREATE TABLE app.t (a integer, b text);",
  'ALTER TABLE app.t OWNER TO "Odd ""Role""";',
  "CREATE FUNCTION app.f(x integer) RETURNS integer LANGUAGE sql AS $$ SELECT x $$;",
  "ALTER FUNCTION app.f(x integer) OWNER TO app_owner;",
  "COPY app.t (a, b) FROM stdin;",
  "1\tALTER TABLE app.t OWNER TO nobody;",
  "ALTER TABLE app.t OWNER TO nobody;",
  "\\.",
  "ALTER TABLE ONLY app.t ADD CONSTRAINT t_pkey PRIMARY KEY (a);",
  "GRANT SELECT ON TABLE app.t TO reporting;",
  "ALTER SEQUENCE app.s OWNER TO app_owner;",
  "",
].join("\n");

const EXPECTED = [
  "SET statement_timeout = 0;",
  "CREATE SCHEMA app;",
  "CREATE TABLE app.t (a integer, b text);",
  "CREATE FUNCTION app.f(x integer) RETURNS integer LANGUAGE sql AS $$ SELECT x $$;",
  "COPY app.t (a, b) FROM stdin;",
  "1\tALTER TABLE app.t OWNER TO nobody;",
  "ALTER TABLE app.t OWNER TO nobody;",
  "\\.",
  "ALTER TABLE ONLY app.t ADD CONSTRAINT t_pkey PRIMARY KEY (a);",
  "GRANT SELECT ON TABLE app.t TO reporting;",
  "",
].join("\n");

async function run(chunks: Buffer[]): Promise<{ out: string; dropped: number }> {
  const filter = new PgOwnerFilter();
  const out = await text(Readable.from(chunks).pipe(filter));
  return { out, dropped: filter.dropped };
}

describe("PgOwnerFilter", () => {
  it("drops ALTER … OWNER TO statements and nothing else, never inside COPY data", async () => {
    expect(await run([Buffer.from(DUMP)])).toEqual({ out: EXPECTED, dropped: 4 });
  });

  it("gives the same output however the stream is cut", async () => {
    const bytes = Buffer.from(DUMP);
    for (let cut = 1; cut < bytes.length; cut++) {
      const { out } = await run([bytes.subarray(0, cut), bytes.subarray(cut)]);
      if (out !== EXPECTED) throw new Error(`wrong output when cut at byte ${cut}:\n${out}`);
    }
    const ones: Buffer[] = [];
    for (let i = 0; i < bytes.length; i++) ones.push(bytes.subarray(i, i + 1));
    expect((await run(ones)).out).toBe(EXPECTED);
  });

  it("passes a last line without a newline, a long ALTER line and an empty stream", async () => {
    expect((await run([Buffer.from("ALTER TABLE t OWNER TO x;")])).out).toBe("");
    const long = `ALTER TABLE t ADD COLUMN c text DEFAULT '${"x".repeat(5000)}';\n`;
    expect((await run([Buffer.from(long)])).out).toBe(long);
    expect((await run([])).out).toBe("");
  });
});
