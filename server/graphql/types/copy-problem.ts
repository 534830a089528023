import type { CopyProblem } from "../../backups/copy-health.ts";
import { builder } from "../builder.ts";

/** A target lacking an intact copy of a backup (server/backups/copy-health.ts). */
export const CopyProblemRef = builder.objectRef<CopyProblem>("CopyProblem").implement({
  description: "A storage target the backup should be on without an intact copy there.",
  fields: (t) => ({
    storageTargetId: t.exposeID("storageTargetId"),
    target: t.exposeString("target", { description: "The storage target's name." }),
    status: t.exposeString("status", {
      description: "The copy's state: FAILED (upload), PENDING, CORRUPT or MISSING (found by verification), DELETED, or ABSENT (never written there).",
    }),
    error: t.exposeString("error", { nullable: true }),
  }),
});
