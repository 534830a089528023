// `sqlguard config export|diff|apply` against a real server process, over HTTP with an API token:
// the exit codes a CI job gates on (0 matches, 2 differs, 1 error), the plan it prints, and that
// neither the token nor a secret ever appears in what it prints.
import { spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, httpClient, type ServerProcess, startServerProcess } from "../testing/server-process.ts";
import { dropDatabase, freshDatabaseUrl } from "../testing/test-db.ts";
import { runCli } from "./testing/run-cli.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PASSWORD = "config-cli-admin-password";
const DB_SECRET = "db-secret-value-1";
const ROTATED = "rotated-secret-value-2";

let server: ServerProcess;
let databaseUrl: string;
let dataDir: string;
let admin: Awaited<ReturnType<typeof httpClient>>;
let token: string;
let serverId: number;
let exported: string;

/** Runs the CLI synchronously, for what runCli cannot do: a document on stdin, or a terminal (util-linux `script` gives it a pty). */
function cliSync(command: string[], extra: Record<string, string> = {}, input?: string) {
  const r = spawnSync(command[0]!, command.slice(1), {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", SQLGUARD_URL: server.url, SQLGUARD_TOKEN: token, ...extra },
    input,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const cli = (args: string[], extra: Record<string, string> = {}) => runCli(["config", ...args], { SQLGUARD_URL: server.url, SQLGUARD_TOKEN: token, ...extra });

beforeAll(async () => {
  databaseUrl = freshDatabaseUrl("cfgcli");
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "sqlguard-cfgcli-"));
  server = await startServerProcess({
    DATABASE_URL: databaseUrl,
    SQLGUARD_PORT: String(await freePort()),
    SQLGUARD_DATA_DIR: dataDir,
    SQLGUARD_ADMIN_PASSWORD: PASSWORD,
    SQLGUARD_SCHEDULER_ENABLED: "false",
    // The placeholder export writes for the server's password, resolved by the server (where the document is applied).
    SQLGUARD_SECRET_SERVER_SHOP_DB: DB_SECRET,
  });
  admin = await httpClient(server.url, "admin", PASSWORD);
  const minted = await admin(`mutation { createApiToken(name: "ci", role: ADMIN) { token } }`);
  token = minted.data.createApiToken.token;
  const created = await admin(
    `mutation($p: String) { createServer(input: { name: "shop-db", engine: MARIADB, host: "127.0.0.1", port: 3306, username: "backup", password: $p, labels: [{ key: "env", value: "prod" }] }) { id } }`,
    { p: DB_SECRET },
  );
  expect(created.errors).toBeUndefined();
  serverId = Number(created.data.createServer.id);
}, 90_000);

afterAll(async () => {
  await server?.stop();
  await dropDatabase(databaseUrl);
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe("sqlguard config against a running server", () => {
  it("exports to a file: YAML with the server, its secret as a placeholder", async () => {
    const file = path.join(dataDir, "sqlguard.yaml");
    const r = await cli(["export", "-o", file]);
    expect(r.code, r.stderr).toBe(0);
    exported = await fs.readFile(file, "utf8");
    expect(exported).toMatch(/^apiVersion: sqlguard\/v1/m);
    expect(exported).toContain("name: shop-db");
    expect(exported).toContain(`\${env:SQLGUARD_SECRET_SERVER_SHOP_DB}`);
    expect(exported).not.toContain(DB_SECRET);
    // Without -o the document goes to stdout, the same text.
    const toStdout = await cli(["export"]);
    expect(toStdout.code).toBe(0);
    expect(toStdout.stdout).toBe(exported.endsWith("\n") ? exported : `${exported}\n`);
  });

  it("without SQLGUARD_CONFIG_FILE the server reports no drift (configurationDrift is null)", async () => {
    const r = await admin(`{ configurationDrift { differing } }`);
    expect(r.errors).toBeUndefined();
    expect(r.data.configurationDrift).toBeNull();
  });

  it("diff of the export exits 0: the installation matches", async () => {
    const r = await cli(["diff", "-f", path.join(dataDir, "sqlguard.yaml")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("No changes");
  });

  it("after a change through GraphQL, diff exits 2 and names the change (JSON and text, no colour on a pipe, no secret)", async () => {
    const changed = await admin(`mutation($id: ID!, $p: String) { updateServer(id: $id, input: { port: 3307, password: $p }) { port } }`, {
      id: serverId,
      p: ROTATED,
    });
    expect(changed.errors).toBeUndefined();
    const file = path.join(dataDir, "sqlguard.yaml");
    const json = await cli(["diff", "-f", file, "--output", "json"]);
    expect(json.code, json.stderr).toBe(2);
    const plan = JSON.parse(json.stdout);
    expect(plan.empty).toBe(false);
    expect(plan.changes).toEqual([
      {
        action: "UPDATE",
        kind: "servers",
        name: "shop-db",
        fields: expect.arrayContaining([
          { field: "port", before: 3307, after: 3306, secret: false },
          { field: "password", before: "set", after: "changed", secret: true },
        ]),
      },
    ]);
    expect(plan.changes[0].fields).toHaveLength(2);

    const text = await cli(["diff", "-f", file]);
    expect(text.code).toBe(2);
    expect(text.stdout).toContain("~ servers shop-db");
    expect(text.stdout).toContain("port: 3307 → 3306");
    expect(text.stdout).toContain("password: changed (secret)");
    expect(text.stdout).toContain("0 to create, 1 to update, 0 to delete.");
    expect(text.stdout).not.toContain("\u001b[");
    for (const out of [json.stdout + json.stderr, text.stdout + text.stderr]) {
      expect(out).not.toContain(ROTATED);
      expect(out).not.toContain(DB_SECRET);
      expect(out).not.toContain(token);
    }
  });

  it("apply --dry-run changes nothing; apply exits 0, then diff exits 0 again", async () => {
    const file = path.join(dataDir, "sqlguard.yaml");
    const dry = await cli(["apply", "-f", file, "--dry-run", "--output", "json"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, applied: false, empty: false });
    expect((await admin(`{ server(id: ${serverId}) { port } }`)).data.server.port).toBe(3307);

    const applied = await cli(["apply", "-f", file]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain("Applied: 0 to create, 1 to update, 0 to delete.");
    expect((await admin(`{ server(id: ${serverId}) { port } }`)).data.server.port).toBe(3306);
    const again = await cli(["diff", "-f", file]);
    expect(again.code, again.stdout).toBe(0);
  });

  it("an object the file does not name differs only with --prune, shown as a delete", async () => {
    const extra = await admin(`mutation { createDumpOptions(input: { name: "made-in-console" }) { id } }`);
    expect(extra.errors).toBeUndefined();
    const file = path.join(dataDir, "sqlguard.yaml");
    expect((await cli(["diff", "-f", file])).code).toBe(0);
    const pruned = await cli(["diff", "-f", file, "--prune", "--output", "json"]);
    expect(pruned.code, pruned.stderr).toBe(2);
    expect(JSON.parse(pruned.stdout).changes).toEqual([expect.objectContaining({ action: "DELETE", kind: "dumpOptions", name: "made-in-console" })]);

    // On a terminal the delete is red; NO_COLOR turns colour off there too.
    const onTty = (extra: Record<string, string> = {}) =>
      cliSync(["script", "-qec", `${process.execPath} bin/sqlguard.mjs config diff -f ${file} --prune`, "/dev/null"], extra);
    const coloured = onTty();
    expect(coloured.code, coloured.stdout).toBe(2);
    expect(coloured.stdout).toContain("\u001b[31m- dumpOptions made-in-console\u001b[0m");
    const plain = onTty({ NO_COLOR: "1" });
    expect(plain.code).toBe(2);
    expect(plain.stdout).toContain("- dumpOptions made-in-console");
    expect(plain.stdout).not.toContain("\u001b[");
  });

  it("-f - reads the document from stdin", async () => {
    const r = cliSync([process.execPath, "bin/sqlguard.mjs", "config", "diff", "-f", "-", "--output", "json"], {}, exported);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ empty: true, changes: [] });
  });

  it("a bad document exits 1 with every problem named by its path, and changes nothing", async () => {
    const bad = path.join(dataDir, "bad.yaml");
    await fs.writeFile(bad, exported.replace("name: shop-db", "name: shop-db\n    hostname: typo").replace(/port: 3306/, "port: 99999"));
    const r = await cli(["apply", "-f", bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the document is refused (nothing was changed)");
    expect(r.stderr).toMatch(/servers\[\d+\]\.hostname: unknown field/);
    expect(r.stderr).toMatch(/servers\[\d+\]\.port: /);
    expect((await cli(["diff", "-f", path.join(dataDir, "sqlguard.yaml")])).code).toBe(0);
  });

  it("a wrong token, an unreachable server and a missing file exit 1 with a clear message, never the token", async () => {
    const wrong = "sqlg_not-a-real-token-but-secret-looking";
    const refused = await cli(["export"], { SQLGUARD_TOKEN: wrong });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("refused SQLGUARD_TOKEN");
    expect(refused.stdout + refused.stderr).not.toContain(wrong);

    const gone = await cli(["diff", "-f", path.join(dataDir, "sqlguard.yaml")], { SQLGUARD_URL: `http://127.0.0.1:${await freePort()}` });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/cannot reach the SQLGuard server at http:\/\/127\.0\.0\.1:\d+\/graphql: ECONNREFUSED/);
    expect(gone.stdout + gone.stderr).not.toContain(token);

    const missing = await cli(["diff", "-f", path.join(dataDir, "nope.yaml")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("nope.yaml (ENOENT)");

    const viewer = (await admin(`mutation { createApiToken(name: "read-only", role: VIEWER) { token } }`)).data.createApiToken.token as string;
    const notAdmin = await cli(["diff", "-f", path.join(dataDir, "sqlguard.yaml")], { SQLGUARD_TOKEN: viewer });
    expect(notAdmin.code).toBe(1);
    expect(notAdmin.stderr).toContain("needs a token with the admin role");
    expect(notAdmin.stderr).not.toContain(viewer);

    const withCredentials = await cli(["export"], { SQLGUARD_URL: server.url.replace("http://", "http://admin:pw@") });
    expect(withCredentials.code).toBe(1);
    expect(withCredentials.stderr).toContain("SQLGUARD_URL: must not hold credentials");

    const noToken = await runCli(["config", "export"], { SQLGUARD_URL: server.url });
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain("SQLGUARD_TOKEN: is not set");
  });
});
