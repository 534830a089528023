import { labelsOf } from "../../catalog/servers.service.ts";
import { builder } from "../builder.ts";
import { EngineEnum } from "./enums.ts";
import { PitrInput } from "./pitr-input.ts";

export const Label = builder.objectRef<{ key: string; value: string }>("Label").implement({
  fields: (t) => ({ key: t.exposeString("key"), value: t.exposeString("value") }),
});

export const LabelInput = builder.inputType("LabelInput", {
  fields: (t) => ({ key: t.string({ required: true }), value: t.string({ required: true }) }),
});

export const ServerType = builder.prismaObject("Server", {
  description: "A database server whose databases SQLGuard backs up.",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    engine: t.expose("engine", { type: EngineEnum }),
    host: t.exposeString("host"),
    port: t.exposeInt("port"),
    username: t.exposeString("username"),
    passwordSet: t.boolean({ description: "Whether a password is stored. The password itself is never returned.", resolve: (s) => s.passwordEnc != null }),
    tls: t.exposeBoolean("tls"),
    allowPublicKeyRetrieval: t.exposeBoolean("allowPublicKeyRetrieval", {
      description:
        "Without TLS, whether SQLGuard's MySQL clients may fetch the server's RSA public key to send the password (caching_sha2_password after a server restart). An attacker on the network could substitute the key; TLS needs none.",
    }),
    enabled: t.exposeBoolean("enabled"),
    labels: t.field({ type: [Label], resolve: labelsOf }),
    includeDatabases: t.stringList({ description: "Glob patterns; empty = every non-system database.", resolve: (s) => s.includeDatabases as string[] }),
    excludeDatabases: t.stringList({ resolve: (s) => s.excludeDatabases as string[] }),
    maxConcurrent: t.exposeInt("maxConcurrent"),
    dumpOptionsId: t.exposeID("dumpOptionsId", { nullable: true }),
    dumpOptions: t.relation("dumpOptions", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

const serverFields = (required: boolean) =>
  builder.inputType(required ? "ServerInput" : "ServerUpdateInput", {
    description: required ? "A new server. Omitted optional fields take their defaults." : "Changes to a server; omitted fields stay as they are.",
    fields: (t) => ({
      name: t.string({ required }),
      engine: t.field({ type: EngineEnum, required }),
      host: t.string({ required }),
      port: t.int({ description: "Defaults to 3306 (MySQL, MariaDB) or 5432 (PostgreSQL)." }),
      username: t.string({ required }),
      password: t.string({ description: 'Stored encrypted, never returned. On update, null or "" removes it.' }),
      tls: t.boolean(),
      allowPublicKeyRetrieval: t.boolean({ description: "Default true; matters only without TLS (MySQL 8 caching_sha2_password)." }),
      enabled: t.boolean(),
      labels: t.field({ type: [LabelInput] }),
      includeDatabases: t.stringList({ description: "Glob patterns (*, ?, [a-z]) of databases to back up; empty = all." }),
      excludeDatabases: t.stringList({ description: "Glob patterns of databases to leave out." }),
      dumpOptionsId: t.id(),
      maxConcurrent: t.int({ description: "Backups of this server that may run at once (default 1)." }),
      pitr: t.field({ type: PitrInput, description: "Point-in-time recovery: archive the binlog (MariaDB / MySQL) or the WAL (PostgreSQL) continuously." }),
    }),
  });
const ServerInput = serverFields(true);
export const ServerUpdateInput = serverFields(false);

builder.queryFields((t) => ({
  servers: t.prismaField({ type: ["Server"], resolve: (_q, _root, _args, ctx) => ctx.services.servers.list() }),
  server: t.prismaField({
    type: "Server",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _root, { id }, ctx) => ctx.services.servers.get(id),
  }),
}));

builder.mutationFields((t) => ({
  createServer: t.prismaField({
    type: "Server",
    args: { input: t.arg({ type: ServerInput, required: true }) },
    resolve: (_q, _root, { input }, ctx) => ctx.services.servers.create(ctx.principal!, input),
  }),
  updateServer: t.prismaField({
    type: "Server",
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: ServerUpdateInput, required: true }) },
    resolve: (_q, _root, { id, input }, ctx) => ctx.services.servers.update(ctx.principal!, id, input),
  }),
  deleteServer: t.prismaField({
    type: "Server",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _root, { id }, ctx) => ctx.services.servers.delete(ctx.principal!, id),
  }),
}));
