// The compiled build as production runs it: scripts/build-server.mjs bundles the server, and the
// bundle (plain node, npm start's flags, no tsx) migrates a fresh metadata database, serves /healthz,
// GraphQL and the console, and at startup loads none of the packages that are only needed later
// (AWS SDK, nodemailer, qrcode, openid-client, yaml) nor Next.js or tsx, and Prisma's query compiler
// comes from a .wasm file written by the build. Module loads are recorded by an ESM resolve hook.
import { execFileSync, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../server/db/connection.ts";
import { freePort, httpClient } from "../server/testing/server-process.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
// Inside the repository (gitignored), so that the bundle resolves node_modules as dist/ does.
const OUT = path.join(ROOT, ".scratch", `build-test-${crypto.randomBytes(4).toString("hex")}`);
const METADATA = `sqlguard_build_test_${crypto.randomBytes(4).toString("hex")}`;
const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-build-test-"));
const loads = path.join(work, "resolved.txt");
const HOOKS = `
import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(${JSON.stringify(loads)}, result.url + "\\n");
  return result;
}`;

let child: ReturnType<typeof spawn>;
let url = "";
let output = "";

beforeAll(async () => {
  execFileSync(process.execPath, ["scripts/build-server.mjs", "--outdir", OUT], { cwd: ROOT, encoding: "utf8" });
  fs.writeFileSync(path.join(work, "hooks.mjs"), HOOKS);
  fs.writeFileSync(
    path.join(work, "register.mjs"),
    `import { register } from "node:module"; register(${JSON.stringify(`file://${path.join(work, "hooks.mjs")}`)});`,
  );
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  child = spawn(
    process.execPath,
    ["--max-semi-space-size=4", "--heap-growing-percent=100", "--import", path.join(work, "register.mjs"), path.join(OUT, "main.js")],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        DATABASE_URL: `mysql://root@127.0.0.1:3306/${METADATA}`,
        SQLGUARD_PORT: String(port),
        SQLGUARD_HOST: "127.0.0.1",
        SQLGUARD_DATA_DIR: path.join(work, "data"),
        SQLGUARD_ADMIN_PASSWORD: "build-test-password-1",
        SQLGUARD_SCHEDULER_ENABLED: "false",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`the compiled server exited:\n${output}`);
    if (
      await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (i > 400) throw new Error(`the compiled server was not ready:\n${output}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}, 120_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
  const conn = await connect({ host: "127.0.0.1", port: 3306, user: "root", database: "" }, { withDatabase: false });
  await conn.query(`DROP DATABASE IF EXISTS ${METADATA}`).finally(() => conn.end());
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
});

describe("scripts/build-server.mjs", () => {
  it("writes ESM entry points with sourcemaps and keeps node_modules external", () => {
    for (const file of ["main.js", "main.js.map", "cli.js", "cli.js.map"]) expect(fs.existsSync(path.join(OUT, file)), file).toBe(true);
    const main = fs.readFileSync(path.join(OUT, "main.js"), "utf8");
    // node_modules stay external: yoga is imported (by the chunk main loads for the api role), not inlined.
    const chunks = fs.readdirSync(OUT).filter((f) => f.endsWith(".js"));
    const importing = chunks.filter((f) => /from "graphql-yoga"/.test(fs.readFileSync(path.join(OUT, f), "utf8")));
    expect(importing.length, "a chunk importing graphql-yoga").toBeGreaterThan(0);
    expect(
      chunks.some((f) => /function createYoga\(/.test(fs.readFileSync(path.join(OUT, f), "utf8"))),
      "yoga inlined",
    ).toBe(false);
    expect(main).not.toMatch(/require\(/);
    expect(main).toMatch(/sourceMappingURL=main\.js\.map/);
  });

  it("the bundle serves /healthz, GraphQL and the console from a fresh metadata database", async () => {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const gql = await httpClient(url, "admin", "build-test-password-1");
    const r = await gql("{ storageTargets { name kind } me { username } }");
    expect(r.errors).toBeUndefined();
    expect(r.data.me.username).toBe("admin");
    // Seeded on first start: the local target (the migrations and seeding ran from the bundle).
    expect(r.data.storageTargets.map((t: { kind: string }) => t.kind)).toContain("LOCAL");
    const metrics = await fetch(`${url}/metrics`);
    expect(await metrics.text()).toMatch(/sqlguard_/);
    if (fs.existsSync(path.join(ROOT, "console/out/index.html"))) {
      const page = await fetch(`${url}/`);
      expect(page.headers.get("content-type")).toMatch(/text\/html/);
    }
  });

  it("ships Prisma's query compiler as a .wasm file, not the base64 string module", () => {
    const wasm = fs.readFileSync(path.join(OUT, "query_compiler_small_bg.mysql.wasm"));
    expect(WebAssembly.validate(wasm)).toBe(true);
    const chunks = fs.readdirSync(OUT).filter((f) => f.endsWith(".js"));
    expect(chunks.filter((f) => fs.readFileSync(path.join(OUT, f), "utf8").includes("wasm-base64"))).toEqual([]);
    // The queries of the test above ran through it; the string module was never loaded.
    const resolved = fs.readFileSync(loads, "utf8").split("\n");
    expect(resolved.filter((u) => u.includes("wasm-base64"))).toEqual([]);
  });

  it("loads no tsx, Next.js, AWS SDK, nodemailer, qrcode, openid-client or yaml at startup", () => {
    const resolved = fs.readFileSync(loads, "utf8").split("\n").filter(Boolean);
    // The record works: the bundle and the packages it imports are in it.
    expect(resolved.some((u) => u.endsWith("/main.js"))).toBe(true);
    expect(resolved.some((u) => u.includes("/node_modules/graphql-yoga/"))).toBe(true);
    for (const lazy of [
      "/node_modules/tsx/",
      "/node_modules/next/",
      "/node_modules/@aws-sdk/",
      "/node_modules/nodemailer/",
      "/node_modules/qrcode/",
      "/node_modules/openid-client/",
      "/node_modules/yaml/",
    ]) {
      expect(
        resolved.filter((u) => u.includes(lazy)),
        lazy,
      ).toEqual([]);
    }
    expect(
      resolved.filter((u) => u.endsWith(".ts")),
      "no TypeScript source loaded",
    ).toEqual([]);
  });
});
