// SQLGUARD_CONFIG_FILE on a real server process: applied at start (one audit entry by
// "config-file"), applied again on SIGHUP, a bad file on SIGHUP changes nothing and the server
// keeps serving, a bad file at start stops the start, and a change made through the API shows
// as drift from the file (configurationDrift).
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, httpClient, type ServerProcess, startServerProcess } from "../testing/server-process.ts";
import { createTestApp } from "../testing/test-app.ts";
import { dropDatabase, freshDatabaseUrl, memoryLogger } from "../testing/test-db.ts";
import { ConfigFile, ConfigFileError } from "./config-file.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PASSWORD = "config-file-admin-password";

const document = (port: number, extra = "") => `apiVersion: sqlguard/v1
kind: Configuration
dumpOptions:
  - name: file-profile
    compression: GZIP
    compressionLevel: 1
servers:
  - name: file-db
    engine: MARIADB
    host: 127.0.0.1
    port: ${port}
    username: backup
    password: \${env:FILE_DB_PASSWORD}
    labels: { env: staging }
    dumpOptions: file-profile
${extra}`;

const SECOND_SERVER = `  - name: file-pg
    engine: POSTGRESQL
    host: 127.0.0.1
    username: postgres
`;

let server: ServerProcess;
let databaseUrl: string;
let dataDir: string;
let file: string;
let admin: Awaited<ReturnType<typeof httpClient>>;

const DRIFT = `{ configurationDrift { file appliedAt differing objects { kind name change } } }`;

async function servers(): Promise<Array<{ name: string; port: number }>> {
  const r = await admin(`{ servers { name port } }`);
  expect(r.errors).toBeUndefined();
  return (r.data.servers as Array<{ name: string; port: number }>).sort((a, b) => a.name.localeCompare(b.name));
}

async function fileAudits(): Promise<Array<{ actor: string; action: string }>> {
  const r = await admin(`{ auditLog(first: 500) { nodes { actor action } } }`);
  return (r.data.auditLog.nodes as Array<{ actor: string; action: string }>).filter((e) => e.actor === "config-file");
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${server.output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

beforeAll(async () => {
  databaseUrl = freshDatabaseUrl("cfgfile");
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "sqlguard-cfgfile-"));
  file = path.join(dataDir, "sqlguard.yaml");
  await fs.writeFile(file, document(3306));
  server = await startServerProcess({
    DATABASE_URL: databaseUrl,
    SQLGUARD_PORT: String(await freePort()),
    SQLGUARD_DATA_DIR: dataDir,
    SQLGUARD_ADMIN_PASSWORD: PASSWORD,
    SQLGUARD_SCHEDULER_ENABLED: "false",
    SQLGUARD_CONFIG_FILE: file,
    FILE_DB_PASSWORD: "resolved-by-the-server",
  });
  admin = await httpClient(server.url, "admin", PASSWORD);
}, 90_000);

