/** The database engines SQLGuard backs up. */
export type EngineName = "MYSQL" | "MARIADB" | "POSTGRESQL";

/** What a dumper needs to reach a server. The password is already decrypted; it goes only into env. */
export type ServerConnection = {
  engine: EngineName;
  host: string;
  port: number;
  username: string;
  password: string | null;
  tls: boolean;
  /**
   * Without TLS, MySQL 8's caching_sha2_password sends the password RSA-encrypted with the
   * server's public key whenever the server has no cached login for the user (after every
   * restart): may the clients ask the server for that key? Missing means yes.
   */
  allowPublicKeyRetrieval?: boolean;
};

/** Whether the clients ask the server for its RSA public key: only without TLS, and unless turned off. */
export function retrievesPublicKey(conn: ServerConnection): boolean {
  return !conn.tls && conn.allowPublicKeyRetrieval !== false;
}
