// /healthz latency of a real server process while a hostile client sends refused GraphQL documents
// in a loop: a 3.9 MB body of 200,000 aliases, 100 aliases, 5,000 tokens, a depth-10 query and a
// fan-out of nested lists as a VIEWER, field-suggestion probes, form-encoded and multipart POSTs with
// the session cookie. The hostile client runs in worker threads so that the probe measures the
// server, not its own event loop. Prints p50/p99/max per phase and the server's memory.
// Usage: npm run bench:edge [-- --seconds 20 --clients 1 --servers 100 --only huge-body-200k-aliases]
import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";

type Shot = { name: string; method: string; headers: Record<string, string>; body: string };

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) || fallback : fallback;
};

/** One request; resolves with its status (0: the server closed the connection, as it does on a refused upload). */
function send(url: string, shot: Pick<Shot, "method" | "headers" | "body">, timeoutMs = 30_000): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: shot.method, headers: shot.headers, timeout: timeoutMs }, (res) => {
      res.resume().on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", () => resolve(res.statusCode ?? 0));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
    req.end(shot.body || undefined);
  });
}

/**
 * A hostile client, as plain JavaScript for an eval worker (workers do not get tsx's loader): sends
 * its shots in a loop until told to stop, then reports the statuses it got.
 */
const HOSTILE_CLIENT = `
const http = require("node:http");
const { parentPort, workerData } = require("node:worker_threads");
function send(url, shot) {
  return new Promise((resolve) => {
    const req = http.request(url, { method: shot.method, headers: shot.headers, timeout: 30000 }, (res) => {
      res.resume().on("end", () => resolve(res.statusCode));
      res.on("error", () => resolve(res.statusCode));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
    req.end(shot.body || undefined);
  });
}
(async () => {
  const { url, shots } = workerData;
  let running = true;
  parentPort.on("message", () => (running = false));
  const statuses = {};
  let sent = 0;
  while (running) {
    for (const shot of shots) {
      if (!running) break;
      const status = await send(url + "/graphql", shot);
      statuses[shot.name + " " + status] = (statuses[shot.name + " " + status] ?? 0) + 1;
      sent++;
    }
  }
  parentPort.postMessage({ sent, statuses });
})();
`;

await main();

