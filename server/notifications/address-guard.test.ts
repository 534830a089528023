// Webhooks and link-local / cloud metadata addresses: refused when saved and at delivery, after DNS
// resolution, on the addresses the connection really uses. DNS is the one fake here (a name that
// resolves to 169.254.169.254 cannot be had otherwise on this machine); the receiver is real.
import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../audit/audit-log.ts";
import type { Principal } from "../auth/roles.ts";
import { SecretBox } from "../secrets/secret-box.ts";
import { createTestDatabase, memoryLogger, type TestDatabase } from "../testing/test-db.ts";
import { isBlockedAddress, type LookupFn, webhookUrlProblem } from "./address-guard.ts";
import { DEFAULT_DELIVERY, deliver } from "./delivery.ts";
import { WebhookDispatcher } from "./dispatcher.ts";
import { WebhooksService } from "./webhooks.service.ts";

const ADMIN: Principal = { userId: 1, username: "admin", role: "ADMIN", via: "session" };
const POLICY = { ...DEFAULT_DELIVERY, maxAttempts: 1, timeoutMs: 2_000 };

/** A fake DNS: name → addresses; names it does not know fail like an unknown host. */
function fakeDns(table: Record<string, string[]>): LookupFn {
  return async (hostname) => {
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
}

let receiver: http.Server;
let port: number;
const received: string[] = [];

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    received.push(`${req.headers.host}${req.url}`);
    req.resume().on("end", () => res.writeHead(200).end("ok"));
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  port = (receiver.address() as AddressInfo).port;
});
afterAll(() => receiver?.close());

describe("isBlockedAddress", () => {
  it.each([
    ["169.254.169.254", true],
    ["169.254.0.1", true],
    ["::ffff:169.254.169.254", true],
    ["::ffff:a9fe:a9fe", true],
    ["fe80::1", true],
    ["fd00:ec2::254", true],
    ["fd00:ec2:0:0:0:0:0:254", true],
    ["169.255.0.1", false],
    ["10.0.0.5", false],
    ["127.0.0.1", false],
    ["::1", false],
    ["fd00:ec2::253", false],
    ["example.com", false],
  ])("%s → %s", (address, blocked) => {
    expect(isBlockedAddress(address)).toBe(blocked);
  });
});

describe("webhookUrlProblem (when a webhook is saved)", () => {
  const dns = fakeDns({ "metadata.test": ["10.0.0.1", "169.254.169.254"], "hooks.test": ["10.0.0.5"] });

  it("refuses a literal or a name resolving to a refused address, unless allowed", async () => {
    expect(await webhookUrlProblem("http://169.254.169.254/latest/meta-data/", { lookup: dns })).toMatch(/link-local or cloud metadata/);
    expect(await webhookUrlProblem("http://metadata.test/x", { lookup: dns })).toMatch(/metadata\.test resolves to 169\.254\.169\.254/);
    expect(await webhookUrlProblem("http://hooks.test/x", { lookup: dns })).toBeNull();
    // Not resolvable now: accepted; every delivery checks again.
    expect(await webhookUrlProblem("http://later.test/x", { lookup: dns })).toBeNull();
    expect(await webhookUrlProblem("http://169.254.169.254/", { lookup: dns, allowLinkLocal: true })).toBeNull();
  });
});

describe("deliver (after resolving, on the addresses it connects to)", () => {
  const request = (url: string) => ({ url, body: "{}", headers: {} });

  it("connects through the checked lookup, and refuses a name that resolves to a metadata address", async () => {
    const dns = fakeDns({ "receiver.test": ["127.0.0.1"], "rebound.test": ["169.254.169.254", "127.0.0.1"] });
    const ok = await deliver(request(`http://receiver.test:${port}/ok`), POLICY, new AbortController().signal, { lookup: dns });
    expect(ok).toMatchObject({ ok: true, status: 200 });
    expect(received).toContain(`receiver.test:${port}/ok`);

    const refused = await deliver(request(`http://rebound.test:${port}/never`), POLICY, new AbortController().signal, { lookup: dns });
    expect(refused).toMatchObject({ ok: false, status: null });
    expect(refused.error).toMatch(/rebound\.test resolves to 169\.254\.169\.254/);
    const literal = await deliver(request("http://[fd00:ec2::254]/latest"), POLICY, new AbortController().signal, { lookup: dns });
    expect(literal.error).toMatch(/fd00:ec2::254 is a link-local or cloud metadata address/);
    expect(received.some((r) => r.includes("/never"))).toBe(false);
  });

  it("lets the opt-in reach them (the attempt then fails or succeeds on its own)", async () => {
    const dns = fakeDns({ "receiver.test": ["127.0.0.1"], "linklocal.test": ["169.254.1.1"] });
    const tried = await deliver(request("http://linklocal.test:9/x"), { ...POLICY, timeoutMs: 300 }, new AbortController().signal, {
      lookup: dns,
      allowLinkLocal: true,
    });
    expect(tried.error ?? "").not.toMatch(/link-local or cloud metadata/);
  });
});

describe("webhooks saved and tested through the services", () => {
  let db: TestDatabase;
  let webhooks: WebhooksService;
  let dispatcher: WebhookDispatcher;
  // The name points at the receiver when saved, and at the metadata address afterwards (DNS rebinding).
  const table: Record<string, string[]> = { "flip.test": ["127.0.0.1"], "metadata.test": ["169.254.169.254"] };

  beforeAll(async () => {
    db = await createTestDatabase();
    const network = { lookup: fakeDns(table) };
    webhooks = new WebhooksService({ prisma: db.prisma, secrets: new SecretBox(crypto.randomBytes(32)), audit: new AuditLog(db.prisma), network });
    dispatcher = new WebhookDispatcher({ prisma: db.prisma, webhooks, logger: memoryLogger().logger, network });
  });
  afterAll(async () => {
    await dispatcher?.stop(0);
    await db?.drop();
  });

  it("refuses to save a URL whose host resolves to a metadata address, and checks again at delivery", async () => {
    await expect(webhooks.create(ADMIN, { name: "meta", url: "http://metadata.test/hook" })).rejects.toMatchObject({ code: "BAD_USER_INPUT", field: "url" });
    const flip = await webhooks.create(ADMIN, { name: "flip", url: `http://flip.test:${port}/flip` });
    await expect(webhooks.update(ADMIN, flip.id, { url: "http://[::ffff:169.254.169.254]/" })).rejects.toMatchObject({ field: "url" });

    expect(await dispatcher.test(ADMIN, flip.id)).toMatchObject({ ok: true, status: 200 });
    table["flip.test"] = ["169.254.169.254"];
    const after = await dispatcher.test(ADMIN, flip.id);
    expect(after).toMatchObject({ ok: false, status: null });
    expect(after.error).toMatch(/flip\.test resolves to 169\.254\.169\.254/);
    expect(received.filter((r) => r.startsWith("flip.test"))).toHaveLength(1);
  });
});
