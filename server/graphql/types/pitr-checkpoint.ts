import { builder } from "../builder.ts";

builder.prismaObject("PitrCheckpoint", {
  description:
    "Row counts per table of one database at an exact binlog position (one consistent snapshot of the source), recorded every SQLGUARD_PITR_CHECKPOINT_MINUTES while the binlog is archived: what point-in-time drills compare with.",
  fields: (t) => ({
    id: t.exposeID("id"),
    database: t.exposeString("database"),
    binlogPosition: t.string({ description: "file:offset of the snapshot.", resolve: (c) => `${c.binlogFile}:${c.binlogPosition}` }),
    takenAt: t.expose("takenAt", { type: "DateTime" }),
    tableRows: t.string({ description: 'JSON: { "table": rows }.', resolve: (c) => JSON.stringify(c.tableRows) }),
  }),
});

builder.queryFields((t) => ({
  pitrCheckpoints: t.prismaField({
    type: ["PitrCheckpoint"],
    description:
      "Row-count checkpoints of a server (optionally one database), newest first: a point-in-time drill can be pinned to one (runPitrDrill checkpointId).",
    args: { serverId: t.arg.id({ required: true }), database: t.arg.string(), first: t.arg.int({ defaultValue: 50 }) },
    resolve: (query, _r, { serverId, database, first }, ctx) =>
      ctx.prisma.pitrCheckpoint.findMany({
        ...query,
        where: { serverId, ...(database ? { database } : {}) },
        orderBy: { takenAt: "desc" },
        take: Math.min(Math.max(first ?? 50, 1), 500),
      }),
  }),
}));
