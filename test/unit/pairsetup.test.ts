import { describe, expect, it, vi } from "vitest";
import { ManualClock } from "../../src/clock/index.js";
import { generateAccessoryIdentity } from "../../src/protocol/accessory/identity.js";
import { Accessory, type AccessoryEvent, type AccessoryOutput } from "../../src/protocol/accessory/index.js";
import { Controller } from "../../src/protocol/controller/index.js";
import { isOpenClawError, OpenClawError } from "../../src/protocol/errors.js";
import { decodeInfo, decodeMessage, encodeMessage } from "../../src/protocol/messages/index.js";
import type { ControllerPairSetup } from "../../src/protocol/pairsetup/controller.js";
import { seededRandom } from "../../src/protocol/random.js";

function setup(o: { slots?: number; seed?: string } = {}) {
  const random = seededRandom(o.seed ?? "pairsetup-test");
  const clock = new ManualClock(1000);
  const accessory = new Accessory({
    identity: generateAccessoryIdentity(random),
    profile: { name: "OpenClaw-TEST", model: "Claw 1", firmware: "1.0.0" },
    random,
    bondOptions: { slots: o.slots ?? 8 },
  });
  let n = 0;
  const controller = (name = `laptop-${++n}`) => new Controller({ controllerId: random(16), name, random });
  return { random, clock, accessory, controller };
}

type Ctx = ReturnType<typeof setup>;

function codeOf(events: AccessoryEvent[]): string {
  const d = events.filter((e) => e.type === "display").at(-1);
  if (d?.type !== "display") throw new Error("no display event");
  return d.code;
}

/** Runs pair-setup to its end through a perfect link; returns the outcome and every accessory event. */
function pair(ctx: Ctx, ps: ControllerPairSetup, link = ctx.accessory.connect()) {
  const events: AccessoryEvent[] = [];
  let toAccessory = [ps.firstMessage];
  for (let i = 0; i < 10; i++) {
    const toController: Uint8Array[] = [];
    for (const m of toAccessory) {
      const r: AccessoryOutput = link.handle(m, ctx.clock.now());
      events.push(...r.events);
      toController.push(...r.replies);
    }
    toAccessory = [];
    for (const m of toController) {
      const step = ps.handle(m);
      toAccessory.push(...step.replies);
      if (step.outcome) {
        for (const x of toAccessory) events.push(...link.handle(x, ctx.clock.now()).events);
        return { outcome: step.outcome, events, link };
      }
    }
  }
  throw new Error("pair-setup did not finish");
}

/** A different, well-formed code of the same format. */
function wrongCode(code: string): string {
  if (/^\d{6}$/.test(code)) return String((Number(code) + 1) % 1_000_000).padStart(6, "0");
  throw new Error("wrongCode: passkeys only");
}

function info(ctx: Ctx) {
  return decodeInfo(ctx.accessory.infoBytes(ctx.clock.now()));
}

