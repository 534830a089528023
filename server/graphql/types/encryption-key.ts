import { actorName, requireRole } from "../../auth/roles.ts";
import * as E from "../../db/generated/enums.ts";
import type { KeyView } from "../../encryption/keys.service.ts";
import { builder } from "../builder.ts";

const EncryptionKeyKindEnum = builder.enumType(E.EncryptionKeyKind, {
  name: "EncryptionKeyKind",
  description: "INSTANCE: the key pair SQLGuard generated (its private part sealed in the metadata); RECOVERY: a public key whose private part a user holds.",
});

/** What the API shows of a key: never its identity (the private part). */
type EncryptionKeyShape = Omit<KeyView, "identityEnc">;

const EncryptionKeyType = builder.objectRef<EncryptionKeyShape>("EncryptionKey").implement({
  description: "An age X25519 key encrypted backups are written to. Its private part is never returned.",
  fields: (t) => ({
    id: t.exposeID("id"),
    kind: t.field({ type: EncryptionKeyKindEnum, resolve: (k) => k.kind }),
    label: t.exposeString("label"),
    recipient: t.exposeString("recipient", { description: "The public key, `age1…`." }),
    fingerprint: t.exposeString("fingerprint", { description: "First 16 hex digits of SHA-256 over the recipient (what manifests record)." }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    retiredAt: t.expose("retiredAt", {
      type: "DateTime",
      nullable: true,
      description: "Set once retired: new backups leave it out; artifacts encrypted to it still open with it.",
    }),
    artifactCount: t.exposeInt("artifactCount", { description: "Stored copies (artifacts) that open with this key." }),
    backupCount: t.exposeInt("backupCount", { description: "Backups with at least one stored copy that opens with this key." }),
    identityHeld: t.exposeBoolean("identityHeld", {
      description: "Whether this instance holds the private part (instance keys), so restores need no identity file.",
    }),
  }),
});

const AddRecoveryRecipientInput = builder.inputType("AddRecoveryRecipientInput", {
  fields: (t) => ({
    label: t.string({ required: true, description: "A name to tell the key by, e.g. where its private half is kept (1-100 characters)." }),
    recipient: t.string({ required: true, description: 'The public key, `age1…` (the "public key:" line age-keygen prints).' }),
  }),
});

/** The row as a view: mutations return the key with its current counts. */
async function viewOf(keys: { list(): Promise<KeyView[]> }, id: number): Promise<EncryptionKeyShape> {
  const found = (await keys.list()).find((k) => k.id === id);
  if (!found) throw new Error(`encryption key ${id} vanished`);
  return found;
}

builder.queryFields((t) => ({
  encryptionKeys: t.field({
    type: [EncryptionKeyType],
    description:
      "The instance key and the recovery recipients, retired ones included: instance keys first, then oldest first (the instance key is generated on first use).",
    resolve: (_r, _a, ctx) => {
      requireRole(ctx.principal, "VIEWER");
      return ctx.services.encryptionKeys.list();
    },
  }),
}));

builder.mutationFields((t) => ({
  addRecoveryRecipient: t.field({
    type: EncryptionKeyType,
    description: "Admin: adds an age public key every new encrypted backup is also written to. Keep its private half away from this server.",
    args: { input: t.arg({ type: AddRecoveryRecipientInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const principal = requireRole(ctx.principal, "ADMIN");
      const created = await ctx.services.encryptionKeys.addRecoveryRecipient(actorName(principal), input);
      return viewOf(ctx.services.encryptionKeys, created.id);
    },
  }),
  retireEncryptionKey: t.field({
    type: EncryptionKeyType,
    description: "Admin: new backups leave this key out (existing artifacts still open with it). The last key not retired cannot be retired.",
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, { id }, ctx) => {
      const principal = requireRole(ctx.principal, "ADMIN");
      await ctx.services.encryptionKeys.retire(actorName(principal), id);
      return viewOf(ctx.services.encryptionKeys, id);
    },
  }),
}));
