import { pino, type Logger } from "pino";

export type { Logger };

/** Field paths whose values never reach a log line. */
const REDACT = [
  "password",
  "*.password",
  "secretAccessKey",
  "*.secretAccessKey",
  "passwordEnc",
  "*.passwordEnc",
  "secretAccessKeyEnc",
  "*.secretAccessKeyEnc",
  "token",
  "*.token",
  "authorization",
  "*.authorization",
  "cookie",
  "*.cookie",
  "headers.authorization",
  "headers.cookie",
  "env.MYSQL_PWD",
  "env.PGPASSWORD",
];

/**
 * The root logger: JSON lines by default, human-readable when `pretty` (a TTY). Components take a
 * `child({ component })`; messages are constant, data goes in fields.
 */
export function createLogger(options: { level: string; pretty: boolean; destination?: pino.DestinationStream }): Logger {
  const base = {
    level: options.level,
    redact: { paths: REDACT, censor: "[redacted]" },
    base: { pid: process.pid },
  };
  if (options.destination) return pino(base, options.destination);
  if (options.pretty) {
    return pino({ ...base, transport: { target: "pino-pretty", options: { colorize: true, translateTime: "SYS:standard" } } });
  }
  return pino(base);
}
