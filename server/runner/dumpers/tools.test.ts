import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPgDump } from "./pg-dumper.ts";
import { findTools } from "./tools.ts";
import type { ServerConnection } from "./types.ts";

const conn: ServerConnection = { engine: "POSTGRESQL", host: "pg", port: 5432, username: "backup", password: null, tls: false };

let root: string;
let onPath: string;
let versioned: string;

/** A stand-in pg_dump that only answers --version, as the real one's first line reads. */
async function fakePgDump(dir: string, version: string): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, "pg_dump");
  await fs.writeFile(file, `#!/bin/sh\necho 'pg_dump (PostgreSQL) ${version} (Debian ${version}-1.pgdg120+1)'\n`, { mode: 0o755 });
  return file;
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "sqlguard-tools-"));
  onPath = path.join(root, "bin");
  versioned = path.join(root, "postgresql");
  await fakePgDump(onPath, "15.20");
  for (const version of ["16.9", "17.10"]) await fakePgDump(path.join(versioned, version.split(".")[0]!, "bin"), version);
  // An older minor of 17 in a second directory, and a directory without pg_dump.
  await fakePgDump(path.join(versioned, "17-old", "bin"), "17.9");
  await fs.mkdir(path.join(versioned, "18", "bin"), { recursive: true });
});

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe("pg_dump selection", () => {
  it("picks the newest pg_dump of PATH and the versioned directories, comparing numbers, not strings", async () => {
    const { pgDump } = await findTools(onPath, versioned);
    expect(pgDump).toEqual({ path: path.join(versioned, "17", "bin", "pg_dump"), version: "pg_dump (PostgreSQL) 17.10 (Debian 17.10-1.pgdg120+1)" });
  });

  it("backs up servers up to its own major version and refuses a newer one, naming the program and what to install", async () => {
    const tools = await findTools(onPath, versioned);
    for (const server of ["12.22", "16.4 (Debian 16.4-1.pgdg120+1)", "17.2"])
      expect(buildPgDump(conn, null, "app", tools, server).command).toBe(tools.pgDump!.path);
    expect(() => buildPgDump(conn, null, "app", tools, "18.1 (Debian 18.1-1.pgdg120+1)")).toThrow(
      `pg_dump 17 (${tools.pgDump!.path}) cannot dump a PostgreSQL 18 server: install pg_dump 18 or newer (postgresql-client-18 from apt.postgresql.org`,
    );
  });

  it("falls back to the pg_dump on PATH when no versioned directory has one", async () => {
    const { pgDump } = await findTools(onPath, path.join(root, "missing"));
    expect(pgDump?.path).toBe(path.join(onPath, "pg_dump"));
    expect(() => buildPgDump(conn, null, "app", { mysqlDump: null, pgDump }, "16.4")).toThrow(/pg_dump 15 .* cannot dump a PostgreSQL 16 server/);
  });
});
