/**
 * Extra dump flags a profile may add, per tool family. Each entry is a flag that takes no value,
 * or a flag with a pattern its `=value` must match. Anything else is refused, so a profile can
 * never inject a password, an output file or a shell construct into the dump command.
 */
type Allowed = Record<string, RegExp | null>;

const IDENT = /^[A-Za-z0-9_$.*%-]{1,128}$/;
const SIZE = /^[0-9]{1,10}[KMG]?$/;
const CHARSET = /^[A-Za-z0-9_]{1,32}$/;

export const MYSQL_EXTRA_FLAGS: Allowed = {
  "--add-drop-database": null,
  "--add-drop-table": null,
  "--skip-add-drop-table": null,
  "--add-locks": null,
  "--skip-add-locks": null,
  "--lock-tables": null,
  "--skip-lock-tables": null,
  "--lock-all-tables": null,
  "--comments": null,
  "--skip-comments": null,
  "--compact": null,
  "--complete-insert": null,
  "--extended-insert": null,
  "--skip-extended-insert": null,
  "--insert-ignore": null,
  "--replace": null,
  "--no-create-info": null,
  "--no-data": null,
  "--no-create-db": null,
  "--create-options": null,
  "--skip-create-options": null,
  "--tz-utc": null,
  "--skip-tz-utc": null,
  "--dump-date": null,
  "--skip-dump-date": null,
  "--order-by-primary": null,
  "--flush-logs": null,
  "--flush-privileges": null,
  "--skip-set-charset": null,
  "--set-charset": null,
  "--disable-keys": null,
  "--skip-disable-keys": null,
  "--max-allowed-packet": SIZE,
  "--net-buffer-length": SIZE,
  "--default-character-set": CHARSET,
  "--master-data": /^[12]$/,
  "--source-data": /^[12]$/,
  "--ignore-table": /^[A-Za-z0-9_$]{1,64}\.[A-Za-z0-9_$]{1,64}$/,
};

export const PG_EXTRA_FLAGS: Allowed = {
  "--clean": null,
  "--if-exists": null,
  "--create": null,
  "--no-comments": null,
  "--no-tablespaces": null,
  "--no-publications": null,
  "--no-subscriptions": null,
  "--no-security-labels": null,
  "--no-unlogged-table-data": null,
  "--no-toast-compression": null,
  "--quote-all-identifiers": null,
  "--serializable-deferrable": null,
  "--inserts": null,
  "--column-inserts": null,
  "--disable-triggers": null,
  "--load-via-partition-root": null,
  "--rows-per-insert": /^[0-9]{1,7}$/,
  "--lock-wait-timeout": /^[0-9]{1,9}(ms|s|min)?$/,
  "--encoding": CHARSET,
  "--schema": IDENT,
  "--exclude-schema": IDENT,
  "--table": IDENT,
  "--exclude-table": IDENT,
  "--exclude-table-data": IDENT,
};

/** Returns why an extra flag is refused for the tool family, or null when it is allowed. */
export function extraFlagProblem(flag: string, family: "mysql" | "pg"): string | null {
  const allowed = family === "mysql" ? MYSQL_EXTRA_FLAGS : PG_EXTRA_FLAGS;
  const eq = flag.indexOf("=");
  const name = eq === -1 ? flag : flag.slice(0, eq);
  if (!Object.hasOwn(allowed, name)) {
    return `${JSON.stringify(name)} is not an allowed ${family === "mysql" ? "mysqldump" : "pg_dump"} flag`;
  }
  const valuePattern = allowed[name];
  if (valuePattern === null) return eq === -1 ? null : `${name} takes no value`;
  if (eq === -1) return `${name} needs a value (${name}=...)`;
  return valuePattern!.test(flag.slice(eq + 1)) ? null : `${name} has an invalid value`;
}
