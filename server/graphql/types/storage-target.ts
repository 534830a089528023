import { builder } from "../builder.ts";
import { StorageKindEnum } from "./enums.ts";

export const StorageTargetType = builder.prismaObject("StorageTarget", {
  description: "Where artifacts are written: a local directory or an S3-compatible bucket.",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    kind: t.expose("kind", { type: StorageKindEnum }),
    enabled: t.exposeBoolean("enabled"),
    isDefault: t.exposeBoolean("isDefault", { description: "Used by manual backups and schedules that name no target." }),
    path: t.exposeString("path", { nullable: true }),
    bucket: t.exposeString("bucket", { nullable: true }),
    region: t.exposeString("region", { nullable: true }),
    endpoint: t.exposeString("endpoint", { nullable: true }),
    prefix: t.exposeString("prefix"),
    forcePathStyle: t.exposeBoolean("forcePathStyle"),
    accessKeyId: t.exposeString("accessKeyId", { nullable: true }),
    secretAccessKeySet: t.boolean({ description: "Whether a secret key is stored. It is never returned.", resolve: (s) => s.secretAccessKeyEnc != null }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

export const StorageTargetInput = builder.inputType("StorageTargetInput", {
  description:
    "LOCAL needs path (not a system directory, nor one holding SQLGuard's data directory); S3 needs bucket, and accessKeyId with secretAccessKey, or neither (the environment's credential chain: instance profile, IRSA, AWS_* variables). On update, omitted fields stay.",
  fields: (t) => ({
    name: t.string(),
    kind: t.field({ type: StorageKindEnum }),
    path: t.string({ description: "LOCAL: absolute base directory; not /etc, /proc, /sys, /dev, /usr… nor SQLGuard's data directory or a parent of it." }),
    bucket: t.string(),
    region: t.string(),
    endpoint: t.string({ description: "S3-compatible endpoint URL, e.g. http://minio:9000; empty for AWS." }),
    prefix: t.string({ description: "S3: key prefix inside the bucket (LOCAL targets do not use it)." }),
    forcePathStyle: t.boolean(),
    accessKeyId: t.string(),
    secretAccessKey: t.string({ description: 'Stored encrypted, never returned. On update, null or "" removes it.' }),
    enabled: t.boolean(),
    isDefault: t.boolean(),
  }),
});

const StorageTargetMigrationEnum = builder.enumType("StorageTargetMigration", {
  description: "How updateStorageTarget may re-point a target that holds artifacts (kind, path, bucket, prefix or endpoint).",
  values: {
    ARTIFACTS_MOVED: {
      description:
        "The artifacts and their manifests were copied to the new location: each is checked there (present, with its recorded size) before the change.",
    },
  } as const,
});

builder.queryFields((t) => ({
  storageTargets: t.prismaField({ type: ["StorageTarget"], resolve: (_q, _r, _a, ctx) => ctx.services.storageTargets.list() }),
  storageTarget: t.prismaField({
    type: "StorageTarget",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => ctx.services.storageTargets.get(id),
  }),
}));

builder.mutationFields((t) => ({
  createStorageTarget: t.prismaField({
    type: "StorageTarget",
    args: { input: t.arg({ type: StorageTargetInput, required: true }) },
    resolve: (_q, _r, { input }, ctx) => ctx.services.storageTargets.create(ctx.principal!, input),
  }),
  updateStorageTarget: t.prismaField({
    type: "StorageTarget",
    description:
      "Omitted fields stay. Changing where a target that holds artifacts points is refused (CONFLICT, naming the field) unless `migration` says the artifacts were moved.",
    args: {
      id: t.arg.id({ required: true }),
      input: t.arg({ type: StorageTargetInput, required: true }),
      migration: t.arg({ type: StorageTargetMigrationEnum, required: false }),
    },
    resolve: (_q, _r, { id, input, migration }, ctx) => ctx.services.storageTargets.update(ctx.principal!, id, input, migration),
  }),
  deleteStorageTarget: t.prismaField({
    type: "StorageTarget",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => ctx.services.storageTargets.delete(ctx.principal!, id),
  }),
}));