describe("pair-setup, both roles", () => {
  it("bonds with the displayed code; the first bond is admin and provisional", () => {
    const ctx = setup();
    const opened = ctx.accessory.openWindow({ reason: "boot" }, ctx.clock.now());
    const code = codeOf(opened.events);
    const ps = ctx.controller("alice").pairSetup(info(ctx), opened.display);
    const { outcome, events } = pair(ctx, ps);
    expect(outcome.kind).toBe("ok");
    if (outcome.kind !== "ok") return;
    expect(outcome.value.role).toBe("admin");
    expect(outcome.value.accessoryStaticPublicKey).toEqual(ctx.accessory.identity.staticKey.publicKey);
    expect(outcome.value.tagKey).toEqual(ctx.accessory.identity.tagKey);
    expect(outcome.value.accessoryName).toBe("OpenClaw-TEST");
    // guard-changed: the attempt is persisted before confirmV goes out, and settled again at the end.
    expect(events.map((e) => e.type)).toEqual([
      "guard-changed",
      "window-closed",
      "bonded",
      "bonds-changed",
      "guard-changed",
    ]);
    const [bond] = ctx.accessory.bonds(ctx.clock.now());
    expect(bond?.provisional).toBe(true);
    expect(bond?.role).toBe("admin");
    expect(bond?.name).toBe("alice");
    expect(bond?.controllerStaticPublicKey).toEqual(outcome.value.controllerStaticKey.publicKey);
    expect(info(ctx).window.state).toBe("closed");
    expect(code).toMatch(/^\d{6}$/);
  });

  it("a wrong code is answered with WRONG_CODE and the attempts left; the fifth burns it for a fresh one", () => {
    const ctx = setup();
    const first = ctx.accessory.openWindow({}, ctx.clock.now());
    const nonce0 = first.nonce;
    const c = ctx.controller();
    for (let left = 4; left >= 0; left--) {
      const before = info(ctx);
      const ps = c.pairSetup(before, wrongCode(first.code));
      const { outcome, events } = pair(ctx, ps);
      expect(outcome.kind).toBe("failed");
      if (outcome.kind !== "failed") return;
      expect(outcome.error.code).toBe("WRONG_CODE");
      expect(outcome.error.details).toEqual({ attemptsLeft: left });
      expect(events).toContainEqual({ type: "wrong-code", attemptsLeft: left });
      if (left > 0) {
        expect(info(ctx).window).toMatchObject({ state: "open", attemptsLeft: left });
      } else {
        const types = events.map((e) => e.type);
        expect(types).toContain("window-closed");
        const fresh = events.find((e) => e.type === "display");
        expect(fresh).toMatchObject({
          type: "display",
          reason: "fresh-code",
          attemptsLeft: 5,
          expiresInMs: 120_000,
        });
        expect(events).toContainEqual({ type: "window-closed", reason: "burnt" });
        const now = info(ctx).window;
        expect(now.state).toBe("open");
        if (now.state !== "open") return;
        expect(now.nonce).not.toEqual(nonce0);
        expect(now.attemptsLeft).toBe(5);
        expect(now.timeLeftMs).toBe(120_000);
        // the old code is dead; the fresh code works
        const stale = pair(ctx, c.pairSetup(before, first.code));
        expect(stale.outcome.kind === "failed" && stale.outcome.error.code).toBe("CODE_EXPIRED");
        expect(stale.outcome.kind === "failed" && stale.outcome.error.details).toEqual({ reason: "burnt" });
        if (fresh?.type !== "display") return;
        expect(fresh.code).not.toBe(first.code);
        expect(pair(ctx, c.pairSetup(info(ctx), fresh.code)).outcome.kind).toBe("ok");
      }
    }
  });

  it("the right code typed with spaces, dashes and look-alikes works; a bad check character costs no attempt", () => {
    const ctx = setup();
    const opened = ctx.accessory.openWindow({ format: "long" }, ctx.clock.now());
    const c = ctx.controller();
    const typo = `${opened.display.slice(0, -1)}${opened.display.endsWith("0") ? "1" : "0"}`;
    expect(() => c.pairSetup(info(ctx), typo)).toThrowError(
      expect.objectContaining({ code: "BAD_CHECK_CHARACTER" }) as unknown as Error,
    );
    expect(() => c.pairSetup(info(ctx), "hello")).toThrowError(
      expect.objectContaining({ code: "MALFORMED_CODE" }) as unknown as Error,
    );
    expect(info(ctx).window).toMatchObject({ state: "open", attemptsLeft: 5 });
    const sloppy = ` ${opened.display.toLowerCase().replaceAll("-", " ")} `;
    expect(pair(ctx, c.pairSetup(info(ctx), sloppy)).outcome.kind).toBe("ok");
  });

  it("the window expires on the device's monotonic clock (default 120 s)", () => {
    const ctx = setup();
    const opened = ctx.accessory.openWindow({}, ctx.clock.now());
    const c = ctx.controller();
    const early = info(ctx);
    ctx.clock.advance(119_999);
    expect(info(ctx).window).toMatchObject({ state: "open", timeLeftMs: 1 });
    expect(ctx.accessory.tick(ctx.clock.now()).events).toEqual([]);
    ctx.clock.advance(1);
    expect(ctx.accessory.nextDeadline()).toBe(ctx.clock.now());
    expect(ctx.accessory.tick(ctx.clock.now()).events).toEqual([
      { type: "window-closed", reason: "expired" },
    ]);
    expect(info(ctx).window.state).toBe("closed");
    const r = pair(ctx, c.pairSetup(early, opened.code));
    expect(r.outcome.kind === "failed" && r.outcome.error.details).toEqual({ reason: "ttl" });
    expect(() => c.pairSetup(info(ctx), opened.code)).toThrowError(
      expect.objectContaining({ code: "WINDOW_CLOSED" }) as unknown as Error,
    );
    expect(ctx.accessory.bonds(ctx.clock.now())).toEqual([]);
  });

  it("a wall-clock jump changes nothing: only the injected monotonic clock counts", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(new Date("2026-01-01T00:00:00Z"));
      const ctx = setup();
      const opened = ctx.accessory.openWindow({ ttlMs: 60_000 }, ctx.clock.now());
      ctx.clock.advance(30_000);
      vi.setSystemTime(new Date("2027-06-01T00:00:00Z")); // a year forward
      expect(ctx.accessory.tick(ctx.clock.now()).events).toEqual([]);
      expect(info(ctx).window).toMatchObject({ state: "open", timeLeftMs: 30_000 });
      vi.setSystemTime(new Date("2020-01-01T00:00:00Z")); // and far back
      expect(info(ctx).window).toMatchObject({ state: "open", timeLeftMs: 30_000 });
      expect(opened.expiresAt).toBe(1000 + 60_000);
      expect(pair(ctx, ctx.controller().pairSetup(info(ctx), opened.code)).outcome.kind).toBe("ok");
    } finally {
      vi.useRealTimers();
    }
  });

  it("a monotonic time that goes backwards is treated as the latest time seen", () => {
    const ctx = setup();
    ctx.accessory.openWindow({ ttlMs: 30_000 }, 50_000);
    expect(ctx.accessory.tick(10).events).toEqual([]);
    expect(info(ctx).window.state).toBe("open");
    expect(ctx.accessory.tick(80_000).events).toEqual([{ type: "window-closed", reason: "expired" }]);
  });
});

