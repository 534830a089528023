// Boots the real server process (`node --import tsx server/main.ts`) against a fresh metadata
// database, as an operator would, and checks what it prints, serves and leaves behind.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { connect, parseDatabaseUrl } from "./db/connection.ts";
import { readMigrations } from "./db/migrator.ts";
import { dropDatabase, freshDatabaseUrl } from "./testing/test-db.ts";
import { freePort } from "./testing/server-process.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BOOT_TIMEOUT_MS = 60_000;
const TEST_TIMEOUT_MS = 90_000;
const PASSWORD_BANNER = /created the user "admin" with the password:\s+(\S+)/;

type Exit = { code: number | null; signal: NodeJS.Signals | null };
type Running = {
  child: ChildProcess;
  port: number;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<Exit>;
  hasExited: () => boolean;
  base: string;
};

const children: Running[] = [];
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const running of children.splice(0)) {
    if (!running.hasExited()) {
      running.child.kill("SIGKILL");
      await running.exited;
    }
  }
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fresh database URL and an empty data directory, both removed after the test. */
async function installation(): Promise<{ databaseUrl: string; dataDir: string }> {
  const databaseUrl = freshDatabaseUrl("main");
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "sqlguard-main-"));
  cleanups.push(() => dropDatabase(databaseUrl));
  cleanups.push(() => fs.rm(dataDir, { recursive: true, force: true }));
  return { databaseUrl, dataDir };
}

/** The parent's environment without any SQLGuard setting, so the test decides them all. */
function cleanEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !e[0].startsWith("SQLGUARD_") && e[0] !== "DATABASE_URL"),
  );
}

