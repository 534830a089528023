import { describe, expect, it } from "vitest";
import { eventStream } from "./event-stream.ts";
import { BackupEvents } from "./events.ts";

describe("eventStream", () => {
  it("delivers matching events in order and stops listening when returned", async () => {
    const bus = new BackupEvents();
    const stream = eventStream(bus, (e) => e.backupId === 1);
    bus.emit({ type: "CREATED", backupId: 1 });
    bus.emit({ type: "CREATED", backupId: 2 });
    bus.emit({ type: "STATUS", backupId: 1, status: "RUNNING" });
    expect((await stream.next()).value).toEqual({ type: "CREATED", backupId: 1 });
    expect((await stream.next()).value).toEqual({ type: "STATUS", backupId: 1, status: "RUNNING" });
    const pending = stream.next();
    bus.emit({ type: "STATUS", backupId: 1, status: "SUCCEEDED" });
    expect((await pending).value).toMatchObject({ status: "SUCCEEDED" });
    await stream.return!();
    bus.emit({ type: "STATUS", backupId: 1, status: "DELETED" });
    expect(await stream.next()).toEqual({ value: undefined, done: true });
  });

  it("ends a waiting consumer when the signal aborts", async () => {
    const bus = new BackupEvents();
    const controller = new AbortController();
    const stream = eventStream(bus, undefined, controller.signal);
    const pending = stream.next();
    controller.abort();
    expect(await pending).toEqual({ value: undefined, done: true });
  });

  it("bounds the queue of a slow consumer by dropping progress events, never status changes", async () => {
    const bus = new BackupEvents();
    const stream = eventStream(bus);
    bus.emit({ type: "STATUS", backupId: 1, status: "RUNNING" });
    for (let i = 0; i < 5000; i++) bus.emit({ type: "PROGRESS", backupId: 1, rawBytes: i, storedBytes: i, bytesPerSecond: 1 });
    bus.emit({ type: "STATUS", backupId: 1, status: "SUCCEEDED" });
    const seen = [];
    for (;;) {
      const { value } = await stream.next();
      seen.push(value!);
      if (value!.type === "STATUS" && value!.status === "SUCCEEDED") break;
    }
    expect(seen.length).toBeLessThanOrEqual(1001);
    expect(seen[0]).toMatchObject({ type: "STATUS", status: "RUNNING" });
    expect(seen.filter((e) => e.type === "PROGRESS").at(-1)).toMatchObject({ rawBytes: 4999 });
  });
});
