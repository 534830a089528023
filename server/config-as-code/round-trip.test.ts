import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateIdentity } from "../encryption/age-keys.ts";
import { dataOf } from "../testing/backup-helpers.ts";
import { createTestApp } from "../testing/test-app.ts";

type App = Awaited<ReturnType<typeof createTestApp>>;
const RECIPIENT = generateIdentity().recipient;
type Client = Awaited<ReturnType<App["as"]>>;

const PLAN_FIELDS = `summary empty applied dryRun prune warnings changes { action kind name fields { field before after secret } }`;

async function exportOf(client: Client): Promise<string> {
  return (dataOf(await client(`{ exportConfiguration }`)) as { exportConfiguration: string }).exportConfiguration;
}

async function apply(client: Client, document: string, args: { prune?: boolean; dryRun?: boolean } = {}) {
  const r = await client(`mutation($d: String!, $p: Boolean, $n: Boolean) { applyConfiguration(document: $d, prune: $p, dryRun: $n) { ${PLAN_FIELDS} } }`, {
    d: document,
    p: args.prune ?? null,
    n: args.dryRun ?? null,
  });
  return (dataOf(r) as { applyConfiguration: any }).applyConfiguration;
}

describe("configuration as code: export, apply to a fresh instance, export again", () => {
  let a: App;
  let b: App;
  const envB: Record<string, string | undefined> = {};
  let adminA: Client;
  let adminB: Client;

  beforeAll(async () => {
    a = await createTestApp();
    b = await createTestApp({ secretEnv: envB });
    adminA = await a.as("ADMIN");
    adminB = await b.as("ADMIN");
  }, 60_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it("configured through GraphQL, exported, applied elsewhere, exported again: equal; a second apply plans nothing", async () => {
    const profile = dataOf(
      await adminA(
        `mutation { createDumpOptions(input: { name: "fast", compression: GZIP, compressionLevel: 1, routines: false, mysqlExtraFlags: ["--skip-lock-tables"], encryption: AGE }) { id } }`,
      ),
    ) as { createDumpOptions: { id: number } };
    const s3 = dataOf(
      await adminA(
        `mutation { createStorageTarget(input: { name: "offsite", kind: S3, bucket: "backups", endpoint: "http://127.0.0.1:9", region: "us-east-1", prefix: "prod", accessKeyId: "AKIA1", secretAccessKey: "s3-secret-value" }) { id } }`,
      ),
    ) as { createStorageTarget: { id: number } };
    const prod = dataOf(
      await adminA(
        `mutation($p: ID) { createServer(input: { name: "prod-db", engine: MARIADB, host: "db.internal", username: "backup", password: "db-secret-value", labels: [{ key: "env", value: "prod" }, { key: "team", value: "shop" }], includeDatabases: ["shop*"], dumpOptionsId: $p }) { id } }`,
        { p: profile.createDumpOptions.id },
      ),
    ) as { createServer: { id: number } };
    await adminA(`mutation { createServer(input: { name: "verify", engine: POSTGRESQL, host: "127.0.0.1", username: "postgres" }) { id } }`);
    const schedule = dataOf(
      await adminA(
        `mutation($t: [ID!]) { createSchedule(input: { name: "prod-nightly", cronExpression: "30 2 * * *", timezone: "Europe/Berlin", serverLabels: [{ key: "env", value: "prod" }], storageTargetIds: $t }) { id } }`,
        { t: [s3.createStorageTarget.id] },
      ),
    ) as { createSchedule: { id: number } };
    dataOf(
      await adminA(
        `mutation($s: ID!, $t: ID!) { setRetentionRule(input: { scheduleId: $s, storageTargetId: $t, gfsDaily: 7, gfsWeekly: 4, gfsMonthly: 12, minKeep: 3 }) { id } }`,
        {
          s: schedule.createSchedule.id,
          t: s3.createStorageTarget.id,
        },
      ),
    );
    const verify = (dataOf(await adminA(`{ servers { id name } }`)) as { servers: Array<{ id: number; name: string }> }).servers.find(
      (s) => s.name === "verify",
    )!;
    dataOf(
      await adminA(
        `mutation($s: ID!, $v: ID!) { setScheduleDrill(scheduleId: $s, input: { enabled: true, serverId: $v, cron: "0 4 * * 0", pitr: true }) { drillEnabled } }`,
        {
          s: schedule.createSchedule.id,
          v: verify.id,
        },
      ),
    );
    dataOf(
      await adminA(
        `mutation($s: ID) { createWebhook(input: { name: "ops", url: "http://127.0.0.1:9/hook", secret: "hook-secret-value", onSuccess: true, scheduleId: $s }) { id } }`,
        { s: schedule.createSchedule.id },
      ),
    );
    await adminA(`mutation { createUser(input: { username: "auditor", password: "auditor-password", role: VIEWER }) { id } }`);
    dataOf(
      await adminA(`mutation($input: AddRecoveryRecipientInput!) { addRecoveryRecipient(input: $input) { id } }`, {
        input: { label: "ops safe", recipient: RECIPIENT },
      }),
    );
    expect(Number(prod.createServer.id)).toBeGreaterThan(0);

    const first = await exportOf(adminA);
    if (process.env.PEEK) console.log(first);
    // No secret is ever written: placeholders instead.
    for (const secret of ["s3-secret-value", "db-secret-value", "hook-secret-value", "auditor-password"]) expect(first).not.toContain(secret);
    expect(first).toContain(`password: \${env:SQLGUARD_SECRET_SERVER_PROD_DB}`);
    expect(first).toContain(`secretAccessKey: \${env:SQLGUARD_SECRET_STORAGE_OFFSITE}`);
    expect(first).toContain(`secret: \${env:SQLGUARD_SECRET_WEBHOOK_OPS}`);
    expect(first).toMatch(/servers:\n\s+matchLabels:\n\s+env: prod/);
    expect(first).toMatch(/drill:\n(\s+\w+: .*\n)*?\s+pitr: true\n/);
    expect(first.slice(first.indexOf("- name: fast"), first.indexOf("storageTargets:"))).toContain("\n    encryption: AGE\n");
    // Recovery recipients are public keys: written as they are; the instance key is not in the document.
    expect(first).toContain(`recoveryRecipients:\n  - label: ops safe\n    recipient: ${RECIPIENT}\n`);
    const instance = await a.db.prisma.encryptionKey.findFirstOrThrow({ where: { kind: "INSTANCE" } });
    expect(first).not.toContain(instance.recipient);

    // The fresh instance resolves the placeholders from its own environment.
    Object.assign(envB, {
      SQLGUARD_SECRET_SERVER_PROD_DB: "db-secret-value",
      SQLGUARD_SECRET_STORAGE_OFFSITE: "s3-secret-value",
      SQLGUARD_SECRET_WEBHOOK_OPS: "hook-secret-value",
    });
    const plan = await apply(adminB, first, { dryRun: true });
    expect(plan.applied).toBe(false);
    expect(plan.changes.map((c: any) => `${c.action} ${c.kind} ${c.name}`)).toEqual(
      expect.arrayContaining([
        "CREATE dumpOptions fast",
        "CREATE storageTargets offsite",
        "UPDATE storageTargets local",
        "CREATE servers prod-db",
        "CREATE schedules prod-nightly",
        "CREATE webhooks ops",
        "CREATE users auditor",
        `CREATE recoveryRecipients ${RECIPIENT}`,
      ]),
    );
    const pw = plan.changes.find((c: any) => c.name === "prod-db").fields.find((f: any) => f.field === "password");
    expect(pw).toEqual({ field: "password", before: null, after: JSON.stringify("set"), secret: true });
    expect(JSON.stringify(plan)).not.toContain("db-secret-value");
    expect(await exportOf(adminB)).not.toBe(first);

    const applied = await apply(adminB, first);
    expect(applied.applied).toBe(true);
    expect(applied.warnings.join("\n")).toContain("user auditor is created without a password");
    expect(await exportOf(adminB)).toBe(first);

    const again = await apply(adminB, first);
    expect(again).toMatchObject({ empty: true, applied: false, changes: [], summary: "No changes: the installation matches the document." });

    // One audit entry for the whole apply, holding the plan (no secret values).
    const audits = await b.db.prisma.auditLog.findMany({ where: { action: "configuration.apply" } });
    expect(audits).toHaveLength(1);
    expect(JSON.stringify(audits[0]!.after)).toContain("prod-nightly");
    expect(JSON.stringify(audits[0]!.after)).not.toContain("db-secret-value");

    // Secrets stored encrypted on B, and usable.
    const server = await b.db.prisma.server.findUniqueOrThrow({ where: { name: "prod-db" } });
    expect(server.passwordEnc).not.toContain("db-secret-value");
    const { SecretBox } = await import("../secrets/secret-box.ts");
    expect(new SecretBox(b.secretKey).open(server.passwordEnc!)).toBe("db-secret-value");

    // Point-in-time drills arrived with the schedule's drill.
    expect((await b.db.prisma.schedule.findFirstOrThrow({ where: { drillEnabled: true } })).drillPitr).toBe(true);

    // The encryption mode arrived, and a change of it alone is planned as one field.
    expect((await b.db.prisma.dumpOptions.findUniqueOrThrow({ where: { name: "fast" } })).encryption).toBe("AGE");
    const plainAgain = await apply(adminB, first.replace("encryption: AGE", "encryption: NONE"), { dryRun: true });
    expect(plainAgain.changes).toEqual([
      { action: "UPDATE", kind: "dumpOptions", name: "fast", fields: [{ field: "encryption", before: '"AGE"', after: '"NONE"', secret: false }] },
    ]);

    // A changed secret is planned as "changed", never shown.
    envB.SQLGUARD_SECRET_SERVER_PROD_DB = "rotated-secret";
    const rotated = await apply(adminB, first, { dryRun: true });
    expect(rotated.changes).toEqual([
      { action: "UPDATE", kind: "servers", name: "prod-db", fields: [{ field: "password", before: '"set"', after: '"changed"', secret: true }] },
    ]);
  }, 120_000);

  it("prune retires a recovery recipient left out of the document (never deletes it); naming it again brings it back", async () => {
    const full = await exportOf(adminB);
    expect(full).toContain(RECIPIENT);
    const without = full.replace(/recoveryRecipients:\n( {2}.*\n)+/, "");
    expect(without).not.toContain(RECIPIENT);
    const pruned = await apply(adminB, without, { prune: true });
    // (The first test left the server password's variable rotated: that update is not what this checks.)
    expect(pruned.changes.filter((c: any) => c.kind !== "servers")).toEqual([
      { action: "DELETE", kind: "recoveryRecipients", name: RECIPIENT, fields: expect.any(Array) },
    ]);
    const row = await b.db.prisma.encryptionKey.findUniqueOrThrow({ where: { recipient: RECIPIENT } });
    expect(row.retiredAt).not.toBeNull();
    expect((await b.services.encryptionKeys.currentRecipients()).map((k) => k.recipient)).not.toContain(RECIPIENT);
    expect(await exportOf(adminB)).toBe(without);

    const back = await apply(adminB, full.replace("label: ops safe", "label: ops safe (moved)"));
    expect(back.changes.map((c: any) => `${c.action} ${c.kind}`)).toEqual(["CREATE recoveryRecipients"]);
    const again = await b.db.prisma.encryptionKey.findUniqueOrThrow({ where: { recipient: RECIPIENT } });
    expect(again).toMatchObject({ id: row.id, kind: "RECOVERY", label: "ops safe (moved)", retiredAt: null });
    expect((await b.services.encryptionKeys.currentRecipients()).map((k) => k.recipient)).toContain(RECIPIENT);

    // The instance key's own recipient is not a recovery key: the apply is refused whole.
    const instance = await b.services.encryptionKeys.instanceKey();
    const own = full.replace(`recipient: ${RECIPIENT}`, `recipient: ${instance.recipient}`);
    const refused = await adminB(`mutation($d: String!) { applyConfiguration(document: $d) { summary } }`, { d: own });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: "CONFLICT", field: "recoveryRecipients" });
    expect(refused.errors?.[0]?.message).toMatch(/this instance's own key/);
    expect(await b.db.prisma.encryptionKey.findUniqueOrThrow({ where: { id: Number(instance.id) } })).toMatchObject({
      kind: "INSTANCE",
      label: "instance key",
    });
  }, 60_000);
});
