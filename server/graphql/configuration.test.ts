import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp } from "../testing/test-app.ts";

let t: Awaited<ReturnType<typeof createTestApp>>;
let admin: Awaited<ReturnType<typeof t.as>>;
beforeAll(async () => {
  t = await createTestApp();
  admin = await t.as("ADMIN");
});
afterAll(() => t.close());

/** The first error's code and field, or the data when there is none. */
async function expectInputError(query: string, variables: Record<string, unknown>, field: string, problem?: RegExp) {
  const r = await admin(query, variables);
  expect(r.errors?.[0]?.extensions, JSON.stringify(r.errors ?? r.data)).toMatchObject({ code: "BAD_USER_INPUT", field });
  if (problem) expect(r.errors?.[0]?.message).toMatch(problem);
}

const SERVER_FIELDS =
  "id name engine host port username passwordSet tls allowPublicKeyRetrieval enabled labels { key value } includeDatabases excludeDatabases maxConcurrent dumpOptions { name }";

describe("servers", () => {
  const create = `mutation ($input: ServerInput!) { createServer(input: $input) { ${SERVER_FIELDS} } }`;
  const update = `mutation ($id: ID!, $input: ServerUpdateInput!) { updateServer(id: $id, input: $input) { ${SERVER_FIELDS} } }`;

  it("are created, read, updated and deleted, and each change is audited", async () => {
    const profile = (await admin("{ dumpOptionsProfiles { id name } }")).data!.dumpOptionsProfiles[0];
    const created = await admin(create, {
      input: {
        name: "prod-db",
        engine: "POSTGRESQL",
        host: "db.internal",
        username: "backup",
        password: "s3cret-pw",
        labels: [{ key: "env", value: "prod" }],
        includeDatabases: ["shop_*"],
        excludeDatabases: ["*_tmp"],
        dumpOptionsId: profile.id,
      },
    });
    expect(created.errors).toBeUndefined();
    const server = created.data!.createServer;
    expect(server).toMatchObject({
      name: "prod-db",
      engine: "POSTGRESQL",
      port: 5432,
      passwordSet: true,
      tls: false,
      allowPublicKeyRetrieval: true,
      enabled: true,
      labels: [{ key: "env", value: "prod" }],
      includeDatabases: ["shop_*"],
      excludeDatabases: ["*_tmp"],
      maxConcurrent: 1,
      dumpOptions: { name: profile.name },
    });

    const read = await admin(`query ($id: ID!) { server(id: $id) { name host } servers { name } }`, { id: server.id });
    expect(read.data!.server).toEqual({ name: "prod-db", host: "db.internal" });
    expect(read.data!.servers.map((s: { name: string }) => s.name)).toContain("prod-db");

    const updated = await admin(update, { id: server.id, input: { port: 6432, enabled: false, password: null, allowPublicKeyRetrieval: false } });
    expect(updated.data!.updateServer).toMatchObject({ host: "db.internal", port: 6432, enabled: false, passwordSet: false, allowPublicKeyRetrieval: false });

    const deleted = await admin(`mutation ($id: ID!) { deleteServer(id: $id) { name } }`, { id: server.id });
    expect(deleted.data!.deleteServer.name).toBe("prod-db");
    const gone = await admin(`query ($id: ID!) { server(id: $id) { name } }`, { id: server.id });
    expect(gone.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");

    const audit = await admin(`query ($id: String!) { auditLog(entityType: "Server", entityId: $id) { nodes { action actor } } }`, { id: String(server.id) });
    expect(audit.data!.auditLog.nodes.map((e: { action: string }) => e.action)).toEqual(["server.delete", "server.update", "server.create"]);
    expect(audit.data!.auditLog.nodes[0].actor).toContain("test-admin");
    expect(t.changes.filter((c) => c.entity === "server" && c.id === Number(server.id)).map((c) => c.action)).toEqual(["create", "update", "delete"]);
  });

  it.each([
    [{ port: 70000 }, "port", /port: must be between 1 and 65535/],
    [{ host: "bad host!" }, "host", /host: must be a host name or an IP address/],
    [{ name: "no spaces allowed" }, "name", /name: may contain only/],
    [{ includeDatabases: ["ok", "bad[abc"] }, "includeDatabases.1", /pattern "bad\[abc" has a '\[' without its closing '\]'/],
    [{ excludeDatabases: [""] }, "excludeDatabases.0", /must not be empty/],
    [{ dumpOptionsId: 9999 }, "dumpOptionsId", /does not exist/],
  ])("refuse bad input %j naming the field", async (bad, field, problem) => {
    await expectInputError(create, { input: { name: "bad-one", engine: "MARIADB", host: "127.0.0.1", username: "root", ...bad } }, field, problem);
    expect(await t.db.prisma.server.count({ where: { name: "bad-one" } })).toBe(0);
  });

  it("list every problem of an input at once", async () => {
    const r = await admin(create, { input: { name: "x y", engine: "MYSQL", host: "h", username: "u", port: 0 } });
    const fields = ((r.errors?.[0]?.extensions?.fields ?? []) as Array<{ field: string }>).map((f) => f.field).sort();
    expect(fields).toEqual(["name", "port"]);
  });

  it("refuse a duplicate name", async () => {
    const input = { name: "twin", engine: "MYSQL", host: "127.0.0.1", username: "root" };
    expect((await admin(create, { input })).errors).toBeUndefined();
    const again = await admin(create, { input });
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: "CONFLICT", field: "name" });
  });
});

