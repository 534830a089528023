// Login back-off on the real metadata database, with a clock the test moves.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../audit/audit-log.ts";
import { RateLimitedError } from "../errors.ts";
import { createTestDatabase, memoryLogger, type TestDatabase } from "../testing/test-db.ts";
import { AuthService } from "./auth.service.ts";
import { hashPassword } from "./password.ts";

let db: TestDatabase;
let clock = new Date("2026-12-02T10:00:00Z");
const { logger, lines } = memoryLogger();
let auth: AuthService;

const advance = (ms: number) => {
  clock = new Date(clock.getTime() + ms);
};

/** The code of a login's error ("ok" when it succeeds), and its retryAfterSeconds. */
async function attempt(username: string, password: string, address: string): Promise<{ code: string; retryAfterSeconds?: number }> {
  try {
    await auth.login(username, password, address);
    return { code: "ok" };
  } catch (error) {
    return { code: (error as { code: string }).code, retryAfterSeconds: error instanceof RateLimitedError ? error.retryAfterSeconds : undefined };
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  for (const username of ["alice", "bob", "carol"]) {
    await db.prisma.user.create({ data: { username, role: "VIEWER", passwordHash: await hashPassword(`${username}-password`) } });
  }
  auth = new AuthService(db.prisma, new AuditLog(db.prisma), 3_600_000, {
    logger,
    now: () => clock,
    throttle: { userFailures: 3, addressFailures: 6, baseLockMs: 10_000, maxLockMs: 60_000, resetAfterMs: 600_000 },
  });
});
afterAll(() => db?.drop());

describe("login throttling", () => {
  it("locks a user name after its free failures, doubling the lock, even for the right password", async () => {
    for (let i = 0; i < 3; i++) expect((await attempt("alice", "wrong", `192.0.2.${i}`)).code).toBe("UNAUTHENTICATED");
    expect((await attempt("alice", "wrong", "192.0.2.10")).code).toBe("UNAUTHENTICATED"); // 4th: locked 10 s from now
    expect(await attempt("alice", "alice-password", "192.0.2.11")).toEqual({ code: "RATE_LIMITED", retryAfterSeconds: 10 });
    // Throttled attempts are not counted: the lock does not grow while it lasts.
    advance(5_000);
    expect(await attempt("ALICE", "wrong", "192.0.2.12")).toEqual({ code: "RATE_LIMITED", retryAfterSeconds: 5 });
    advance(5_000);
    expect((await attempt("alice", "wrong", "192.0.2.13")).code).toBe("UNAUTHENTICATED"); // 5th: 20 s
    expect((await attempt("alice", "alice-password", "192.0.2.14")).retryAfterSeconds).toBe(20);
    advance(20_000);
    expect((await attempt("alice", "wrong", "192.0.2.15")).code).toBe("UNAUTHENTICATED"); // 6th: 40 s
    advance(40_000);
    expect((await attempt("alice", "wrong", "192.0.2.16")).code).toBe("UNAUTHENTICATED"); // 7th: capped at 60 s
    expect((await attempt("alice", "alice-password", "192.0.2.17")).retryAfterSeconds).toBe(60);
    advance(60_000);
    expect((await attempt("alice", "alice-password", "192.0.2.18")).code).toBe("ok");
    // The success cleared the user's count: three free failures again.
    for (let i = 0; i < 3; i++) await attempt("alice", "wrong", "192.0.2.19");
    expect((await attempt("alice", "alice-password", "192.0.2.20")).code).toBe("ok");
  });

  it("locks an address that sprays many user names, known or not, and forgets after a quiet period", async () => {
    for (const name of ["bob", "nobody", "carol", "ghost", "bob", "x"]) await attempt(name, "wrong", "198.51.100.7");
    expect((await attempt("ghost-2", "wrong", "198.51.100.7")).code).toBe("UNAUTHENTICATED"); // 7th from there: locked
    expect((await attempt("carol", "carol-password", "198.51.100.7")).code).toBe("RATE_LIMITED");
    expect((await attempt("carol", "carol-password", "198.51.100.8")).code).toBe("ok");
    advance(600_001 + 10_000);
    // A quiet period resets both counts: the next failure is the first again.
    expect((await attempt("bob", "wrong", "198.51.100.7")).code).toBe("UNAUTHENTICATED");
    expect((await attempt("bob", "bob-password", "198.51.100.7")).code).toBe("ok");
    const rows = await db.prisma.loginThrottle.findMany();
    expect(rows.find((r) => r.key === "addr:198.51.100.7")?.failures).toBe(1);
  });

  it("logs and audits every failure with the user name, address and reason, never the password", async () => {
    await db.prisma.user.update({ where: { username: "carol" }, data: { disabled: true } });
    expect((await attempt("carol", "carol-password", "203.0.113.5")).code).toBe("UNAUTHENTICATED");
    const audit = await db.prisma.auditLog.findMany({ where: { action: "login.failure" }, orderBy: { id: "asc" } });
    const reasons = new Set(audit.map((a) => (a.after as { reason: string }).reason));
    expect(reasons).toEqual(new Set(["wrong password", "unknown user", "user disabled"]));
    expect(audit.at(-1)).toMatchObject({ actor: "carol", entityType: "User", after: { username: "carol", address: "203.0.113.5", reason: "user disabled" } });
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; username?: string; address?: string });
    expect(logged.filter((l) => l.msg === "login failed").length).toBe(audit.length);
    expect(logged.some((l) => l.msg === "login throttled" && l.username === "alice")).toBe(true);
    expect(lines.join("\n")).not.toMatch(/wrong"|-password/);
  });

  it("audits a successful login with the user's name and address, never the password", async () => {
    advance(3_600_000);
    expect((await attempt("bob", "bob-password", "198.51.100.99")).code).toBe("ok");
    const success = await db.prisma.auditLog.findMany({ where: { action: "login.success" }, orderBy: { id: "asc" } });
    expect(success.at(-1)).toMatchObject({ actor: "bob", entityType: "User", after: { username: "bob", address: "198.51.100.99", method: "password" } });
    expect(JSON.stringify(success)).not.toContain("bob-password");
  });
});
