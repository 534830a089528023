import { z } from "zod";
import { actorName, requireRole, type Principal } from "../auth/roles.ts";
import type { StorageTarget } from "../db/generated/client.ts";
import { ConflictError, NotFoundError, ValidationError, type FieldProblem } from "../errors.ts";
import type { ArtifactStore } from "../storage/artifact-store.ts";
import { commitChange, type CatalogDeps } from "./catalog-deps.ts";
import { definedOnly } from "./objects.ts";
import { checkStoragePath, findUnmovedArtifacts, relocatedFields } from "./storage-relocation.ts";
import { absolutePathRule, bucketRule, endpointRule, nameRule, parseInput, prefixRule, regionRule, secretRule } from "./validate.ts";

const updateSchema = z
  .object({
    name: nameRule,
    kind: z.enum(["LOCAL", "S3"]),
    enabled: z.boolean(),
    isDefault: z.boolean(),
    path: absolutePathRule.nullable(),
    bucket: bucketRule.nullable(),
    region: regionRule.nullable(),
    endpoint: endpointRule.nullable(),
    prefix: prefixRule,
    forcePathStyle: z.boolean(),
    accessKeyId: z.string().trim().max(255, "must be at most 255 characters").nullable(),
    secretAccessKey: secretRule.nullable(),
  })
  .partial();
const createSchema = updateSchema.superRefine((o, ctx) => {
  if (o.name === undefined) ctx.addIssue({ code: "custom", path: ["name"], message: "is required" });
  if (o.kind === undefined) ctx.addIssue({ code: "custom", path: ["kind"], message: "is required" });
});

export type StorageTargetInput = z.input<typeof updateSchema>;

/**
 * How an update that re-points a target holding artifacts is allowed: ARTIFACTS_MOVED says the
 * artifacts were copied to the new location; every one is checked there before the change.
 */
export type StorageTargetMigration = "ARTIFACTS_MOVED";

/** Artifact states whose object is (or is being) stored on the target. */
const HELD = ["STORED", "PENDING", "CORRUPT"] as const;

export type StorageTargetsOptions = {
  /** SQLGuard's data directory: no LOCAL target may be it or contain it. */
  dataDir?: string;
  /** Builds a store for a target as it would be after a change (to check a migration). */
  storeFor: (target: StorageTarget) => ArtifactStore;
};

/** Local directories and S3-compatible buckets that artifacts are written to. */
export class StorageTargetsService {
  constructor(
    private readonly deps: CatalogDeps,
    private readonly options: StorageTargetsOptions,
  ) {}

  list(): Promise<StorageTarget[]> {
    return this.deps.prisma.storageTarget.findMany({ orderBy: { name: "asc" } });
  }

  async get(id: number): Promise<StorageTarget> {
    const row = await this.deps.prisma.storageTarget.findUnique({ where: { id } });
    if (!row) throw new NotFoundError("storage target", id);
    return row;
  }

  async create(principal: Principal, raw: object): Promise<StorageTarget> {
    requireRole(principal, "ADMIN");
    const input = parseInput(createSchema, raw);
    const { secretAccessKey, ...rest } = input;
    const merged = { ...rest, kind: input.kind!, name: input.name!, secretSet: Boolean(secretAccessKey) };
    checkKind(merged);
    if (merged.kind === "LOCAL") await checkStoragePath(input.path!, this.options.dataDir);
    await this.#checkName(merged.name, null);
    return commitChange(this.deps, { actor: actorName(principal), entity: "storageTarget", action: "create", before: null }, (tx) =>
      tx.storageTarget.create({
        data: {
          ...rest,
          name: merged.name,
          kind: merged.kind,
          enabled: input.enabled ?? true,
          isDefault: input.isDefault ?? false,
          prefix: input.prefix ?? "",
          forcePathStyle: input.forcePathStyle ?? true,
          secretAccessKeyEnc: secretAccessKey ? this.deps.secrets.seal(secretAccessKey) : null,
        },
      }),
    );
  }

  /**
   * The target as the create or edit form would save it, without saving it (for "Test" before
   * saving): the input laid over the saved target `baseId`, or new (kind required). A secret left
   * out or empty keeps the saved one; a LOCAL path is checked as on save. Never written anywhere.
   */
  async draft(raw: object, baseId: number | null): Promise<StorageTarget> {
    const input = parseInput(updateSchema, raw);
    const base = baseId !== null ? await this.get(baseId) : null;
    if (!base && input.kind === undefined) throw new ValidationError("kind", "kind: is required to test a storage target");
    const { secretAccessKey, ...rest } = input;
    const now = new Date();
    const draft = {
      id: base?.id ?? 0,
      name: "unsaved",
      enabled: true,
      isDefault: false,
      path: null,
      bucket: null,
      region: null,
      endpoint: null,
      prefix: "",
      forcePathStyle: true,
      accessKeyId: null,
      secretAccessKeyEnc: null,
      createdAt: now,
      ...base,
      ...definedOnly(rest),
      updatedAt: now,
    } as StorageTarget;
    if (secretAccessKey) draft.secretAccessKeyEnc = this.deps.secrets.seal(secretAccessKey);
    checkKind({ ...draft, secretSet: draft.secretAccessKeyEnc != null });
    if (draft.kind === "LOCAL") await checkStoragePath(draft.path!, this.options.dataDir);
    return draft;
  }

