import { builder } from "../builder.ts";

export const PitrInput = builder.inputType("PitrInput", {
  description: "Point-in-time recovery: the binlog (MariaDB / MySQL) or the WAL (PostgreSQL, through a replication slot) archived continuously.",
  fields: (t) => ({
    enabled: t.boolean({ required: true }),
    rpoSeconds: t.int({ description: "The open binlog file (PostgreSQL: WAL segment) is shipped at least this often (5–3600 s, default 60)." }),
    storageTargetIds: t.idList({ description: "Where the archive (and PostgreSQL's base backups) goes; omitted or empty = the default storage targets." }),
  }),
});
