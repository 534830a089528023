import crypto from "node:crypto";
import net from "node:net";
import { Duplex } from "node:stream";
import tls from "node:tls";

/**
 * Just enough of a MySQL 8 server to log in with caching_sha2_password over plain TCP, for tests
 * (no MySQL 8 runs on this machine): the fast path for a user whose login is cached, else the full
 * path, where the client must encrypt the password with the server's RSA public key, which it may
 * ask for, or send it over TLS when the server offers TLS (`tls`: its key and certificate). Like
 * the real server it forgets every cached login on `restart()`. After the login it answers every
 * command with OK and closes on COM_QUIT.
 */
export type CachingSha2Server = {
  port: number;
  /** Forgets the cached logins, as a real server restart does. */
  restart(): void;
  /** Logins that took the full path, requests for the public key, and connections upgraded to TLS. */
  stats: { fullLogins: number; keyRequests: number; tlsSessions: number };
  close(): Promise<void>;
};

const CAPABILITIES = 0x1 | 0x2 | 0x4 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x10000 | 0x20000 | 0x40000 | 0x80000 | 0x100000 | 0x200000;
const CLIENT_SSL = 0x800;
const PLUGIN = "caching_sha2_password";
const CLIENT_CONNECT_WITH_DB = 0x8;
const CLIENT_PLUGIN_AUTH = 0x80000;