describe("lockout", () => {
  function failOnce(ctx: Ctx, c: Controller) {
    const i = info(ctx);
    if (i.window.state !== "open") throw new Error("window not open");
    const code = (ctx.accessory.window.state as { code: string }).code;
    return pair(ctx, c.pairSetup(i, wrongCode(code)));
  }

  it("20 failures in an hour lock pairing out, with a backoff that doubles up to an hour", () => {
    const ctx = setup();
    const c = ctx.controller();
    ctx.accessory.openWindow({}, ctx.clock.now());
    for (let i = 1; i <= 19; i++) {
      const r = failOnce(ctx, c);
      expect(r.outcome.kind === "failed" && r.outcome.error.code).toBe("WRONG_CODE");
      ctx.clock.advance(1000);
    }
    const last = failOnce(ctx, c);
    expect(last.outcome.kind === "failed" && last.outcome.error.code).toBe("LOCKED_OUT");
    expect(last.outcome.kind === "failed" && last.outcome.error.details).toEqual({ retryAfterMs: 60_000 });
    expect(last.events).toContainEqual({ type: "locked-out", retryAfterMs: 60_000 });
    expect(last.events).toContainEqual({ type: "window-closed", reason: "locked-out" });
    expect(info(ctx).window).toEqual({ state: "locked-out", retryAfterMs: 60_000 });
    expect(() => ctx.accessory.openWindow({}, ctx.clock.now())).toThrowError(
      expect.objectContaining({ code: "LOCKED_OUT" }) as unknown as Error,
    );
    // a controller that read the info refuses locally; one that did not is refused by the device
    expect(() => c.pairSetup(info(ctx), "123456")).toThrowError(
      expect.objectContaining({ code: "LOCKED_OUT" }) as unknown as Error,
    );
    ctx.clock.advance(59_999);
    expect(() => ctx.accessory.openWindow({}, ctx.clock.now())).toThrow(OpenClawError);
    ctx.clock.advance(1);
    ctx.accessory.tick(ctx.clock.now());
    expect(info(ctx).window.state).toBe("closed");
    // still 20+ failures inside the sliding hour: the next failure locks again, for twice as long
    for (const ms of [120_000, 240_000, 480_000, 960_000, 1_920_000]) {
      ctx.accessory.openWindow({}, ctx.clock.now());
      const r = failOnce(ctx, c);
      expect(r.outcome.kind === "failed" && r.outcome.error.details).toEqual({ retryAfterMs: ms });
      ctx.clock.advance(ms);
    }
    // By now the first failures slid out of the hour, but no quiet hour has passed since a lockout
    // ended: the very next failure locks again, capped at 1 h (64 min uncapped).
    ctx.accessory.tick(ctx.clock.now());
    expect(ctx.accessory.window.failuresInHour(ctx.clock.now())).toBeLessThan(20);
    ctx.accessory.openWindow({}, ctx.clock.now());
    const lock = failOnce(ctx, c);
    expect(lock.outcome.kind === "failed" && lock.outcome.error.details).toEqual({ retryAfterMs: 3_600_000 });
  });

  it("a success resets the guard", () => {
    const ctx = setup();
    const c = ctx.controller();
    ctx.accessory.openWindow({}, ctx.clock.now());
    for (let i = 0; i < 19; i++) failOnce(ctx, c);
    expect(ctx.accessory.window.failuresInHour(ctx.clock.now())).toBe(19);
    const code = (ctx.accessory.window.state as { code: string }).code;
    expect(pair(ctx, c.pairSetup(info(ctx), code)).outcome.kind).toBe("ok");
    expect(ctx.accessory.window.failuresInHour(ctx.clock.now())).toBe(0);
    ctx.accessory.openWindow({}, ctx.clock.now());
    const r = failOnce(ctx, c);
    expect(r.outcome.kind === "failed" && r.outcome.error.code).toBe("WRONG_CODE");
  });

  it("failures older than an hour slide out, and a quiet hour forgives earlier lockouts", () => {
    const ctx = setup();
    const c = ctx.controller();
    ctx.accessory.openWindow({ ttlMs: 15 * 60_000 }, ctx.clock.now());
    for (let i = 0; i < 19; i++) failOnce(ctx, c);
    ctx.clock.advance(60 * 60_000);
    ctx.accessory.openWindow({}, ctx.clock.now());
    const r = failOnce(ctx, c);
    expect(r.outcome.kind === "failed" && r.outcome.error.code).toBe("WRONG_CODE");
    // lock once, wait it out plus a quiet hour: the next lockout starts again at 1 min
    for (let i = 0; i < 19; i++) failOnce(ctx, c);
    expect(info(ctx).window.state).toBe("locked-out");
    ctx.clock.advance(61 * 60_000);
    ctx.accessory.openWindow({}, ctx.clock.now());
    for (let i = 0; i < 19; i++) {
      const x = failOnce(ctx, c);
      expect(x.outcome.kind === "failed" && x.outcome.error.code).toBe("WRONG_CODE");
    }
    const lock = failOnce(ctx, c);
    expect(lock.outcome.kind === "failed" && lock.outcome.error.details).toEqual({ retryAfterMs: 60_000 });
  });
});

