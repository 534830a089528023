import { execFile, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildMysqlDump } from "../runner/dumpers/mysql-dumper.ts";
import { detectTools } from "../runner/dumpers/tools.ts";
import type { ServerConnection } from "../runner/dumpers/types.ts";
import { buildManifest } from "../runner/manifest.ts";
import { createMariadbSample, dropMariadbDatabase, mariadbExec, mariadbFingerprint, uniqueName } from "../testing/sample-databases.ts";
import { runCli } from "../cli/testing/run-cli.ts";
import { restoreArtifact } from "./restore-artifact.ts";
import type { RestoreTools } from "./restore-tools.ts";

const run = promisify(execFile);
const MARIA: ServerConnection = { engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", password: null, tls: false };
const CONNECT = "--no-defaults --host=127.0.0.1 --port=3306 --user=root --protocol=TCP";
const ORACLE_VERSION = "mysql  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)";

/**
 * Stands in for Oracle's mysql client, which is not installable here: like it, it stops at line 1
 * of a MariaDB dump ("\-" is no command of Oracle's client) and takes Oracle-only options;
 * everything else is the real mariadb client restoring into the real server.
 */
const ORACLE_MYSQL = `#!/bin/sh
PATH=/usr/local/bin:/usr/bin:/bin
if [ "$1" = --version ]; then echo '${ORACLE_VERSION}'; exit 0; fi
for a in "$@"; do shift; case "$a" in --get-server-public-key|--ssl-mode=*) ;; *) set -- "$@" "$a";; esac; done
IFS= read -r first || true
case "$first" in *'999999\\- enable the sandbox mode'*) echo "ERROR at line 1: Unknown command '\\-'." >&2; exit 1;; esac
{ printf '%s\\n' "$first"; exec cat; } | exec mariadb "$@"
`;

/**
 * Mixed families: a dump made by mariadb-dump (of MariaDB, or of a MySQL server) restored through
 * Oracle's mysql client, by SQLGuard and by the manifest's standard-tools command.
 */
describe("a mariadb-dump artifact and Oracle's mysql client", () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-mixed-"));
  const oracle = path.join(work, "mysql");
  const artifact = path.join(work, "shop.sql.zst");
  const source = uniqueName("mixed_src");
  const targets: string[] = [];
  let sha256: string;
  let tool: string;
  let expected: Awaited<ReturnType<typeof mariadbFingerprint>>;
  const target = (label: string) => {
    const name = uniqueName(`mixed_${label}`);
    targets.push(name);
    return name;
  };

  /** The manifest SQLGuard writes beside the artifact. */
  const manifestOf = () =>
    buildManifest({
      backupId: 1,
      server: { name: "prod", engine: "MARIADB", host: "db", port: 3306, version: "10.11.19-MariaDB" },
      database: source,
      schedule: null,
      trigger: "MANUAL",
      dump: { tool, format: "sql" },
      compression: { algorithm: "zstd", level: 3 },
      artifact: { key: "k", rawBytes: 1, storedBytes: fs.statSync(artifact).size, sha256 },
      position: null,
      startedAt: new Date().toISOString(),
      finishedAt: new Date().toISOString(),
    });

  beforeAll(async () => {
    fs.writeFileSync(oracle, ORACLE_MYSQL, { mode: 0o755 });
    await createMariadbSample(source, { rows: 60 });
    const dump = buildMysqlDump(MARIA, null, source, await detectTools(), "10.11.19-MariaDB");
    const dumped = spawnSync(dump.command, dump.args, { env: { PATH: process.env.PATH ?? "", ...dump.env }, maxBuffer: 64 << 20 });
    expect(dumped.status, dumped.stderr.toString()).toBe(0);
    expect(dumped.stdout.toString("latin1").split("\n")[0]).toMatch(/^\/\*M?!999999\\- enable the sandbox mode \*\/ ?$/);
    const compressed = spawnSync("zstd", ["-q", "-c"], { input: dumped.stdout, maxBuffer: 64 << 20 }).stdout;
    fs.writeFileSync(artifact, compressed);
    sha256 = crypto.createHash("sha256").update(compressed).digest("hex");
    tool = dump.description;
    expected = await mariadbFingerprint(source);
  });

  afterAll(async () => {
    for (const name of [source, ...targets]) await dropMariadbDatabase(name);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("is refused by that client as it stands (the stand-in behaves like Oracle's)", async () => {
    const name = target("raw");
    await mariadbExec([`CREATE DATABASE ${name}`]);
    await expect(run("sh", ["-c", `zstd -dc ${artifact} | ${oracle} ${CONNECT} ${name}`])).rejects.toMatchObject({
      stderr: "ERROR at line 1: Unknown command '\\-'.\n",
    });
    expect(await mariadbExec([`SHOW TABLES FROM ${name}`])).toEqual([[]]);
  });

  it("restores through it with SQLGuard: the sandbox line is dropped on the way, nothing else", async () => {
    const name = target("sqlguard");
    const tools: RestoreTools = { mysql: { path: oracle, flavor: "mysql", version: ORACLE_VERSION }, psql: null, pgRestore: null };
    const outcome = await restoreArtifact(
      { open: async () => fs.createReadStream(artifact), sha256, compression: "ZSTD", format: "sql" },
      { conn: MARIA, database: name, mode: "create" },
      { signal: new AbortController().signal, tools },
    );
    expect(outcome.sha256).toBe(sha256);
    expect(await mariadbFingerprint(name)).toEqual(expected);
  });

  it("restores through it with `sqlguard restore` when it is the only client on PATH", async () => {
    const name = target("cli");
    const bin = path.join(work, "bin");
    fs.mkdirSync(bin);
    fs.copyFileSync(oracle, path.join(bin, "mysql"));
    fs.chmodSync(path.join(bin, "mysql"), 0o755);
    fs.symlinkSync(spawnSync("sh", ["-c", "command -v zstd"]).stdout.toString().trim(), path.join(bin, "zstd"));
    fs.writeFileSync(`${artifact}.manifest.json`, JSON.stringify(manifestOf()));
    const r = await runCli(["restore", "--file", artifact, "--to", "mysql://root@127.0.0.1:3306", "--database", name], { PATH: bin });
    expect(r.stderr).not.toContain("Unknown command");
    expect(r.code, r.stderr).toBe(0);
    expect(await mariadbFingerprint(name)).toEqual(expected);
  });

  it("restores with the manifest's standard-tools command for each client family", async () => {
    const manifest = manifestOf();
    const [mariadbCommand, oracleCommand] = /^(.+?) {3}\(Oracle's mysql client: (.+)\); verify first: sha256sum <artifact> = [0-9a-f]{64}$/
      .exec(manifest.restore)!
      .slice(1);
    expect(mariadbCommand).toBe("zstd -dc <artifact> | mariadb <database>");
    for (const [label, command, client] of [
      ["mariadb", mariadbCommand!, "mariadb"],
      ["oracle", oracleCommand!, "mysql"],
    ] as const) {
      const name = target(label);
      await mariadbExec([`CREATE DATABASE ${name}`]);
      const shell = command
        .replaceAll("<artifact>", artifact)
        .replaceAll("<database>", name)
        .replace(new RegExp(`\\| ${client} `), `| ${client === "mysql" ? oracle : client} ${CONNECT} `);
      await run("sh", ["-c", shell]);
      expect(await mariadbFingerprint(name), label).toEqual(expected);
    }
  });
});
