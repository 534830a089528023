import { requireRole } from "../../auth/roles.ts";
import type { ConfigurationDrift } from "../../config-as-code/config-file.ts";
import { builder } from "../builder.ts";
import { ConfigurationActionEnum, ConfigurationKindEnum } from "./configuration.ts";

type DriftObject = ConfigurationDrift["objects"][number];

const DriftObjectRef = builder.objectRef<DriftObject>("ConfigurationDriftObject").implement({
  description: "One object that differs from the configuration file: what applying the file again would do to it.",
  fields: (t) => ({
    kind: t.field({ type: ConfigurationKindEnum, resolve: (o) => o.kind }),
    name: t.exposeString("name"),
    change: t.field({ type: ConfigurationActionEnum, resolve: (o) => o.change }),
  }),
});

const DriftRef = builder.objectRef<ConfigurationDrift>("ConfigurationDrift").implement({
  description: "How the installation differs from SQLGUARD_CONFIG_FILE (changes made through the console or the API since it was applied).",
  fields: (t) => ({
    file: t.exposeString("file", { description: "The file's path on the server." }),
    appliedAt: t.field({
      type: "DateTime",
      nullable: true,
      description: "When the file was last applied (at start or on SIGHUP).",
      resolve: (d) => d.appliedAt,
    }),
    differing: t.exposeInt("differing", { description: "Objects that differ; 0 when the installation matches the file." }),
    objects: t.field({ type: [DriftObjectRef], resolve: (d) => d.objects }),
  }),
});

builder.queryFields((t) => ({
  configurationDrift: t.field({
    type: DriftRef,
    nullable: true,
    description:
      "The dry-run plan of the last applied SQLGUARD_CONFIG_FILE document against the installation now; null when the server runs without one. Viewer role.",
    resolve: (_r, _a, ctx) => (ctx.services.configFile ? ctx.services.configFile.drift(ctx.principal) : (requireRole(ctx.principal, "VIEWER"), null)),
  }),
}));