/** Drives one exchange step by step, so a test can drop, replay, reorder or mangle messages. */
function manual(ctx: Ctx, c = ctx.controller()) {
  const link = ctx.accessory.connect();
  const send = (bytes: Uint8Array) => link.handle(bytes, ctx.clock.now());
  const errorCode = (out: AccessoryOutput) => {
    expect(out.replies).toHaveLength(1);
    const m = decodeMessage(out.replies[0]!);
    return m.type === "Error" ? m.code : m.type;
  };
  return { link, send, errorCode, c };
}

function openAndStart(ctx: Ctx) {
  const opened = ctx.accessory.openWindow({}, ctx.clock.now());
  const m = manual(ctx);
  const ps = m.c.pairSetup(info(ctx), opened.code);
  const start = ps.firstMessage;
  const challenge = m.send(start).replies[0]!;
  const finish = ps.handle(challenge).replies[0]!;
  return { ...m, opened, ps, start, challenge, finish };
}

describe("replayed, reordered, truncated and oversized messages", () => {
  it("a Finish before any Start is PROTOCOL_ERROR and leaves no bond", () => {
    const ctx = setup();
    const a = openAndStart(ctx);
    const other = manual(ctx);
    const out = other.send(a.finish);
    expect(other.errorCode(out)).toBe("PROTOCOL_ERROR");
    // the other link's exchange is untouched; it still completes
    const done = a.send(a.finish);
    expect(decodeMessage(done.replies[0]!).type).toBe("PairSetupDone");
  });

  it("a Start replayed during an exchange resets it; the device is ready for a new attempt", () => {
    const ctx = setup();
    const a = openAndStart(ctx);
    expect(a.errorCode(a.send(a.start))).toBe("PROTOCOL_ERROR");
    expect(ctx.accessory.pairSetupState).toBe("idle");
    expect(a.errorCode(a.send(a.finish))).toBe("PROTOCOL_ERROR");
    expect(ctx.accessory.bonds(ctx.clock.now())).toEqual([]);
    // the reset exchange counted as one failed attempt (confirmV had been sent)
    expect(info(ctx).window).toMatchObject({ state: "open", attemptsLeft: 4 });
    expect(pair(ctx, ctx.controller().pairSetup(info(ctx), a.opened.code)).outcome.kind).toBe("ok");
  });

  it("replaying a finished exchange's messages gets CODE_EXPIRED{used} / PROTOCOL_ERROR and adds nothing", () => {
    const ctx = setup();
    const a = openAndStart(ctx);
    a.send(a.finish);
    const bonds = ctx.accessory.bonds(ctx.clock.now());
    expect(bonds).toHaveLength(1);
    const replay = manual(ctx);
    const r1 = replay.send(a.start);
    expect(replay.errorCode(r1)).toBe("CODE_EXPIRED");
    expect(decodeMessage(r1.replies[0]!)).toMatchObject({ reason: "used" });
    expect(replay.errorCode(replay.send(a.finish))).toBe("PROTOCOL_ERROR");
    // even inside a new window, an old Start (old nonce) is refused before any crypto
    ctx.accessory.openWindow({}, ctx.clock.now());
    expect(replay.errorCode(replay.send(a.start))).toBe("CODE_EXPIRED");
    expect(info(ctx).window).toMatchObject({ attemptsLeft: 5 });
    expect(ctx.accessory.bonds(ctx.clock.now())).toEqual(bonds);
  });

  it("a Finish from another exchange (replayed into a new one) is a failed attempt, not a bond", () => {
    const ctx = setup();
    const a = openAndStart(ctx);
    a.link.close(ctx.clock.now()); // first exchange dropped after the challenge
    const b = manual(ctx);
    const ps = b.c.pairSetup(info(ctx), a.opened.code);
    b.send(ps.firstMessage);
    const out = b.send(a.finish); // old confirmP does not match the new transcript
    expect(b.errorCode(out)).toBe("WRONG_CODE");
    expect(ctx.accessory.bonds(ctx.clock.now())).toEqual([]);
  });

  it("messages sent in the wrong direction are PROTOCOL_ERROR", () => {
    const ctx = setup();
    const a = openAndStart(ctx);
    expect(a.errorCode(a.send(a.challenge))).toBe("PROTOCOL_ERROR");
    expect(ctx.accessory.pairSetupState).toBe("idle");
  });

  it("every truncation of every message is PROTOCOL_ERROR; the device stays ready", () => {
    const ctx = setup();
    const a = openAndStart(ctx);
    a.link.close(ctx.clock.now());
    let failures = 0;
    for (const msg of [a.start, a.finish]) {
      for (let cut = 0; cut < msg.length; cut++) {
        const m = manual(ctx);
        const out = m.send(msg.subarray(0, cut));
        expect(m.errorCode(out)).toBe("PROTOCOL_ERROR");
        m.link.close(ctx.clock.now());
        failures++;
      }
    }
    expect(failures).toBeGreaterThan(100);
    expect(ctx.accessory.pairSetupState).toBe("idle");
    ctx.accessory.openWindow({}, ctx.clock.now());
    const code = (ctx.accessory.window.state as { code: string }).code;
    expect(pair(ctx, ctx.controller().pairSetup(info(ctx), code)).outcome.kind).toBe("ok");
  });

  it("oversized messages and trailing garbage are PROTOCOL_ERROR; another version is VERSION_MISMATCH", () => {
    const ctx = setup();
    const a = openAndStart(ctx);
    const big = new Uint8Array(2049);
    big.set(a.finish);
    expect(a.errorCode(a.send(big))).toBe("PROTOCOL_ERROR");
    const m = manual(ctx);
    const trailing = new Uint8Array([...a.start, 0]);
    expect(m.errorCode(m.send(trailing))).toBe("PROTOCOL_ERROR");
    const v2 = a.start.slice();
    v2[0] = 2;
    const out = m.send(v2);
    expect(m.errorCode(out)).toBe("VERSION_MISMATCH");
    expect(decodeMessage(out.replies[0]!)).toMatchObject({ version: 1 });
  });

  it("a controller fed garbage or a wrong message fails with PROTOCOL_ERROR and tells the device", () => {
    const ctx = setup();
    const a = openAndStart(ctx);
    const ps2 = ctx.controller().pairSetup(info(ctx), a.opened.code);
    const step = ps2.handle(a.start);
    expect(step.outcome?.kind === "failed" && step.outcome.error.code).toBe("PROTOCOL_ERROR");
    expect(decodeMessage(step.replies[0]!)).toMatchObject({ type: "Error", code: "PROTOCOL_ERROR" });
    const step2 = ps2.handle(new Uint8Array([1]));
    expect(step2.outcome?.kind).toBe("failed");
    // the device resets the exchange when the controller reports an error, without answering
    const err = encodeMessage({ type: "Error", code: "PROTOCOL_ERROR", detail: "x" });
    expect(a.send(err).replies).toEqual([]);
    expect(ctx.accessory.pairSetupState).toBe("idle");
  });
});

