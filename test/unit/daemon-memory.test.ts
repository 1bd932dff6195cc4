/**
 * The daemon's memory upkeep: two full collections after a quiet stretch, never during a request; the
 * node options it is started with, in both places that start it.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock/index.js";
import {
  collectTwice,
  DAEMON_NODE_OPTIONS,
  loadGc,
  QuietCollector,
} from "../../src/daemon/process/memory.js";

describe("QuietCollector", () => {
  it("collects once, quietMs after the last work, and not again until there is more work", () => {
    const clock = new ManualClock();
    let n = 0;
    const q = new QuietCollector(clock, 2000, () => n++);
    clock.advance(10_000);
    expect(n).toBe(0); // idle without cause: nothing
    q.touch();
    clock.advance(1500);
    q.touch(); // more work: the quiet stretch starts again
    clock.advance(1999);
    expect(n).toBe(0);
    clock.advance(1);
    expect(n).toBe(1);
    clock.advance(60_000);
    expect(n).toBe(1);
  });

  it("never collects while a request is in flight; the quiet stretch counts from its end", async () => {
    const clock = new ManualClock();
    let n = 0;
    const q = new QuietCollector(clock, 2000, () => n++);
    q.touch();
    let finish!: () => void;
    const request = q.during(() => new Promise<string>((r) => (finish = () => r("done"))));
    q.touch(); // an event during the request
    clock.advance(5000);
    expect(n).toBe(0);
    finish();
    expect(await request).toBe("done");
    clock.advance(1999);
    expect(n).toBe(0);
    clock.advance(1);
    expect(n).toBe(1);
  });

  it("a failed request still ends its busy stretch; close() cancels what is pending", async () => {
    const clock = new ManualClock();
    let n = 0;
    const q = new QuietCollector(clock, 2000, () => n++);
    await expect(q.during(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    q.close();
    clock.advance(10_000);
    expect(n).toBe(0);
    q.touch();
    clock.advance(10_000);
    expect(n).toBe(0);
  });
});

describe("loadGc", () => {
  it("gives a working full collection without --expose-gc", async () => {
    const gc = loadGc();
    expect(gc).toBeTypeOf("function");
    let ref: WeakRef<object> | undefined;
    (() => {
      ref = new WeakRef({ big: new Array(1000).fill(0) });
    })();
    // A WeakRef's target lives until the end of the job that made it: let that job end first.
    await new Promise((r) => setImmediate(r));
    gc?.();
    expect(ref?.deref()).toBeUndefined();
  });
});

describe("collectTwice", () => {
  it("runs two full collections back to back (the second compacts what the first found fragmented)", () => {
    const calls: unknown[][] = [];
    collectTwice((...args: unknown[]) => void calls.push(args));
    expect(calls).toEqual([[], []]);
  });
});

describe("DAEMON_NODE_OPTIONS", () => {
  it("are options node takes in NODE_OPTIONS, and the systemd unit sets them there", () => {
    expect(DAEMON_NODE_OPTIONS.length).toBeGreaterThan(0);
    for (const o of DAEMON_NODE_OPTIONS)
      expect(process.allowedNodeEnvironmentFlags.has(o.split("=")[0]!)).toBe(true);
    const unit = readFileSync(new URL("../../contrib/systemd/openclaw.service", import.meta.url), "utf8");
    const line = /^Environment=NODE_OPTIONS=(.*)$/m.exec(unit)?.[1];
    expect(line?.split(" ")).toEqual([...DAEMON_NODE_OPTIONS]);
  });
});
