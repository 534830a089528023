import * as E from "../../db/generated/enums.ts";
import { builder } from "../builder.ts";

const VerificationResultEnum = builder.enumType(E.VerificationResult, {
  name: "VerificationResult",
  description:
    "OK; CORRUPT (the bytes differ from the recorded SHA-256); MISSING (the object is gone); MANIFEST_PROBLEM (data intact, manifest missing or disagreeing); UNREADABLE (storage failed: nothing known).",
});

builder.prismaObjectFields("BackupArtifact", (t) => ({
  verifyResult: t.expose("verifyResult", {
    type: VerificationResultEnum,
    nullable: true,
    description: "Outcome of the last verification; null = never verified.",
  }),
  verifyDetail: t.exposeString("verifyDetail", { nullable: true, description: "What the last verification found." }),
  verifyRequestedAt: t.expose("verifyRequestedAt", {
    type: "DateTime",
    nullable: true,
    description:
      "A verification requested on an `api` instance and not read yet by an instance that runs jobs (SQLGUARD_ROLE=all or worker); null = none waiting.",
  }),
}));

builder.mutationFields((t) => ({
  verifyBackup: t.prismaField({
    type: "Backup",
    description:
      "Re-reads every stored copy of a backup and compares its SHA-256 with the record and the manifest; results land on each artifact (verifyResult, verifiedAt; status CORRUPT / MISSING on a mismatch). On an `api` instance the reads are queued for an instance that runs jobs; the answer comes with their results, or after a minute with verifyRequestedAt still set on the copies not read yet.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => ctx.services.verification.verifyBackup(ctx.principal!, id),
  }),
}));
