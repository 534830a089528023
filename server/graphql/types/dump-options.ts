import { builder } from "../builder.ts";
import { CompressionEnum, DumpEngineEnum, EncryptionModeEnum, GtidPurgedEnum, PgFormatEnum } from "./enums.ts";

builder.prismaObject("DumpOptions", {
  description: "A dump option profile, shared by any number of servers.",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    description: t.exposeString("description", { nullable: true }),
    singleTransaction: t.exposeBoolean("singleTransaction"),
    quick: t.exposeBoolean("quick"),
    routines: t.exposeBoolean("routines"),
    triggers: t.exposeBoolean("triggers"),
    events: t.exposeBoolean("events"),
    hexBlob: t.exposeBoolean("hexBlob"),
    setGtidPurged: t.expose("setGtidPurged", {
      type: GtidPurgedEnum,
      nullable: true,
      description: "Oracle's mysqldump --set-gtid-purged on MySQL servers; null = OFF, so that a dump restores into the server it came from.",
    }),
    columnStatistics: t.exposeBoolean("columnStatistics", { nullable: true }),
    pgFormat: t.expose("pgFormat", { type: PgFormatEnum }),
    noOwner: t.exposeBoolean("noOwner"),
    noPrivileges: t.exposeBoolean("noPrivileges"),
    mysqlExtraFlags: t.stringList({ resolve: (d) => d.mysqlExtraFlags as string[] }),
    pgExtraFlags: t.stringList({ resolve: (d) => d.pgExtraFlags as string[] }),
    compression: t.expose("compression", { type: CompressionEnum }),
    compressionLevel: t.exposeInt("compressionLevel"),
    engine: t.expose("engine", { type: DumpEngineEnum }),
    threads: t.exposeInt("threads", { nullable: true, description: "PARALLEL: threads of the dump and the restore; null = this host's cores, at most 8." }),
    chunkRows: t.exposeInt("chunkRows", {
      nullable: true,
      description: "PARALLEL on MySQL/MariaDB: mydumper splits tables into chunks of this many rows; null = one file per table.",
    }),
    encryption: t.expose("encryption", {
      type: EncryptionModeEnum,
      description: "AGE: artifacts are encrypted after compression (age v1, key ends `.age`) to every current encryption key.",
    }),
    servers: t.relation("servers"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

const DumpOptionsInput = builder.inputType("DumpOptionsInput", {
  description: "Profile fields; on create, omitted ones take their defaults; on update, they stay.",
  fields: (t) => ({
    name: t.string(),
    description: t.string(),
    singleTransaction: t.boolean(),
    quick: t.boolean(),
    routines: t.boolean(),
    triggers: t.boolean(),
    events: t.boolean(),
    hexBlob: t.boolean(),
    setGtidPurged: t.field({ type: GtidPurgedEnum }),
    columnStatistics: t.boolean(),
    pgFormat: t.field({ type: PgFormatEnum }),
    noOwner: t.boolean(),
    noPrivileges: t.boolean(),
    mysqlExtraFlags: t.stringList({ description: "Allow-listed mysqldump flags, e.g. --skip-comments, --max-allowed-packet=1G." }),
    pgExtraFlags: t.stringList({ description: "Allow-listed pg_dump flags, e.g. --no-comments, --exclude-schema=tmp." }),
    compression: t.field({ type: CompressionEnum }),
    compressionLevel: t.int({ description: "zstd 1-19 (default 3), gzip 1-9." }),
    engine: t.field({
      type: DumpEngineEnum,
      description: "SINGLE (default): mysqldump / pg_dump; PARALLEL: mydumper / pg_dump -Fd -j, stored as one .tar.zst.",
    }),
    threads: t.int({ description: "PARALLEL: 1-64 threads; null = this host's cores, at most 8." }),
    chunkRows: t.int({ description: "PARALLEL on MySQL/MariaDB: rows per chunk (1000-100000000); null = one file per table." }),
    encryption: t.field({
      type: EncryptionModeEnum,
      description: "NONE (default) or AGE: encrypt artifacts (after compression) to the instance key and every recovery recipient.",
    }),
  }),
});

builder.queryFields((t) => ({
  dumpOptionsProfiles: t.prismaField({ type: ["DumpOptions"], resolve: (_q, _r, _a, ctx) => ctx.services.dumpOptions.list() }),
  dumpOptions: t.prismaField({
    type: "DumpOptions",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => ctx.services.dumpOptions.get(id),
  }),
}));

builder.mutationFields((t) => ({
  createDumpOptions: t.prismaField({
    type: "DumpOptions",
    args: { input: t.arg({ type: DumpOptionsInput, required: true }) },
    resolve: (_q, _r, { input }, ctx) => ctx.services.dumpOptions.create(ctx.principal!, input),
  }),
  updateDumpOptions: t.prismaField({
    type: "DumpOptions",
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: DumpOptionsInput, required: true }) },
    resolve: (_q, _r, { id, input }, ctx) => ctx.services.dumpOptions.update(ctx.principal!, id, input),
  }),
  deleteDumpOptions: t.prismaField({
    type: "DumpOptions",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => ctx.services.dumpOptions.delete(ctx.principal!, id),
  }),
}));
