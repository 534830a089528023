import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp } from "../testing/test-app.ts";
import { ADMIN_PASSWORD } from "../testing/test-app.ts";
import { totpCode, totpStep } from "./totp.ts";

type App = Awaited<ReturnType<typeof createTestApp>>;
let app: App;

beforeAll(async () => {
  app = await createTestApp();
}, 60_000);
afterAll(async () => app?.close());

const LOGIN = `mutation($u: String!, $p: String!, $c: String, $r: String) { login(username: $u, password: $p, totpCode: $c, recoveryCode: $r) { username } }`;

async function sessionOf(response: Response): Promise<string> {
  const session = /sqlguard_session=([^;]+)/.exec(response.headers.getSetCookie().join("\n"))?.[1];
  if (!session) throw new Error("no session cookie");
  return session;
}

async function actions(): Promise<string[]> {
  return (await app.db.prisma.auditLog.findMany({ where: { action: { startsWith: "totp." } }, orderBy: { id: "asc" } })).map((r) => r.action);
}

describe("TOTP for local users", () => {
  it("enrols with a QR code, then asks for a code, refuses a wrong one, accepts a right one once, and spends recovery codes once", async () => {
    const first = await app.gql(LOGIN, { u: "admin", p: ADMIN_PASSWORD });
    const session = await sessionOf(first.response);
    const as = (query: string, variables: Record<string, unknown> = {}) => app.gql(query, variables, { cookie: `sqlguard_session=${session}` });

    const begun = await as(`mutation { beginTotpEnrolment { secret otpauthUri qrSvg } }`);
    const { secret, otpauthUri, qrSvg } = begun.data!.beginTotpEnrolment;
    expect(otpauthUri).toContain(`secret=${secret}`);
    expect(qrSvg).toMatch(/^<svg/);
    const step = totpStep(new Date());
    const wrongEnrol = await as(`mutation($c: String!) { confirmTotpEnrolment(code: $c) }`, { c: "000000" === totpCode(secret, step) ? "111111" : "000000" });
    expect(wrongEnrol.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const confirmed = await as(`mutation($c: String!) { confirmTotpEnrolment(code: $c) }`, { c: totpCode(secret, step) });
    const codes = confirmed.data!.confirmTotpEnrolment as string[];
    expect(codes).toHaveLength(10);
    const stored = await app.db.prisma.user.findUniqueOrThrow({ where: { username: "admin" } });
    expect(stored.totpSecret).not.toContain(secret);
    const hashes = await app.db.prisma.recoveryCode.findMany({ where: { userId: Number(stored.id) } });
    expect(hashes.map((h) => h.codeHash)).not.toContain(codes[0]);
    expect((await as(`{ myTotp { enabled recoveryCodesLeft required } }`)).data?.myTotp).toEqual({ enabled: true, recoveryCodesLeft: 10, required: false });

    // The password alone is not enough now.
    const noCode = await app.gql(LOGIN, { u: "admin", p: ADMIN_PASSWORD });
    expect(noCode.errors?.[0]?.extensions).toMatchObject({ code: "SECOND_FACTOR_REQUIRED", secondFactor: "TOTP" });
    expect(noCode.response.headers.getSetCookie().join("")).not.toContain("sqlguard_session");
    const wrong = await app.gql(LOGIN, { u: "admin", p: ADMIN_PASSWORD, c: "123456" === totpCode(secret, step + 1) ? "654321" : "123456" });
    expect(wrong.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    // The enrolment's own code (its step) is spent; the next step's code works, once.
    const next = totpCode(secret, step + 1);
    const ok = await app.gql(LOGIN, { u: "admin", p: ADMIN_PASSWORD, c: next });
    expect(ok.data?.login).toEqual({ username: "admin" });
    const replay = await app.gql(LOGIN, { u: "admin", p: ADMIN_PASSWORD, c: next });
    expect(replay.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");

    const recovered = await app.gql(LOGIN, { u: "admin", p: ADMIN_PASSWORD, r: codes[3]!.toUpperCase() });
    expect(recovered.data?.login).toEqual({ username: "admin" });
    const reused = await app.gql(LOGIN, { u: "admin", p: ADMIN_PASSWORD, r: codes[3] });
    expect(reused.errors?.[0]?.extensions?.code).toMatch(/UNAUTHENTICATED|RATE_LIMITED/);
    expect(await actions()).toEqual(expect.arrayContaining(["totp.failure", "totp.enrol", "totp.recoveryCode.use"]));
    expect((await actions()).filter((a) => a === "totp.failure").length).toBeGreaterThanOrEqual(3);
    await app.services.auth.throttle.clearUser("admin");
  }, 60_000);

  it("makes a role that must use TOTP enrol at login, and turns local login off for all but the break-glass user", async () => {
    const admin = await app.as("ADMIN");
    await app.db.prisma.user.create({
      data: { username: "olly", role: "OPERATOR", passwordHash: await import("./password.ts").then((m) => m.hashPassword("olly-password")) },
    });
    const set = await admin(`mutation { updateSignInSettings(input: { totpRequiredRoles: [OPERATOR] }) { totpRequiredRoles } }`);
    expect(set.data?.updateSignInSettings).toEqual({ totpRequiredRoles: ["OPERATOR"] });
    const first = await app.gql(LOGIN, { u: "olly", p: "olly-password" });
    const ext = first.errors?.[0]?.extensions as { code: string; secondFactor: string; enrolment: { secret: string; qrSvg: string } };
    expect(ext).toMatchObject({ code: "SECOND_FACTOR_REQUIRED", secondFactor: "ENROL" });
    expect(ext.enrolment.qrSvg).toMatch(/^<svg/);
    const done = await app.gql(LOGIN, { u: "olly", p: "olly-password", c: totpCode(ext.enrolment.secret, totpStep(new Date())) });
    expect(done.data?.login).toEqual({ username: "olly" });
    const session = await sessionOf(done.response);
    const disable = await app.gql(`mutation { disableTotp(code: "000000") }`, {}, { cookie: `sqlguard_session=${session}` });
    expect(disable.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");

    // Local login off: olly is refused before the password is checked; admin (break-glass) is not.
    await app.db.prisma.signInSettings.update({
      where: { id: 1 },
      data: { oidcEnabled: true, oidcIssuer: "https://login.example.com", oidcClientId: "x", localLoginEnabled: false },
    });
    const refused = await app.gql(LOGIN, { u: "olly", p: "olly-password" });
    expect(refused.errors?.[0]?.message).toMatch(/turned off/);
    const breakGlass = await app.gql(LOGIN, { u: "admin", p: ADMIN_PASSWORD });
    expect(breakGlass.errors?.[0]?.extensions?.code).toBe("SECOND_FACTOR_REQUIRED");
  }, 60_000);
});
