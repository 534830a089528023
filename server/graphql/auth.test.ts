import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_PASSWORD, createTestApp } from "../testing/test-app.ts";

let t: Awaited<ReturnType<typeof createTestApp>>;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const LOGIN = `mutation ($u: String!, $p: String!) { login(username: $u, password: $p) { username role } }`;

function sessionCookieOf(response: Response): string {
  const header = response.headers.get("set-cookie") ?? "";
  const match = header.match(/sqlguard_session=([^;]*)/);
  if (!match) throw new Error(`no session cookie in ${JSON.stringify(header)}`);
  return `sqlguard_session=${match[1]}`;
}

describe("authentication", () => {
  it("refuses every operation without credentials", async () => {
    for (const query of ["{ servers { id } }", "{ me { username } }", "mutation { logout }", "{ __schema { queryType { name } } }"]) {
      const r = await t.gql(query);
      expect(r.errors?.[0]?.extensions?.code, query).toBe("UNAUTHENTICATED");
      expect(r.data ?? null).toBeNull();
    }
  });

  it("refuses a wrong password without saying whether the user exists", async () => {
    const wrong = await t.gql(LOGIN, { u: "admin", p: "wrong-password" });
    const unknown = await t.gql(LOGIN, { u: "nobody", p: "wrong-password" });
    expect(wrong.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect(unknown.errors?.[0]?.message).toBe(wrong.errors?.[0]?.message);
    expect(wrong.response.headers.get("set-cookie")).toBeNull();
  });

  it("logs in with an HttpOnly session cookie that authenticates later requests, until logout", async () => {
    const login = await t.gql(LOGIN, { u: "admin", p: ADMIN_PASSWORD });
    expect(login.data?.login).toEqual({ username: "admin", role: "ADMIN" });
    const setCookie = login.response.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    const cookie = sessionCookieOf(login.response);

    const me = await t.gql("{ me { username role } }", {}, { cookie });
    expect(me.data?.me).toEqual({ username: "admin", role: "ADMIN" });

    const logout = await t.gql("mutation { logout }", {}, { cookie });
    expect(logout.data?.logout).toBe(true);
    expect(logout.response.headers.get("set-cookie")).toMatch(/sqlguard_session=;/);
    const after = await t.gql("{ me { username } }", {}, { cookie });
    expect(after.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("never stores session tokens in plain text", async () => {
    const login = await t.gql(LOGIN, { u: "admin", p: ADMIN_PASSWORD });
    const token = sessionCookieOf(login.response).split("=")[1]!;
    const rows = await t.db.prisma.session.findMany();
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.some((r) => r.tokenHash === token)).toBe(false);
  });
});

describe("API tokens", () => {
  it("are shown once, work as Bearer tokens with their role, and stop working when revoked", async () => {
    const admin = await t.as("ADMIN");
    const created = await admin(`mutation { createApiToken(name: "ci", role: VIEWER) { token apiToken { id name role prefix } } }`);
    const { token, apiToken } = created.data!.createApiToken;
    expect(token).toMatch(/^sqlg_/);
    expect(token.startsWith(apiToken.prefix)).toBe(true);
    expect(apiToken.role).toBe("VIEWER");

    const stored = await t.db.prisma.apiToken.findUniqueOrThrow({ where: { id: Number(apiToken.id) } });
    expect(JSON.stringify(stored)).not.toContain(token);

    const bearer = { authorization: `Bearer ${token}` };
    const me = await t.gql("{ me { username } servers { id } }", {}, bearer);
    expect(me.errors).toBeUndefined();
    const write = await t.gql(`mutation { deleteSchedule(id: 1) { id } }`, {}, bearer);
    expect(write.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");

    const revoked = await admin(`mutation ($id: ID!) { revokeApiToken(id: $id) { revokedAt } }`, { id: apiToken.id });
    expect(revoked.data?.revokeApiToken.revokedAt).toBeTruthy();
    const after = await t.gql("{ me { username } }", {}, bearer);
    expect(after.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("cannot be created with more rights than their creator, nor by a token below admin", async () => {
    const user = await t.db.prisma.user.create({ data: { username: "op-session", role: "OPERATOR", passwordHash: "x" } });
    const session = { userId: user.id, username: user.username, role: "OPERATOR" as const, via: "session" as const };
    await expect(t.services.auth.createApiToken(session, { name: "sneaky", role: "ADMIN" })).rejects.toMatchObject({ code: "BAD_USER_INPUT", field: "role" });
    const operator = await t.as("OPERATOR");
    const r = await operator(`mutation { createApiToken(name: "sneaky", role: VIEWER) { token } }`);
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: "FORBIDDEN" });
  });

  it("refuses an unknown bearer token", async () => {
    const r = await t.gql("{ me { username } }", {}, { authorization: "Bearer sqlg_not-a-token" });
    expect(r.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });
});

describe("roles", () => {
  const createServer = `mutation { createServer(input: { name: "r1", engine: MARIADB, host: "127.0.0.1", username: "root" }) { id } }`;

  it("lets viewers and operators read but not change configuration", async () => {
    for (const role of ["VIEWER", "OPERATOR"] as const) {
      const client = await t.as(role);
      const read = await client("{ servers { id } storageTargets { id } schedules { id } retentionRules { id } }");
      expect(read.errors, role).toBeUndefined();
      const write = await client(createServer);
      expect(write.errors?.[0]?.extensions?.code, role).toBe("FORBIDDEN");
    }
    expect(await t.db.prisma.server.count({ where: { name: "r1" } })).toBe(0);
  });

  it("keeps users and the audit log to admins", async () => {
    const viewer = await t.as("VIEWER");
    expect((await viewer("{ users { id } }")).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect((await viewer("{ auditLog { nodes { id } } }")).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const admin = await t.as("ADMIN");
    const users = await admin("{ users { username role } }");
    expect(users.data?.users.map((u: { username: string }) => u.username)).toContain("admin");
  });

  it("never lets the last admin be demoted", async () => {
    const admin = await t.as("ADMIN");
    // Two admins exist (admin, test-admin): demoting one works, demoting the other is refused.
    const list = (await admin("{ users { id username role } }")).data!.users as Array<{ id: number; username: string; role: string }>;
    const first = list.find((u) => u.username === "admin")!;
    const demote = await admin(`mutation ($id: ID!) { updateUser(id: $id, input: { role: OPERATOR }) { role } }`, { id: first.id });
    expect(demote.data?.updateUser.role).toBe("OPERATOR");
    const self = list.find((u) => u.username === "test-admin")!;
    const last = await admin(`mutation ($id: ID!) { updateUser(id: $id, input: { role: VIEWER }) { role } }`, { id: self.id });
    expect(last.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "role" });
    await admin(`mutation ($id: ID!) { updateUser(id: $id, input: { role: ADMIN }) { role } }`, { id: first.id });
  });
});
