import { describe, expect, it } from "vitest";
import { SlotLimiter } from "./limiter.ts";

describe("SlotLimiter", () => {
  it("never exceeds the global and per-key limits, and lets other keys pass a blocked one", async () => {
    const limiter = new SlotLimiter(2);
    const order: string[] = [];
    const a1 = await limiter.acquire(1, 1);
    order.push("a1");
    const a2 = limiter.acquire(1, 1).then((r) => (order.push("a2"), r));
    const b1 = limiter.acquire(2, 1).then((r) => (order.push("b1"), r));
    const c1 = limiter.acquire(3, 1).then((r) => (order.push("c1"), r));
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual(["a1", "b1"]);
    expect(limiter.running).toBe(2);
    expect(limiter.waiting).toBe(2);
    a1();
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual(["a1", "b1", "a2"]);
    (await b1)();
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual(["a1", "b1", "a2", "c1"]);
    (await a2)();
    (await c1)();
    expect(limiter.running).toBe(0);
  });

  it("ignores a second release", async () => {
    const limiter = new SlotLimiter(1);
    const release = await limiter.acquire(1, 1);
    release();
    release();
    expect(limiter.running).toBe(0);
    const again = await limiter.acquire(1, 1);
    expect(limiter.running).toBe(1);
    again();
  });
});