/** Spawns the server with the given settings; the child is killed after the test if still alive. */
async function start(settings: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], {
    cwd: ROOT,
    env: { ...cleanEnv(), SQLGUARD_PORT: String(port), SQLGUARD_HOST: "127.0.0.1", SQLGUARD_LOG_LEVEL: "info", ...settings },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let done = false;
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<Exit>((resolve) => {
    child.on("error", (error) => {
      err += `spawn error: ${error.message}\n`;
      done = true;
      resolve({ code: null, signal: null });
    });
    child.on("close", (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  const running: Running = {
    child,
    port,
    stdout: () => out,
    stderr: () => err,
    exited,
    hasExited: () => done,
    base: `http://127.0.0.1:${port}`,
  };
  children.push(running);
  return running;
}

function describeOutput(running: Running): string {
  return `\n--- stdout ---\n${running.stdout()}\n--- stderr ---\n${running.stderr()}`;
}

/** Polls until `check` returns a value, failing early (with the child's output) if the server exits. */
async function waitFor<T>(running: Running, what: string, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (running.hasExited()) throw new Error(`server exited while waiting for ${what}${describeOutput(running)}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${describeOutput(running)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until /readyz answers 200 (migrated, seeded and listening). */
async function waitUntilReady(running: Running): Promise<void> {
  await waitFor(running, "/readyz 200", async () => {
    try {
      const response = await fetch(`${running.base}/readyz`, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      return response.status === 200 ? true : undefined;
    } catch {
      return undefined; // not listening yet
    }
  });
}

/** Sends SIGTERM and returns how the process ended. */
async function stop(running: Running): Promise<Exit> {
  running.child.kill("SIGTERM");
  return running.exited;
}

async function gql(
  running: Running,
  query: string,
  headers: Record<string, string> = {},
): Promise<{ response: Response; body: { data?: Record<string, any> | null; errors?: Array<{ message: string; extensions?: { code?: string } }> } }> {
  const response = await fetch(`${running.base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...headers },
    body: JSON.stringify({ query }),
  });
  return { response, body: (await response.json()) as any };
}

/** Logs in and returns the `Cookie` header value for the session. */
async function login(running: Running, password: string): Promise<string> {
  const { response, body } = await gql(running, `mutation { login(username: "admin", password: ${JSON.stringify(password)}) { username role } }`);
  expect(body.errors).toBeUndefined();
  expect(body.data?.login).toEqual({ username: "admin", role: "ADMIN" });
  const setCookie = response.headers.getSetCookie().find((c) => c.startsWith("sqlguard_session="));
  expect(setCookie, "session cookie").toBeDefined();
  return setCookie!.split(";")[0]!;
}

/** The JSON log lines the server wrote to stdout. */
function logLines(running: Running): Array<Record<string, unknown>> {
  return running
    .stdout()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function appliedMigrationCount(databaseUrl: string): Promise<number> {
  const conn = await connect(parseDatabaseUrl(databaseUrl));
  try {
    const [row] = await conn.query("SELECT COUNT(*) AS n FROM _prisma_migrations WHERE finished_at IS NOT NULL");
    return Number(row.n);
  } finally {
    await conn.end();
  }
}

async function databaseExists(databaseUrl: string): Promise<boolean> {
  const settings = parseDatabaseUrl(databaseUrl);
  const conn = await connect(settings, { withDatabase: false });
  try {
    const rows: unknown[] = await conn.query("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", [settings.database]);
    return rows.length > 0;
  } finally {
    await conn.end();
  }
}

describe("server process", () => {
  it(
    "boots on a new database: ready, healthy, and refusing anonymous GraphQL",
    async () => {
      const { databaseUrl, dataDir } = await installation();
      const server = await start({ DATABASE_URL: databaseUrl, SQLGUARD_DATA_DIR: dataDir });
      await waitUntilReady(server);

      const ready = await fetch(`${server.base}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: "ready" });
      const health = await fetch(`${server.base}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: "ok" });

      const anonymous = await gql(server, "{ servers { id } }");
      expect(anonymous.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
      expect(anonymous.body.data ?? null).toBeNull();
      expect(anonymous.response.headers.getSetCookie()).toEqual([]);

      const shipped = (await readMigrations()).map((m) => m.name);
      const logs = logLines(server);
      expect(logs.filter((l) => l.msg === "migration applied").map((l) => l.migration)).toEqual(shipped);
      expect(logs.find((l) => l.msg === "metadata database migrated")).toMatchObject({ applied: shipped.length });
      expect(logs.find((l) => l.msg === "listening")).toMatchObject({ url: server.base });
      expect(await appliedMigrationCount(databaseUrl)).toBe(shipped.length);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "prints a generated admin password once, outside the JSON log, that logs in and sees the defaults",
    async () => {
      const { databaseUrl, dataDir } = await installation();
      const server = await start({ DATABASE_URL: databaseUrl, SQLGUARD_DATA_DIR: dataDir });
      await waitUntilReady(server);
      const password = await waitFor(server, "the admin password on stdout", () => server.stdout().match(PASSWORD_BANNER)?.[1]);

      expect(server.stdout().match(new RegExp(PASSWORD_BANNER.source, "g"))).toHaveLength(1);
      expect(server.stdout().split(password)).toHaveLength(2);
      expect(logLines(server).some((l) => JSON.stringify(l).includes(password))).toBe(false);
      expect(server.stderr()).not.toContain(password);

      const wrong = await gql(server, `mutation { login(username: "admin", password: "not-the-password") { username } }`);
      expect(wrong.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");

      const cookie = await login(server, password);
      const { body } = await gql(server, "{ storageTargets { name kind } schedules { name cronExpression } }", { cookie });
      expect(body.errors).toBeUndefined();
      expect(body.data?.storageTargets).toEqual([{ name: "local", kind: "LOCAL" }]);
      expect([...body.data!.schedules].sort((a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name))).toEqual([
        { name: "daily", cronExpression: "0 0 * * *" },
        { name: "hourly", cronExpression: "0 * * * *" },
        { name: "monthly", cronExpression: "0 0 1 * *" },
        { name: "weekly", cronExpression: "0 0 * * 0" },
      ]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "keeps its generated secret key in the data directory with mode 0600 and exits 0 on SIGTERM",
    async () => {
      const { databaseUrl, dataDir } = await installation();
      const server = await start({ DATABASE_URL: databaseUrl, SQLGUARD_DATA_DIR: dataDir });
      await waitUntilReady(server);

      const stat = await fs.stat(path.join(dataDir, "secret.key"));
      expect(stat.isFile()).toBe(true);
      expect(stat.mode & 0o777).toBe(0o600);
      expect((await fs.readFile(path.join(dataDir, "secret.key"), "utf8")).trim()).toMatch(/^[0-9a-f]{64}$/);

      // An open keep-alive connection must not hold the shutdown up.
      await (await fetch(`${server.base}/healthz`)).text();
      expect(await stop(server)).toEqual({ code: 0, signal: null });
      const messages = logLines(server).map((l) => l.msg);
      expect(messages.indexOf("shutting down")).toBeGreaterThan(-1);
      expect(messages.indexOf("stopped")).toBeGreaterThan(messages.indexOf("shutting down"));
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "restarts on the same database without migrating, seeding or printing a password again",
    async () => {
      const { databaseUrl, dataDir } = await installation();
      const first = await start({ DATABASE_URL: databaseUrl, SQLGUARD_DATA_DIR: dataDir });
      await waitUntilReady(first);
      const password = await waitFor(first, "the admin password on stdout", () => first.stdout().match(PASSWORD_BANNER)?.[1]);
      expect(await stop(first)).toEqual({ code: 0, signal: null });
      const migrationsBefore = await appliedMigrationCount(databaseUrl);
      const keyBefore = await fs.readFile(path.join(dataDir, "secret.key"), "utf8");

      const second = await start({ DATABASE_URL: databaseUrl, SQLGUARD_DATA_DIR: dataDir });
      await waitUntilReady(second);

      const logs = logLines(second);
      expect(logs.find((l) => l.msg === "metadata database migrated")).toMatchObject({ applied: 0 });
      expect(logs.some((l) => l.msg === "migration applied")).toBe(false);
      expect(logs.some((l) => typeof l.msg === "string" && l.msg.startsWith("first start"))).toBe(false);
      expect(await appliedMigrationCount(databaseUrl)).toBe(migrationsBefore);
      expect(second.stdout()).not.toMatch(PASSWORD_BANNER);
      expect(second.stdout()).not.toContain(password);
      expect(await fs.readFile(path.join(dataDir, "secret.key"), "utf8")).toBe(keyBefore);

      // The first start's password still works, and the defaults were not created twice.
      const cookie = await login(second, password);
      const { body } = await gql(second, "{ storageTargets { name } schedules { name } }", { cookie });
      expect(body.data?.storageTargets).toHaveLength(1);
      expect(body.data?.schedules).toHaveLength(4);
      expect(await stop(second)).toEqual({ code: 0, signal: null });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "exits with code 2 naming every bad variable, before touching the database",
    async () => {
      const { databaseUrl, dataDir } = await installation();
      const server = await start({ DATABASE_URL: databaseUrl, SQLGUARD_DATA_DIR: dataDir, SQLGUARD_PORT: "abc", SQLGUARD_LOG_LEVEL: "loud" });

      const exit = await Promise.race([
        server.exited,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit${describeOutput(server)}`)), BOOT_TIMEOUT_MS).unref()),
      ]);

      expect(exit).toEqual({ code: 2, signal: null });
      expect(server.stderr()).toMatch(/invalid configuration/);
      expect(server.stderr()).toMatch(/SQLGUARD_PORT: /);
      expect(server.stderr()).toMatch(/SQLGUARD_LOG_LEVEL: /);
      expect(server.stdout()).toBe("");
      expect(await databaseExists(databaseUrl)).toBe(false);
      expect(await fs.readdir(dataDir)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});