describe("busy, full, provisional bonds", () => {
  it("a second controller gets BUSY while an exchange runs, and its turn after the step timeout", () => {
    const ctx = setup();
    const a = openAndStart(ctx);
    const b = manual(ctx);
    const psB = b.c.pairSetup(info(ctx), a.opened.code);
    expect(b.errorCode(b.send(psB.firstMessage))).toBe("BUSY");
    ctx.clock.advance(29_999);
    expect(b.errorCode(b.send(psB.firstMessage))).toBe("BUSY");
    ctx.clock.advance(1);
    expect(ctx.accessory.nextDeadline()).toBeLessThanOrEqual(ctx.clock.now());
    ctx.accessory.tick(ctx.clock.now());
    expect(ctx.accessory.pairSetupState).toBe("idle");
    // the abandoned exchange counted as a failure; A's late Finish hears TIMEOUT
    expect(info(ctx).window).toMatchObject({ attemptsLeft: 4 });
    expect(a.errorCode(a.send(a.finish))).toBe("TIMEOUT");
    const psB2 = b.c.pairSetup(info(ctx), a.opened.code);
    const ch = b.send(psB2.firstMessage);
    const done = b.send(psB2.handle(ch.replies[0]!).replies[0]!);
    expect(psB2.handle(done.replies[0]!).outcome?.kind).toBe("ok");
  });

  it("BOND_TABLE_FULL is answered before any crypto and costs no attempt", () => {
    const ctx = setup({ slots: 2 });
    for (let i = 0; i < 2; i++) {
      const w = ctx.accessory.openWindow({}, ctx.clock.now());
      expect(pair(ctx, ctx.controller().pairSetup(info(ctx), w.code)).outcome.kind).toBe("ok");
    }
    const w = ctx.accessory.openWindow({}, ctx.clock.now());
    expect(info(ctx).bondSlots).toEqual({ used: 2, total: 2 });
    const r = pair(ctx, ctx.controller().pairSetup(info(ctx), w.code));
    expect(r.outcome.kind === "failed" && r.outcome.error.code).toBe("BOND_TABLE_FULL");
    expect(r.outcome.kind === "failed" && r.outcome.error.details).toEqual({ slots: 2 });
    expect(info(ctx).window).toMatchObject({ state: "open", attemptsLeft: 5 });
  });

  it("a controller that pairs again replaces its own bond (even when the table is full)", () => {
    const ctx = setup({ slots: 1 });
    const c = ctx.controller();
    let w = ctx.accessory.openWindow({}, ctx.clock.now());
    pair(ctx, c.pairSetup(info(ctx), w.code));
    w = ctx.accessory.openWindow({}, ctx.clock.now());
    const r = pair(ctx, c.pairSetup(info(ctx), w.code));
    expect(r.outcome.kind).toBe("ok");
    expect(ctx.accessory.bonds(ctx.clock.now())).toHaveLength(1);
  });

  it("a provisional bond expires after 5 min unless the first verify confirms it", () => {
    const ctx = setup();
    let w = ctx.accessory.openWindow({}, ctx.clock.now());
    const first = pair(ctx, ctx.controller("kept").pairSetup(info(ctx), w.code));
    w = ctx.accessory.openWindow({}, ctx.clock.now());
    pair(ctx, ctx.controller("lost").pairSetup(info(ctx), w.code));
    if (first.outcome.kind !== "ok") throw new Error("pairing failed");
    const events = ctx.accessory.confirmBond(first.outcome.value.controllerId, ctx.clock.now());
    expect(events.map((e) => e.type)).toEqual(["bond-confirmed", "bonds-changed"]);
    ctx.clock.advance(5 * 60_000 - 1);
    expect(ctx.accessory.tick(ctx.clock.now()).events).toEqual([]);
    ctx.clock.advance(1);
    const out = ctx.accessory.tick(ctx.clock.now()).events;
    expect(out.map((e) => e.type)).toEqual(["bond-expired", "bonds-changed"]);
    expect(ctx.accessory.bonds(ctx.clock.now()).map((b) => [b.name, b.provisional])).toEqual([
      ["kept", false],
    ]);
  });

  it("a message dropped at any step never leaves a half bond, and the device is ready again", () => {
    for (const dropAt of ["start", "challenge", "finish", "done"] as const) {
      const ctx = setup({ seed: `drop-${dropAt}` });
      const opened = ctx.accessory.openWindow({}, ctx.clock.now());
      const m = manual(ctx);
      const ps = m.c.pairSetup(info(ctx), opened.code);
      let controllerBond = false;
      if (dropAt !== "start") {
        const ch = m.send(ps.firstMessage).replies[0]!;
        if (dropAt !== "challenge") {
          const fin = ps.handle(ch).replies[0]!;
          if (dropAt !== "finish") {
            const done = m.send(fin).replies[0]!;
            expect(decodeMessage(done).type).toBe("PairSetupDone");
            // "done" is dropped: the controller never sees it
            controllerBond = false;
          }
        }
      }
      // the controller gives up; the link goes down
      m.link.close(ctx.clock.now());
      ctx.clock.advance(31_000);
      ctx.accessory.tick(ctx.clock.now());
      expect(controllerBond).toBe(false);
      const bonds = ctx.accessory.bonds(ctx.clock.now());
      expect(bonds.every((b) => b.provisional)).toBe(true);
      expect(bonds.length).toBe(dropAt === "done" ? 1 : 0);
      // ready for a new attempt (the "done" case used the window up: a button press opens another)
      if (info(ctx).window.state !== "open") ctx.accessory.openWindow({}, ctx.clock.now());
      const code = (ctx.accessory.window.state as { code: string }).code;
      const again = pair(ctx, m.c.pairSetup(info(ctx), code));
      expect(again.outcome.kind).toBe("ok");
      // the provisional leftover of a lost Done expires (the re-pair replaced it anyway)
      ctx.clock.advance(5 * 60_000);
      ctx.accessory.tick(ctx.clock.now());
      expect(ctx.accessory.bonds(ctx.clock.now())).toEqual([]);
    }
  });

  it("a controller that aborts gets WRONG_CODE with attempts left; a stale info read gets CODE_EXPIRED", () => {
    const ctx = setup();
    const opened = ctx.accessory.openWindow({}, ctx.clock.now());
    const a = openAndStartWith(ctx, opened.code);
    const out = a.send(a.ps.abort());
    expect(a.errorCode(out)).toBe("WRONG_CODE");
    const stale = info(ctx);
    const replaced = ctx.accessory.openWindow({}, ctx.clock.now());
    expect(replaced.events.map((e) => e.type)).toEqual(["window-closed", "display"]);
    const r = pair(ctx, ctx.controller().pairSetup(stale, opened.code));
    expect(r.outcome.kind === "failed" && r.outcome.error.code).toBe("CODE_EXPIRED");
  });

  it("the window replaced mid-exchange: the right code then hears CODE_EXPIRED, and no bond is made", () => {
    const ctx = setup();
    const a = openAndStart(ctx);
    ctx.accessory.openWindow({}, ctx.clock.now());
    const out = a.send(a.finish);
    expect(a.errorCode(out)).toBe("CODE_EXPIRED");
    expect(ctx.accessory.bonds(ctx.clock.now())).toEqual([]);
    expect(ctx.accessory.window.failuresInHour(ctx.clock.now())).toBe(0);
  });
});

