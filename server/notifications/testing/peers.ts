import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { SMTPServer } from "smtp-server";

/** A self-signed certificate for 127.0.0.1 / localhost (openssl), and the directory it lives in. */
export function selfSignedCert(): { key: string; cert: string; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sqlguard-smtp-cert-"));
  const key = path.join(dir, "key.pem");
  const cert = path.join(dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-subj",
      "/CN=localhost",
      "-days",
      "1",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ],
    { stdio: "ignore" },
  );
  return { key: fs.readFileSync(key, "utf8"), cert: fs.readFileSync(cert, "utf8"), dir };
}

/** One MIME part, decoded. */
export type MailPart = { headers: Record<string, string>; contentType: string; body: Buffer; parts: MailPart[] };
/** One mail the SMTP peer accepted: the envelope, whether the session was TLS, who logged in, the parsed message. */
export type ReceivedMail = {
  from: string;
  to: string[];
  secure: boolean;
  user: string | undefined;
  raw: string;
  root: MailPart;
  subject: string;
  text: string;
  html: string;
  /** Parts with a Content-ID (inline images), by cid without the angle brackets. */
  inline: Map<string, MailPart>;
};

/**
 * A real SMTP server (smtp-server) on 127.0.0.1: STARTTLS (or implicit TLS when `secure`) with the
 * given certificate, AUTH PLAIN/LOGIN required and accepted only after TLS for `user`/`pass`.
 */
export async function startSmtpPeer(options: { key: string; cert: string; user: string; pass: string; secure?: boolean }) {
  const mails: ReceivedMail[] = [];
  const authFailures: string[] = [];
  const server = new SMTPServer({
    secure: options.secure ?? false,
    key: options.key,
    cert: options.cert,
    authMethods: ["PLAIN", "LOGIN"],
    allowInsecureAuth: false,
    authOptional: false,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === options.user && auth.password === options.pass) return callback(null, { user: auth.username });
      authFailures.push(String(auth.username));
      return callback(new Error("Invalid username or password"));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        const root = parsePart(raw);
        const flat = flatten(root);
        const inline = new Map<string, MailPart>();
        for (const p of flat) if (p.headers["content-id"]) inline.set(p.headers["content-id"].replace(/^<|>$/g, ""), p);
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          secure: session.secure,
          user: session.user as string | undefined,
          raw,
          root,
          subject: decodeWords(root.headers.subject ?? ""),
          text: flat.find((p) => p.contentType === "text/plain")?.body.toString("utf8") ?? "",
          html: flat.find((p) => p.contentType === "text/html")?.body.toString("utf8") ?? "",
          inline,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  /** Waits until `count` mails arrived (20 s), and returns them. */
  async function waitFor(count: number): Promise<ReceivedMail[]> {
    const deadline = Date.now() + 20_000;
    while (mails.length < count) {
      if (Date.now() > deadline) throw new Error(`SMTP peer: ${mails.length} of ${count} mails`);
      await new Promise((r) => setTimeout(r, 25));
    }
    return mails.slice(0, count);
  }
  return { port, mails, authFailures, waitFor, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** One request the HTTP receiver got. */
export type ReceivedRequest = { method: string; path: string; headers: http.IncomingHttpHeaders; body: string; json: any };

/** An HTTP receiver on 127.0.0.1 that records every request and answers 200 (Telegram-style `{ok:true}` under /bot). */
export async function startHttpReceiver() {
  const received: ReceivedRequest[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (c: string) => (body += c));
    req.on("end", () => {
      const url = new URL(req.url!, "http://receiver");
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        json = null;
      }
      received.push({ method: req.method!, path: url.pathname, headers: req.headers, body, json });
      res.writeHead(200, { "content-type": "application/json" }).end(url.pathname.startsWith("/bot") ? '{"ok":true,"result":{}}' : "{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  /** Waits until `count` requests reached `pathname` (20 s), and returns them. */
  async function at(pathname: string, count: number): Promise<ReceivedRequest[]> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const hits = received.filter((r) => r.path === pathname);
      if (hits.length >= count) return hits;
      if (Date.now() > deadline) throw new Error(`${pathname}: ${hits.length} of ${count} requests`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return { base, received, at, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Parses one MIME entity (headers, then a body that may be multipart), decoding base64 and quoted-printable. */
export function parsePart(raw: string): MailPart {
  const split = raw.search(/\r?\n\r?\n/);
  const head = split < 0 ? raw : raw.slice(0, split);
  const rest = split < 0 ? "" : raw.slice(split).replace(/^\r?\n\r?\n/, "");
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const ctype = headers["content-type"] ?? "text/plain";
  const contentType = ctype.split(";")[0]!.trim().toLowerCase();
  if (contentType.startsWith("multipart/")) {
    const boundary = /boundary="?([^";]+)"?/i.exec(ctype)?.[1];
    const parts: MailPart[] = [];
    if (boundary) {
      const sections = rest.split(`--${boundary}`);
      for (const section of sections.slice(1)) {
        if (section.startsWith("--")) break;
        parts.push(parsePart(section.replace(/^\r?\n/, "")));
      }
    }
    return { headers, contentType, body: Buffer.alloc(0), parts };
  }
  const encoding = (headers["content-transfer-encoding"] ?? "7bit").toLowerCase();
  const body =
    encoding === "base64"
      ? Buffer.from(rest.replace(/\s+/g, ""), "base64")
      : encoding === "quoted-printable"
        ? decodeQuotedPrintable(rest)
        : Buffer.from(rest.replace(/\r?\n$/, ""), "utf8");
  return { headers, contentType, body, parts: [] };
}

function flatten(p: MailPart): MailPart[] {
  return p.parts.length ? p.parts.flatMap(flatten) : [p];
}

function decodeQuotedPrintable(s: string): Buffer {
  const soft = s.replace(/=\r?\n/g, "");
  const bytes: number[] = [];
  for (let i = 0; i < soft.length; i++) {
    const c = soft[i]!;
    if (c === "=" && /^[0-9A-F]{2}$/i.test(soft.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(c, "utf8"));
  }
  return Buffer.from(bytes);
}

/** RFC 2047 encoded words (=?UTF-8?Q?…?= / =?UTF-8?B?…?=) in a header. */
function decodeWords(s: string): string {
  return s.replace(/=\?([^?]+)\?([QB])\?([^?]*)\?=\s*/gi, (_m, _charset, enc: string, text: string) =>
    enc.toUpperCase() === "B" ? Buffer.from(text, "base64").toString("utf8") : decodeQuotedPrintable(text.replace(/_/g, " ")).toString("utf8"),
  );
}
