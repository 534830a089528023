import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { systemClock } from "../scheduler/clock.ts";
import { MAX_TIMER_MS, setLongInterval, setLongTimeout } from "./timers.ts";

const DAY = 86_400_000;

beforeEach(() => void vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] }));
afterEach(() => void vi.useRealTimers());

describe("long timers", () => {
  it("Node (and the fake clock) would fire a plain 30-day timer after 1 ms", () => {
    const fn = vi.fn();
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    setTimeout(fn, 30 * DAY);
    vi.advanceTimersByTime(2);
    expect(fn).toHaveBeenCalledTimes(1);
    warn.mockRestore();
  });

  it("setLongTimeout waits the whole delay, in steps below the limit", () => {
    const fn = vi.fn();
    setLongTimeout(fn, 30 * DAY);
    vi.advanceTimersByTime(MAX_TIMER_MS);
    vi.advanceTimersByTime(30 * DAY - MAX_TIMER_MS - 1);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it("setLongTimeout can be cancelled between its steps", () => {
    const fn = vi.fn();
    const cancel = setLongTimeout(fn, 60 * DAY);
    vi.advanceTimersByTime(40 * DAY);
    cancel();
    vi.advanceTimersByTime(40 * DAY);
    expect(fn).not.toHaveBeenCalled();
  });

  it("setLongInterval and systemClock.every fire once per long interval, not every millisecond", () => {
    const viaTimer = vi.fn();
    const viaClock = vi.fn();
    const stopTimer = setLongInterval(viaTimer, 30 * DAY);
    const stopClock = systemClock.every(365 * DAY, viaClock);
    vi.advanceTimersByTime(10);
    expect({ viaTimer: viaTimer.mock.calls.length, viaClock: viaClock.mock.calls.length }).toEqual({ viaTimer: 0, viaClock: 0 });
    vi.advanceTimersByTime(30 * DAY - 11);
    expect(viaTimer).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(viaTimer).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(60 * DAY);
    expect(viaTimer).toHaveBeenCalledTimes(3);
    expect(viaClock).not.toHaveBeenCalled();
    vi.advanceTimersByTime(365 * DAY - 90 * DAY);
    expect(viaClock).toHaveBeenCalledTimes(1);
    stopTimer();
    stopClock();
    vi.advanceTimersByTime(400 * DAY);
    expect(viaTimer).toHaveBeenCalledTimes(12);
    expect(viaClock).toHaveBeenCalledTimes(1);
  });

  it("short intervals stay plain intervals", () => {
    const fn = vi.fn();
    const stop = setLongInterval(fn, 1000);
    vi.advanceTimersByTime(5000);
    expect(fn).toHaveBeenCalledTimes(5);
    stop();
  });
});
