import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SecretBox } from "../secrets/secret-box.ts";
import { createTestApp } from "../testing/test-app.ts";

const DB_PASSWORD = "Db-Pässword-7f3a9c";
const S3_SECRET = "S3-Secret-b41d2e";
const NEW_PASSWORD = "Changed-Password-55aa";

let t: Awaited<ReturnType<typeof createTestApp>>;
let admin: Awaited<ReturnType<typeof t.as>>;
const responses: string[] = [];

beforeAll(async () => {
  t = await createTestApp();
  const client = await t.as("ADMIN");
  admin = async (query, variables = {}) => {
    const r = await client(query, variables);
    responses.push(JSON.stringify({ data: r.data, errors: r.errors }));
    return r;
  };
});
afterAll(() => t.close());

/** Every scalar and enum field of a type, from introspection, so a new field cannot slip by. */
async function allScalarFields(typeName: string): Promise<string> {
  const r = await admin(
    `query ($n: String!) { __type(name: $n) { fields { name args { name } type { kind ofType { kind ofType { kind ofType { kind } } } } } } }`,
    { n: typeName },
  );
  type T = { kind: string; ofType?: T | null };
  const leaf = (type: T): boolean => (type.ofType ? leaf(type.ofType) : type.kind === "SCALAR" || type.kind === "ENUM");
  return (r.data!.__type.fields as Array<{ name: string; args: unknown[]; type: T }>)
    .filter((f) => leaf(f.type) && f.args.length === 0)
    .map((f) => f.name)
    .join(" ");
}

describe("secrets", () => {
  let serverId: number;
  let targetId: number;

  beforeAll(async () => {
    const server = await admin(
      `mutation ($p: String!) { createServer(input: { name: "secret-db", engine: MYSQL, host: "127.0.0.1", username: "root", password: $p }) { id } }`,
      { p: DB_PASSWORD },
    );
    serverId = Number(server.data!.createServer.id);
    const target = await admin(
      `mutation ($s: String!) { createStorageTarget(input: { name: "secret-s3", kind: S3, bucket: "b-ucket", accessKeyId: "AKIA1", secretAccessKey: $s }) { id } }`,
      { s: S3_SECRET },
    );
    targetId = Number(target.data!.createStorageTarget.id);
    // A failing update carrying a password: the error must not echo it.
    await admin(`mutation ($id: ID!, $p: String!) { updateServer(id: $id, input: { password: $p, port: 0 }) { id } }`, { id: serverId, p: NEW_PASSWORD });
    await admin(`mutation ($id: ID!, $p: String!) { updateServer(id: $id, input: { password: $p }) { id } }`, { id: serverId, p: NEW_PASSWORD });
  });

  it("are never readable back through the API, only as set / not set", async () => {
    const server = await admin(`query ($id: ID!) { server(id: $id) { ${await allScalarFields("Server")} } }`, { id: serverId });
    expect(server.data!.server.passwordSet).toBe(true);
    const target = await admin(`query ($id: ID!) { storageTarget(id: $id) { ${await allScalarFields("StorageTarget")} } }`, { id: targetId });
    expect(target.data!.storageTarget.secretAccessKeySet).toBe(true);
    const audit = await admin(`{ auditLog(first: 500) { nodes { ${await allScalarFields("AuditEntry")} } } }`);
    expect(audit.data!.auditLog.nodes.length).toBeGreaterThan(0);
    expect(JSON.stringify(audit.data)).toContain('"passwordSet\\":true');

    const everything = responses.join("\n");
    for (const secret of [DB_PASSWORD, NEW_PASSWORD, S3_SECRET]) expect(everything).not.toContain(secret);
  });

  it("are encrypted at rest with AES-256-GCM under the configured key", async () => {
    const tables = ["Server", "StorageTarget", "AuditLog", "DumpOptions", "Schedule", "User", "ApiToken", "Session"];
    const dump: string[] = [];
    for (const table of tables)
      dump.push(JSON.stringify(await t.db.prisma.$queryRawUnsafe(`SELECT * FROM \`${table}\``), (_k, v) => (typeof v === "bigint" ? String(v) : v)));
    for (const secret of [DB_PASSWORD, NEW_PASSWORD, S3_SECRET]) expect(dump.join("\n")).not.toContain(secret);

    const box = new SecretBox(t.secretKey);
    const server = await t.db.prisma.server.findUniqueOrThrow({ where: { id: serverId } });
    expect(server.passwordEnc).toMatch(/^v1:/);
    expect(box.open(server.passwordEnc!)).toBe(NEW_PASSWORD);
    const target = await t.db.prisma.storageTarget.findUniqueOrThrow({ where: { id: targetId } });
    expect(box.open(target.secretAccessKeyEnc!)).toBe(S3_SECRET);
  });

  it("never reach the logs", () => {
    const logs = t.logLines.join("\n");
    for (const secret of [DB_PASSWORD, NEW_PASSWORD, S3_SECRET]) expect(logs).not.toContain(secret);
  });
});