afterAll(async () => {
  await server?.stop();
  await dropDatabase(databaseUrl);
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe("SQLGUARD_CONFIG_FILE", () => {
  it("is applied at start: its objects exist, audited once by config-file, and nothing differs", async () => {
    expect(await servers()).toEqual([{ name: "file-db", port: 3306 }]);
    const profile = await admin(`{ dumpOptionsProfiles { name compression } }`);
    expect(profile.data.dumpOptionsProfiles).toContainEqual({ name: "file-profile", compression: "GZIP" });
    expect(await fileAudits()).toEqual([{ actor: "config-file", action: "configuration.apply" }]);
    // Applied before the server listened (and so before the scheduler, which starts after that).
    const log = server.output();
    expect(log.indexOf('"msg":"configuration file applied"')).toBeGreaterThan(-1);
    expect(log.indexOf('"msg":"configuration file applied"')).toBeLessThan(log.indexOf('"msg":"listening"'));
    const drift = (await admin(DRIFT)).data.configurationDrift;
    expect(drift).toMatchObject({ file, differing: 0, objects: [] });
    expect(Date.parse(drift.appliedAt)).toBeGreaterThan(Date.now() - 120_000);
  });

  it("is applied again on SIGHUP after an edit", async () => {
    await fs.writeFile(file, document(3310, SECOND_SERVER));
    server.child.kill("SIGHUP");
    await until("the edited file to be applied", async () => (await servers()).some((s) => s.name === "file-pg"));
    expect(await servers()).toEqual([
      { name: "file-db", port: 3310 },
      { name: "file-pg", port: 5432 },
    ]);
    expect(await fileAudits()).toHaveLength(2);
  });

  it("a bad file on SIGHUP is logged with its paths, changes nothing, and the server keeps serving", async () => {
    await fs.writeFile(file, document(3399, SECOND_SERVER).replace("    username: backup", "    username: backup\n    hostname: typo"));
    server.child.kill("SIGHUP");
    await until("the refusal in the log", () => server.output().includes("configuration file refused on SIGHUP"));
    expect(server.output()).toMatch(/servers\[0\]\.hostname/);
    expect(server.child.exitCode).toBeNull();
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    expect(await servers()).toEqual([
      { name: "file-db", port: 3310 },
      { name: "file-pg", port: 5432 },
    ]);
    expect(await fileAudits()).toHaveLength(2);
    // Drift is measured against the last document that was applied, not the refused one.
    expect((await admin(DRIFT)).data.configurationDrift.differing).toBe(0);
  });

  it("a change made through the API shows as drift from the file", async () => {
    const ids = (await admin(`{ servers { id name } }`)).data.servers as Array<{ id: number; name: string }>;
    const id = ids.find((s) => s.name === "file-db")!.id;
    const changed = await admin(`mutation($id: ID!) { updateServer(id: $id, input: { port: 3400 }) { port } }`, { id });
    expect(changed.errors).toBeUndefined();
    const drift = (await admin(DRIFT)).data.configurationDrift;
    expect(drift.differing).toBe(1);
    expect(drift.objects).toEqual([{ kind: "servers", name: "file-db", change: "UPDATE" }]);
    // A viewer sees it too (the dashboard banner); no session at all does not.
    const anonymous = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: DRIFT }),
    }).then((r) => r.json());
    expect(anonymous.errors[0].extensions.code).toBe("UNAUTHENTICATED");
  });

  it("a bad file at start stops the start (exit 2) with every problem named by its path", async () => {
    const badUrl = freshDatabaseUrl("cfgfilebad");
    const badFile = path.join(dataDir, "bad.yaml");
    await fs.writeFile(badFile, document(99999).replace("    username: backup", "    username: backup\n    hostname: typo"));
    try {
      const child = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "/tmp",
          DATABASE_URL: badUrl,
          SQLGUARD_HOST: "127.0.0.1",
          SQLGUARD_PORT: String(await freePort()),
          SQLGUARD_DATA_DIR: dataDir,
          SQLGUARD_ADMIN_PASSWORD: PASSWORD,
          SQLGUARD_SCHEDULER_ENABLED: "false",
          SQLGUARD_CONFIG_FILE: badFile,
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
      child.stdout.resume();
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      expect(code).toBe(2);
      expect(stderr).toContain(`SQLGUARD_CONFIG_FILE ${badFile} is refused`);
      expect(stderr).toMatch(/servers\[0\]\.hostname: unknown field/);
      expect(stderr).toMatch(/servers\[0\]\.port: /);
    } finally {
      await dropDatabase(badUrl);
    }
  }, 90_000);
});

