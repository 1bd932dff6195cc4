/**
 * The default limits as a user meets them (issue 10, brute force): an owner who mistypes a few times is
 * never locked out; 20 failures in an hour lock pairing out for 1 min; after that, until an hour passes
 * with neither failure nor lockout (counted from the lockout's end), every failure locks out again with
 * the backoff doubling up to 1 h. A lockout always closes the window: the button is needed again.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock/manual.js";
import { seededRandom } from "../../src/protocol/random.js";
import { DEFAULT_POLICY, HOUR_MS, PairingWindow } from "../../src/protocol/window/index.js";

const newWindow = () => new PairingWindow(seededRandom("lockout"));

const MIN = 60_000;

/** One wrong code at the clock's now, pressing the button first when the window is closed. */
function wrong(w: PairingWindow, clock: ManualClock) {
  if (w.state.kind === "closed") w.open({}, clock.now());
  const s = w.state;
  if (s.kind !== "open") throw new Error(`window is ${s.kind}`);
  w.beginAttempt(clock.now());
  const r = w.settle("failure", s.nonce, clock.now());
  return { code: r.error?.code, details: r.error?.details };
}

/** Drives the window to its first lockout (20 failures, one per second). */
function firstLockout(w: PairingWindow, clock: ManualClock) {
  for (let i = 0; i < 19; i++) {
    expect(wrong(w, clock).code).toBe("WRONG_CODE");
    clock.advance(1000);
  }
  return wrong(w, clock);
}

/** Waits out a running lockout; the window is then closed. */
function waitOut(w: PairingWindow, clock: ManualClock) {
  const s = w.state;
  if (s.kind !== "locked-out") throw new Error(`window is ${s.kind}`);
  clock.advance(s.until - clock.now());
  w.tick(clock.now());
}

