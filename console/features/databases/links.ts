/** The per-database page of `serverName` / `database` (static export: both travel in the query string). */
export function databaseHref(serverName: string, database: string): string {
  return `/databases/detail/?${new URLSearchParams({ server: serverName, database })}`;
}