describe("ConfigFile in process: SQLGUARD_CONFIG_PRUNE, a missing file, applies one at a time", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let dir: string;
  beforeAll(async () => {
    app = await createTestApp({ secretEnv: {} });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "sqlguard-cfgfile-unit-"));
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const pruned = `apiVersion: sqlguard/v1
kind: Configuration
servers:
  - name: only-db
    engine: POSTGRESQL
    host: 127.0.0.1
    username: postgres
users:
  - username: admin
    role: ADMIN
`;

  it("with prune, deletes what the file does not name, and drift then shows a console-made object as a delete", async () => {
    const file = path.join(dir, "pruned.yaml");
    await fs.writeFile(file, pruned);
    const admin = await app.as("ADMIN");
    expect((await admin(`mutation { createDumpOptions(input: { name: "before-file" }) { id } }`)).errors).toBeUndefined();
    const configFile = new ConfigFile({ configuration: app.services.configuration, logger: memoryLogger().logger, path: file, prune: true });
    const first = await configFile.apply();
    expect(first.applied).toBe(true);
    expect(first.changes).toContainEqual(expect.objectContaining({ action: "DELETE", section: "dumpOptions", name: "before-file" }));
    expect(await app.db.prisma.dumpOptions.count({ where: { name: "before-file" } })).toBe(0);
    expect((await app.db.prisma.server.findMany({ select: { name: true } })).map((s) => s.name)).toEqual(["only-db"]);
    const audit = await app.db.prisma.auditLog.findFirst({ where: { action: "configuration.apply" }, orderBy: { id: "desc" } });
    expect(audit?.actor).toBe("config-file");

    // The file prunes every user it does not name, so the test's admin (and its token) went too.
    expect((await admin(`{ me { username } }`)).errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const fileAdmin = await app.db.prisma.user.findUniqueOrThrow({ where: { username: "admin" } });
    await app.services.dumpOptions.create({ userId: fileAdmin.id, username: "admin", role: "ADMIN", via: "session" }, { name: "after-file" });
    const drift = await configFile.drift({ userId: fileAdmin.id, username: "admin", role: "VIEWER", via: "session" });
    expect(drift).toMatchObject({ file, differing: 1, objects: [{ kind: "dumpOptions", name: "after-file", change: "DELETE" }] });
  });

  it("a user that differs is named to admins only", async () => {
    const file = path.join(dir, "users.yaml");
    await fs.writeFile(file, `${pruned}  - username: ops-lead\n    role: OPERATOR\n`);
    const configFile = new ConfigFile({ configuration: app.services.configuration, logger: memoryLogger().logger, path: file, prune: false });
    await configFile.apply();
    await app.db.prisma.user.update({ where: { username: "ops-lead" }, data: { role: "VIEWER" } });
    const admin = await app.db.prisma.user.findUniqueOrThrow({ where: { username: "admin" } });
    const asAdmin = await configFile.drift({ userId: admin.id, username: "admin", role: "ADMIN", via: "session" });
    expect(asAdmin.objects).toEqual([{ kind: "users", name: "ops-lead", change: "UPDATE" }]);
    const asViewer = await configFile.drift({ userId: admin.id, username: "someone", role: "VIEWER", via: "session" });
    expect(asViewer).toMatchObject({ differing: 1, objects: [{ kind: "users", name: "(a user)", change: "UPDATE" }] });
    await expect(configFile.drift(null)).rejects.toThrow(/authentication required/);
  });

  it("two applies at once run one after the other: the second finds nothing to change", async () => {
    const file = path.join(dir, "twice.yaml");
    await fs.writeFile(file, pruned.replace("only-db", "twice-db"));
    const configFile = new ConfigFile({ configuration: app.services.configuration, logger: memoryLogger().logger, path: file, prune: false });
    const [a, b] = await Promise.all([configFile.apply(), configFile.apply()]);
    expect(a.applied).toBe(true);
    expect(b).toMatchObject({ applied: false, empty: true });
  });

  it("a missing file is a ConfigFileError naming SQLGUARD_CONFIG_FILE, and changes nothing", async () => {
    const configFile = new ConfigFile({
      configuration: app.services.configuration,
      logger: memoryLogger().logger,
      path: path.join(dir, "nope.yaml"),
      prune: true,
    });
    const servers = await app.db.prisma.server.count();
    const error = await configFile.apply().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigFileError);
    expect((error as ConfigFileError).problems).toEqual([{ field: "SQLGUARD_CONFIG_FILE", problem: "cannot be read (ENOENT)" }]);
    expect(await configFile.reload()).toBe(false);
    expect(await app.db.prisma.server.count()).toBe(servers);
  });
});
