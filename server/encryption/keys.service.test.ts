import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SecretBox } from "../secrets/secret-box.ts";
import { createTestApp } from "../testing/test-app.ts";
import { encodeIdentity, fingerprintOf, generateIdentity, parseIdentity } from "./age-keys.ts";

const KEY_FIELDS = "id kind label recipient fingerprint createdAt retiredAt artifactCount backupCount identityHeld";
type KeyView = {
  id: number;
  kind: string;
  label: string;
  recipient: string;
  fingerprint: string;
  retiredAt: string | null;
  artifactCount: number;
  backupCount: number;
  identityHeld: boolean;
};

/** The encryption keys through GraphQL, on a real metadata database: list, add, retire, and what is never shown. */
describe("encryption keys", () => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Awaited<ReturnType<typeof t.as>>;
  let viewer: Awaited<ReturnType<typeof t.as>>;
  let operator: Awaited<ReturnType<typeof t.as>>;
  const responses: string[] = [];

  beforeAll(async () => {
    t = await createTestApp();
    const client = await t.as("ADMIN");
    admin = async (query, variables = {}) => {
      const r = await client(query, variables);
      responses.push(JSON.stringify({ data: r.data, errors: r.errors }));
      return r;
    };
    viewer = await t.as("VIEWER");
    operator = await t.as("OPERATOR");
  });
  afterAll(() => t?.close());

  const list = async () => (await admin(`{ encryptionKeys { ${KEY_FIELDS} } }`)).data!.encryptionKeys as KeyView[];
  const add = (label: string, recipient: string, client = admin) =>
    client(`mutation($input: AddRecoveryRecipientInput!) { addRecoveryRecipient(input: $input) { ${KEY_FIELDS} } }`, { input: { label, recipient } });
  const retire = (id: number, client = admin) => client(`mutation($id: ID!) { retireEncryptionKey(id: $id) { ${KEY_FIELDS} } }`, { id });

  it("generates the instance key on first use, once, its identity sealed with the secret box", async () => {
    const first = await list();
    expect(first).toHaveLength(1);
    const [instance] = first;
    expect(instance).toMatchObject({ kind: "INSTANCE", label: "instance key", retiredAt: null, backupCount: 0, artifactCount: 0, identityHeld: true });
    expect(instance!.recipient).toMatch(/^age1[02-9ac-hj-np-z]{58}$/);
    expect(instance!.fingerprint).toBe(fingerprintOf(instance!.recipient));
    expect((await list()).map((k) => k.id)).toEqual([instance!.id]);
    // The stored identity is sealed: the secret key opens it, and it is the recipient's private half.
    const row = await t.db.prisma.encryptionKey.findUniqueOrThrow({ where: { id: Number(instance!.id) } });
    expect(row.identityEnc).toMatch(/^v1:/);
    expect(row.identityEnc).not.toContain("AGE-SECRET-KEY");
    const secret = new SecretBox(t.secretKey).open(row.identityEnc!);
    expect(parseIdentity(secret).recipient).toBe(instance!.recipient);
    expect(
      execFileSync("age-keygen", ["-y"], { input: `${secret}\n` })
        .toString()
        .trim(),
    ).toBe(instance!.recipient);
    const audit = await t.db.prisma.auditLog.findMany({ where: { entityType: "EncryptionKey", entityId: String(instance!.id) } });
    expect(audit.map((a) => [a.actor, a.action])).toEqual([["system", "encryptionKey.create"]]);
    expect(JSON.stringify(audit)).not.toContain(row.identityEnc!);
  });

  it("adds a recovery recipient (admin only), audited; new backups then go to both keys", async () => {
    const recipient = generateIdentity().recipient;
    expect((await add("vault", recipient, operator)).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect((await add("vault", recipient, viewer)).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const r = await add("  vault  ", ` ${recipient}\n`);
    expect(r.errors).toBeUndefined();
    const added = r.data!.addRecoveryRecipient as KeyView;
    expect(added).toMatchObject({ kind: "RECOVERY", label: "vault", recipient, fingerprint: fingerprintOf(recipient), identityHeld: false, retiredAt: null });
    const current = await t.services.encryptionKeys.currentRecipients();
    expect(current.map((k) => k.kind)).toEqual(["INSTANCE", "RECOVERY"]);
    expect(current[1]!.recipient).toBe(recipient);
    const audit = await t.db.prisma.auditLog.findFirstOrThrow({ where: { entityType: "EncryptionKey", entityId: String(added.id) } });
    expect(audit).toMatchObject({ actor: expect.stringMatching(/^test-admin/), action: "encryptionKey.create" });
    // A viewer may read the list (public keys only).
    expect(((await viewer(`{ encryptionKeys { id } }`)).data!.encryptionKeys as KeyView[]).map((k) => k.id)).toContain(added.id);
    const again = await add("again", recipient);
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: "CONFLICT", field: "recipient" });
  });

  it.each([
    ["an identity instead of a recipient", () => encodeIdentity(generateIdentity()), /must start with age1/],
    ["a recipient with a bad checksum", () => flipLast(generateIdentity().recipient), /checksum/],
    ["an ssh key", () => "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl", /not an age recipient/],
    ["an empty string", () => "", /not an age recipient/],
  ])("refuses %s with a field error naming recipient, never echoing it", async (_what, make, problem) => {
    const bad = make();
    const r = await add("bad", bad);
    expect(r.data).toBeNull();
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "recipient" });
    expect(r.errors?.[0]?.message).toMatch(problem);
    if (bad.length > 10) expect(r.errors?.[0]?.message).not.toContain(bad);
  });

  it("refuses an empty or overlong label, naming label", async () => {
    const recipient = generateIdentity().recipient;
    expect((await add(" ", recipient)).errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "label" });
    expect((await add("x".repeat(101), recipient)).errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "label" });
  });

  it("retires keys (admin only, audited), but never the last usable one", async () => {
    const [instance, vault] = await list();
    expect((await retire(vault!.id, operator)).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const retired = await retire(vault!.id);
    expect(retired.errors).toBeUndefined();
    expect(retired.data!.retireEncryptionKey.retiredAt).not.toBeNull();
    expect((await t.services.encryptionKeys.currentRecipients()).map((k) => k.id)).toEqual([Number(instance!.id)]);
    const audit = await t.db.prisma.auditLog.findFirstOrThrow({ where: { action: "encryptionKey.retire", entityId: String(vault!.id) } });
    expect(audit.actor).toMatch(/^test-admin/);
    expect((audit.before as { retiredAt: unknown }).retiredAt).toBeNull();
    // Only the instance key is left: retiring it would leave new backups with no key.
    const last = await retire(instance!.id);
    expect(last.errors?.[0]?.extensions).toMatchObject({ code: "CONFLICT", field: "id" });
    expect(last.errors?.[0]?.message).toMatch(/last usable encryption key/);
    expect((await list()).find((k) => k.id === instance!.id)!.retiredAt).toBeNull();
    // With a recovery recipient beside it the instance key may go; the next backup makes a new one.
    const other = (await add("other", generateIdentity().recipient)).data!.addRecoveryRecipient as KeyView;
    expect((await retire(instance!.id)).errors).toBeUndefined();
    const next = await t.services.encryptionKeys.currentRecipients();
    expect(next.map((k) => k.kind)).toEqual(["INSTANCE", "RECOVERY"]);
    expect(next[0]!.id).not.toBe(instance!.id);
    expect(String(next[1]!.id)).toBe(String(other.id));
    // Both instance keys' identities are still held: the retired one's artifacts still open.
    expect((await t.services.encryptionKeys.identities()).map((h) => h.id)).toEqual([Number(instance!.id), Number(next[0]!.id)]);
    expect((await retire(9999)).errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
  });

  it("never returns an identity or its sealed envelope through GraphQL", async () => {
    const fields = (await admin(`{ __type(name: "EncryptionKey") { fields { name } } }`)).data!.__type.fields as Array<{ name: string }>;
    expect(fields.map((f) => f.name).sort()).toEqual(KEY_FIELDS.split(" ").sort());
    const rows = await t.db.prisma.encryptionKey.findMany({ where: { identityEnc: { not: null } } });
    expect(rows.length).toBeGreaterThan(0);
    const box = new SecretBox(t.secretKey);
    const all = responses.join("\n");
    expect(all).not.toContain("AGE-SECRET-KEY");
    for (const row of rows) {
      expect(all).not.toContain(row.identityEnc!);
      expect(all).not.toContain(box.open(row.identityEnc!));
    }
  });
});

function flipLast(recipient: string): string {
  return recipient.slice(0, -1) + (recipient.endsWith("q") ? "p" : "q");
}
