import { pitrStatus, type PitrStatus } from "../../pitr/pitr-window.ts";
import { builder } from "../builder.ts";
import { ServerType } from "./server.ts";

const PitrStatusRef = builder.objectRef<PitrStatus>("ServerPitr").implement({
  description: "A server's point-in-time recovery: settings and the window a restore can reach.",
  fields: (t) => ({
    enabled: t.exposeBoolean("enabled"),
    rpoSeconds: t.exposeInt("rpoSeconds"),
    storageTargetIds: t.idList({ nullable: true, resolve: (p) => p.storageTargetIds }),
    lagSeconds: t.exposeInt("lagSeconds", { nullable: true, description: "Seconds from the newest archived commit to its storage." }),
    recoverableFrom: t.expose("recoverableFrom", { type: "DateTime", nullable: true }),
    recoverableTo: t.expose("recoverableTo", { type: "DateTime", nullable: true }),
    broken: t.exposeBoolean("broken", { description: "The archive chain is broken after the newest dump: no restore can reach past the break." }),
    brokenReason: t.exposeString("brokenReason", { nullable: true }),
    warning: t.string({
      nullable: true,
      description:
        "PostgreSQL: the replication slot's wal_status is not `reserved` (extended / unreserved: the receiver lags and WAL it needs may be removed; see max_slot_wal_keep_size).",
      resolve: (p) => p.warning ?? null,
    }),
  }),
});

builder.objectField(ServerType, "pitr", (t) =>
  t.field({
    type: PitrStatusRef,
    args: { database: t.arg.string({ description: "The window of one database (its dumps); omitted = any database of the server." }) },
    resolve: (server, { database }, ctx) => pitrStatus(ctx.prisma, server, database ?? null),
  }),
);
