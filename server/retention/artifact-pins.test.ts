// Artifact pins on a real metadata database: what a pin refuses and what it holds off, a holder
// that died (its pin expires), renewal, and a pin and a deletion claim racing for one artifact.
// Then the sweeper and deleteBackup with pinned artifacts (the retention fixture's in-memory stores).
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../audit/audit-log.ts";
import { deleteBackup } from "../backups/delete-backup.ts";
import { ArtifactPinnedError, CLAIM_TTL_MS, claimForDeletion, livePins, pinArtifact, PinRefusedError, releaseClaim } from "./artifact-pins.ts";
import { HOUR, retentionFixture } from "./testing/retention-fixture.ts";
import { eventually } from "../restore/testing/restore-helpers.ts";

type Fixture = Awaited<ReturnType<typeof retentionFixture>>;
let f: Fixture | undefined;
afterEach(async () => {
  await f?.sweeper.stop();
  await f?.close();
  f = undefined;
});

const ADMIN = { userId: 1, username: "admin", role: "ADMIN" as const, via: "session" as const };
const hoursBefore = (fx: Fixture, n: number) => new Date(fx.clock.now().getTime() - n * HOUR);
const artifactOf = async (fx: Fixture, backupId: number) => fx.prisma.backupArtifact.findFirstOrThrow({ where: { backupId } });

describe("artifact pins", () => {
  // One metadata database for these: each test uses artifacts of its own.
  let p: Fixture;
  beforeAll(async () => {
    p = await retentionFixture();
  });
  afterAll(async () => {
    await p?.close();
  });
  // Backups of one schedule, server and database need distinct times.
  let hours = 0;
  const nextHour = () => hoursBefore(p, ++hours);
  it("hold off a deletion claim until released, and refuse artifacts that are gone, failed or being deleted", async () => {
    const f = p;
    const stored = await artifactOf(f, await f.backup({ at: nextHour() }));
    const failed = await artifactOf(f, await f.backup({ at: nextHour(), status: "FAILED" }));
    const pin = await pinArtifact(f.prisma, stored.id, { kind: "RESTORE", id: 7 }, { instanceId: "i1" });
    expect(await f.prisma.artifactPin.findUniqueOrThrow({ where: { id: pin.id } })).toMatchObject({
      artifactId: stored.id,
      ownerKind: "RESTORE",
      ownerId: 7,
      instanceId: "i1",
    });
    const refused = await claimForDeletion(f.prisma, stored.id).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ArtifactPinnedError);
    expect((refused as Error).message).toBe(`artifact ${stored.id} is being read by restore 7`);
    expect((await f.prisma.backupArtifact.findUniqueOrThrow({ where: { id: stored.id } })).deletingAt).toBeNull();

    await pin.release();
    expect(await claimForDeletion(f.prisma, stored.id)).toBe(true);
    expect((await f.prisma.backupArtifact.findUniqueOrThrow({ where: { id: stored.id } })).deletingAt).not.toBeNull();
    await expect(pinArtifact(f.prisma, stored.id, { kind: "DRILL", id: 1 }, { instanceId: "i1" })).rejects.toThrow(
      /is being deleted by retention \(or deleteBackup\)/,
    );
    // A deletion that failed gives the artifact back.
    await releaseClaim(f.prisma, stored.id);
    await (await pinArtifact(f.prisma, stored.id, { kind: "DRILL", id: 1 }, { instanceId: "i1" })).release();

    await expect(pinArtifact(f.prisma, failed.id, { kind: "RESTORE", id: 1 }, { instanceId: "i1" })).rejects.toThrow(PinRefusedError);
    await expect(pinArtifact(f.prisma, 999_999, { kind: "RESTORE", id: 1 }, { instanceId: "i1" })).rejects.toThrow(/no longer exists/);
  });

  it("expire when their holder died (no renewal), and a claim left by a sweep that died expires too", async () => {
    const f = p;
    const artifact = await artifactOf(f, await f.backup({ at: nextHour() }));
    // What a process that died while reading leaves: a pin nobody renews, past its expiry.
    await f.prisma.artifactPin.create({
      data: { artifactId: artifact.id, ownerKind: "VERIFICATION", ownerId: artifact.id, instanceId: "dead", expiresAt: new Date(Date.now() - 1000) },
    });
    expect(await livePins(f.prisma, [artifact.id])).toEqual([]);
    expect(await claimForDeletion(f.prisma, artifact.id)).toBe(true);
    expect(await f.prisma.artifactPin.count({ where: { artifactId: artifact.id } })).toBe(0);

    // The claim of a sweep that died long ago no longer keeps readers away.
    await f.prisma.backupArtifact.update({ where: { id: artifact.id }, data: { deletingAt: new Date(Date.now() - CLAIM_TTL_MS - 1000) } });
    await (await pinArtifact(f.prisma, artifact.id, { kind: "RESTORE", id: 2 }, { instanceId: "i1" })).release();
  });

  it("are renewed while held", async () => {
    const f = p;
    const artifact = await artifactOf(f, await f.backup({ at: nextHour() }));
    const pin = await pinArtifact(f.prisma, artifact.id, { kind: "RESTORE", id: 3 }, { instanceId: "i1", ttlMs: 600 });
    const first = (await f.prisma.artifactPin.findUniqueOrThrow({ where: { id: pin.id } })).expiresAt;
    await eventually(async () => (await f.prisma.artifactPin.findUniqueOrThrow({ where: { id: pin.id } })).expiresAt > first, "the pin to be renewed");
    await pin.release();
    expect(await f.prisma.artifactPin.count()).toBe(0);
  });

  it("and deletion claims racing for one artifact: never both win", async () => {
    const f = p;
    for (let i = 0; i < 10; i++) {
      const artifact = await artifactOf(f, await f.backup({ at: nextHour() }));
      const [pin, claim] = await Promise.allSettled([
        pinArtifact(f.prisma, artifact.id, { kind: "RESTORE", id: i }, { instanceId: "i1" }),
        claimForDeletion(f.prisma, artifact.id),
      ]);
      const pinned = pin.status === "fulfilled";
      const claimed = claim.status === "fulfilled" && claim.value;
      expect(pinned !== claimed, `round ${i}: pinned ${pinned}, claimed ${claimed}`).toBe(true);
      if (pin.status === "fulfilled") await pin.value.release();
    }
  });
});

