// The MariaDB benchmark database of bench:pipeline and bench:memory: `sqlguard_bench_<mb>`, about
// <mb> MiB of dump in one table, built once inside the server (Sequence engine) and kept between runs.
import { connect } from "../server/db/connection.ts";

export const MARIADB = { host: "127.0.0.1", port: 3306, user: "root" };
export const ROW_BYTES = 134; // about what one generated row takes in the dump

/** Creates `sqlguard_bench_<mb>` with rows of mixed text and numbers, unless it already exists. */
export async function ensureDatabase(mb: number): Promise<string> {
  const name = `sqlguard_bench_${mb}`;
  const conn = await connect({ ...MARIADB, database: "" }, { withDatabase: false });
  try {
    const exists = (await conn.query("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'done'", [name])) as Array<{
      n: bigint;
    }>;
    if (Number(exists[0]!.n) > 0) return name;
    await conn.query(`DROP DATABASE IF EXISTS ${name}`);
    await conn.query(`CREATE DATABASE ${name}`);
    await conn.query(`USE ${name}`);
    await conn.query(
      "CREATE TABLE events (id BIGINT PRIMARY KEY, account INT NOT NULL, kind VARCHAR(20) NOT NULL, amount DECIMAL(12,2), note VARCHAR(120), token CHAR(32), at DATETIME) ENGINE=InnoDB",
    );
    const rows = Math.round((mb * 1024 * 1024) / ROW_BYTES);
    const step = 500_000;
    process.stdout.write(`building ${name}: ${rows.toLocaleString()} rows `);
    for (let from = 1; from <= rows; from += step) {
      const to = Math.min(rows, from + step - 1);
      // seq_N_to_M is MariaDB's Sequence engine: the rows are generated inside the server.
      await conn.query(
        `INSERT INTO events SELECT seq, seq % 9973, ELT(1 + seq % 5, 'deposit', 'withdrawal', 'transfer', 'fee', 'refund'),
           (seq * 7919 % 1000000) / 100, CONCAT('customer note ', seq % 1000, ' for order #', seq, ' — ok'), MD5(seq),
           '2026-01-01' + INTERVAL (seq % 31536000) SECOND FROM seq_${from}_to_${to}`,
      );
      process.stdout.write(".");
    }
    await conn.query("CREATE TABLE done (id INT)");
    process.stdout.write("\n");
    return name;
  } finally {
    await conn.end();
  }
}