async function main(): Promise<void> {
  const { freePort, startServerProcess } = await import("../server/testing/server-process.ts");
  const { dropDatabase, freshDatabaseUrl } = await import("../server/testing/test-db.ts");
  const { createPrisma } = await import("../server/db/client.ts");
  const seconds = arg("seconds", 20);
  const clients = arg("clients", 1);
  const serverCount = arg("servers", 100);
  const databaseUrl = freshDatabaseUrl("bench_edge");
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "sqlguard-bench-edge-"));
  const port = await freePort();
  const password = "bench-admin-password";
  const server = await startServerProcess({
    DATABASE_URL: databaseUrl,
    SQLGUARD_PORT: String(port),
    SQLGUARD_DATA_DIR: dataDir,
    SQLGUARD_ADMIN_PASSWORD: password,
    SQLGUARD_LOG_LEVEL: "error",
    SQLGUARD_SCHEDULER_ENABLED: "false",
  });
  const prisma = createPrisma(databaseUrl);
  try {
    // Enough configuration that a fan-out of nested lists would be heavy if it ran.
    const profile = await prisma.dumpOptions.findFirstOrThrow();
    await prisma.server.createMany({
      data: Array.from({ length: serverCount }, (_, i) => ({
        name: `bench-${i}`,
        engine: "MARIADB" as const,
        host: "127.0.0.1",
        port: 3306,
        username: "root",
        labels: { env: i % 2 ? "prod" : "staging" },
        includeDatabases: [],
        excludeDatabases: [],
        dumpOptionsId: profile.id,
      })),
    });
    const login = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: `mutation($p: String!) { login(username: "admin", password: $p) { id } }`, variables: { p: password } }),
    });
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const minted = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie },
      body: JSON.stringify({ query: `mutation { createApiToken(name: "bench viewer", role: VIEWER) { token } }` }),
    }).then((r) => r.json() as Promise<{ data: { createApiToken: { token: string } } }>);
    const viewer = `Bearer ${minted.data.createApiToken.token}`;

    const json = (name: string, query: string, headers: Record<string, string> = {}): Shot => ({
      name,
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ query }),
    });
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: __typename`).join(" ")} }`;
    const levels = Array.from({ length: 9 }, (_, i) => (i % 2 === 0 ? "servers" : "dumpOptions"));
    const depth10 = `{ ${levels.map((l) => `${l} {`).join(" ")} id ${"}".repeat(levels.length)} }`;
    const mint = `mutation { createApiToken(name: "bench-form", role: ADMIN) { token } }`;
    const boundary = "----bench";
    const shots: Shot[] = [
      json("huge-body-200k-aliases", aliases(200_000)),
      json("100-aliases", aliases(100)),
      json("5000-tokens", `{ ${"__typename ".repeat(5_000)} }`),
      json("depth-10-viewer", depth10, { authorization: viewer }),
      json("fan-out-viewer", "{ schedules { servers { dumpOptions { servers { id name labels { key value } } } } } }", { authorization: viewer }),
      json("field-suggestions", "{ mee { usernam } }"),
      {
        name: "form-urlencoded",
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie },
        body: new URLSearchParams({ query: mint }).toString(),
      },
      {
        name: "multipart",
        method: "POST",
        headers: { "content-type": `multipart/form-data; boundary=${boundary}`, cookie },
        body: [`--${boundary}`, 'Content-Disposition: form-data; name="operations"', "", JSON.stringify({ query: mint }), `--${boundary}--`, ""].join("\r\n"),
      },
      json("foreign-origin-cookie", mint, { cookie, origin: "http://127.0.0.1:1" }),
    ];

    // --only <name>: one kind of shot, to see what each costs.
    const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
    if (only) shots.splice(0, shots.length, ...shots.filter((s) => s.name === only));
    const rss = () => fs.readFile(`/proc/${server.child.pid}/status`, "utf8").then((s) => Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0) / 1024);
    /** GET /healthz every 20 ms for `ms`; the latencies in ms. */
    async function probe(ms: number): Promise<number[]> {
      const times: number[] = [];
      const end = Date.now() + ms;
      while (Date.now() < end) {
        const start = performance.now();
        await send(`${server.url}/healthz`, { method: "GET", headers: {}, body: "" });
        times.push(performance.now() - start);
        await new Promise((r) => setTimeout(r, 20));
      }
      return times.sort((a, b) => a - b);
    }
    const summary = (times: number[]) => {
      const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(1);
      return `p50 ${at(0.5)} ms   p99 ${at(0.99)} ms   max ${at(1)} ms   (${times.length} probes)`;
    };

    console.log(`GraphQL edge: /healthz while ${clients} hostile client(s) loop over ${shots.length} refused documents (${serverCount} servers configured)`);
    const rssBefore = await rss();
    const quiet = await probe(3_000);
    console.log(`quiet          ${summary(quiet)}`);
    const workers = Array.from({ length: clients }, () => new Worker(HOSTILE_CLIENT, { eval: true, workerData: { url: server.url, shots } }));
    // A worker that fails fails the run (after the cleanup below), rather than killing this process.
    let failed: Error | undefined;
    for (const w of workers) w.on("error", (error) => (failed ??= error));
    let reports: Array<{ sent: number; statuses: Record<string, number> }>;
    let attacked: number[];
    try {
      await new Promise((r) => setTimeout(r, 500));
      attacked = await probe(seconds * 1000);
      if (failed) throw failed;
      reports = await Promise.all(
        workers.map(
          (w) =>
            new Promise<{ sent: number; statuses: Record<string, number> }>((resolve, reject) => {
              w.once("message", resolve);
              w.once("error", reject);
              w.postMessage("stop");
            }),
        ),
      );
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
    const rssAfter = await rss();
    console.log(`under attack   ${summary(attacked)}`);
    const statuses: Record<string, number> = {};
    for (const r of reports) for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
    console.log(`hostile requests: ${reports.reduce((n, r) => n + r.sent, 0)} in ${seconds} s`);
    for (const [k, v] of Object.entries(statuses).sort()) console.log(`  ${k.padEnd(32)} ${v}`);
    console.log(`server RSS: ${rssBefore.toFixed(0)} MB before, ${rssAfter.toFixed(0)} MB after`);
    const forms = await prisma.apiToken.count({ where: { name: "bench-form" } });
    console.log(`tokens minted by the hostile requests: ${forms}`);
  } finally {
    await prisma.$disconnect();
    await server.stop();
    await dropDatabase(databaseUrl);
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}
