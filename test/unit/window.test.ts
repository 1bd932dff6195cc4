import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OpenClawError } from "../../src/protocol/errors.js";
import { seededRandom } from "../../src/protocol/random.js";
import { makePolicy, PairingWindow } from "../../src/protocol/window/index.js";

const newWindow = (p = {}) => new PairingWindow(seededRandom("window"), p);
const codeOf = (w: PairingWindow) => (w.state as { code: string }).code;
const nonceOf = (w: PairingWindow) => (w.state as { nonce: Uint8Array }).nonce;

describe("pairing window", () => {
  it("opens closed → open with a code, nonce, deadline and attempts; publishes them read-only", () => {
    const w = newWindow();
    expect(w.state.kind).toBe("closed");
    expect(w.snapshot(0)).toEqual({ state: "closed" });
    const o = w.open({ ttlMs: 60_000 }, 10);
    expect(o.expiresAt).toBe(60_010);
    expect(o.nonce).toHaveLength(16);
    expect(o.display).toMatch(/^\d{3} \d{3}$/);
    expect(w.snapshot(20)).toMatchObject({
      state: "open",
      timeLeftMs: 59_990,
      attemptsLeft: 5,
      iterations: 1000,
    });
    // reading after the deadline shows closed without changing state; tick reports the change once
    expect(w.snapshot(60_010)).toEqual({ state: "closed" });
    expect(w.state.kind).toBe("open");
    expect(w.tick(60_010)).toEqual([{ type: "window-closed", reason: "expired" }]);
    expect(w.tick(60_011)).toEqual([]);
    expect(w.admit(o.nonce, 60_011)).toEqual(new OpenClawError("CODE_EXPIRED", { reason: "ttl" }));
  });

  it("admits only the open window's nonce, and says why otherwise", () => {
    const w = newWindow();
    expect(w.admit(new Uint8Array(16), 0)?.code).toBe("WINDOW_CLOSED");
    const a = w.open({}, 0);
    expect(w.admit(a.nonce, 1)).toBeUndefined();
    expect(w.admit(new Uint8Array(16), 1)?.details).toEqual({ reason: "ttl" });
    w.beginAttempt(1);
    w.settle("success", a.nonce, 2);
    expect(w.admit(a.nonce, 3)?.details).toEqual({ reason: "used" });
  });

  it("counts an attempt when confirmV goes out and refunds it on success or refund", () => {
    const w = newWindow();
    const a = w.open({}, 0);
    w.beginAttempt(1);
    expect(w.snapshot(1)).toMatchObject({ attemptsLeft: 4 });
    w.settle("refund", a.nonce, 2);
    expect(w.snapshot(2)).toMatchObject({ state: "open", attemptsLeft: 5 });
    w.beginAttempt(3);
    expect(w.settle("success", a.nonce, 4).events).toEqual([{ type: "window-closed", reason: "used" }]);
    expect(() => w.beginAttempt(5)).toThrow();
  });

  it("a burnt device code comes back fresh: new code, new nonce, the same TTL again from now", () => {
    const w = newWindow();
    const a = w.open({ ttlMs: 45_000, role: "user" }, 0);
    for (let i = 0; i < 5; i++) {
      w.beginAttempt(1000 * i);
      const s = w.settle("failure", a.nonce, 1000 * i);
      expect(s.error?.details).toEqual({ attemptsLeft: 4 - i });
    }
    expect(codeOf(w)).not.toBe(a.code);
    expect(nonceOf(w)).not.toEqual(a.nonce);
    expect(w.snapshot(4000)).toMatchObject({ state: "open", attemptsLeft: 5, timeLeftMs: 45_000 });
    expect(w.admit(a.nonce, 4000)?.details).toEqual({ reason: "burnt" });
  });

  it("a failure settled after the window changed only feeds the guard", () => {
    const w = newWindow({ failuresPerHour: 2 });
    const a = w.open({}, 0);
    w.beginAttempt(0);
    const b = w.open({}, 1); // replaced
    expect(w.settle("failure", a.nonce, 2).events).toEqual([]);
    expect(w.failuresInHour(2)).toBe(1);
    w.beginAttempt(3);
    const s = w.settle("failure", b.nonce, 3);
    expect(s.error?.code).toBe("LOCKED_OUT");
    expect(w.state).toEqual({ kind: "locked-out", until: 3 + 60_000 });
    expect(w.nextDeadline()).toBe(60_003);
    expect(() => w.open({}, 60_002)).toThrowError(
      expect.objectContaining({ code: "LOCKED_OUT" }) as unknown as Error,
    );
    expect(w.open({}, 60_003).events[0]).toMatchObject({ type: "display" });
  });

  it("refuses a policy out of bounds", () => {
    expect(() => makePolicy({ defaultTtlMs: 10 })).toThrowError(
      expect.objectContaining({ code: "INVALID_ARGUMENT" }) as unknown as Error,
    );
    expect(() => makePolicy({ iterations: 999 })).toThrow(OpenClawError);
    expect(() => makePolicy({ attemptsPerCode: 0 })).toThrow(OpenClawError);
    expect(() => makePolicy({ lockoutBaseMs: 60_000, lockoutMaxMs: 1000 })).toThrow(OpenClawError);
  });

  it("a shared code must be a valid code of its format", () => {
    const w = newWindow();
    expect(() => w.open({ codeFromController: "12345" }, 0)).toThrowError(
      expect.objectContaining({ code: "MALFORMED_CODE" }) as unknown as Error,
    );
    expect(w.open({ codeFromController: "123-457" }, 0).code).toBe("123457");
    expect(w.snapshot(0)).toMatchObject({ codeSource: "controller" });
  });

  it("reset forgets everything (factory reset)", () => {
    const w = newWindow({ failuresPerHour: 1 });
    const a = w.open({}, 0);
    w.beginAttempt(0);
    w.settle("failure", a.nonce, 0);
    expect(w.state.kind).toBe("locked-out");
    w.reset();
    expect(w.state.kind).toBe("closed");
    expect(w.failuresInHour(0)).toBe(0);
  });
});

