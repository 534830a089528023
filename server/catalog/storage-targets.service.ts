import { z } from "zod";
import { actorName, requireRole, type Principal } from "../auth/roles.ts";
import type { StorageTarget } from "../db/generated/client.ts";
import { ConflictError, NotFoundError, ValidationError, type FieldProblem } from "../errors.ts";
import { commitChange, type CatalogDeps } from "./catalog-deps.ts";
import { definedOnly } from "./objects.ts";
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

/** Local directories and S3-compatible buckets that artifacts are written to. */
export class StorageTargetsService {
  constructor(private readonly deps: CatalogDeps) {}

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

  /** Omitted fields stay; `secretAccessKey: null` or "" removes the stored secret. */
  async update(principal: Principal, id: number, raw: object): Promise<StorageTarget> {
    requireRole(principal, "ADMIN");
    const before = await this.get(id);
    const input = parseInput(updateSchema, raw);
    const { secretAccessKey, ...rest } = input;
    checkKind({
      ...before,
      ...definedOnly(rest),
      secretSet: secretAccessKey === undefined ? before.secretAccessKeyEnc != null : Boolean(secretAccessKey),
    });
    if (input.name) await this.#checkName(input.name, id);
    return commitChange(this.deps, { actor: actorName(principal), entity: "storageTarget", action: "update", before }, (tx) =>
      tx.storageTarget.update({
        where: { id },
        data: {
          ...definedOnly(rest),
          ...(secretAccessKey !== undefined ? { secretAccessKeyEnc: secretAccessKey ? this.deps.secrets.seal(secretAccessKey) : null } : {}),
        },
      }),
    );
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