describe("default lockout limits (what the user sees)", () => {
  it("are the documented defaults", () => {
    expect(DEFAULT_POLICY).toMatchObject({
      attemptsPerCode: 5,
      failuresPerHour: 20,
      lockoutBaseMs: MIN,
      lockoutMaxMs: HOUR_MS,
    });
  });

  it("an owner who mistypes twice sees attempts left and pairs without any lockout", () => {
    const clock = new ManualClock(1000);
    const w = newWindow();
    const o = w.open({}, clock.now());
    expect(wrong(w, clock)).toEqual({ code: "WRONG_CODE", details: { attemptsLeft: 4 } });
    clock.advance(5000);
    expect(wrong(w, clock)).toEqual({ code: "WRONG_CODE", details: { attemptsLeft: 3 } });
    expect(w.snapshot(clock.now())).toMatchObject({ state: "open", attemptsLeft: 3 });
    w.beginAttempt(clock.now());
    expect(w.settle("success", o.nonce, clock.now()).error).toBeUndefined();
    expect(w.guardSnapshot(clock.now())).toMatchObject({ failuresInLastHour: 0, lockouts: 0 });
  });

  it("19 failures in an hour never lock out; the 20th locks out for 1 min and closes the window", () => {
    const clock = new ManualClock(0);
    const w = newWindow();
    expect(firstLockout(w, clock)).toEqual({ code: "LOCKED_OUT", details: { retryAfterMs: MIN } });
    expect(w.snapshot(clock.now())).toEqual({ state: "locked-out", retryAfterMs: MIN });
    clock.advance(MIN - 1);
    expect(() => w.open({}, clock.now())).toThrowError(
      expect.objectContaining({ code: "LOCKED_OUT", details: { retryAfterMs: 1 } }) as unknown as Error,
    );
    clock.advance(1);
    w.tick(clock.now());
    // The window does not reopen by itself: the button is needed again.
    expect(w.snapshot(clock.now())).toEqual({ state: "closed" });
    expect(w.admit(new Uint8Array(16), clock.now())?.code).toBe("WINDOW_CLOSED");
    expect(w.open({}, clock.now()).events[0]).toMatchObject({ type: "display", attemptsLeft: 5 });
  });

  it("after a lockout every failure relocks, doubling 2, 4, … min up to 1 h", () => {
    const clock = new ManualClock(0);
    const w = newWindow();
    firstLockout(w, clock);
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) {
      waitOut(w, clock);
      const r = wrong(w, clock);
      expect(r.code).toBe("LOCKED_OUT");
      seen.push((r.details as { retryAfterMs: number }).retryAfterMs);
    }
    expect(seen).toEqual([2, 4, 8, 16, 32, 60, 60, 60].map((m) => m * MIN));
    // Failures long gone from the sliding hour do not hand out a fresh allowance.
    expect(w.failuresInHour(clock.now())).toBeLessThan(20);
  });

  it("the forgiving quiet hour counts from the lockout's end, not from the last failure", () => {
    const clock = new ManualClock(0);
    const w = newWindow();
    firstLockout(w, clock);
    for (let i = 0; i < 6; i++) {
      waitOut(w, clock);
      wrong(w, clock);
    }
    // A 1 h lockout is running; its last failure is 1 h old when it ends, which forgave it before.
    expect(w.snapshot(clock.now())).toEqual({ state: "locked-out", retryAfterMs: HOUR_MS });
    waitOut(w, clock);
    clock.advance(HOUR_MS - 1);
    w.tick(clock.now());
    expect(wrong(w, clock)).toEqual({ code: "LOCKED_OUT", details: { retryAfterMs: HOUR_MS } });
    // A full hour after the lockout's end with no failure: forgiven, back to 5 per code and 20 per hour.
    waitOut(w, clock);
    clock.advance(HOUR_MS);
    w.tick(clock.now());
    expect(w.guardSnapshot(clock.now())).toMatchObject({
      failuresInLastHour: 0,
      lockouts: 0,
      lockedForMs: 0,
    });
    expect(firstLockout(w, clock)).toEqual({ code: "LOCKED_OUT", details: { retryAfterMs: MIN } });
  });

  it("a success after a lockout forgives it at once", () => {
    const clock = new ManualClock(0);
    const w = newWindow();
    firstLockout(w, clock);
    waitOut(w, clock);
    const o = w.open({}, clock.now());
    w.beginAttempt(clock.now());
    w.settle("success", o.nonce, clock.now());
    expect(wrong(w, clock)).toEqual({ code: "WRONG_CODE", details: { attemptsLeft: 4 } });
  });

  it("relocking survives a reboot, also from a snapshot of the old shape (no unsettled)", () => {
    const before = newWindow();
    const clock = new ManualClock(0);
    firstLockout(before, clock);
    waitOut(before, clock);
    const { unsettled: _, ...oldShape } = before.guardSnapshot(clock.now());
    expect(oldShape).toEqual({ failuresInLastHour: 20, lockouts: 1, lockedForMs: 0 });
    const boot = new ManualClock(5);
    const w = newWindow();
    expect(w.restoreGuard(JSON.parse(JSON.stringify(oldShape)), boot.now()).restored).toBe(true);
    expect(wrong(w, boot)).toEqual({ code: "LOCKED_OUT", details: { retryAfterMs: 2 * MIN } });
    // A backoff level kept with no failures left in the hour is still forgiven an hour after boot.
    const w2 = newWindow();
    w2.restoreGuard({ failuresInLastHour: 0, lockouts: 3, lockedForMs: 0 }, boot.now());
    boot.advance(HOUR_MS - 1);
    expect(wrong(w2, boot)).toEqual({ code: "LOCKED_OUT", details: { retryAfterMs: 8 * MIN } });
    const w3 = newWindow();
    w3.restoreGuard({ failuresInLastHour: 0, lockouts: 3, lockedForMs: 0 }, 0);
    boot.advance(1);
    w3.tick(boot.now() + 5);
    expect(wrong(w3, boot)).toEqual({ code: "WRONG_CODE", details: { attemptsLeft: 4 } });
  });
});
