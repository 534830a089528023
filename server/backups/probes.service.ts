import { requireRole, type Principal } from "../auth/roles.ts";
import { restoredDatabases, selectBackupDatabases } from "../catalog/restored-databases.ts";
import type { PrismaClient } from "../db/client.ts";
import type { Server, StorageTarget } from "../db/generated/client.ts";
import { NotFoundError, ValidationError } from "../errors.ts";
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

export type ProbesDeps = {
  prisma: PrismaClient;
  secrets: SecretBox;
  engine: DumpEngine;
  storeFor: (target: StorageTarget) => ArtifactStore;
  /** A store for an unsaved target (no upload journal: its rows would point at no target). */
  draftStoreFor?: (target: StorageTarget) => ArtifactStore;
  /** The server / target a form would save (input over the saved one, `baseId`), unsaved. */
  draftServer?: (input: object, baseId: number | null) => Promise<Server>;
  draftTarget?: (input: object, baseId: number | null) => Promise<StorageTarget>;
};

/** "Test connection" for servers and storage targets, saved or still in a form: never changes configuration. */
export class ProbesService {
  constructor(private readonly deps: ProbesDeps) {}

  /**
   * Connects, reports the version and the databases a backup would cover, or why it cannot. With
   * `input`, tests what the form holds (over the saved server `id`, or new) without saving it.
   */
  async testServer(principal: Principal, id: number | null, input?: object | null): Promise<ServerProbe> {
    requireRole(principal, "OPERATOR");
    if (id === null && !input) throw new ValidationError("id", "id: give the server's id, or the input of the form to test");
    const server = input && this.deps.draftServer ? await this.deps.draftServer(input, id) : await this.deps.prisma.server.findUnique({ where: { id: id! } });
    if (!server) throw new NotFoundError("server", id!);
    const dumpOptions = server.dumpOptionsId ? await this.deps.prisma.dumpOptions.findUnique({ where: { id: server.dumpOptionsId } }) : null;
    const tools = await this.deps.engine.tools();
    const tool = server.engine === "POSTGRESQL" ? tools.pgDump : tools.mysqlDump;
    const dumpTool = tool ? `${tool.path} (${tool.version})` : null;
    try {
      const conn = connectionOf(server, this.deps.secrets);
      const inspection = await this.deps.engine.inspect(conn);
      const restored = server.id ? await restoredDatabases(this.deps.prisma, server.id) : new Set<string>();
      const databases = selectBackupDatabases(inspection.databases, server, restored);
      const warnings = [...inspection.warnings];
      const parallelEngine = dumpOptions?.engine === "PARALLEL";
      const parallel = await parallelPreflight(conn, tools, dumpOptions);
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

  /** Writes, reads back and deletes a probe object; with `input`, on the target the form holds, unsaved. */
  async testStorage(principal: Principal, id: number | null, input?: object | null): Promise<StorageProbe> {
    requireRole(principal, "OPERATOR");
    if (id === null && !input) throw new ValidationError("id", "id: give the storage target's id, or the input of the form to test");
    const draft = Boolean(input && this.deps.draftTarget);
    const target = draft ? await this.deps.draftTarget!(input!, id) : await this.deps.prisma.storageTarget.findUnique({ where: { id: id! } });
    if (!target) throw new NotFoundError("storage target", id!);
    try {
      const { latencyMs } = await probeStore(draft ? (this.deps.draftStoreFor ?? this.deps.storeFor)(target) : this.deps.storeFor(target));
      return { ok: true, latencyMs, error: null };
    } catch (error) {
      return { ok: false, latencyMs: null, error: (error as Error).message };
    }
  }
}
