import type { ParallelPreflight } from "../../backups/parallel-preflight.ts";
import type { ServerProbe, StorageProbe } from "../../backups/probes.service.ts";
import { builder } from "../builder.ts";
import { ServerUpdateInput } from "./server.ts";
import { StorageTargetInput } from "./storage-target.ts";

const ParallelPreflightRef = builder.objectRef<ParallelPreflight>("ParallelPreflight").implement({
  description: "Whether the PARALLEL engine (mydumper / pg_dump -Fd -j) can back up the server, and what it locks there.",
  fields: (t) => ({
    ready: t.exposeBoolean("ready"),
    tool: t.exposeString("tool", { nullable: true }),
    threads: t.exposeInt("threads", { description: "Threads the server's profile would use." }),
    problems: t.exposeStringList("problems", { description: "Missing program or privileges (RELOAD for the global lock), too few free connections." }),
    locks: t.exposeString("locks", { description: "What a PARALLEL dump locks on the server, and for how long." }),
  }),
});

const ServerConnectionTest = builder.objectRef<ServerProbe>("ServerConnectionTest").implement({
  description: "The result of testServerConnection: what a backup of the server would see now.",
  fields: (t) => ({
    ok: t.exposeBoolean("ok"),
    version: t.exposeString("version", { nullable: true }),
    databases: t.exposeStringList("databases", { description: "What a backup would cover (include/exclude applied)." }),
    allDatabases: t.exposeStringList("allDatabases", { description: "Every non-system database on the server." }),
    warnings: t.exposeStringList("warnings"),
    errorKind: t.exposeString("errorKind", {
      nullable: true,
      description: "REFUSED, ACCESS_DENIED, UNKNOWN_HOST, TIMEOUT, TLS, PRIVILEGES, NO_DATABASES or OTHER.",
    }),
    error: t.exposeString("error", { nullable: true }),
    dumpTool: t.exposeString("dumpTool", { nullable: true }),
    parallel: t.field({ type: ParallelPreflightRef, nullable: true, resolve: (p) => p.parallel }),
  }),
});

const StorageTargetTest = builder.objectRef<StorageProbe>("StorageTargetTest").implement({
  description: "The result of testStorageTarget: a probe object written, read back and deleted.",
  fields: (t) => ({
    ok: t.exposeBoolean("ok"),
    latencyMs: t.exposeInt("latencyMs", { nullable: true }),
    error: t.exposeString("error", { nullable: true }),
  }),
});

builder.mutationFields((t) => ({
  testServerConnection: t.field({
    type: ServerConnectionTest,
    description:
      "Operator: connects to a server. `id` alone tests the saved server; `input` tests what a create or edit form holds, unsaved (over the saved server `id` when given; an empty password keeps the saved one).",
    args: {
      id: t.arg.id({ description: "The saved server (optional with input)." }),
      input: t.arg({ type: ServerUpdateInput, description: "The form's values: tested without saving." }),
    },
    resolve: (_r, { id, input }, ctx) => ctx.services.probes.testServer(ctx.principal!, id ?? null, input),
  }),
  testStorageTarget: t.field({
    type: StorageTargetTest,
    description:
      "Operator: writes, reads back and deletes a probe object. `id` alone tests the saved target; `input` tests what a form holds, unsaved (over the saved target `id` when given; an empty secret keeps the saved one).",
    args: {
      id: t.arg.id({ description: "The saved target (optional with input)." }),
      input: t.arg({ type: StorageTargetInput, description: "The form's values: tested without saving." }),
    },
    resolve: (_r, { id, input }, ctx) => ctx.services.probes.testStorage(ctx.principal!, id ?? null, input),
  }),
}));
