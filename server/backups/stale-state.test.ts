import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, dataOf } from "../testing/backup-helpers.ts";
import { createMariadbSample, dropMariadbDatabase, uniqueName } from "../testing/sample-databases.ts";
import { createTestApp } from "../testing/test-app.ts";

const DASHBOARD = `{ dashboard { databases { serverName database status acknowledgement { by note } } } }`;
const ACK = `mutation($s: ID!, $d: String!, $n: String) { acknowledgeDatabaseProblem(serverId: $s, database: $d, note: $n) { by note at } }`;

/**
 * Issue 13 item 6: no "next run" for a disabled schedule; a FAILING database can be acknowledged
 * (until its next run), and one gone from its server is DROPPED, not FAILING forever; `me` shows
 * the API token's role. (Metric series of deleted servers and dropped databases:
 * server/observability/health-monitor.test.ts.)
 */
describe("stale state", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Awaited<ReturnType<typeof app.as>>;
  let operator: Awaited<ReturnType<typeof app.as>>;
  let viewer: Awaited<ReturnType<typeof app.as>>;
  const kept = uniqueName("stale_kept");
  const dropped = uniqueName("stale_dropped");
  const serverName = uniqueName("stale-srv");
  let serverId: number;

  beforeAll(async () => {
    app = await createTestApp();
    admin = await app.as("ADMIN");
    operator = await app.as("OPERATOR");
    viewer = await app.as("VIEWER");
    await createMariadbSample(kept, { rows: 3 });
    serverId = await createServer(admin, { name: serverName, engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root" });
  });

  afterAll(async () => {
    await app?.close();
    await dropMariadbDatabase(kept);
  });

  const record = (database: string, at: Date, status: "FAILED" | "SUCCEEDED") =>
    app.db.prisma.backup.create({
      data: {
        serverId,
        serverName,
        engine: "MARIADB",
        database,
        trigger: "MANUAL",
        status,
        compression: "ZSTD",
        error: status === "FAILED" ? "the dump exited with code 2" : null,
        createdAt: at,
        startedAt: at,
        finishedAt: at,
      },
    });
  const failed = (database: string, at: Date) => record(database, at, "FAILED");
  const rowOf = async (database: string) =>
    ((dataOf(await viewer(DASHBOARD)) as any).dashboard.databases as any[]).find((d) => d.serverName === serverName && d.database === database);

  it("shows no next run for a disabled schedule", async () => {
    const created = dataOf(
      await admin(`mutation($input: ScheduleInput!) { createSchedule(input: $input) { id nextRunAt nextRuns(count: 3) } }`, {
        input: { name: uniqueName("off"), cronExpression: "* * * * *", enabled: false },
      }),
    ) as any;
    expect(created.createSchedule).toMatchObject({ nextRunAt: null, nextRuns: [] });
    const enabled = dataOf(
      await admin(`mutation($id: ID!, $input: ScheduleInput!) { updateSchedule(id: $id, input: $input) { nextRunAt nextRuns(count: 3) } }`, {
        id: created.createSchedule.id,
        input: { enabled: true },
      }),
    ) as any;
    expect(enabled.updateSchedule.nextRuns).toHaveLength(3);
    expect(enabled.updateSchedule.nextRunAt).toBe(enabled.updateSchedule.nextRuns[0]);
  });

  it("acknowledges a FAILING database until its next run; a database gone from its server is DROPPED", async () => {
    // Each backed up once (a manual run without copies to check), then failed.
    await record(kept, new Date(Date.now() - 120_000), "SUCCEEDED");
    await record(dropped, new Date(Date.now() - 120_000), "SUCCEEDED");
    await failed(kept, new Date(Date.now() - 60_000));
    await failed(dropped, new Date(Date.now() - 60_000));
    expect((await rowOf(kept)).status).toBe("FAILING");
    expect((await rowOf(dropped)).status).toBe("FAILING");

    expect((await viewer(ACK, { s: serverId, d: kept })).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect((await operator(ACK, { s: serverId, d: "  " })).errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "database" });
    const ack = dataOf(await operator(ACK, { s: serverId, d: kept, n: "being fixed" })) as any;
    expect(ack.acknowledgeDatabaseProblem).toMatchObject({ by: expect.stringContaining("test-operator"), note: "being fixed" });
    expect(await rowOf(kept)).toMatchObject({ status: "ACKNOWLEDGED", acknowledgement: { note: "being fixed" } });
    expect(await app.db.prisma.auditLog.count({ where: { action: "database.acknowledge", entityId: String(serverId) } })).toBe(1);
    // A run after the acknowledgement that fails again is a problem again.
    await failed(kept, new Date(Date.now() + 1000));
    expect((await rowOf(kept)).status).toBe("FAILING");

    // The health check lists the server's databases: the one that is gone is DROPPED, the other stays FAILING.
    await app.healthMonitor.checkAll();
    expect((await rowOf(dropped)).status).toBe("DROPPED");
    expect((await rowOf(kept)).status).toBe("FAILING");
  });

  it("me shows the role of the API token, not the user's", async () => {
    const adminUser = await app.db.prisma.user.findUniqueOrThrow({ where: { username: "admin" } });
    const principal = { userId: adminUser.id, username: "admin", role: "ADMIN" as const, via: "session" as const };
    const { token } = await app.services.auth.createApiToken(principal, { name: "ops", role: "OPERATOR" });
    const me = dataOf(await app.gql("{ me { username role } }", {}, { authorization: `Bearer ${token}` })) as any;
    expect(me.me).toEqual({ username: "admin", role: "OPERATOR" });
    const asAdmin = dataOf(await admin("{ me { role } }")) as any;
    expect(asAdmin.me.role).toBe("ADMIN");
  });
});
