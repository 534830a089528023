import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedArtifactBytes } from "../expected-bytes.ts";
import { addBulkTable, dropMariadbDatabase, dropPgDatabase, mariadbExec, pgExec, uniqueName } from "../../testing/sample-databases.ts";
import { estimateDatabaseBytes } from "./size-estimate.ts";
import type { ServerConnection } from "./types.ts";

const MiB = 1024 * 1024;
const MARIADB: ServerConnection = { engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", password: null, tls: false };
const POSTGRES: ServerConnection = { engine: "POSTGRESQL", host: "127.0.0.1", port: 5432, username: "postgres", password: null, tls: false };

describe("estimateDatabaseBytes", () => {
  const my = uniqueName("estimate");
  const pgName = uniqueName("estimate");

  beforeAll(async () => {
    await mariadbExec([`CREATE DATABASE ${my}`]);
    await addBulkTable(my, 4);
    // information_schema reports InnoDB's persistent statistics, which follow writes in the background.
    await mariadbExec(["ANALYZE TABLE bulk"], my);
    await pgExec([`CREATE DATABASE ${pgName}`]);
    await pgExec(["CREATE TABLE bulk AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 50000) g"], pgName);
  });
  afterAll(async () => {
    await dropMariadbDatabase(my);
    await dropPgDatabase(pgName);
  });

  it("reads a MariaDB database's data and index size from information_schema", async () => {
    const bytes = await estimateDatabaseBytes(MARIADB, my);
    expect(bytes).toBeGreaterThanOrEqual(4 * MiB);
    expect(await estimateDatabaseBytes(MARIADB, `${my}_missing`)).toBe(0);
  });

  it("reads a PostgreSQL database's size with pg_database_size", async () => {
    const bytes = await estimateDatabaseBytes(POSTGRES, pgName);
    expect(bytes).toBeGreaterThan(2 * MiB);
    // An unknown database, an unreachable server: no estimate, no error.
    expect(await estimateDatabaseBytes(POSTGRES, `${pgName}_missing`)).toBeNull();
    expect(await estimateDatabaseBytes({ ...MARIADB, port: 1 }, my)).toBeNull();
  });
});

describe("expectedArtifactBytes", () => {
  const engine = (estimate: number | null | Error) => ({
    estimateBytes: async () => {
      if (estimate instanceof Error) throw estimate;
      return estimate;
    },
  });

  it.each([
    ["the database size when the last backup was smaller", 10, 500, 500],
    ["the last backup when it was larger (no compression)", 900, 500, 900],
    ["the last backup when the server gives no estimate", 10, null, 10],
    ["the estimate for a first backup", undefined, 500, 500],
    ["nothing when neither is known", undefined, null, undefined],
    ["the last backup when the estimate fails", 10, new Error("boom"), 10],
  ])("takes %s", async (_label, previous, estimate, expected) => {
    expect(await expectedArtifactBytes(engine(estimate), MARIADB, "d", Promise.resolve(previous))).toBe(expected);
  });

  it("works with an engine that cannot estimate", async () => {
    expect(await expectedArtifactBytes({}, MARIADB, "d", Promise.resolve(7))).toBe(7);
  });
});
