import { z } from "zod";
import { actorName, requireRole, type Principal } from "../auth/roles.ts";
import type { DumpOptions } from "../db/generated/client.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import { commitChange, type CatalogDeps } from "./catalog-deps.ts";
import { compressionLevelProblem } from "../process/compress.ts";
import { extraFlagProblem } from "./dump-flags.ts";
import { definedOnly, withoutNulls } from "./objects.ts";
import { nameRule, parseInput } from "./validate.ts";

const flagsRule = (family: "mysql" | "pg") =>
  z
    .array(z.string().trim())
    .max(50, "at most 50 flags")
    .superRefine((flags, ctx) => {
      flags.forEach((flag, i) => {
        const problem = extraFlagProblem(flag, family);
        if (problem) ctx.addIssue({ code: "custom", path: [i], message: problem });
      });
    });

const fields = {
  name: nameRule,
  description: z.string().max(500, "must be at most 500 characters").nullable(),
  singleTransaction: z.boolean(),
  quick: z.boolean(),
  routines: z.boolean(),
  triggers: z.boolean(),
  events: z.boolean(),
  hexBlob: z.boolean(),
  setGtidPurged: z.enum(["AUTO", "ON", "OFF"]).nullable(),
  columnStatistics: z.boolean().nullable(),
  pgFormat: z.enum(["PLAIN", "CUSTOM"]),
  noOwner: z.boolean(),
  noPrivileges: z.boolean(),
  mysqlExtraFlags: flagsRule("mysql"),
  pgExtraFlags: flagsRule("pg"),
  compression: z.enum(["ZSTD", "GZIP", "NONE"]),
  compressionLevel: z.number().int("must be a whole number"),
  engine: z.enum(["SINGLE", "PARALLEL"]),
  threads: z.number().int("must be a whole number").min(1, "must be at least 1").max(64, "must be at most 64").nullable(),
  chunkRows: z.number().int("must be a whole number").min(1000, "must be at least 1000").max(100_000_000, "must be at most 100000000").nullable(),
  encryption: z.enum(["NONE", "AGE"]),
};
const updateSchema = z.object(fields).partial();
const createSchema = updateSchema.refine((o) => o.name !== undefined, { path: ["name"], message: "is required" });

/**
 * Rules between fields, checked on the whole row a create or update leaves (the stored row merged
 * with the input), so an update that changes one field cannot leave another invalid: changing a
 * zstd 19 profile to gzip alone is refused, as gzip takes 1-9. A profile without compression keeps
 * a level in zstd's range, for when it is switched back.
 */
const rowSchema = z.object({ compression: fields.compression, compressionLevel: fields.compressionLevel }).superRefine((row, ctx) => {
  const problem = compressionLevelProblem(row.compression === "NONE" ? "ZSTD" : row.compression, row.compressionLevel);
  if (problem) ctx.addIssue({ code: "custom", path: ["compressionLevel"], message: row.compression === "NONE" ? problem.replace(/ for ZSTD$/, "") : problem });
});
/** The columns' defaults (prisma/schema.prisma), for checking a create that omits them. */
const ROW_DEFAULTS = { compression: "ZSTD", compressionLevel: 3 } as const;

export type DumpOptionsInput = z.input<typeof updateSchema>;

/** Reusable dump option profiles. Omitted fields take the schema's defaults on create. */
export class DumpOptionsService {
  constructor(private readonly deps: CatalogDeps) {}

  list(): Promise<DumpOptions[]> {
    return this.deps.prisma.dumpOptions.findMany({ orderBy: { name: "asc" } });
  }

  async get(id: number): Promise<DumpOptions> {
    const row = await this.deps.prisma.dumpOptions.findUnique({ where: { id } });
    if (!row) throw new NotFoundError("dump option profile", id);
    return row;
  }

  async create(principal: Principal, raw: object): Promise<DumpOptions> {
    requireRole(principal, "ADMIN");
    const input = withoutNulls(parseInput(createSchema, raw));
    parseInput(rowSchema, { ...ROW_DEFAULTS, ...definedOnly({ compression: input.compression, compressionLevel: input.compressionLevel }) });
    await this.#checkName(input.name!, null);
    return commitChange(this.deps, { actor: actorName(principal), entity: "dumpOptions", action: "create", before: null }, (tx) =>
      tx.dumpOptions.create({
        data: { mysqlExtraFlags: [], pgExtraFlags: [], ...input, name: input.name! },
      }),
    );
  }

  async update(principal: Principal, id: number, raw: object): Promise<DumpOptions> {
    requireRole(principal, "ADMIN");
    const before = await this.get(id);
    const input = parseInput(updateSchema, definedOnly(raw));
    parseInput(rowSchema, { compression: input.compression ?? before.compression, compressionLevel: input.compressionLevel ?? before.compressionLevel });
    if (input.name) await this.#checkName(input.name, id);
    return commitChange(this.deps, { actor: actorName(principal), entity: "dumpOptions", action: "update", before }, (tx) =>
      tx.dumpOptions.update({ where: { id }, data: input }),
    );
  }

  /** Deletes the profile; servers that used it fall back to the built-in defaults. */
  async delete(principal: Principal, id: number): Promise<DumpOptions> {
    requireRole(principal, "ADMIN");
    const before = await this.get(id);
    await commitChange(this.deps, { actor: actorName(principal), entity: "dumpOptions", action: "delete", before }, (tx) =>
      tx.dumpOptions.delete({ where: { id } }),
    );
    return before;
  }

  async #checkName(name: string, selfId: number | null): Promise<void> {
    const clash = await this.deps.prisma.dumpOptions.findUnique({ where: { name } });
    if (clash && clash.id !== selfId) throw new ConflictError("name", `name: a dump option profile named ${JSON.stringify(name)} already exists`);
  }
}
