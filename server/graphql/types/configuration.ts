import type { PlanResult } from "../../config-as-code/configuration.service.ts";
import { SECTIONS } from "../../config-as-code/document.ts";
import type { FieldChange, PlannedChange } from "../../config-as-code/plan.ts";
import { builder } from "../builder.ts";

export const ConfigurationActionEnum = builder.enumType("ConfigurationAction", { values: ["CREATE", "UPDATE", "DELETE"] as const });

export const ConfigurationKindEnum = builder.enumType("ConfigurationKind", {
  description: "A section of the configuration document (a DELETE of a recoveryRecipients entry retires that key).",
  values: SECTIONS,
});

const json = (v: unknown): string | null => (v == null ? null : JSON.stringify(v));

const FieldChangeRef = builder.objectRef<FieldChange>("ConfigurationFieldChange").implement({
  description: 'One field of a planned change. before/after are JSON; for secrets only "set" / "changed" (as JSON strings).',
  fields: (t) => ({
    field: t.exposeString("field", { description: "e.g. port, labels, retention.offsite" }),
    before: t.string({ nullable: true, resolve: (f) => json(f.before) }),
    after: t.string({ nullable: true, resolve: (f) => json(f.after) }),
    secret: t.exposeBoolean("secret", { description: "A secret: before/after say only whether it is set or changed." }),
  }),
});

const ChangeRef = builder.objectRef<PlannedChange>("ConfigurationChange").implement({
  description: "One object a document creates, updates or deletes.",
  fields: (t) => ({
    action: t.field({ type: ConfigurationActionEnum, resolve: (c) => c.action }),
    kind: t.field({ type: ConfigurationKindEnum, resolve: (c) => c.section }),
    name: t.exposeString("name"),
    fields: t.field({ type: [FieldChangeRef], resolve: (c) => c.fields }),
  }),
});

const PlanRef = builder.objectRef<PlanResult>("ConfigurationPlan").implement({
  description: "What a configuration document changes (and, after applyConfiguration without dryRun, changed).",
  fields: (t) => ({
    changes: t.field({ type: [ChangeRef], resolve: (p) => p.changes }),
    warnings: t.exposeStringList("warnings", { description: "Inline secrets, users created without a password, objects prune keeps." }),
    summary: t.exposeString("summary", { description: '"1 to create, 2 to update, 0 to delete." or that nothing changes.' }),
    empty: t.exposeBoolean("empty", { description: "True when the installation already matches the document." }),
    applied: t.exposeBoolean("applied", { description: "True when the changes were written (one transaction, one audit entry)." }),
    dryRun: t.exposeBoolean("dryRun"),
    prune: t.exposeBoolean("prune"),
  }),
});

builder.queryFields((t) => ({
  exportConfiguration: t.string({
    description: `The installation as a sqlguard.yaml document (YAML). Secrets are written as \${env:NAME} placeholders, never inline. Admin role.`,
    resolve: (_r, _a, ctx) => ctx.services.configuration.export(ctx.principal),
  }),
  planConfiguration: t.field({
    type: PlanRef,
    description:
      "What applying a document would change, field by field. Refused with every problem of the document (extensions.fields, each named by its path). Admin role.",
    args: {
      document: t.arg.string({ required: true }),
      prune: t.arg.boolean({ description: "Also delete the objects the document does not name (never a storage target holding artifacts)." }),
    },
    resolve: (_r, { document, prune }, ctx) => ctx.services.configuration.plan(ctx.principal, document, { prune }),
  }),
}));

builder.mutationFields((t) => ({
  applyConfiguration: t.field({
    type: PlanRef,
    description:
      "Applies a document: all or nothing, in one transaction, audited as one entry with the plan, then the scheduler reconciles once. Applying the same document again changes nothing. Admin role.",
    args: {
      document: t.arg.string({ required: true }),
      prune: t.arg.boolean({ description: "Also delete the objects the document does not name (never a storage target holding artifacts)." }),
      dryRun: t.arg.boolean({ description: "Only plan, as planConfiguration." }),
    },
    resolve: (_r, { document, prune, dryRun }, ctx) => ctx.services.configuration.apply(ctx.principal, document, { prune, dryRun }),
  }),
}));
