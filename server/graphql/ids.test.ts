import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp } from "../testing/test-app.ts";
import { decodeId } from "./ids.ts";

/** Identifiers are GraphQL IDs: strings out, a number or a string in, anything else refused by field. */
describe("GraphQL ids", () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Awaited<ReturnType<typeof app.as>>;
  let serverId: number;

  beforeAll(async () => {
    app = await createTestApp();
    admin = await app.as("ADMIN");
    const server = await app.db.prisma.server.create({
      data: { name: "ids-a", engine: "MARIADB", host: "127.0.0.1", port: 3306, username: "root", labels: {}, includeDatabases: [], excludeDatabases: [] },
    });
    serverId = server.id;
  });
  afterAll(async () => {
    await app?.close();
  });

  it("returns ids as strings", async () => {
    const res = await admin("{ servers { id name dumpOptionsId } storageTargets { id } }");
    expect(res.errors).toBeUndefined();
    const server = res.data?.servers.find((s: { name: string }) => s.name === "ids-a");
    expect(server.id).toBe(String(serverId));
    expect(res.data?.storageTargets.length).toBeGreaterThan(0);
    for (const t of res.data?.storageTargets ?? []) expect(t.id).toMatch(/^[1-9][0-9]*$/);
  });

  it("accepts an id as a number or a string, in a literal or a variable", async () => {
    const documents: Array<[string, Record<string, unknown>]> = [
      [`{ server(id: ${serverId}) { id name } }`, {}],
      [`{ server(id: "${serverId}") { id name } }`, {}],
      ["query ($id: ID!) { server(id: $id) { id name } }", { id: serverId }],
      ["query ($id: ID!) { server(id: $id) { id name } }", { id: String(serverId) }],
    ];
    for (const [query, variables] of documents) {
      const res = await admin(query, variables);
      expect(res.errors, query).toBeUndefined();
      expect(res.data?.server).toEqual({ id: String(serverId), name: "ids-a" });
    }
  });

  it("decodes ids inside input objects and lists", async () => {
    const res = await admin(`mutation ($input: ScheduleInput!) { createSchedule(input: $input) { id servers { id } storageTargets { id } } }`, {
      input: { name: "ids-schedule", cronExpression: "0 3 * * *", serverIds: [String(serverId)], storageTargetIds: [] },
    });
    expect(res.errors).toBeUndefined();
    expect(res.data?.createSchedule.servers).toEqual([{ id: String(serverId) }]);
  });

  it.each(["abc", "1.5", "-1", "0", "", "07", "99999999999"])("refuses %j, naming the field", async (bad) => {
    const asVariable = await admin("query ($id: ID!) { server(id: $id) { id } }", { id: bad });
    expect(asVariable.data).toBeNull();
    expect(asVariable.errors?.[0]?.message).toBe("id: not a valid id");
    expect(asVariable.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "id" });

    const inInput = await admin(`mutation ($input: ScheduleInput!) { createSchedule(input: $input) { id } }`, {
      input: { name: "ids-bad", cronExpression: "0 3 * * *", serverIds: [bad] },
    });
    expect(inInput.errors?.[0]?.message).toBe("serverIds: not a valid id");
    expect(inInput.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "serverIds" });
  });

  it("leaves GraphQL's own refusal of a non-integer number in place", async () => {
    const res = await admin("query ($id: ID!) { server(id: $id) { id } }", { id: 1.5 });
    expect(res.errors?.[0]?.message).toMatch(/ID cannot represent value: 1\.5/);
  });

  it("decodeId takes positive decimal integers only", () => {
    expect(decodeId("7", "id")).toBe(7);
    expect(decodeId(7, "id")).toBe(7);
    expect(decodeId("2147483647", "id")).toBe(2_147_483_647);
    expect(() => decodeId("2147483648", "backupId")).toThrow("backupId: not a valid id");
    expect(() => decodeId(" 7", "id")).toThrow("id: not a valid id");
    expect(() => decodeId("1e3", "id")).toThrow("id: not a valid id");
  });
});
