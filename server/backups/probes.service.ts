import { requireRole, type Principal } from "../auth/roles.ts";
import { selectDatabases } from "../catalog/glob.ts";
import type { PrismaClient } from "../db/client.ts";
import type { StorageTarget } from "../db/generated/client.ts";
import { NotFoundError } from "../errors.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import { connectionOf } from "../runner/connection-of.ts";
import type { DumpEngine } from "../runner/dump-engine.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { probeStore } from "../storage/create-store.ts";
import { parallelPreflight, type ParallelPreflight } from "./parallel-preflight.ts";

export type ServerProbe = {
  ok: boolean;
  version: string | null;
  /** The databases a backup of this server would cover now (patterns applied). */
  databases: string[];
  /** Every non-system database, before include/exclude patterns. */
  allDatabases: string[];
  warnings: string[];
  /** REFUSED, ACCESS_DENIED, UNKNOWN_HOST, TIMEOUT, TLS, PRIVILEGES, NO_DATABASES or OTHER. */
  errorKind: string | null;
  error: string | null;
  /** The dump program that would run, or null when none is installed for this engine. */
  dumpTool: string | null;
  /** Whether the PARALLEL engine can run against the server and what it would lock; null when the server could not be reached. */
  parallel: ParallelPreflight | null;
};

export type StorageProbe = { ok: boolean; latencyMs: number | null; error: string | null };

/** "Test connection" for servers and storage targets: never changes configuration. */
export class ProbesService {
  constructor(private readonly deps: { prisma: PrismaClient; secrets: SecretBox; engine: DumpEngine; storeFor: (target: StorageTarget) => ArtifactStore }) {}

  /** Connects, reports the version and the databases a backup would cover, or why it cannot. */
  async testServer(principal: Principal, id: number): Promise<ServerProbe> {
    requireRole(principal, "OPERATOR");
    const server = await this.deps.prisma.server.findUnique({ where: { id }, include: { dumpOptions: true } });
    if (!server) throw new NotFoundError("server", id);
    const tools = await this.deps.engine.tools();
    const tool = server.engine === "POSTGRESQL" ? tools.pgDump : tools.mysqlDump;
    const dumpTool = tool ? `${tool.path} (${tool.version})` : null;
    try {
      const conn = connectionOf(server, this.deps.secrets);
      const inspection = await this.deps.engine.inspect(conn);
      const databases = selectDatabases(inspection.databases, server.includeDatabases as string[], server.excludeDatabases as string[]);
      const warnings = [...inspection.warnings];
      const parallelEngine = server.dumpOptions?.engine === "PARALLEL";
      const parallel = await parallelPreflight(conn, tools, server.dumpOptions);
      if (!tool && !parallelEngine) warnings.push(`no dump program for ${server.engine} is installed on this machine`);
      // The profile asks for the PARALLEL engine: what it lacks is the server's problem now.
      if (parallelEngine) warnings.push(...parallel.problems.map((p) => `PARALLEL engine: ${p}`));
      const empty = databases.length === 0;
      return {
        parallel,
        ok: !empty && (parallelEngine ? parallel.ready : tool !== null),
        version: inspection.version,
        databases,
        allDatabases: inspection.databases,
        warnings,
        errorKind: empty ? "NO_DATABASES" : null,
        error: empty ? "no database matches the include/exclude patterns" : null,
        dumpTool,
      };
    } catch (error) {
      const kind = (error as { kind?: string }).kind ?? "OTHER";
      return {
        ok: false,
        version: null,
        databases: [],
        allDatabases: [],
        warnings: [],
        errorKind: kind,
        error: (error as Error).message,
        dumpTool,
        parallel: null,
      };
    }
  }

  /** Writes, reads back and deletes a probe object. */
  async testStorage(principal: Principal, id: number): Promise<StorageProbe> {
    requireRole(principal, "OPERATOR");
    const target = await this.deps.prisma.storageTarget.findUnique({ where: { id } });
    if (!target) throw new NotFoundError("storage target", id);
    try {
      const { latencyMs } = await probeStore(this.deps.storeFor(target));
      return { ok: true, latencyMs, error: null };
    } catch (error) {
      return { ok: false, latencyMs: null, error: (error as Error).message };
    }
  }
}
