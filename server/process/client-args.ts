import { retrievesPublicKey, type ServerConnection } from "./server-connection.ts";

/**
 * libpq's environment for one PostgreSQL client (pg_dump, psql): the connection, and the password
 * only here, never in argv. PGDATABASE is read as a plain name: unlike a dbname argument it is
 * never parsed as a connection string, so "host=… dbname=…" or a URI stays a name.
 */
export function pgClientEnv(conn: ServerConnection, database: string, applicationName: string): Record<string, string> {
  const env: Record<string, string> = {
    PGHOST: conn.host,
    PGPORT: String(conn.port),
    PGUSER: conn.username,
    PGDATABASE: database,
    PGSSLMODE: conn.tls ? "require" : "prefer",
    PGAPPNAME: applicationName,
    PGCONNECT_TIMEOUT: "15",
  };
  if (conn.password) env.PGPASSWORD = conn.password;
  return env;
}

/**
 * The connection options of a MySQL/MariaDB client (mariadb-dump, mysqldump, mariadb, mysql);
 * the password goes in MYSQL_PWD, never here. `--no-defaults` first: my.cnf files on this machine
 * (and ~/.my.cnf, which may hold another account's password) must not change what runs.
 */
export function mysqlConnectionArgs(conn: ServerConnection, flavor: "mariadb" | "mysql"): string[] {
  return [
    "--no-defaults",
    `--host=${conn.host}`,
    `--port=${conn.port}`,
    `--user=${conn.username}`,
    "--protocol=TCP",
    ...(conn.tls ? [flavor === "mariadb" ? "--ssl" : "--ssl-mode=REQUIRED"] : []),
    // Oracle's clients fail caching_sha2_password logins without TLS once the server's login cache
    // is empty, unless they may fetch the server's key; MariaDB's clients always fetch it (no option).
    ...(flavor === "mysql" && retrievesPublicKey(conn) ? ["--get-server-public-key"] : []),
  ];
}
