import type { Server } from "../db/generated/client.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import type { ServerConnection } from "./dumpers/types.ts";

/** A server's connection settings with its password decrypted, for a dump or an inspection only. */
export function connectionOf(
  server: Pick<Server, "engine" | "host" | "port" | "username" | "passwordEnc" | "tls" | "allowPublicKeyRetrieval">,
  secrets: SecretBox,
): ServerConnection {
  return {
    engine: server.engine,
    host: server.host,
    port: server.port,
    username: server.username,
    password: server.passwordEnc ? secrets.open(server.passwordEnc) : null,
    tls: server.tls,
    allowPublicKeyRetrieval: server.allowPublicKeyRetrieval,
  };
}