describe("storage targets", () => {
  const create = `mutation ($input: StorageTargetInput!) { createStorageTarget(input: $input) { id name kind path bucket region endpoint prefix forcePathStyle accessKeyId secretAccessKeySet enabled isDefault } }`;

  it("are created, read, updated and deleted (LOCAL and S3)", async () => {
    const local = await admin(create, { input: { name: "nas", kind: "LOCAL", path: "/srv/backups/" } });
    expect(local.data!.createStorageTarget).toMatchObject({ kind: "LOCAL", path: "/srv/backups", enabled: true, isDefault: false });

    const s3 = await admin(create, {
      input: {
        name: "minio",
        kind: "S3",
        bucket: "sqlguard-backups",
        region: "us-east-1",
        endpoint: "http://127.0.0.1:9000",
        prefix: "prod/",
        accessKeyId: "AKIAEXAMPLE",
        secretAccessKey: "wJalrXUtnFEMI-secret",
      },
    });
    expect(s3.errors).toBeUndefined();
    const target = s3.data!.createStorageTarget;
    expect(target).toMatchObject({ kind: "S3", prefix: "prod", forcePathStyle: true, accessKeyId: "AKIAEXAMPLE", secretAccessKeySet: true });

    const updated = await admin(
      `mutation ($id: ID!) { updateStorageTarget(id: $id, input: { enabled: false, prefix: "other" }) { enabled prefix secretAccessKeySet } }`,
      {
        id: target.id,
      },
    );
    expect(updated.data!.updateStorageTarget).toEqual({ enabled: false, prefix: "other", secretAccessKeySet: true });

    const listed = await admin("{ storageTargets { name } }");
    expect(listed.data!.storageTargets.map((s: { name: string }) => s.name)).toEqual(expect.arrayContaining(["local", "nas", "minio"]));

    const deleted = await admin(`mutation ($id: ID!) { deleteStorageTarget(id: $id) { name } }`, { id: target.id });
    expect(deleted.data!.deleteStorageTarget.name).toBe("minio");
  });

  it.each([
    [{ name: "l1", kind: "LOCAL" }, "path", /path: is required for a LOCAL target/],
    [{ name: "l2", kind: "LOCAL", path: "relative/dir" }, "path", /must be an absolute path/],
    [{ name: "l3", kind: "LOCAL", path: "/var/../etc" }, "path", /must not contain '\.\.'/],
    [{ name: "s1", kind: "S3" }, "bucket", /bucket: is required for an S3 target/],
    [{ name: "s2", kind: "S3", bucket: "Bad_Bucket" }, "bucket", /3 to 63 lower-case/],
    [{ name: "s3", kind: "S3", bucket: "okay-bucket", endpoint: "not a url" }, "endpoint", /http\(s\) URL/],
    [{ name: "s4", kind: "S3", bucket: "okay-bucket", accessKeyId: "AKIA" }, "secretAccessKey", /must be given together/],
    [{ name: "s5", kind: "S3", bucket: "okay-bucket", prefix: "/abs" }, "prefix", /must not start with '\/'/],
  ])("refuse %j naming the field", async (input, field, problem) => {
    await expectInputError(create, { input }, field, problem);
  });

  it("refuse to delete a target that still holds stored backups", async () => {
    const target = (await admin(create, { input: { name: "holding", kind: "LOCAL", path: "/srv/holding" } })).data!.createStorageTarget;
    const backup = await t.db.prisma.backup.create({
      data: { serverName: "x", engine: "MARIADB", database: "d", trigger: "MANUAL", compression: "ZSTD", status: "SUCCEEDED" },
    });
    await t.db.prisma.backupArtifact.create({ data: { backupId: Number(backup.id), storageTargetId: Number(target.id), key: "k", status: "STORED" } });
    const r = await admin(`mutation ($id: ID!) { deleteStorageTarget(id: $id) { id } }`, { id: target.id });
    expect(r.errors?.[0]?.extensions?.code).toBe("CONFLICT");
    expect(r.errors?.[0]?.message).toMatch(/still holds 1 stored backup/);
  });
});