describe("attempt guard (property)", () => {
  it("keeps its invariants under any sequence of attempts, outcomes and waits", () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("attempt" as const),
        ok: fc.constantFrom("success", "refund", "failure", "failure", "failure"),
      }),
      fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 2 * 3600_000 }) }),
      fc.constant({ kind: "open" as const }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const w = new PairingWindow(seededRandom("guard"), { iterations: 1000 });
        let now = 0;
        let lastLock = 0;
        for (const o of ops) {
          if (o.kind === "wait") {
            now += o.ms;
            w.tick(now);
          } else if (o.kind === "open") {
            if (w.state.kind !== "locked-out") w.open({ ttlMs: 900_000 }, now);
          } else if (w.state.kind === "open") {
            const nonce = nonceOf(w);
            w.beginAttempt(now);
            const s = w.settle(o.ok as "success" | "refund" | "failure", nonce, now);
            if (s.error?.code === "LOCKED_OUT") {
              const ms = (s.error.details as { retryAfterMs: number }).retryAfterMs;
              // 1 min doubling, capped at 1 h
              expect([60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000]).toContain(ms);
              // The hour's 20th failure, or any failure after an unforgiven lockout (a relock).
              const relock = w.guardSnapshot(now).lockouts >= 2;
              expect(relock || w.failuresInHour(now) >= 20).toBe(true);
              lastLock = ms;
            }
          }
          const st = w.state;
          if (st.kind === "open") {
            expect(st.attemptsLeft).toBeGreaterThanOrEqual(1);
            expect(st.attemptsLeft).toBeLessThanOrEqual(5);
            expect(st.expiresAt).toBeGreaterThan(now);
          }
          if (st.kind === "locked-out") expect(st.until - now).toBeLessThanOrEqual(3_600_000);
        }
        expect(lastLock).toBeLessThanOrEqual(3_600_000);
      }),
      { numRuns: 100 },
    );
  });
});
