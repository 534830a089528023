import { z } from "zod";
import { actorName, requireRole, type Principal } from "../auth/roles.ts";
import { Prisma, type Server } from "../db/generated/client.ts";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import { commitChange, type CatalogDeps } from "./catalog-deps.ts";
import { globListRule, hostRule, nameRule, parseInput, portRule, secretRule, usernameRule } from "./validate.ts";

export const ENGINES = ["MYSQL", "MARIADB", "POSTGRESQL"] as const;
export type EngineName = (typeof ENGINES)[number];

export const DEFAULT_PORTS: Record<EngineName, number> = { MYSQL: 3306, MARIADB: 3306, POSTGRESQL: 5432 };

/** Labels as the API takes them: `[{ key, value }]`, keys unique. */
export const labelsRule = z
  .array(
    z.object({
      key: z
        .string()
        .trim()
        .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,62}$/, "label keys are letters, digits, '_', '.', '-' (max 63)"),
      value: z.string().max(255, "label values are at most 255 characters"),
    }),
  )
  .max(50, "at most 50 labels")
  .refine((l) => new Set(l.map((x) => x.key)).size === l.length, { message: "label keys must be unique" });

/** Point-in-time recovery settings: `rpoSeconds` how often the open binlog is shipped; targets null = the defaults. */
export const pitrRule = z.object({
  enabled: z.boolean(),
  rpoSeconds: z.number().int().min(5, "must be at least 5").max(3600, "must be at most 3600").nullish(),
  storageTargetIds: z.array(z.coerce.number().int("must be storage target ids")).max(20, "at most 20 targets").nullish(),
});

const fields = {
  pitr: pitrRule,
  name: nameRule,
  engine: z.enum(ENGINES),
  host: hostRule,
  port: portRule,
  username: usernameRule,
  password: secretRule.nullable(),
  tls: z.boolean(),
  allowPublicKeyRetrieval: z.boolean(),
  enabled: z.boolean(),
  labels: labelsRule,
  includeDatabases: globListRule,
  excludeDatabases: globListRule,
  dumpOptionsId: z.number().int().nullable(),
  maxConcurrent: z.number().int().min(1, "must be at least 1").max(64, "must be at most 64"),
};
const createSchema = z.object({
  ...fields,
  port: fields.port.nullish(),
  password: fields.password.nullish(),
  tls: fields.tls.nullish(),
  allowPublicKeyRetrieval: fields.allowPublicKeyRetrieval.nullish(),
  enabled: fields.enabled.nullish(),
  labels: fields.labels.nullish(),
  includeDatabases: fields.includeDatabases.nullish(),
  excludeDatabases: fields.excludeDatabases.nullish(),
  dumpOptionsId: fields.dumpOptionsId.nullish(),
  maxConcurrent: fields.maxConcurrent.nullish(),
  pitr: fields.pitr.nullish(),
});
const updateSchema = z.object(fields).partial();

export type ServerCreateInput = z.input<typeof createSchema>;
export type ServerUpdateInput = z.input<typeof updateSchema>;

/** Servers to back up: validation, encrypted passwords, audit, and change notification. */
export class ServersService {
  constructor(private readonly deps: CatalogDeps) {}

  list(): Promise<Server[]> {
    return this.deps.prisma.server.findMany({ orderBy: { name: "asc" } });
  }

  async get(id: number): Promise<Server> {
    const server = await this.deps.prisma.server.findUnique({ where: { id } });
    if (!server) throw new NotFoundError("server", id);
    return server;
  }

  async create(principal: Principal, raw: object): Promise<Server> {
    requireRole(principal, "ADMIN");
    const input = parseInput(createSchema, raw);
    await this.#checkRefs(input.name, input.dumpOptionsId ?? null, null);
    await this.#checkPitr(input.engine, input.pitr ?? null);
    const { secrets } = this.deps;
    return commitChange(this.deps, { actor: actorName(principal), entity: "server", action: "create", before: null }, (tx) =>
      tx.server.create({
        data: {
          name: input.name,
          engine: input.engine,
          host: input.host,
          port: input.port ?? DEFAULT_PORTS[input.engine],
          username: input.username,
          passwordEnc: input.password ? secrets.seal(input.password) : null,
          tls: input.tls ?? false,
          allowPublicKeyRetrieval: input.allowPublicKeyRetrieval ?? true,
          enabled: input.enabled ?? true,
          labels: labelsToJson(input.labels ?? []),
          includeDatabases: input.includeDatabases ?? [],
          excludeDatabases: input.excludeDatabases ?? [],
          dumpOptionsId: input.dumpOptionsId ?? null,
          maxConcurrent: input.maxConcurrent ?? 1,
          ...(input.pitr ? pitrData(input.pitr) : {}),
        },
      }),
    );
  }

