import type { ServerConnection } from "./types.ts";

export type ConnectionErrorKind = "REFUSED" | "ACCESS_DENIED" | "UNKNOWN_HOST" | "TIMEOUT" | "TLS" | "PRIVILEGES" | "OTHER";

/**
 * Why SQLGuard could not reach or read a database server. `transient` failures (refused, timed
 * out, too many connections, starting up) are worth another attempt. The message never contains
 * the password.
 */
export class ServerConnectionError extends Error {
  constructor(
    readonly kind: ConnectionErrorKind,
    message: string,
    readonly transient = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ServerConnectionError";
  }
}

const MYSQL_ACCESS_DENIED = new Set([1045, 1130, 1698]); // bad password, host not allowed, no password for socket auth
const MYSQL_PRIVILEGES = new Set([1044, 1142, 1227]);
const MYSQL_BUSY = new Set([1040, 1203]); // too many connections (server, user)

/** Maps a driver error to a ServerConnectionError with a message for people, without the password. */
export function classify(error: unknown, conn: ServerConnection): ServerConnectionError {
  if (error instanceof ServerConnectionError) return error;
  const e = (error ?? {}) as { code?: unknown; errno?: unknown; message?: unknown; text?: unknown };
  const code = typeof e.code === "string" ? e.code : "";
  const errno = typeof e.errno === "number" ? e.errno : 0;
  // The mariadb driver prefixes "(conn:12, no: 1045, SQLState: 28000)"; its `text` is the server's words.
  const detail = scrub(String(e.text ?? e.message ?? error), conn.password);
  const where = `${conn.host}:${conn.port}`;
  const make = (kind: ConnectionErrorKind, message: string, transient = false) => new ServerConnectionError(kind, message, transient, { cause: error });

  // Codes first: the server's text may quote a user or database name that reads like "timeout" or "ssl".
  if (code === "ECONNREFUSED") return make("REFUSED", `connection to ${where} refused: is the server running and listening on that port?`, true);
  if (code === "ENOTFOUND") return make("UNKNOWN_HOST", `host ${JSON.stringify(conn.host)} not found`);
  if (code === "EAI_AGAIN") return make("UNKNOWN_HOST", `host ${JSON.stringify(conn.host)} could not be resolved (DNS unavailable)`, true);
  if (MYSQL_ACCESS_DENIED.has(errno) || code === "28P01" || code === "28000") {
    return make("ACCESS_DENIED", `access denied for user ${JSON.stringify(conn.username)} on ${where}: ${detail}`);
  }
  // caching_sha2_password without TLS and without the server's key (the driver's words, or the
  // server's to a client that did not ask for the key): say which setting fixes it.
  if (code === "ER_CANNOT_RETRIEVE_RSA_KEY" || /requires secure connection/i.test(detail)) {
    return make(
      "TLS",
      `${where} needs TLS or its RSA public key to check the password of ${JSON.stringify(conn.username)} (caching_sha2_password): turn on TLS for this server, or allow public key retrieval`,
    );
  }
  if (MYSQL_PRIVILEGES.has(errno) || code === "42501")
    return make("PRIVILEGES", `the user ${JSON.stringify(conn.username)} lacks a privilege on ${where}: ${detail}`);
  if (MYSQL_BUSY.has(errno) || code === "53300" || code === "57P03") return make("OTHER", `${where} cannot accept the connection now: ${detail}`, true);
  if (["ETIMEDOUT", "ER_CONNECTION_TIMEOUT", "ER_SOCKET_TIMEOUT"].includes(code) || /timeout|timed out/i.test(detail)) {
    return make("TIMEOUT", `connecting to ${where} timed out: ${detail}`, true);
  }
  if (code === "ER_SERVER_SSL_DISABLED" || code.startsWith("ERR_TLS") || code === "EPROTO" || /\b(ssl|tls)\b|certificate/i.test(detail)) {
    return make("TLS", `TLS with ${where} failed: ${detail}`);
  }
  const dropped = ["ECONNRESET", "EPIPE", "EHOSTUNREACH", "ENETUNREACH"].includes(code) || /terminated unexpectedly|connection closed/i.test(detail);
  return make("OTHER", `cannot use ${where}: ${detail}`, dropped);
}

function scrub(text: string, password: string | null): string {
  return password ? text.split(password).join("[redacted]") : text;
}