describe("schedules and retention rules", () => {
  const create = `mutation ($input: ScheduleInput!) { createSchedule(input: $input) { id name cronExpression timezone enabled allServers servers { name } storageTargets { name } nextRunAt nextRuns(count: 3) } }`;

  it("are created, read, updated and deleted, with next runs in their time zone", async () => {
    const server = (await admin(`mutation { createServer(input: { name: "sched-db", engine: MARIADB, host: "127.0.0.1", username: "root" }) { id } }`)).data!
      .createServer;
    const local = (await admin("{ storageTargets { id name } }")).data!.storageTargets.find((s: { name: string }) => s.name === "local");

    const created = await admin(create, {
      input: { name: "nightly", cronExpression: "30 2 * * *", timezone: "Europe/Berlin", serverIds: [server.id], storageTargetIds: [local.id] },
    });
    expect(created.errors).toBeUndefined();
    const schedule = created.data!.createSchedule;
    expect(schedule).toMatchObject({
      name: "nightly",
      timezone: "Europe/Berlin",
      allServers: false,
      servers: [{ name: "sched-db" }],
      storageTargets: [{ name: "local" }],
    });
    expect(schedule.nextRuns).toHaveLength(3);
    for (const run of schedule.nextRuns as string[]) {
      const berlin = new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Berlin", hour: "2-digit", minute: "2-digit" }).format(new Date(run));
      expect(berlin).toBe("02:30");
    }
    expect(schedule.nextRunAt).toBe(schedule.nextRuns[0]);

    const updated = await admin(
      `mutation ($id: ID!) { updateSchedule(id: $id, input: { cronExpression: "0 * * * *", serverIds: [] }) { cronExpression allServers nextRunAt } }`,
      {
        id: schedule.id,
      },
    );
    expect(updated.data!.updateSchedule).toMatchObject({ cronExpression: "0 * * * *", allServers: true });
    expect(new Date(updated.data!.updateSchedule.nextRunAt).getUTCMinutes()).toBe(0);

    const rule = await admin(
      `mutation ($s: ID!, $t: ID!) { setRetentionRule(input: { scheduleId: $s, storageTargetId: $t, keepLast: 7, gfsDaily: 7, gfsWeekly: 4, minKeep: 3 }) { id keepLast gfsDaily gfsWeekly gfsMonthly minKeep keepForever } }`,
      { s: schedule.id, t: local.id },
    );
    expect(rule.data!.setRetentionRule).toMatchObject({ keepLast: 7, gfsDaily: 7, gfsWeekly: 4, gfsMonthly: null, minKeep: 3, keepForever: false });
    const replaced = await admin(
      `mutation ($s: ID!, $t: ID!) { setRetentionRule(input: { scheduleId: $s, storageTargetId: $t, maxAgeDays: 30 }) { id maxAgeDays keepLast minKeep } }`,
      { s: schedule.id, t: local.id },
    );
    expect(replaced.data!.setRetentionRule).toEqual({ id: rule.data!.setRetentionRule.id, maxAgeDays: 30, keepLast: null, minKeep: 1 });
    const rules = await admin(`query ($s: ID!) { retentionRules(scheduleId: $s) { maxAgeDays storageTarget { name } schedule { name } } }`, {
      s: schedule.id,
    });
    expect(rules.data!.retentionRules).toEqual([{ maxAgeDays: 30, storageTarget: { name: "local" }, schedule: { name: "nightly" } }]);

    const deleted = await admin(`mutation ($id: ID!) { deleteSchedule(id: $id) { name } }`, { id: schedule.id });
    expect(deleted.data!.deleteSchedule.name).toBe("nightly");
    expect(await t.db.prisma.retentionRule.count({ where: { scheduleId: Number(schedule.id) } })).toBe(0);
  });

  it.each([
    [{ name: "c1", cronExpression: "61 * * * *" }, "cronExpression", /invalid cron expression/],
    [{ name: "c2", cronExpression: "every day" }, "cronExpression", /invalid cron expression/],
    [{ name: "c3", cronExpression: "0 2 * * *", timezone: "Mars/Base" }, "timezone", /unknown time zone/],
    [{ name: "c6", cronExpression: "* * * * * *" }, "cronExpression", /a seconds field is not supported/],
    [{ name: "c4", cronExpression: "0 2 * * *", serverIds: [424242] }, "serverIds", /no server with id 424242/],
    [{ name: "c5", cronExpression: "0 2 * * *", storageTargetIds: [424242] }, "storageTargetIds", /no storage target with id 424242/],
    [{ cronExpression: "0 2 * * *" }, "name", /name: is required/],
  ])("refuse %j naming the field", async (input, field, problem) => {
    await expectInputError(create, { input }, field, problem);
  });

  it.each([
    [{}, "keepForever", /set keepForever, or at least one of/],
    [{ keepForever: true, keepLast: 3 }, "keepLast", /cannot be combined with keepForever/],
    [{ keepLast: 0 }, "keepLast", /at least 1/],
    [{ keepLast: 5, minKeep: 0 }, "minKeep", /at least 1/],
    [{ gfsDaily: -1 }, "gfsDaily", /must not be negative/],
  ])("refuse the retention rule %j naming the field", async (rule, field, problem) => {
    const schedules = (await admin("{ schedules { id name } storageTargets { id } }")).data!;
    const hourly = schedules.schedules.find((s: { name: string }) => s.name === "hourly");
    await expectInputError(
      `mutation ($input: RetentionRuleInput!) { setRetentionRule(input: $input) { id } }`,
      { input: { scheduleId: hourly.id, storageTargetId: schedules.storageTargets[0].id, ...rule } },
      field,
      problem,
    );
  });

  it("report a bad time zone on update as the time zone's error, in one sentence", async () => {
    const { schedules } = (await admin("{ schedules { id name } }")).data!;
    const hourly = schedules.find((s: { name: string }) => s.name === "hourly");
    await expectInputError(
      `mutation ($id: ID!, $input: ScheduleInput!) { updateSchedule(id: $id, input: $input) { id } }`,
      { id: hourly.id, input: { timezone: "Mars/Base" } },
      "timezone",
      /^timezone: unknown time zone "Mars\/Base" \(use an IANA name such as Europe\/Berlin or UTC\)$/,
    );
  });

  it("preview cron expressions as one types", async () => {
    const good = await admin(`{ cronPreview(expression: "0 0 1 * *", timezone: "UTC", count: 2) { valid error nextRuns } }`);
    expect(good.data!.cronPreview.valid).toBe(true);
    expect(good.data!.cronPreview.nextRuns.map((d: string) => new Date(d).getUTCDate())).toEqual([1, 1]);
    const bad = await admin(`{ cronPreview(expression: "0 0 32 * *") { valid error nextRuns } }`);
    expect(bad.data!.cronPreview).toMatchObject({ valid: false, nextRuns: [] });
    expect(bad.data!.cronPreview.error).toMatch(/invalid cron expression/);
    const seconds = await admin(`{ cronPreview(expression: "* * * * * *") { valid error nextRuns } }`);
    expect(seconds.data!.cronPreview).toMatchObject({ valid: false, nextRuns: [] });
    expect(seconds.data!.cronPreview.error).toMatch(/a seconds field is not supported/);
  });
});

