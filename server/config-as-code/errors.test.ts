import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataOf } from "../testing/backup-helpers.ts";
import { createTestApp } from "../testing/test-app.ts";

type App = Awaited<ReturnType<typeof createTestApp>>;
type Client = Awaited<ReturnType<App["as"]>>;

/** A valid document; each case breaks one thing. */
const base = (extra = "") => `apiVersion: sqlguard/v1
kind: Configuration
servers:
  - name: db-a
    engine: MARIADB
    host: 127.0.0.1
    username: root
    labels: { env: dev }
schedules:
  - name: nightly
    cronExpression: "0 3 * * *"
    servers: { matchLabels: { env: dev } }
    storageTargets: [local]
    retention:
      local: { keepLast: 3 }
${extra}`;

describe("bad configuration documents are refused with their paths, and change nothing", () => {
  let app: App;
  let admin: Client;
  beforeAll(async () => {
    app = await createTestApp({ secretEnv: {} });
    admin = await app.as("ADMIN");
  }, 60_000);
  afterAll(async () => app?.close());

  const exportNow = async () => (dataOf(await admin(`{ exportConfiguration }`)) as { exportConfiguration: string }).exportConfiguration;

  /** Applies a document that must be refused; returns the "path: problem" lines, after checking nothing changed. */
  async function refused(document: string): Promise<string[]> {
    const before = await exportNow();
    const audits = await app.db.prisma.auditLog.count();
    const r = await admin(`mutation($d: String!) { applyConfiguration(document: $d) { summary } }`, { d: document });
    expect(r.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(await exportNow()).toBe(before);
    expect(await app.db.prisma.auditLog.count()).toBe(audits);
    const fields = (r.errors![0]!.extensions!.fields as Array<{ field: string; problem: string }> | undefined) ?? [
      { field: r.errors![0]!.extensions!.field!, problem: r.errors![0]!.message.replace(/^[^:]+: /, "") },
    ];
    return fields.map((f) => `${f.field}: ${f.problem}`);
  }

  it("the valid base document applies (so each case below fails for its own fault)", async () => {
    const r = await admin(`query($d: String!) { planConfiguration(document: $d) { summary } }`, { d: base() });
    expect(r.errors).toBeUndefined();
  });

  it("an unknown field", async () => {
    expect(await refused(base().replace("    username: root", "    username: root\n    hostname: db"))).toEqual(["servers[0].hostname: unknown field"]);
  });

  it("a wrong type", async () => {
    expect(await refused(base().replace("    username: root", '    username: root\n    port: "3306x"'))).toEqual([
      'servers[0].port: must be a number (not string "3306x")',
    ]);
  });

  it("a recovery recipient that is not an age public key, and one without a label", async () => {
    const doc = `${base()}recoveryRecipients:
  - label: vault
    recipient: AGE-SECRET-KEY-1QQQQ
  - label: ""
    recipient: ssh-ed25519 AAAA
`;
    const problems = await refused(doc);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^recoveryRecipients\[0\]\.recipient: not an age recipient/);
    expect(problems.join("\n")).not.toContain("AGE-SECRET-KEY-1QQQQ");
    expect(problems[1]).toBe("recoveryRecipients[1].label: must not be empty");
    expect(problems[2]).toMatch(/^recoveryRecipients\[1\]\.recipient: not an age recipient/);
  });

  it("duplicate names", async () => {
    const doc = base().replace("schedules:", "  - name: db-a\n    engine: POSTGRESQL\n    host: 127.0.0.1\n    username: postgres\nschedules:");
    expect(await refused(doc)).toEqual(['servers[1].name: duplicate name "db-a" (also servers[0])']);
  });

  it("a reference to a missing storage target (in the list and in the retention)", async () => {
    const doc = base()
      .replace("storageTargets: [local]", "storageTargets: [offsite]")
      .replace("      local: { keepLast: 3 }", "      offsite: { keepLast: 3 }");
    expect(await refused(doc)).toEqual([
      'schedules[0].storageTargets[0]: no storage target named "offsite"',
      'schedules[0].retention.offsite: no storage target named "offsite"',
    ]);
  });

  it(`an unresolvable \${env:…} and an unreadable \${file:…}`, async () => {
    const doc = base().replace("    username: root", `    username: root\n    password: \${env:SQLGUARD_TEST_MISSING}`);
    expect(await refused(doc)).toEqual([
      `servers[0].password: \${env:SQLGUARD_TEST_MISSING}: the variable SQLGUARD_TEST_MISSING is not set where the document is applied`,
    ]);
    const file = base().replace("    username: root", `    username: root\n    password: \${file:/nonexistent/sqlguard-secret}`);
    expect(await refused(file)).toEqual([`servers[0].password: \${file:/nonexistent/sqlguard-secret}: cannot be read (ENOENT)`]);
  });

  it("a cron expression that never fires", async () => {
    const [line] = await refused(base().replace('"0 3 * * *"', '"0 0 30 2 *"'));
    expect(line).toMatch(/^schedules\[0\]\.cronExpression: /);
    expect(line).toMatch(/never fires/);
  });

  it("a retention count below 1, with the path of the issue's example", async () => {
    expect(await refused(base().replace("keepLast: 3", "keepLast: 0"))).toEqual(["schedules[0].retention.local.keepLast: must be ≥ 1"]);
  });

  it("every problem at once: schema problems and those of the objects valid on their own", async () => {
    const doc = base()
      .replace("    username: root", `    username: root\n    password: \${env:SQLGUARD_TEST_MISSING}`)
      .replace("keepLast: 3", "keepLast: 0")
      .concat(
        `  - name: weekly\n    cronExpression: "0 0 31 2 *"\n    storageTargets: [nope]\nwebhooks:\n  - name: hook\n    url: http://127.0.0.1:9/x\n    schedule: nightly\n    colour: red\n`,
      );
    expect((await refused(doc)).sort()).toEqual(
      [
        "schedules[0].retention.local.keepLast: must be ≥ 1",
        "schedules[1].cronExpression: never fires",
        `servers[0].password: \${env:SQLGUARD_TEST_MISSING}: the variable SQLGUARD_TEST_MISSING is not set where the document is applied`,
        "webhooks[0].colour: unknown field",
      ].sort(),
    );
  });

  it("YAML syntax errors and a wrong apiVersion", async () => {
    const [syntax] = await refused("apiVersion: sqlguard/v1\nkind: Configuration\nservers: [\n");
    expect(syntax).toMatch(/^document: line \d+, column \d+: /);
    expect(await refused(base().replace("sqlguard/v1", "sqlguard/v2"))).toEqual(["apiVersion: must be sqlguard/v1"]);
  });

  it("needs the admin role", async () => {
    const operator = await app.as("OPERATOR");
    const r = await operator(`{ exportConfiguration }`);
    expect(r.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });
});

describe("docs/sqlguard.schema.json", () => {
  it("is the committed output of the document's schema (npm run config-schema:print)", async () => {
    const { documentJsonSchema } = await import("./document.ts");
    const committed = fs.readFileSync(new URL("../../docs/sqlguard.schema.json", import.meta.url), "utf8");
    expect(committed).toBe(`${JSON.stringify(documentJsonSchema(), null, 2)}\n`);
    const schema = JSON.parse(committed);
    expect(schema.properties.servers.items.additionalProperties).toBe(false);
    expect(schema.properties.servers.items.required).toEqual(["name", "engine", "host", "username"]);
  });
});
