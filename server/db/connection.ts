import mariadb from "mariadb";

/** Connection settings parsed from a `mysql://` or `mariadb://` URL. */
export type ConnectionSettings = {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
};

/** Splits a metadata database URL into driver settings. */
export function parseDatabaseUrl(databaseUrl: string): ConnectionSettings {
  const url = new URL(databaseUrl);
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port ? Number(url.port) : 3306,
    user: decodeURIComponent(url.username || "root"),
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database: decodeURIComponent(url.pathname.replace(/^\//, "")),
  };
}

/** Opens one plain driver connection, optionally without selecting a database. */
export function connect(settings: ConnectionSettings, options: { withDatabase?: boolean; multipleStatements?: boolean } = {}) {
  return mariadb.createConnection({
    host: settings.host,
    port: settings.port,
    user: settings.user,
    password: settings.password,
    database: options.withDatabase === false ? undefined : settings.database,
    multipleStatements: options.multipleStatements ?? false,
    connectTimeout: 5000,
  });
}

/** Quotes an identifier for MySQL (backticks doubled). */
export function quoteIdent(name: string): string {
  return `\`${name.replace(/`/g, "``")}\``;
}
