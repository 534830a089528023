import { builder } from "../builder.ts";

export const PitrInput = builder.inputType("PitrInput", {
  description: "Point-in-time recovery of a MariaDB / MySQL server: its binlog archived continuously.",
  fields: (t) => ({
    enabled: t.boolean({ required: true }),
    rpoSeconds: t.int({ description: "The open binlog file is shipped at least this often (5–3600 s, default 60)." }),
    storageTargetIds: t.idList({ description: "Where the binlog archive goes; omitted or empty = the default storage targets." }),
  }),
});
