import type { PreflightProblem, RestorePreflight } from "../../restore/restore-preflight.ts";
import { builder } from "../builder.ts";

/** An account to restore as; shared by restorePreflight and restoreBackup. */
export const RestoreCredentialsInput = builder.inputType("RestoreCredentialsInput", {
  description: "Restore as this account instead of the server's backup user. The password is never stored, logged or returned.",
  fields: (t) => ({
    username: t.string({ required: true }),
    password: t.string({ required: true }),
  }),
});

const PreflightProblemType = builder.objectRef<PreflightProblem>("RestorePreflightProblem").implement({
  description: "One thing that would make the restore fail as the restoring user.",
  fields: (t) => ({
    kind: t.exposeString("kind", { description: "TRIGGER, VIEW, PROCEDURE, FUNCTION, EVENT, TABLE…, or DATABASE for the target itself." }),
    name: t.exposeString("name", { description: "`database.object` (MySQL/MariaDB), the object as pg_dump names it, or the target database." }),
    definer: t.exposeString("definer", { nullable: true, description: "The DEFINER (user@host) or OWNER TO role the dump names for it." }),
    problem: t.exposeString("problem", { description: "In words: the object, its definer, the restoring user and what it lacks." }),
    solvedByRewrite: t.exposeBoolean("solvedByRewrite", { description: "Rewriting the definers (dropping the owners) makes this problem go away." }),
  }),
});

const RestorePreflightType = builder.objectRef<RestorePreflight>("RestorePreflight").implement({
  description: "What restoring a backup as an account would run into, checked before the restore.",
  fields: (t) => ({
    restoringUser: t.exposeString("restoringUser", { description: "The account the restore runs as (CURRENT_USER() / current_user)." }),
    definers: t.exposeStringList("definers", { description: "The distinct DEFINERs (MySQL/MariaDB) or OWNER TO roles (PostgreSQL) of the dump." }),
    objectCount: t.exposeInt("objectCount", { description: "How many objects of the dump name an account." }),
    problems: t.field({ type: [PreflightProblemType], resolve: (p) => p.problems }),
    canRewriteDefiners: t.exposeBoolean("canRewriteDefiners", {
      description: "restoreBackup can rewrite this artifact's definers to the restoring user (drop its owners): plain SQL artifacts.",
    }),
    warnings: t.exposeStringList("warnings"),
  }),
});

const RestorePreflightInput = builder.inputType("RestorePreflightInput", {
  fields: (t) => ({
    backupId: t.id({ required: true }),
    storageTargetId: t.id({ description: "Target to read the artifact from; omitted = the first stored copy." }),
    serverId: t.id({ description: "Server to restore into; omitted = the backup's own server." }),
    database: t.string({ description: "Database to restore into; omitted = a new `<database>_restored_<UTC YYYYMMDD_HHMMSS>`." }),
    credentials: t.field({ type: RestoreCredentialsInput, description: "Check as this account; omitted = the server's backup user." }),
  }),
});

builder.queryFields((t) => ({
  restorePreflight: t.field({
    type: RestorePreflightType,
    description:
      "Checks a restore before it runs: the DEFINERs of the dump's triggers, views, routines and events (PostgreSQL: its OWNER TO roles) against the restoring account's privileges. Reads a plain SQL artifact once; changes nothing.",
    args: { input: t.arg({ type: RestorePreflightInput, required: true }) },
    resolve: (_r, { input }, ctx) => ctx.services.restores.preflight(ctx.principal!, input),
  }),
}));
