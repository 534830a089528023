import type { PrismaClient } from "../db/client.ts";
import type { Server, StorageTarget } from "../db/generated/client.ts";
import { connectionOf } from "../runner/connection-of.ts";
import type { DumpEngine } from "../runner/dump-engine.ts";
import type { Clock } from "../scheduler/clock.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { probeStore } from "../storage/create-store.ts";
import type { Logger } from "./logger.ts";
import type { SqlguardMetrics } from "./metrics.ts";

/** The last health check of one server or storage target. */
export type ComponentHealth = {
  kind: "SERVER" | "STORAGE_TARGET";
  id: number;
  name: string;
  up: boolean;
  checkedAt: Date;
  latencyMs: number | null;
  error: string | null;
  /** SERVER, when up: every database on it (system ones left out). */
  databases: string[] | null;
};

export type HealthMonitorDeps = {
  prisma: PrismaClient;
  secrets: SecretBox;
  engine: Pick<DumpEngine, "inspect">;
  storeFor: (target: StorageTarget) => ArtifactStore;
  metrics?: SqlguardMetrics;
  clock: Clock;
  logger: Logger;
  /** Called when a component goes down (or is down at its first check) or comes back (notifications). */
  onTransition?: (result: ComponentHealth) => void;
  /** SQLGUARD_HEALTH_INTERVAL_SECONDS; 0 = no periodic checks (checkAll still works). */
  intervalMs: number;
};

const CHECK_TIMEOUT_MS = 15_000;

/**
 * Periodic reachability checks of every enabled server (connect and list its databases) and
 * storage target (write, read back and delete a probe object), so an outage shows on the
 * dashboard and in `sqlguard_server_up` / `sqlguard_storage_target_up` before the next backup
 * fails. After each round, metric series of deleted servers and of databases no longer on a
 * reachable server are removed. Checks never change configuration.
 */
export class HealthMonitor {
  #results: ComponentHealth[] = [];
  #stop: (() => void) | null = null;
  #round: Promise<ComponentHealth[]> | null = null;
  readonly #log: Logger;

  constructor(private readonly deps: HealthMonitorDeps) {
    this.#log = deps.logger.child({ component: "health" });
  }

  /** The last check of each component (empty before the first round). */
  snapshot(): ComponentHealth[] {
    return this.#results;
  }

  /** Checks at once, then every interval; no-op when the interval is 0. */
  start(): void {
    if (this.deps.intervalMs <= 0 || this.#stop) return;
    const run = () => void this.checkAll().catch((error: unknown) => this.#log.warn({ err: error }, "health check round failed"));
    run();
    this.#stop = this.deps.clock.every(this.deps.intervalMs, run);
  }

  stop(): void {
    this.#stop?.();
    this.#stop = null;
  }

  /** One round over every enabled server and target; a round under way is shared, not doubled. */
  checkAll(): Promise<ComponentHealth[]> {
    this.#round ??= this.#check().finally(() => (this.#round = null));
    return this.#round;
  }

  async #check(): Promise<ComponentHealth[]> {
    const { prisma } = this.deps;
    const [servers, targets] = await Promise.all([
      prisma.server.findMany({ where: { enabled: true }, orderBy: { name: "asc" } }),
      prisma.storageTarget.findMany({ where: { enabled: true }, orderBy: { name: "asc" } }),
    ]);
    const results = await Promise.all([...servers.map((s) => this.#server(s)), ...targets.map((t) => this.#target(t))]);
    for (const r of results) {
      const before = this.#results.find((p) => p.kind === r.kind && p.id === r.id);
      if (before && before.up !== r.up)
        this.#log.warn({ kind: r.kind, name: r.name, up: r.up, err: r.error }, r.up ? "component is reachable again" : "component is down");
      else if (!before && !r.up) this.#log.warn({ kind: r.kind, name: r.name, err: r.error }, "component is down");
      if ((before && before.up !== r.up) || (!before && !r.up)) this.deps.onTransition?.(r);
    }
    this.#results = results;
    const metrics = this.deps.metrics;
    if (metrics) {
      metrics.setHealth(
        results.filter((r) => r.kind === "SERVER").map((r) => ({ server: r.name, up: r.up })),
        results.filter((r) => r.kind === "STORAGE_TARGET").map((r) => ({ target: r.name, up: r.up })),
      );
      await this.#forgetGone(results);
    }
    return results;
  }

  /** Drops the metric series of servers that no longer exist and of databases gone from a reachable server. */
  async #forgetGone(results: ComponentHealth[]): Promise<void> {
    const names = new Set((await this.deps.prisma.server.findMany({ select: { name: true } })).map((s) => s.name));
    const onServer = new Map(results.filter((r) => r.kind === "SERVER" && r.up && r.databases).map((r) => [r.name, new Set(r.databases)]));
    const removed = await this.deps.metrics!.retainDatabases(({ server, database }) => names.has(server) && (onServer.get(server)?.has(database) ?? true));
    if (removed) this.#log.info({ removed }, "removed metric series of deleted servers and dropped databases");
  }

  async #server(server: Server): Promise<ComponentHealth> {
    const started = performance.now();
    const base = { kind: "SERVER" as const, id: server.id, name: server.name };
    try {
      const inspection = await withTimeout(this.deps.engine.inspect(connectionOf(server, this.deps.secrets)), `${server.name}: no answer`);
      return {
        ...base,
        up: true,
        checkedAt: this.deps.clock.now(),
        latencyMs: Math.round(performance.now() - started),
        error: null,
        databases: inspection.databases,
      };
    } catch (error) {
      return { ...base, up: false, checkedAt: this.deps.clock.now(), latencyMs: null, error: (error as Error).message, databases: null };
    }
  }

  async #target(target: StorageTarget): Promise<ComponentHealth> {
    const base = { kind: "STORAGE_TARGET" as const, id: target.id, name: target.name, databases: null };
    try {
      const { latencyMs } = await withTimeout(probeStore(this.deps.storeFor(target)), `${target.name}: no answer`);
      return { ...base, up: true, checkedAt: this.deps.clock.now(), latencyMs, error: null };
    } catch (error) {
      return { ...base, up: false, checkedAt: this.deps.clock.now(), latencyMs: null, error: (error as Error).message };
    }
  }
}

function withTimeout<T>(work: Promise<T>, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${CHECK_TIMEOUT_MS / 1000} s`)), CHECK_TIMEOUT_MS);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