  /** Omitted fields stay as they are; `password: null` or "" removes the password. */
  async update(principal: Principal, id: number, raw: object): Promise<Server> {
    requireRole(principal, "ADMIN");
    const input = parseInput(updateSchema, raw);
    const before = await this.get(id);
    await this.#checkRefs(input.name ?? null, input.dumpOptionsId ?? null, id);
    if (input.pitr) await this.#checkPitr(input.engine ?? before.engine, input.pitr);
    const { password, labels, pitr, ...rest } = input;
    const { secrets } = this.deps;
    return commitChange(this.deps, { actor: actorName(principal), entity: "server", action: "update", before }, async (tx) => {
      // Turned on again: a new archive chain (the old one's break, lease and source are forgotten; its archives stay).
      if (pitr?.enabled && !before.pitrEnabled) await tx.pitrStream.deleteMany({ where: { serverId: id } });
      return tx.server.update({
        where: { id },
        data: {
          ...rest,
          ...(pitr ? pitrData(pitr) : {}),
          ...(labels !== undefined ? { labels: labelsToJson(labels) } : {}),
          ...(password !== undefined ? { passwordEnc: password ? secrets.seal(password) : null } : {}),
        },
      });
    });
  }

  /**
   * The server as the create or edit form would save it, without saving it (for "Test connection"
   * before saving): the input validated as an update and laid over the saved server `baseId`, or
   * over the defaults when new (engine, host and username then required). A password left out or
   * empty keeps the saved one. Never written anywhere.
   */
  async draft(raw: object, baseId: number | null): Promise<Server> {
    const input = parseInput(updateSchema, raw);
    const base = baseId !== null ? await this.get(baseId) : null;
    if (!base) {
      const missing = (["engine", "host", "username"] as const).filter((f) => input[f] === undefined);
      if (missing.length) throw new ValidationError(missing[0]!, `${missing[0]}: is required to test a connection`);
    }
    const engine = input.engine ?? base!.engine;
    const { password, labels, pitr: _pitr, ...rest } = input;
    const now = new Date();
    return {
      id: base?.id ?? 0,
      name: input.name ?? base?.name ?? "unsaved",
      engine,
      host: input.host ?? base!.host,
      port: input.port ?? base?.port ?? DEFAULT_PORTS[engine],
      username: input.username ?? base!.username,
      passwordEnc: password ? this.deps.secrets.seal(password) : (base?.passwordEnc ?? null),
      tls: rest.tls ?? base?.tls ?? false,
      allowPublicKeyRetrieval: rest.allowPublicKeyRetrieval ?? base?.allowPublicKeyRetrieval ?? true,
      enabled: true,
      labels: labels !== undefined ? labelsToJson(labels) : (base?.labels ?? {}),
      includeDatabases: rest.includeDatabases ?? base?.includeDatabases ?? [],
      excludeDatabases: rest.excludeDatabases ?? base?.excludeDatabases ?? [],
      maxConcurrent: 1,
      queueClaimedAt: null,
      dumpOptionsId: null,
      pitrEnabled: false,
      pitrRpoSeconds: 60,
      pitrStorageTargetIds: null,
      createdAt: base?.createdAt ?? now,
      updatedAt: now,
    };
  }

  /** Deletes the server; its backup records stay (with the server's name) for restores. */
  async delete(principal: Principal, id: number): Promise<Server> {
    requireRole(principal, "ADMIN");
    const before = await this.get(id);
    await commitChange(this.deps, { actor: actorName(principal), entity: "server", action: "delete", before }, (tx) => tx.server.delete({ where: { id } }));
    return before;
  }

  /** PITR archives binlogs (MariaDB / MySQL) or WAL (PostgreSQL: server/pitr/pg) onto storage targets that exist. */
  async #checkPitr(_engine: EngineName, pitr: z.output<typeof pitrRule> | null): Promise<void> {
    if (!pitr) return;
    const ids = pitr.storageTargetIds ?? [];
    if (!ids.length) return;
    const found = await this.deps.prisma.storageTarget.findMany({ where: { id: { in: ids } }, select: { id: true } });
    const missing = ids.find((id) => !found.some((t) => t.id === id));
    if (missing !== undefined) throw new ValidationError("pitr.storageTargetIds", `pitr.storageTargetIds: storage target ${missing} does not exist`);
  }

  async #checkRefs(name: string | null, dumpOptionsId: number | null, selfId: number | null): Promise<void> {
    const { prisma } = this.deps;
    if (name) {
      const clash = await prisma.server.findUnique({ where: { name } });
      if (clash && clash.id !== selfId) throw new ConflictError("name", `name: a server named ${JSON.stringify(name)} already exists`);
    }
    if (dumpOptionsId != null && !(await prisma.dumpOptions.findUnique({ where: { id: dumpOptionsId } }))) {
      throw new ValidationError("dumpOptionsId", `dump option profile ${dumpOptionsId} does not exist`);
    }
  }
}

/** The Server columns a `pitr` input sets (an omitted rpoSeconds means the default 60). */
function pitrData(pitr: z.output<typeof pitrRule>) {
  return {
    pitrEnabled: pitr.enabled,
    pitrRpoSeconds: pitr.rpoSeconds ?? 60,
    pitrStorageTargetIds: pitr.storageTargetIds?.length ? pitr.storageTargetIds : Prisma.DbNull,
  };
}

export function labelsToJson(labels: Array<{ key: string; value: string }>): Record<string, string> {
  return Object.fromEntries(labels.map((l) => [l.key, l.value]));
}

/** Labels as stored, in key order. */
export function labelsOf(server: Pick<Server, "labels">): Array<{ key: string; value: string }> {
  const obj = (server.labels ?? {}) as Record<string, string>;
  return Object.keys(obj)
    .sort()
    .map((key) => ({ key, value: String(obj[key]) }));
}
