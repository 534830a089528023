import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { createPrisma, type PrismaClient } from "../db/client.ts";
import { connect, parseDatabaseUrl } from "../db/connection.ts";
import { migrate } from "../db/migrator.ts";
import { createLogger } from "../observability/logger.ts";
import { keyFromPassphrase, loadSecretKey, SecretBox } from "../secrets/secret-box.ts";
import { rebuildBackup, type BackupOutcome, type FoundCopy } from "./rebuild-records.ts";
import { ensureTarget, findTarget, targetsFromArgs, targetsFromDatabase, type ScanTarget } from "./recover-targets.ts";
import { scanStorage } from "./scan-storage.ts";
import { UsageError, type CliEnv, type CliIo } from "./usage.ts";

/** What recover-metadata found and did, printed (or as JSON with --json). */
export type RecoveryReport = {
  dryRun: boolean;
  merge: boolean;
  targets: Array<{ label: string; storageTargetId: number | null; error: string | null }>;
  backups: BackupOutcome[];
  orphans: Array<{ target: string; key: string; bytes: number }>;
  problems: Array<{ target: string; key: string; problem: string }>;
};

/** `sqlguard recover-metadata`: scans storage, rebuilds the records. Resolves with the exit code. */
export async function runRecoverMetadata(argv: string[], env: CliEnv, io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      local: { type: "string", multiple: true, default: [] },
      s3: { type: "string", multiple: true, default: [] },
      endpoint: { type: "string" },
      region: { type: "string" },
      "database-url": { type: "string" },
      "dry-run": { type: "boolean", default: false },
      merge: { type: "boolean", default: false },
      verify: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
    strict: true,
  });
  const dryRun = values["dry-run"];
  const databaseUrl = values["database-url"] ?? env.DATABASE_URL ?? "mysql://root@127.0.0.1:3306/sqlguard";
  if (!/^(mysql|mariadb):\/\/[^/]+\/[A-Za-z0-9_$]+(\?.*)?$/.test(databaseUrl))
    throw new UsageError("--database-url", "must look like mysql://user:password@host:3306/database");
  const secrets = await secretBox(env);
  const prisma = await openMetadata(databaseUrl, dryRun, io);
  try {
    const given = values.local.length + values.s3.length > 0;
    if (!given && !prisma) throw new UsageError("--local", "give --local or --s3: the metadata database cannot be read for its storage targets");
    if (!given && !secrets) throw new UsageError("--local", "set SQLGUARD_SECRET_KEY to read the configured targets, or give --local / --s3");
    const targets: ScanTarget[] = given ? targetsFromArgs(values.local, values.s3, values, env, secrets) : await targetsFromDatabase(prisma!, secrets!);
    if (prisma && !dryRun && !values.merge) {
      const count = await prisma.backup.count();
      if (count > 0) {
        io.err(
          `sqlguard recover-metadata: the metadata database already holds ${count} backups: pass --merge to add only what is missing, or --dry-run to see what would be`,
        );
        return 1;
      }
    }
    const report: RecoveryReport = { dryRun, merge: values.merge, targets: [], backups: [], orphans: [], problems: [] };
    const copies = new Map<number, FoundCopy[]>();
    for (const target of targets) {
      try {
        const scan = await scanStorage(target.store, { verify: values.verify });
        const storageTargetId = dryRun || !prisma ? await findTarget(prisma, target) : (await ensureTarget(prisma, target)).id;
        report.targets.push({ label: target.label, storageTargetId, error: null });
        for (const a of scan.artifacts)
          copies.set(a.manifest.backupId, [...(copies.get(a.manifest.backupId) ?? []), { ...a, targetLabel: target.label, storageTargetId }]);
        report.orphans.push(...scan.orphans.map((o) => ({ target: target.label, ...o })));
        report.problems.push(...scan.problems.map((p) => ({ target: target.label, ...p })));
      } catch (error) {
        report.targets.push({ label: target.label, storageTargetId: null, error: (error as Error).message });
      }
    }
    for (const id of [...copies.keys()].sort((a, b) => a - b)) report.backups.push(await rebuildBackup(prisma, copies.get(id)!, dryRun));
    if (prisma && !dryRun) {
      const summary = {
        created: report.backups.filter((b) => b.action === "create").length,
        merged: report.backups.filter((b) => b.action === "merge").length,
        orphans: report.orphans.length,
      };
      await prisma.auditLog.create({ data: { actor: "recover-metadata (cli)", action: "metadata.recover", entityType: "backup", after: summary } });
    }
    if (values.json) io.out(JSON.stringify(report, null, 2));
    else printReport(report, io);
    return report.targets.some((t) => t.error) ? 1 : 0;
  } finally {
    await prisma?.$disconnect();
  }
}

