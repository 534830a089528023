import crypto from "node:crypto";
import { Readable } from "node:stream";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerConnection } from "../runner/dumpers/types.ts";
import { dropMariadbDatabase, dropPgDatabase, mariadbExec, pgExec, POSTGRES, uniqueName } from "../testing/sample-databases.ts";
import { buildRestoreCommands } from "./restore-command.ts";
import { streamRestore } from "./restore-stream.ts";
import { detectRestoreTools } from "./restore-tools.ts";
import { eventually } from "./testing/restore-helpers.ts";

const PG: ServerConnection = { engine: "POSTGRESQL", host: POSTGRES.host, port: POSTGRES.port, username: POSTGRES.user, password: null, tls: false };
const MARIA: ServerConnection = { engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", password: null, tls: false };
const sha = (data: Buffer) => crypto.createHash("sha256").update(data).digest("hex");

/** Valid SQL whose statements all run before the end of the stream is reached. */
function script(table: string, rows: number): Buffer {
  const inserts = Array.from({ length: rows }, (_, i) => `INSERT INTO ${table} VALUES (${i}, '${"x".repeat(200)}');`).join("\n");
  return Buffer.from(`CREATE TABLE ${table} (id int PRIMARY KEY, pad text);\n${inserts}\n`);
}

/** A source that yields `data` in small chunks, then fails or stalls instead of ending when told to. */
function source(data: Buffer, end: "end" | "error" | "stall" = "end"): Readable {
  const chunks = Array.from({ length: Math.ceil(data.length / 4096) }, (_, i) => data.subarray(i * 4096, (i + 1) * 4096));
  return Readable.from(
    (async function* () {
      yield* chunks;
      if (end === "error") throw new Error("connection reset by the storage");
      if (end === "stall") await new Promise(() => {});
    })(),
  );
}

/**
 * The data path's promise, on the real clients: PostgreSQL never commits a stream whose checksum
 * has not matched, whatever fails and whenever; a failing client or decompressor is named.
 */
describe("streamRestore", () => {
  const pgDb = uniqueName("stream_pg");
  const mariaDb = uniqueName("stream_maria");
  const tables = async () =>
    ((await pgExec(["SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"], pgDb))[0] as Array<{ tablename: string }>).map(
      (r) => r.tablename,
    );

  beforeAll(async () => {
    await pgExec([`CREATE DATABASE ${pgDb}`]);
    await mariadbExec([`CREATE DATABASE ${mariaDb}`]);
  });
  afterAll(async () => {
    await dropPgDatabase(pgDb);
    await dropMariadbDatabase(mariaDb);
  });

  async function run(
    conn: ServerConnection,
    database: string,
    data: Buffer,
    expected: string,
    options: { compression?: "NONE" | "GZIP"; raw?: boolean; end?: "end" | "error" | "stall"; signal?: AbortSignal } = {},
  ) {
    const commands = buildRestoreCommands(conn, database, "sql", await detectRestoreTools());
    const body = options.compression === "GZIP" && !options.raw ? zlib.gzipSync(data) : data;
    return streamRestore({
      source: source(body, options.end),
      expectedSha256: expected,
      compression: options.compression ?? "NONE",
      commands,
      signal: options.signal ?? new AbortController().signal,
    });
  }

  it("commits a verified stream, gzip or plain", async () => {
    const data = script("verified", 50);
    const gzipped = zlib.gzipSync(data);
    const result = await streamRestore({
      source: source(gzipped),
      expectedSha256: sha(gzipped),
      compression: "GZIP",
      commands: buildRestoreCommands(PG, pgDb, "sql", await detectRestoreTools()),
      signal: new AbortController().signal,
    });
    expect(result).toMatchObject({ rawBytes: data.length, storedBytes: gzipped.length, sha256: sha(gzipped) });
    expect(await tables()).toContain("verified");
    await run(PG, pgDb, script("plain", 3), sha(script("plain", 3)));
    expect(await tables()).toContain("plain");
  });

  it("rolls back every statement psql already ran when the checksum does not match at the end", async () => {
    const data = script("unverified", 500);
    await expect(run(PG, pgDb, data, "0".repeat(64))).rejects.toThrow(
      /^checksum mismatch: the artifact's SHA-256 is [0-9a-f]{64}, the backup recorded 0{64}; the restore was rolled back/,
    );
    expect(await tables()).not.toContain("unverified");
  });

  it("rolls back when storage fails mid-stream, and when the restore is cancelled while the source stalls", async () => {
    await expect(run(PG, pgDb, script("cut_short", 300), "f".repeat(64), { end: "error" })).rejects.toMatchObject({
      reason: "STORAGE_FAILED",
      message: expect.stringContaining("connection reset"),
    });
    const controller = new AbortController();
    const pending = run(PG, pgDb, script("stalled", 300), "f".repeat(64), { end: "stall", signal: controller.signal });
    await new Promise((r) => setTimeout(r, 500));
    controller.abort();
    await expect(pending).rejects.toMatchObject({ reason: "CANCELLED" });
    // psql was killed: its session ends as soon as the server notices, with nothing committed.
    const sessions = async () =>
      (
        (await pgExec([`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${pgDb}' AND application_name = 'sqlguard-restore'`]))[0] as Array<{
          n: number;
        }>
      )[0]!.n;
    await eventually(async () => (await sessions()) === 0, "the killed psql's session to end");
    expect(await tables()).not.toContain("cut_short");
    expect(await tables()).not.toContain("stalled");
  });

  it("names the client's error for a verified stream it rejects, and the decompressor's for a stream it cannot read", async () => {
    const bad = Buffer.from("CREATE TABLE broken (id int);\nSELEKT 1;\n");
    await expect(run(PG, pgDb, bad, sha(bad))).rejects.toMatchObject({
      reason: "CLIENT_FAILED",
      message: expect.stringMatching(/psql exited with code 3: .*syntax error at or near "SELEKT"/s),
    });
    expect(await tables()).not.toContain("broken");
    const notGzip = script("not_gzip", 5);
    await expect(run(PG, pgDb, notGzip, sha(notGzip), { compression: "GZIP", raw: true })).rejects.toMatchObject({
      reason: "DECOMPRESS_FAILED",
      message: expect.stringMatching(/^gzip: /),
    });
  });

  it("feeds MariaDB through `mariadb … -- <database>` and fails loudly on a mismatch", async () => {
    const data = script("t", 20);
    await run(MARIA, mariaDb, data, sha(data));
    expect(await mariadbExec(["SELECT COUNT(*) AS n FROM t"], mariaDb)).toEqual([[{ n: 20n }]]);
    await expect(run(MARIA, mariaDb, script("u", 20), "0".repeat(64))).rejects.toThrow(/^checksum mismatch: .*the restore was stopped/);
  });
});
