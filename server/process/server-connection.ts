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
};
