/**
 * The attempt guard across a reboot (PROTOCOL §6.2): snapshot → (power cycle: a new window, a monotonic
 * clock that starts again) → restore. Restores are conservative: failures count as made at boot, the
 * backoff level is kept, a running lockout resumes for all the time it had left.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock/manual.js";
import { Accessory } from "../../src/protocol/accessory/accessory.js";
import { generateAccessoryIdentity } from "../../src/protocol/accessory/identity.js";
import { seededRandom } from "../../src/protocol/random.js";
import {
  GuardSnapshotSchema,
  HOUR_MS,
  PairingWindow,
  type WindowPolicy,
} from "../../src/protocol/window/index.js";

const newWindow = (p: Partial<WindowPolicy> = {}) => new PairingWindow(seededRandom("guard"), p);

/** One wrong code, reopening the window first if it is closed. Returns the error code. */
function fail(w: PairingWindow, now: number): string | undefined {
  if (w.state.kind === "closed") w.open({}, now);
  const s = w.state;
  if (s.kind !== "open") throw new Error(`window is ${s.kind}`);
  w.beginAttempt(now);
  return w.settle("failure", s.nonce, now).error?.code;
}

/** A device that boots again: a fresh window and a clock starting near 0. */
function reboot(snapshot: unknown, p: Partial<WindowPolicy> = {}) {
  const clock = new ManualClock(5);
  const w = newWindow(p);
  const r = w.restoreGuard(snapshot, clock.now());
  return { w, clock, r };
}

describe("attempt guard snapshot and restore", () => {
  it("round-trips: failures, backoff level and lockout time left, no timestamps or secrets", () => {
    const clock = new ManualClock(1_000_000);
    const w = newWindow({ failuresPerHour: 3 });
    expect(w.guardSnapshot(clock.now())).toEqual({
      failuresInLastHour: 0,
      lockouts: 0,
      lockedForMs: 0,
      unsettled: 0,
    });
    for (let i = 0; i < 3; i++) fail(w, clock.now());
    clock.advance(10_000);
    const snap = w.guardSnapshot(clock.now());
    expect(snap).toEqual({ failuresInLastHour: 3, lockouts: 1, lockedForMs: 50_000, unsettled: 0 });
    expect(Object.keys(snap).sort()).toEqual(["failuresInLastHour", "lockedForMs", "lockouts", "unsettled"]);
    const { w: w2, r } = reboot(JSON.parse(JSON.stringify(snap)), { failuresPerHour: 3 });
    expect(r).toEqual({ restored: true, events: [] });
    expect(w2.guardSnapshot(5)).toEqual(snap);
  });

  it("a lockout running at power-off resumes for all the time it had left", () => {
    const w = newWindow({ failuresPerHour: 2 });
    fail(w, 0);
    expect(fail(w, 0)).toBe("LOCKED_OUT");
    const snap = w.guardSnapshot(20_000); // 40 s left
    const { w: w2, clock } = reboot(snap, { failuresPerHour: 2 });
    expect(w2.state).toEqual({ kind: "locked-out", until: clock.now() + 40_000 });
    expect(() => w2.open({}, clock.now())).toThrowError(
      expect.objectContaining({ code: "LOCKED_OUT", details: { retryAfterMs: 40_000 } }) as unknown as Error,
    );
    expect(w2.snapshot(clock.now())).toEqual({ state: "locked-out", retryAfterMs: 40_000 });
    clock.advance(40_000);
    w2.tick(clock.now());
    expect(w2.state.kind).toBe("closed");
    // The backoff level survived: the next failure (20+ still in the hour) locks for twice as long.
    expect(fail(w2, clock.now())).toBe("LOCKED_OUT");
    expect(w2.guardSnapshot(clock.now())).toMatchObject({ lockouts: 2, lockedForMs: 120_000 });
  });

  it("19 failures, a power cycle and one more failure lock pairing out", () => {
    const w = newWindow();
    for (let i = 0; i < 19; i++) expect(fail(w, i * 1000)).toBe("WRONG_CODE");
    const { w: w2, clock } = reboot(w.guardSnapshot(19_000));
    expect(w2.failuresInHour(clock.now())).toBe(19);
    expect(fail(w2, clock.now())).toBe("LOCKED_OUT");
    expect(w2.snapshot(clock.now())).toEqual({ state: "locked-out", retryAfterMs: 60_000 });
  });

  it("restored failures count as made at boot: they stay a full hour, then a quiet hour forgets them", () => {
    const { w, clock } = reboot({ failuresInLastHour: 10, lockouts: 2, lockedForMs: 0 });
    clock.advance(HOUR_MS - 1);
    expect(w.failuresInHour(clock.now())).toBe(10);
    clock.advance(1);
    w.tick(clock.now());
    expect(w.guardSnapshot(clock.now())).toMatchObject({ failuresInLastHour: 0, lockouts: 0 });
  });

  it("a power cut after confirmV still costs the attempt: unsettled attempts become failures", () => {
    const w = newWindow();
    for (let i = 0; i < 19; i++) fail(w, 0);
    if (w.state.kind === "closed") w.open({}, 0);
    const v = w.guardVersion;
    w.beginAttempt(1); // confirmV is about to go out: persist now
    expect(w.guardVersion).not.toBe(v);
    expect(w.guardSnapshot(1)).toMatchObject({ failuresInLastHour: 19, unsettled: 1 });
    const { w: w2, clock } = reboot(w.guardSnapshot(1));
    expect(w2.state).toEqual({ kind: "locked-out", until: clock.now() + 60_000 });
    expect(w2.guardSnapshot(clock.now())).toMatchObject({
      failuresInLastHour: 20,
      lockouts: 1,
      unsettled: 0,
    });
  });

  it("a success after a restore resets the guard", () => {
    const { w, clock } = reboot({ failuresInLastHour: 15, lockouts: 3, lockedForMs: 0 });
    const o = w.open({}, clock.now());
    w.beginAttempt(clock.now());
    w.settle("success", o.nonce, clock.now());
    expect(w.guardSnapshot(clock.now())).toEqual({
      failuresInLastHour: 0,
      lockouts: 0,
      lockedForMs: 0,
      unsettled: 0,
    });
    for (let i = 0; i < 19; i++) expect(fail(w, clock.now())).toBe("WRONG_CODE");
  });

  it("a malformed snapshot is reported, never thrown, and the device starts at the limit instead", () => {
    for (const bad of [
      undefined,
      null,
      "x",
      [],
      {},
      { failuresInLastHour: -1, lockouts: 0, lockedForMs: 0 },
      { failuresInLastHour: 1.5, lockouts: 0, lockedForMs: 0 },
      { failuresInLastHour: 1, lockouts: "2", lockedForMs: 0 },
      { failuresInLastHour: 1, lockouts: 0, lockedForMs: Number.POSITIVE_INFINITY },
      { failuresInLastHour: 1, lockouts: 0, lockedForMs: 0, code: "123456" },
    ]) {
      const { w, r, clock } = reboot(bad);
      expect(r.restored).toBe(false);
      expect(r).toMatchObject({ reason: expect.stringMatching(/guard/), lockedForMs: 60_000 });
      expect(w.guardSnapshot(5)).toEqual({
        failuresInLastHour: 20,
        lockouts: 1,
        lockedForMs: 60_000,
        unsettled: 0,
      });
      expect(w.state).toEqual({ kind: "locked-out", until: clock.now() + 60_000 });
    }
  });

  it("a lockout longer than the policy allows is cut to the policy's maximum", () => {
    const { w, clock } = reboot({ failuresInLastHour: 20, lockouts: 9, lockedForMs: 24 * HOUR_MS });
    expect(w.state).toEqual({ kind: "locked-out", until: clock.now() + HOUR_MS });
  });
});