/** Starts the server on a free port of 127.0.0.1 with `users` (name → password). */
export async function startCachingSha2Server(users: Record<string, string>, options: { tls?: { key: string; cert: string } } = {}): Promise<CachingSha2Server> {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
  const cached = new Set<string>();
  const stats = { fullLogins: 0, keyRequests: 0, tlsSessions: 0 };
  const sockets = new Set<net.Socket>();

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    const seed = Buffer.from(crypto.randomBytes(20).map((b) => (b % 94) + 33)); // printable, never 0, as MySQL's
    let user = "";
    let state: "response" | "switched" | "full" | "rsa" | "command" = "response";
    let pending = Buffer.alloc(0);
    let stream: net.Socket | tls.TLSSocket = socket;
    let secure = false;
    let upgrading = false;
    /** Hands the socket, and what the client sent after its SSLRequest, to a TLS server session. */
    const startTls = (early: Buffer) => {
      socket.removeListener("data", onData);
      // A Duplex in between, so that bytes already read (the start of the TLS handshake) are not lost.
      const raw = new Duplex({
        read() {},
        write(chunk, _encoding, done) {
          socket.write(chunk, done);
        },
        final(done) {
          socket.end();
          done();
        },
      });
      socket.on("data", (chunk: Buffer) => raw.push(chunk));
      socket.on("end", () => raw.push(null));
      if (early.length) raw.push(early);
      const upgraded = new tls.TLSSocket(raw as unknown as net.Socket, { isServer: true, ...options.tls });
      upgraded.on("error", () => {});
      upgraded.on("data", onData);
      stream = upgraded;
      secure = true;
      stats.tlsSessions++;
    };
    const send = (seq: number, payload: Buffer) => {
      const header = Buffer.alloc(4);
      header.writeUIntLE(payload.length, 0, 3);
      header[3] = seq & 0xff;
      stream.write(Buffer.concat([header, payload]));
    };
    const ok = (seq: number) => send(seq, Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]));
    const error = (seq: number, errno: number, message: string) => {
      const head = Buffer.from([0xff, errno & 0xff, errno >> 8]);
      send(seq, Buffer.concat([head, Buffer.from(`#28000${message}`)]));
      stream.end();
    };
    const denied = (seq: number) => error(seq, 1045, `Access denied for user '${user}'@'127.0.0.1' (using password: YES)`);

    const onPacket = (seq: number, p: Buffer) => {
      const next = seq + 1;
      switch (state) {
        case "response": {
          const capabilities = p.readUInt32LE(0);
          if (p.length === 32 && capabilities & CLIENT_SSL && options.tls) {
            upgrading = true; // an SSLRequest: the rest of the conversation goes over TLS
            return;
          }
          let at = 32;
          const end = p.indexOf(0, at);
          user = p.subarray(at, end).toString();
          at = end + 1;
          const length = p[at++]!; // one byte, length-encoded or not: a scramble is 0 or 32 bytes
          const scramble = p.subarray(at, at + length);
          at += length;
          if (capabilities & CLIENT_CONNECT_WITH_DB) at = p.indexOf(0, at) + 1;
          const plugin = capabilities & CLIENT_PLUGIN_AUTH ? p.subarray(at, p.indexOf(0, at)).toString() : "";
          if (plugin !== PLUGIN) {
            state = "switched";
            send(next, Buffer.concat([Buffer.from([0xfe]), Buffer.from(`${PLUGIN}\0`), seed, Buffer.from([0])]));
            return;
          }
          return fastOrFull(next, scramble);
        }
        case "switched":
          return fastOrFull(next, p);
        case "full":
          if (p.length === 1 && p[0] === 0x02) {
            stats.keyRequests++;
            state = "rsa";
            send(next, Buffer.concat([Buffer.from([0x01]), Buffer.from(pem)]));
            return;
          }
          if (secure) return checkPassword(next, p);
          // Without TLS anything else must be the RSA-encrypted password; a clear one is refused.
          if (p.length !== 256) return denied(next);
          state = "rsa";
          return onPacket(seq, p);
        case "rsa": {
          const plain = crypto.privateDecrypt({ key: privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING }, p);
          return checkPassword(next, Buffer.from(plain.map((b, i) => b ^ seed[i % seed.length]!)));
        }
        case "command":
          if (p[0] === 0x01)
            stream.end(); // COM_QUIT
          else ok(next);
      }
    };

    const checkPassword = (seq: number, nulTerminated: Buffer) => {
      if (users[user] === undefined || !nulTerminated.equals(Buffer.from(`${users[user]}\0`))) return denied(seq);
      cached.add(user);
      state = "command";
      ok(seq);
    };

    const fastOrFull = (seq: number, scramble: Buffer) => {
      const password = users[user];
      if (password === undefined) return denied(seq);
      if (cached.has(user)) {
        if (!scramble.equals(fastScramble(password, seed))) return denied(seq);
        send(seq, Buffer.from([0x01, 0x03])); // fast authentication succeeded; OK follows
        state = "command";
        return ok(seq + 1);
      }
      stats.fullLogins++;
      state = "full";
      send(seq, Buffer.from([0x01, 0x04])); // perform full authentication
    };

    const onData = (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const length = pending.readUIntLE(0, 3);
        if (pending.length < 4 + length) break;
        const seq = pending[3]!;
        const payload = pending.subarray(4, 4 + length);
        pending = pending.subarray(4 + length);
        onPacket(seq, payload);
        if (upgrading) {
          upgrading = false;
          const early = pending;
          pending = Buffer.alloc(0);
          return startTls(early);
        }
      }
    };
    socket.on("data", onData);

    send(0, handshake(seed, options.tls ? CLIENT_SSL : 0));
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    restart: () => cached.clear(),
    stats,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The initial handshake (protocol 10) of a MySQL 8.0 server whose default plugin is caching_sha2_password. */
function handshake(seed: Buffer, extra: number): Buffer {
  const capabilities = Buffer.alloc(4);
  capabilities.writeUInt32LE((CAPABILITIES | extra) >>> 0);
  return Buffer.concat([
    Buffer.from([0x0a]),
    Buffer.from("8.0.36\0"),
    Buffer.from([1, 0, 0, 0]), // connection id
    seed.subarray(0, 8),
    Buffer.from([0]),
    capabilities.subarray(0, 2),
    Buffer.from([45, 0x02, 0x00]), // utf8mb4_general_ci, autocommit
    capabilities.subarray(2, 4),
    Buffer.from([21]),
    Buffer.alloc(10),
    seed.subarray(8),
    Buffer.from([0]),
    Buffer.from(`${PLUGIN}\0`),
  ]);
}

/** XOR(SHA256(password), SHA256(SHA256(SHA256(password)) + seed)): what a client sends on the fast path. */
function fastScramble(password: string, seed: Buffer): Buffer {
  const sha = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), crypto.createHash("sha256")).digest();
  const stage1 = sha(Buffer.from(password));
  const digest = sha(sha(stage1), seed);
  return Buffer.from(stage1.map((b, i) => b ^ digest[i]!));
}