describe("dump option profiles", () => {
  it("are created with defaults, updated, and refuse flags outside the allow-list", async () => {
    const created = await admin(
      `mutation { createDumpOptions(input: { name: "pg-custom", pgFormat: CUSTOM, pgExtraFlags: ["--no-comments"] }) { id singleTransaction pgFormat pgExtraFlags compression compressionLevel } }`,
    );
    expect(created.data!.createDumpOptions).toMatchObject({
      singleTransaction: true,
      pgFormat: "CUSTOM",
      pgExtraFlags: ["--no-comments"],
      compression: "ZSTD",
      compressionLevel: 3,
    });
    const id = Number(created.data!.createDumpOptions.id);

    const updated = await admin(
      `mutation ($id: ID!) { updateDumpOptions(id: $id, input: { compression: GZIP, compressionLevel: 9 }) { compression compressionLevel } }`,
      { id },
    );
    expect(updated.data!.updateDumpOptions).toEqual({ compression: "GZIP", compressionLevel: 9 });

    await expectInputError(
      `mutation ($id: ID!) { updateDumpOptions(id: $id, input: { compressionLevel: 12 }) { id } }`,
      { id },
      "compressionLevel",
      /between 1 and 9 for GZIP/,
    );
    await expectInputError(
      `mutation { createDumpOptions(input: { name: "evil", mysqlExtraFlags: ["--skip-comments", "--result-file=/etc/passwd"] }) { id } }`,
      {},
      "mysqlExtraFlags.1",
      /"--result-file" is not an allowed mysqldump flag/,
    );
  });

  it("check the level against the compression of the row an update leaves, not only of the input", async () => {
    const created = await admin(`mutation { createDumpOptions(input: { name: "zstd-19", compressionLevel: 19 }) { id compression compressionLevel } }`);
    expect(created.data!.createDumpOptions).toMatchObject({ compression: "ZSTD", compressionLevel: 19 });
    const id = Number(created.data!.createDumpOptions.id);
    // gzip takes 1-9: switching the compression alone would leave level 19 for gzip.
    await expectInputError(
      `mutation ($id: ID!) { updateDumpOptions(id: $id, input: { compression: GZIP }) { id } }`,
      { id },
      "compressionLevel",
      /^compressionLevel: must be between 1 and 9 for GZIP$/,
    );
    const row = await admin(`query ($id: ID!) { dumpOptions(id: $id) { compression compressionLevel } }`, { id });
    expect(row.data!.dumpOptions).toEqual({ compression: "ZSTD", compressionLevel: 19 });
    await expectInputError(
      `mutation { createDumpOptions(input: { name: "gz-19", compression: GZIP, compressionLevel: 19 }) { id } }`,
      {},
      "compressionLevel",
      /between 1 and 9 for GZIP/,
    );
    const both = await admin(
      `mutation ($id: ID!) { updateDumpOptions(id: $id, input: { compression: GZIP, compressionLevel: 6 }) { compression compressionLevel } }`,
      { id },
    );
    expect(both.data!.updateDumpOptions).toEqual({ compression: "GZIP", compressionLevel: 6 });
  });
});