describe("the accessory: restore option, accessor and guard-changed", () => {
  const make = (guard?: { snapshot: unknown; now: number }) => {
    const random = seededRandom("guard-accessory");
    return new Accessory({
      identity: generateAccessoryIdentity(random),
      profile: { name: "OpenClaw-TEST", model: "Claw 1", firmware: "1.0.0" },
      random,
      window: { failuresPerHour: 2, lockoutBaseMs: 10_000 },
      ...(guard ? { guard } : {}),
    });
  };

  it("restores at construction, reads it back, and reports when it changes", () => {
    const a = make({ snapshot: { failuresInLastHour: 2, lockouts: 1, lockedForMs: 7000 }, now: 100 });
    expect(a.guardRestore).toEqual({ restored: true });
    expect(a.guardSnapshot(100)).toMatchObject({ failuresInLastHour: 2, lockouts: 1, lockedForMs: 7000 });
    expect(a.info(100).window).toEqual({ state: "locked-out", retryAfterMs: 7000 });
    // The restore is re-reported once, then the lockout's end is a change to persist too.
    expect(a.tick(200).events).toEqual([{ type: "guard-changed" }]);
    expect(a.tick(300).events).toEqual([]);
    expect(a.tick(7100).events).toEqual([{ type: "guard-changed" }]);
    expect(a.guardSnapshot(7100)).toMatchObject({ lockedForMs: 0, lockouts: 1 });
  });

  it("an invalid or lost snapshot starts the device at the limit, locked out, and says so", () => {
    for (const snapshot of [{ lockouts: "lots" }, null]) {
      const a = make({ snapshot, now: 0 });
      expect(a.guardRestore).toMatchObject({ restored: false, lockedForMs: 10_000 });
      expect(a.info(0).window).toEqual({ state: "locked-out", retryAfterMs: 10_000 });
      expect(() => a.openWindow({}, 0)).toThrowError(
        expect.objectContaining({ code: "LOCKED_OUT" }) as unknown as Error,
      );
      // At the limit: once the lockout ends, the next failure locks again, for twice as long.
      expect(a.guardSnapshot(0)).toEqual({
        failuresInLastHour: 2,
        lockouts: 1,
        lockedForMs: 10_000,
        unsettled: 0,
      });
    }
  });

  it("a snapshot taken at any instant of a lockout is whole milliseconds that validate (rounded up)", () => {
    const a = make({ snapshot: { failuresInLastHour: 2, lockouts: 1, lockedForMs: 7000 }, now: 100.25 });
    for (const now of [100.25, 1234.567, 7099.9]) {
      const snap = a.guardSnapshot(now);
      expect(Number.isInteger(snap.lockedForMs)).toBe(true);
      expect(snap.lockedForMs).toBeGreaterThanOrEqual(7100.25 - now);
      expect(GuardSnapshotSchema.safeParse(snap).success).toBe(true);
    }
  });

  it("factory reset clears a restored guard and reports it", () => {
    const a = make({ snapshot: { failuresInLastHour: 2, lockouts: 1, lockedForMs: 7000 }, now: 0 });
    expect(a.factoryReset(1).map((e) => e.type)).toContain("guard-changed");
    expect(a.guardSnapshot(1)).toEqual({ failuresInLastHour: 0, lockouts: 0, lockedForMs: 0, unsettled: 0 });
    expect(a.info(1).window.state).toBe("closed");
  });
});
