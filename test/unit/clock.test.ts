/**
 * The one time service (src/clock): what every waiting module relies on. The manual clock must fire
 * timers exactly as a real one would (order, clearing, async continuations), the helpers must leave
 * nothing pending, and the system clock's background timers must not keep a process alive.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ManualClock, SystemClock, scaledClock, sleep, withDeadline } from "../../src/clock/index.js";

describe("ManualClock", () => {
  it("fires timers in due order, ties in the order they were set, and nothing before its time", () => {
    const clock = new ManualClock(1000);
    const fired: string[] = [];
    clock.setTimeout("late", 30, () => fired.push("late"));
    clock.setTimeout("first-of-tie", 10, () => fired.push("first-of-tie"));
    clock.setTimeout("second-of-tie", 10, () => fired.push("second-of-tie"));
    clock.setTimeout("negative", -5, () => fired.push("negative"));
    clock.advance(9);
    expect(fired).toEqual(["negative"]);
    clock.advance(1);
    expect(fired).toEqual(["negative", "first-of-tie", "second-of-tie"]);
    clock.advance(100);
    expect(fired).toEqual(["negative", "first-of-tie", "second-of-tie", "late"]);
    expect(clock.now()).toBe(1110);
  });

  it("sees the timer's own due time inside its callback, and fires timers set from a callback in the same advance", () => {
    const clock = new ManualClock();
    const seen: Array<[string, number]> = [];
    clock.setTimeout("outer", 10, () => {
      seen.push(["outer", clock.now()]);
      clock.setTimeout("inner", 5, () => seen.push(["inner", clock.now()]));
    });
    clock.advance(20);
    expect(seen).toEqual([
      ["outer", 10],
      ["inner", 15],
    ]);
    expect(clock.now()).toBe(20);
  });

  it("clearTimeout cancels; clearing a fired, cleared or undefined handle is harmless", () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const a = clock.setTimeout("a", 10, () => fired.push("a"));
    const b = clock.setTimeout("b", 10, () => fired.push("b"));
    clock.clearTimeout(a);
    clock.clearTimeout(a);
    clock.clearTimeout(undefined);
    clock.advance(10);
    clock.clearTimeout(b);
    expect(fired).toEqual(["b"]);
    expect(clock.size).toBe(0);
  });

  it("pending() lists every timer by name, soonest first, with the time left", () => {
    const clock = new ManualClock(500);
    clock.setTimeout("window.expiry", 120_000, () => {});
    clock.setTimeout("transport.ack", 10_000, () => {});
    const h = clock.setTimeout("scan.stop", 3000, () => {});
    clock.advance(1000);
    expect(clock.pending()).toEqual([
      { name: "scan.stop", dueInMs: 2000 },
      { name: "transport.ack", dueInMs: 9000 },
      { name: "window.expiry", dueInMs: 119_000 },
    ]);
    clock.clearTimeout(h);
    expect(clock.pending().map((t) => t.name)).toEqual(["transport.ack", "window.expiry"]);
    expect(clock.size).toBe(2);
  });

  it("runNext fires the soonest timer and moves time to it", () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    clock.setTimeout("b", 50, () => fired.push("b"));
    clock.setTimeout("a", 20, () => fired.push("a"));
    expect(clock.runNext()).toBe(true);
    expect([fired, clock.now()]).toEqual([["a"], 20]);
    expect(clock.runNext()).toBe(true);
    expect(clock.runNext()).toBe(false);
    expect(clock.now()).toBe(50);
  });

  it("never goes back; the wall clock can jump without moving monotonic time", () => {
    const clock = new ManualClock(0, Date.UTC(2026, 0, 1));
    expect(() => clock.advance(-1)).toThrow(RangeError);
    clock.advance(1000);
    expect(clock.wallNow()).toBe(Date.UTC(2026, 0, 1) + 1000);
    clock.jumpWall(-3_600_000);
    expect(clock.now()).toBe(1000);
    expect(clock.wallNow()).toBe(Date.UTC(2026, 0, 1) + 1000 - 3_600_000);
  });

  it("advanceAsync runs code that awaits between timers; advance alone stops at the first await", async () => {
    const steps = async (clock: ManualClock, log: string[]) => {
      await sleep(clock, "step1", 10);
      log.push(`step1@${clock.now()}`);
      await sleep(clock, "step2", 10);
      log.push(`step2@${clock.now()}`);
    };

    const syncClock = new ManualClock();
    const syncLog: string[] = [];
    void steps(syncClock, syncLog);
    syncClock.advance(100);
    await new Promise<void>((r) => setImmediate(r));
    // the continuation ran only after advance returned: it saw time 100, not 10, and set step2's
    // timer from there, so step2 is still pending
    expect(syncLog).toEqual(["step1@100"]);
    expect(syncClock.pending()).toEqual([{ name: "step2", dueInMs: 10 }]);

    const clock = new ManualClock();
    const log: string[] = [];
    const done = steps(clock, log);
    await clock.advanceAsync(100);
    await done;
    expect(log).toEqual(["step1@10", "step2@20"]);
    expect(clock.now()).toBe(100);
    expect(clock.size).toBe(0);
  });
});

describe("withDeadline and sleep", () => {
  it("withDeadline clears its timer when the promise settles first, either way", async () => {
    const clock = new ManualClock();
    const ok = withDeadline(clock, Promise.resolve(7), 1000, "op.deadline", () => new Error("late"));
    expect(clock.pending().map((t) => t.name)).toEqual(["op.deadline"]);
    expect(await ok).toBe(7);
    expect(clock.size).toBe(0);

    const bad = withDeadline(
      clock,
      Promise.reject(new Error("boom")),
      1000,
      "op.deadline",
      () => new Error("late"),
    );
    await expect(bad).rejects.toThrow("boom");
    expect(clock.size).toBe(0);
  });

  it("withDeadline rejects with the caller's error when time runs out, and a late result changes nothing", async () => {
    const clock = new ManualClock();
    let finish: (v: string) => void = () => {};
    const slow = new Promise<string>((r) => (finish = r));
    const raced = withDeadline(
      clock,
      slow,
      5000,
      "connect.deadline",
      () => new Error("connect took too long"),
    );
    const outcome = raced.then(
      (v) => `resolved ${v}`,
      (e: Error) => `rejected ${e.message}`,
    );
    clock.advance(4999);
    await new Promise<void>((r) => setImmediate(r));
    expect(clock.size).toBe(1);
    clock.advance(1);
    finish("late");
    expect(await outcome).toBe("rejected connect took too long");
    expect(clock.size).toBe(0);
  });
});

describe("scaledClock", () => {
  it("runs time `scale` times faster: now, timers and pending all agree; wall time stays the base's", () => {
    const base = new ManualClock(1000, Date.UTC(2026, 0, 1));
    const fast = scaledClock(base, 10);
    const start = fast.now();
    const fired: number[] = [];
    fast.setTimeout("window.expiry", 120_000, () => fired.push(fast.now() - start));
    expect(base.pending()).toEqual([{ name: "window.expiry", dueInMs: 12_000 }]);
    expect(fast.pending()).toEqual([{ name: "window.expiry", dueInMs: 120_000 }]);
    base.advance(11_999);
    expect(fired).toEqual([]);
    expect(fast.now() - start).toBe(119_990);
    base.advance(1);
    expect(fired).toEqual([120_000]);
    expect(fast.wallNow()).toBe(base.wallNow());
  });

  it("clears through to the base, is the base itself at scale 1, and refuses nonsense scales", () => {
    const base = new ManualClock();
    const fast = scaledClock(base, 4);
    const h = fast.setTimeout("t", 100, () => {});
    fast.clearTimeout(h);
    expect(base.size).toBe(0);
    expect(scaledClock(base, 1)).toBe(base);
    for (const bad of [0, -2, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => scaledClock(base, bad)).toThrow(RangeError);
    }
  });
});

describe("SystemClock", () => {
  it("lists and clears real timers by name", () => {
    const clock = new SystemClock();
    const a = clock.setTimeout("a", 60_000, () => {});
    const b = clock.setTimeout("b", 30_000, () => {});
    expect(clock.pending().map((t) => t.name)).toEqual(["b", "a"]);
    clock.clearTimeout(a);
    clock.clearTimeout(b);
    clock.clearTimeout(b);
    expect(clock.pending()).toEqual([]);
  });

  // A real process: a background timer must not keep it alive, a held one must. (Runs the built
  // clock from dist/, which the test setup compiles.)
  const systemJs = fileURLToPath(new URL("../../dist/src/clock/system.js", import.meta.url));
  const node = (code: string) =>
    spawnSync(process.execPath, ["--input-type=module", "-e", code], { encoding: "utf8", timeout: 15_000 });

  it("a background timer does not hold the process open; a held timer does", () => {
    const bg = node(`
      import { systemClock } from ${JSON.stringify(systemJs)};
      systemClock.setTimeout("background", 60_000, () => console.log("fired"));
      console.log(systemClock.pending().map((t) => t.name).join(","));
    `);
    // held open, the child would still be waiting at the 15 s spawn timeout (status null, SIGTERM)
    expect(bg.status).toBe(0);
    expect(bg.stdout.trim()).toBe("background");

    const held = node(`
      import { systemClock } from ${JSON.stringify(systemJs)};
      systemClock.setTimeout("held", 200, () => console.log("fired"), { hold: true });
    `);
    expect(held.status).toBe(0);
    expect(held.stdout.trim()).toBe("fired");
  });
});