/** The metadata database: migrated (and created) for a real run; only read, if it exists, for a dry run. */
async function openMetadata(databaseUrl: string, dryRun: boolean, io: CliIo): Promise<PrismaClient | null> {
  if (!dryRun) {
    await migrate({ databaseUrl, logger: createLogger({ level: "warn", pretty: false, destination: process.stderr }) });
    return createPrisma(databaseUrl);
  }
  // Checked with a plain connection first: Prisma would wait for its pool timeout on a missing database.
  const settings = parseDatabaseUrl(databaseUrl);
  const exists = await connect(settings, { withDatabase: false }).then(
    async (c) => {
      try {
        return ((await c.query("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", [settings.database])) as unknown[]).length === 1;
      } finally {
        await c.end();
      }
    },
    () => false,
  );
  const prisma = exists ? createPrisma(databaseUrl) : null;
  if (
    prisma &&
    (await prisma.backup.count().then(
      () => true,
      () => false,
    ))
  )
    return prisma;
  await prisma?.$disconnect().catch(() => {});
  io.err("note: the metadata database cannot be read; the dry run treats it as empty");
  return null;
}

/** The server's secret box: SQLGUARD_SECRET_KEY, else an existing <data dir>/secret.key, else none. */
async function secretBox(env: CliEnv): Promise<SecretBox | null> {
  if (env.SQLGUARD_SECRET_KEY) return new SecretBox(keyFromPassphrase(env.SQLGUARD_SECRET_KEY));
  const dataDir = path.resolve(env.SQLGUARD_DATA_DIR ?? "./data");
  if (!fs.existsSync(path.join(dataDir, "secret.key"))) return null;
  return new SecretBox(await loadSecretKey({ dataDir }));
}

function printReport(r: RecoveryReport, io: CliIo): void {
  const verb = r.dryRun ? "would be" : "were";
  for (const t of r.targets)
    io.out(t.error ? `target ${t.label}: cannot scan: ${t.error}` : `target ${t.label}: storage target ${t.storageTargetId ?? "(to be created)"}`);
  for (const b of r.backups) {
    io.out(`backup ${b.backupId} ${b.serverName}/${b.database}${b.encrypted ? " (encrypted, age)" : ""}: ${b.action}${b.problem ? ` (${b.problem})` : ""}`);
    for (const c of b.copies) io.out(`  ${c.added ? "+" : "="} ${c.target} ${c.key} ${c.bytes} bytes ${c.status}${c.problem ? `: ${c.problem}` : ""}`);
  }
  for (const p of r.problems) io.out(`problem ${p.target} ${p.key}: ${p.problem}`);
  for (const o of r.orphans) io.out(`no manifest (not recovered): ${o.target} ${o.key} (${o.bytes} bytes)`);
  const created = r.backups.filter((b) => b.action === "create").length;
  const merged = r.backups.filter((b) => b.action === "merge").length;
  const conflicts = r.backups.filter((b) => b.action === "conflict").length;
  io.out(
    `${created} backups ${verb} recreated, ${merged} completed with missing copies, ${conflicts} conflicts, ${r.orphans.length} objects without a manifest`,
  );
}