describe("retention and deleteBackup with pinned artifacts", () => {
  it("a sweep keeps a pinned artifact and reports who holds it (dry runs too), and deletes it once released", async () => {
    f = await retentionFixture();
    const [t1] = f.targets;
    await f.rule(t1!, { keepLast: 1 });
    const old = await f.backup({ at: hoursBefore(f, 2) });
    await f.backup({ at: hoursBefore(f, 1) });
    const artifact = await artifactOf(f, old);
    const pin = await pinArtifact(f.prisma, artifact.id, { kind: "DRILL", id: 42 }, { instanceId: "i1" });

    const dry = await f.sweeper.sweep({ dryRun: true });
    expect(dry.deletions).toEqual([expect.objectContaining({ backupId: old, done: false, pinnedBy: "drill 42" })]);
    const kept = await f.sweeper.sweep();
    expect(kept).toMatchObject({ pinned: 1, artifactsDeleted: 0, backupsDeleted: 0, failures: 0 });
    expect(kept.deletions).toEqual([expect.objectContaining({ backupId: old, done: false, error: null, pinnedBy: "drill 42" })]);
    expect(f.stores.get(t1!)!.objects.has(artifact.key)).toBe(true);
    expect(await f.statuses([old])).toEqual(["SUCCEEDED"]);

    await pin.release();
    expect(await f.sweeper.sweep()).toMatchObject({ pinned: 0, artifactsDeleted: 1, backupsDeleted: 1 });
    expect(f.stores.get(t1!)!.objects.has(artifact.key)).toBe(false);
  });

  it("deleteBackup refuses a pinned backup with CONFLICT and deletes nothing; it deletes once the pin is gone", async () => {
    f = await retentionFixture();
    const id = await f.backup({ at: hoursBefore(f, 1) });
    const artifact = await artifactOf(f, id);
    const pin = await pinArtifact(f.prisma, artifact.id, { kind: "RESTORE", id: 5 }, { instanceId: "i1" });
    const deps = { prisma: f.prisma, storeFor: (t: { id: number }) => f!.stores.get(t.id)!, events: f.events, audit: new AuditLog(f.prisma) };
    await expect(deleteBackup(deps, ADMIN, id)).rejects.toMatchObject({
      code: "CONFLICT",
      field: "id",
      message: `backup ${id} is being read by restore 5: delete it once that has finished`,
    });
    expect(f.stores.get(f.targets[0]!)!.objects.has(artifact.key)).toBe(true);
    expect(await f.statuses([id])).toEqual(["SUCCEEDED"]);
    await pin.release();
    expect((await deleteBackup(deps, ADMIN, id)).status).toBe("DELETED");
  });
});
