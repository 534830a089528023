import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mysqlConnectionArgs } from "../../process/client-args.ts";
import { type CachingSha2Server, startCachingSha2Server } from "../../testing/caching-sha2-server.ts";
import { ServerConnectionError } from "./connection-errors.ts";
import { withMysql } from "./server-session.ts";
import type { ServerConnection } from "./types.ts";

const run = promisify(execFile);
const PASSWORD = "s3cret pw";

/**
 * MySQL 8's default login (caching_sha2_password) without TLS, against a stand-in server: after a
 * restart the server has no cached login, and the password only goes over encrypted with the
 * server's RSA public key. SQLGuard's own connections and MariaDB's client programs must log in.
 */
describe("caching_sha2_password without TLS", () => {
  let server: CachingSha2Server;
  const conn = (over: Partial<ServerConnection> = {}): ServerConnection => ({
    engine: "MYSQL",
    host: "127.0.0.1",
    port: server.port,
    username: "backup",
    password: PASSWORD,
    tls: false,
    ...over,
  });
  const version = (c: ServerConnection) => withMysql(c, async (session) => session.serverVersion());

  beforeAll(async () => {
    server = await startCachingSha2Server({ backup: PASSWORD });
  });
  afterAll(async () => {
    await server.close();
  });

  it("logs in after every server restart by fetching the server's public key (the default)", async () => {
    for (let restart = 0; restart < 2; restart++) {
      server.restart();
      const before = { ...server.stats };
      expect(await version(conn())).toBe("8.0.36");
      expect(server.stats).toEqual({ ...before, fullLogins: before.fullLogins + 1, keyRequests: before.keyRequests + 1 });
      // The next login is a cached one: no key needed.
      expect(await version(conn({ allowPublicKeyRetrieval: true }))).toBe("8.0.36");
      expect(server.stats.keyRequests).toBe(before.keyRequests + 1);
    }
  });

  it("with retrieval turned off, fails a full login clearly, without sending the password, and still uses a cached one", async () => {
    server.restart();
    const before = { ...server.stats };
    const failure = await version(conn({ allowPublicKeyRetrieval: false })).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ServerConnectionError);
    expect(failure).toMatchObject({ kind: "TLS" });
    expect((failure as Error).message).toBe(
      `127.0.0.1:${server.port} needs TLS or its RSA public key to check the password of "backup" (caching_sha2_password): turn on TLS for this server, or allow public key retrieval`,
    );
    expect(server.stats.keyRequests).toBe(before.keyRequests);
    await version(conn());
    expect(await version(conn({ allowPublicKeyRetrieval: false }))).toBe("8.0.36");
  });

  it("refuses a wrong password on the full path as access denied", async () => {
    server.restart();
    await expect(version(conn({ password: "wrong" }))).rejects.toMatchObject({ kind: "ACCESS_DENIED" });
  });
});

/** The same server offering TLS, as MySQL 8 does by default (a self-signed certificate it makes itself). */
describe("caching_sha2_password on a server that offers TLS", () => {
  let server: CachingSha2Server;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-sha2-"));
  const conn = (over: Partial<ServerConnection> = {}): ServerConnection => ({
    engine: "MYSQL",
    host: "127.0.0.1",
    port: server.port,
    username: "backup",
    password: PASSWORD,
    tls: false,
    ...over,
  });

  beforeAll(async () => {
    const [key, cert] = [path.join(dir, "key.pem"), path.join(dir, "cert.pem")];
    await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-subj", "/CN=mysql8", "-days", "1"]);
    server = await startCachingSha2Server({ backup: PASSWORD }, { tls: { key: fs.readFileSync(key, "utf8"), cert: fs.readFileSync(cert, "utf8") } });
  });
  afterAll(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("sends the password over TLS when the server has TLS on, never asking for the key", async () => {
    server.restart();
    expect(await withMysql(conn({ tls: true }), async (c) => c.serverVersion())).toBe("8.0.36");
    expect(server.stats).toEqual({ fullLogins: 1, keyRequests: 0, tlsSessions: 1 });
  });

  it("MariaDB's client programs need no option: with the arguments SQLGuard builds they log in after a restart, with TLS on or off in SQLGuard", async () => {
    for (const tls of [true, false]) {
      server.restart();
      const before = { ...server.stats };
      const args = mysqlConnectionArgs(conn({ tls }), "mariadb");
      expect(args).not.toContain("--get-server-public-key");
      await run("mariadb", [...args, "--execute=SELECT 1"], { env: { PATH: process.env.PATH ?? "", MYSQL_PWD: PASSWORD } });
      // Debian's MariaDB 10.11 clients ask for TLS by default and take it where the server offers
      // it; a client that does not fetches the key itself.
      expect(server.stats.fullLogins).toBe(before.fullLogins + 1);
      expect(server.stats.tlsSessions + server.stats.keyRequests).toBe(before.tlsSessions + before.keyRequests + 1);
    }
  });
});