  /**
   * Omitted fields stay; `secretAccessKey: null` or "" removes the stored secret. Changing where a
   * target holding artifacts points (kind; path; bucket, prefix, endpoint) is refused with a
   * ConflictError naming the field, unless `migration` is ARTIFACTS_MOVED and every stored artifact
   * (and manifest) is found at the new location with its recorded size; never while one is written.
   */
  async update(principal: Principal, id: number, raw: object, migration?: StorageTargetMigration | null): Promise<StorageTarget> {
    requireRole(principal, "ADMIN");
    const before = await this.get(id);
    const input = parseInput(updateSchema, raw);
    const { secretAccessKey, ...rest } = input;
    const after = { ...before, ...definedOnly(rest) } as StorageTarget;
    checkKind({
      ...after,
      secretSet: secretAccessKey === undefined ? before.secretAccessKeyEnc != null : Boolean(secretAccessKey),
    });
    if (after.kind === "LOCAL" && (rest.path !== undefined || rest.kind !== undefined)) await checkStoragePath(after.path!, this.options.dataDir);
    if (input.name) await this.#checkName(input.name, id);
    const relocated = relocatedFields(before, after);
    // Checked before the transaction (it reads every object); the transaction re-checks that nothing changed since.
    const verified = relocated.length && migration === "ARTIFACTS_MOVED" ? await this.#verifyMoved(before, after, relocated[0]!) : [];
    return commitChange(this.deps, { actor: actorName(principal), entity: "storageTarget", action: "update", before }, async (tx) => {
      // Updated first: the row lock keeps new artifacts of this target out until the commit.
      const row = await tx.storageTarget.update({
        where: { id },
        data: {
          ...definedOnly(rest),
          ...(secretAccessKey !== undefined ? { secretAccessKeyEnc: secretAccessKey ? this.deps.secrets.seal(secretAccessKey) : null } : {}),
        },
      });
      if (relocated.length) {
        const field = relocated[0]!;
        const held = await tx.backupArtifact.findMany({ where: { storageTargetId: id, status: { in: [...HELD] } }, select: { id: true, status: true } });
        const writing = held.filter((a) => a.status === "PENDING").length;
        if (writing) {
          throw new ConflictError(
            field,
            `${field}: ${writing} backup(s) are being written to storage target ${before.name}; wait until they finish before re-pointing it`,
          );
        }
        if (held.length && migration !== "ARTIFACTS_MOVED") {
          throw new ConflictError(
            field,
            `${field}: storage target ${before.name} holds ${held.length} backup artifact(s), which changing its ${relocated.join(", ")} would strand; add a new target instead (and disable this one), or copy the artifacts to the new location and update with migration ARTIFACTS_MOVED`,
          );
        }
        const unchecked = held.filter((a) => !verified.includes(a.id)).length;
        if (unchecked)
          throw new ConflictError(field, `${field}: ${unchecked} artifact(s) were stored on ${before.name} while the new location was checked; try again`);
        // Records of writes to the old location mean nothing at the new one.
        await tx.storageUpload.deleteMany({ where: { storageTargetId: id } });
      }
      return row;
    });
  }

  /** The ids of the held artifacts, once each was found at the new location; a ConflictError naming what is missing otherwise. */
  async #verifyMoved(before: StorageTarget, after: StorageTarget, field: string): Promise<number[]> {
    const artifacts = await this.deps.prisma.backupArtifact.findMany({
      where: { storageTargetId: before.id, status: { in: ["STORED", "CORRUPT"] } },
      select: { id: true, key: true, sizeBytes: true },
    });
    let store: ArtifactStore;
    try {
      store = this.options.storeFor(after);
    } catch (error) {
      throw new ConflictError(field, `${field}: the new location cannot be opened: ${(error as Error).message}`);
    }
    const problems = await findUnmovedArtifacts(store, artifacts);
    if (problems.length) {
      const shown = problems.slice(0, 5).join("; ");
      throw new ConflictError(
        field,
        `${field}: ${problems.length} of ${artifacts.length} artifact(s) of ${before.name} are not at the new location (${shown}${problems.length > 5 ? "; …" : ""}); copy them there first`,
      );
    }
    return artifacts.map((a) => a.id);
  }

  /** Refused while the target still holds stored backups: disable it, or delete those first. */
  async delete(principal: Principal, id: number): Promise<StorageTarget> {
    requireRole(principal, "ADMIN");
    const before = await this.get(id);
    const stored = await this.deps.prisma.backupArtifact.count({ where: { storageTargetId: id, status: "STORED" } });
    if (stored > 0) {
      throw new ConflictError("id", `storage target ${before.name} still holds ${stored} stored backup(s); disable it instead, or delete those backups first`);
    }
    await commitChange(this.deps, { actor: actorName(principal), entity: "storageTarget", action: "delete", before }, (tx) =>
      tx.storageTarget.delete({ where: { id } }),
    );
    return before;
  }

  async #checkName(name: string, selfId: number | null): Promise<void> {
    const clash = await this.deps.prisma.storageTarget.findUnique({ where: { name } });
    if (clash && clash.id !== selfId) throw new ConflictError("name", `name: a storage target named ${JSON.stringify(name)} already exists`);
  }
}

type KindCheck = {
  kind: "LOCAL" | "S3";
  path?: string | null;
  bucket?: string | null;
  accessKeyId?: string | null;
  secretSet: boolean;
};

/** The fields each kind needs, checked on the target as it will be after the change. */
function checkKind(t: KindCheck): void {
  const problems: FieldProblem[] = [];
  if (t.kind === "LOCAL" && !t.path) problems.push({ field: "path", problem: "is required for a LOCAL target" });
  if (t.kind === "S3") {
    if (!t.bucket) problems.push({ field: "bucket", problem: "is required for an S3 target" });
    if (Boolean(t.accessKeyId) !== t.secretSet) {
      problems.push({
        field: t.accessKeyId ? "secretAccessKey" : "accessKeyId",
        problem: "accessKeyId and secretAccessKey must be given together (or both left empty to use the environment's credentials)",
      });
    }
  }
  if (problems.length) throw ValidationError.of(problems);
}
