import { z } from "zod";
import { actorName, requireRole, type Principal } from "../auth/roles.ts";
import type { DumpOptions } from "../db/generated/client.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import { commitChange, type CatalogDeps } from "./catalog-deps.ts";
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
};
const updateSchema = z
  .object(fields)
  .partial()
  .superRefine((o, ctx) => {
    // zstd levels 1-19, gzip 1-9; checked against the compression given in the same input.
    if (o.compressionLevel === undefined) return;
    const max = o.compression === "GZIP" ? 9 : 19;
    if (o.compressionLevel < 1 || o.compressionLevel > max) {
      ctx.addIssue({ code: "custom", path: ["compressionLevel"], message: `must be between 1 and ${max} for ${o.compression ?? "ZSTD"}` });
    }
  });
const createSchema = updateSchema.refine((o) => o.name !== undefined, { path: ["name"], message: "is required" });

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
    const input = parseInput(updateSchema, { compression: before.compression, ...definedOnly(raw) });
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