describe("roles and share windows", () => {
  it("after the admin, pairs get the window's role; a shared code burnt by wrong attempts closes the window", () => {
    const ctx = setup();
    const w = ctx.accessory.openWindow({}, ctx.clock.now());
    const admin = pair(ctx, ctx.controller("admin").pairSetup(info(ctx), w.code));
    expect(admin.outcome.kind === "ok" && admin.outcome.value.role).toBe("admin");
    // a button window when an admin exists grants "user"
    const w2 = ctx.accessory.openWindow({}, ctx.clock.now());
    const u = pair(ctx, ctx.controller("user").pairSetup(info(ctx), w2.code));
    expect(u.outcome.kind === "ok" && u.outcome.value.role).toBe("user");
    // a share window with a code chosen by the admin controller
    const shared = ctx.accessory.openWindow(
      { codeFromController: "482 913", role: "user", ttlMs: 600_000 },
      ctx.clock.now(),
    );
    expect(shared.events.at(-1)).toMatchObject({
      type: "display",
      codeSource: "controller",
      reason: "share",
    });
    expect(info(ctx).window).toMatchObject({ state: "open", codeSource: "controller", timeLeftMs: 600_000 });
    const friend = ctx.controller("friend");
    let last: ReturnType<typeof pair> | undefined;
    for (let i = 0; i < 5; i++) last = pair(ctx, friend.pairSetup(info(ctx), "111 112"));
    expect(last?.events).toContainEqual({ type: "window-closed", reason: "burnt" });
    expect(last?.events.some((e) => e.type === "display")).toBe(false);
    expect(info(ctx).window.state).toBe("closed");
  });

  it("a shared code cannot replace an existing bond (no pushing the admin out with its id)", () => {
    const ctx = setup();
    const adminId = ctx.random(16);
    const adminC = new Controller({ controllerId: adminId, name: "admin", random: ctx.random });
    const w = ctx.accessory.openWindow({}, ctx.clock.now());
    pair(ctx, adminC.pairSetup(info(ctx), w.code));
    const share = ctx.accessory.openWindow({ codeFromController: "482913", role: "user" }, ctx.clock.now());
    const thief = new Controller({ controllerId: adminId, name: "thief", random: ctx.random });
    const r = pair(ctx, thief.pairSetup(info(ctx), share.code));
    expect(r.outcome.kind === "failed" && r.outcome.error.code).toBe("NOT_PERMITTED");
    expect(info(ctx).window).toMatchObject({ state: "open", attemptsLeft: 5 });
    expect(ctx.accessory.bonds(ctx.clock.now()).map((b) => [b.name, b.role])).toEqual([["admin", "admin"]]);
    // through a device-shown code (someone at the device) the admin may re-pair and stays admin
    const again = ctx.accessory.openWindow({}, ctx.clock.now());
    const r2 = pair(ctx, adminC.pairSetup(info(ctx), again.code));
    expect(r2.outcome.kind === "ok" && r2.outcome.value.role).toBe("admin");
    expect(ctx.accessory.bonds(ctx.clock.now())).toHaveLength(1);
  });

  it("window TTL outside 30 s – 15 min is INVALID_ARGUMENT", () => {
    const ctx = setup();
    for (const ttlMs of [29_999, 15 * 60_000 + 1, 1.5, Number.NaN]) {
      expect(() => ctx.accessory.openWindow({ ttlMs }, ctx.clock.now())).toThrowError(
        expect.objectContaining({ code: "INVALID_ARGUMENT" }) as unknown as Error,
      );
    }
    expect(ctx.accessory.openWindow({ ttlMs: 30_000 }, ctx.clock.now()).expiresAt).toBe(31_000);
    expect(ctx.accessory.openWindow({ ttlMs: 900_000 }, ctx.clock.now()).expiresAt).toBe(901_000);
  });

  it("factory reset erases bonds, closes the window and makes a new identity", () => {
    const ctx = setup();
    const w = ctx.accessory.openWindow({}, ctx.clock.now());
    pair(ctx, ctx.controller().pairSetup(info(ctx), w.code));
    ctx.accessory.openWindow({}, ctx.clock.now());
    const oldId = ctx.accessory.identity.deviceId;
    const events = ctx.accessory.factoryReset(ctx.clock.now());
    expect(events.map((e) => e.type)).toEqual([
      "window-closed",
      "factory-reset",
      "bonds-changed",
      "identity-changed",
    ]);
    expect(ctx.accessory.identity.deviceId).not.toEqual(oldId);
    expect(ctx.accessory.bonds(ctx.clock.now())).toEqual([]);
    expect(info(ctx).window.state).toBe("closed");
  });
});

function openAndStartWith(ctx: Ctx, code: string) {
  const m = manual(ctx);
  const ps = m.c.pairSetup(info(ctx), code);
  m.send(ps.firstMessage);
  return { ...m, ps };
}

it("errors are OpenClawErrors with a remedy", () => {
  const e = new OpenClawError("WRONG_CODE", { attemptsLeft: 2 });
  expect(isOpenClawError(e)).toBe(true);
  expect(e.remedy.length).toBeGreaterThan(0);
});
