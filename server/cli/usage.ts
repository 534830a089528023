/** The help texts and the CLI's shared types, apart from the commands so that `--help` loads nothing else. */

/** `sqlguard --help`. */
export const USAGE = `usage: sqlguard <command> [options]
commands:
  restore            restore an artifact (file or S3 object) into a server, checking its SHA-256
  recover-metadata   rebuild backup records from the manifests in storage
  config             export, diff or apply a sqlguard.yaml document on a running server
Run \`sqlguard <command> --help\` for its options.`;

/** `sqlguard restore --help`. */
export const RESTORE_USAGE = `usage: sqlguard restore (--file <artifact> | --from-s3 s3://bucket/key [--endpoint <url>] [--region <region>])
                        [--manifest <file>] --to <connection url> [--database <name>] [--overwrite]
                        [--rewrite-definers] [--threads <n>] [--spool <dir>] [--identity <age identity file>]
                        [(--point-in-time <UTC instant> | --stop-at-gtid <d-s-n> | --stop-at-position <file:offset>) [--force]]
  Restores one artifact without the metadata database: its manifest (default: <artifact>.manifest.json,
  read from the same place) gives the engine, compression and SHA-256, which is checked on the way.
  --to       mysql://user@host:3306, mariadb://…, postgres://user@host:5432 (password: in the URL, or MYSQL_PWD / PGPASSWORD)
  --database target database (default: the URL's path, else <database>_restored_<UTC time>); created unless --overwrite
  --rewrite-definers  every DEFINER becomes the restoring user (PostgreSQL: OWNER TO dropped), for a user without SET USER / SUPER
  --threads  PARALLEL artifacts (.tar.zst): myloader / pg_restore threads (default: the cores, at most 8)
  --spool    PARALLEL artifacts: where they are unpacked and checked before loading (default: the temporary directory)
  --identity encrypted artifacts (.age): an age identity file (age-keygen's, AGE-SECRET-KEY-1…) of a key the artifact
             opens with, e.g. your recovery key; it is decrypted in the stream, each chunk authenticated
  --point-in-time  MariaDB/MySQL: after the dump, replay the binlog archived beside it (pitr/<server>/ on the same
             storage) from the dump's exact position up to this instant, e.g. 2026-12-02T17:00:00Z; --force crosses a broken chain
  --stop-at-gtid  MariaDB: the same, up to and including this GTID (e.g. 0-1-42)
  --stop-at-position  the same, up to this binlog position (e.g. mysql-bin.000007:1234, as SHOW MASTER STATUS says)
  S3 credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.`;

/** `sqlguard recover-metadata --help`. */
export const RECOVER_USAGE = `usage: sqlguard recover-metadata [--local <dir>]... [--s3 s3://bucket[/prefix]]... [--endpoint <url>] [--region <region>]
                                 [--database-url <url>] [--dry-run] [--merge] [--verify] [--json]
  Rebuilds Backup and BackupArtifact records from the manifests beside the artifacts. Without --local / --s3,
  scans the storage targets configured in the metadata database. Objects without a manifest are reported, not guessed.
  --dry-run  only report what would be recorded     --merge   add what is missing to a database that has backups
  --verify   read every artifact and check its SHA-256 (default: sizes only)
  Metadata database: --database-url, else DATABASE_URL. S3 credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY;
  SQLGUARD_SECRET_KEY (or <SQLGUARD_DATA_DIR>/secret.key) seals the S3 secret of a target it creates.`;

/** `sqlguard config --help`. */
export const CONFIG_USAGE = `usage: sqlguard config export [-o <file>]
       sqlguard config diff  -f <file> [--prune] [--output text|json]
       sqlguard config apply -f <file> [--prune] [--dry-run] [--output text|json]
  Talks to a running server: SQLGUARD_URL (default http://127.0.0.1:8080) and SQLGUARD_TOKEN, an API token
  with the admin role (sent as Authorization: Bearer; never printed).
  export   writes the installation as YAML to <file> (-o, --out) or stdout; secrets as \${env:NAME} placeholders
  diff     the plan of <file> (-f -: stdin) against the installation; exit 0 when it matches, 2 when it differs
  apply    applies <file> in one transaction (--dry-run: only plan); exit 0 when done
  --prune  also delete what the document does not name (never a storage target holding artifacts)
  --output json prints the plan as JSON; text is coloured on a terminal unless NO_COLOR is set.
  \${env:NAME} and \${file:/path} are resolved by the server, in its environment and file system.
  Exit 1 on any error: a refused document (every problem, with its path), an unreachable server, a refused token.`;

/** A mistake on the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {
  constructor(
    readonly option: string,
    problem: string,
  ) {
    super(`${option}: ${problem}`);
    this.name = "UsageError";
  }
}

/** Where a command writes: stdout for results, stderr for progress and errors (tests capture both). */
export type CliIo = { out: (line: string) => void; err: (line: string) => void };

/** The environment variables a command may read, passed in by main.ts (the CLI's composition root). */
export type CliEnv = Record<string, string | undefined>;
