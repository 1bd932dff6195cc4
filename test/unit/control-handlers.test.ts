/**
 * The control API's own logic over the core (src/daemon/rpc/handlers.ts), with a scripted core: a
 * prepared pairing belongs to the connection that prepared it (another client cannot use or cancel it)
 * and is cancelled when that connection goes away (Ctrl-C of the CLI); times reach the client counted
 * down to the moment of the answer; forget passes device / all / localOnly through.
 */
import { getEventListeners } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock, systemClock } from "../../src/clock/index.js";
import type * as core from "../../src/daemon/core/api.js";
import { RpcClient } from "../../src/daemon/rpc/client.js";
import { createHandlers, toDiscovered, toTarget } from "../../src/daemon/rpc/handlers.js";
import { ControlServer } from "../../src/daemon/rpc/server.js";
import { OpenClawError } from "../../src/protocol/errors.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
/** The daemon's own methods (hello, status, shutdown): not what these tests are about. */
const noSelf = {
  hello: () => ({}) as never,
  status: () => ({}) as never,
  quarantined: () => [],
  shutdown: () => {},
};

function target(id: string, readAt: number): core.PairTarget {
  return {
    pairingId: id,
    radioId: "r1",
    address: "aa:bb:cc:dd:ee:ff",
    deviceId: "00112233aabbccdd",
    name: "OpenClaw-CCDD",
    model: "sim",
    firmware: "1",
    window: { state: "open", format: "passkey", codeSource: "device", timeLeftMs: 100_000, attemptsLeft: 5 },
    bondSlots: { used: 0, total: 8 },
    alreadyBonded: false,
    readAt,
  };
}

class ScriptedPairing implements core.Pairing {
  state: core.PairingState = "ready";
  cancelled = 0;
  codes: string[] = [];
  constructor(
    readonly id: string,
    public target: core.PairTarget,
  ) {}
  async attempt(code: string, o?: { onStep?: (s: core.PairStep) => void }): Promise<core.PairResult> {
    this.codes.push(code);
    o?.onStep?.("exchanging-keys");
    if (code !== "123456") throw new OpenClawError("WRONG_CODE", { attemptsLeft: 4 });
    this.state = "bonded";
    return {
      replaced: false,
      bond: {
        deviceId: this.target.deviceId,
        name: this.target.name,
        model: "sim",
        firmware: "1",
        role: "admin",
        pairedAt: Date.UTC(2026, 0, 1),
        lastVerifiedAt: null,
        address: "aa:bb:cc:dd:ee:01",
        lastSeenAt: null,
        inRange: true,
        radioId: "r1",
        rssi: -50,
        connected: true,
      },
    };
  }
  async refresh() {
    return this.target;
  }
  async cancel() {
    this.state = "cancelled";
    this.cancelled++;
  }
}

let dir: string;
let server: ControlServer;
const clients: RpcClient[] = [];
let made: ScriptedPairing[];
let forgets: Array<[unknown, unknown]>;
let clock: ManualClock;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "ocp-handlers-"));
  clock = new ManualClock(10_000);
  made = [];
  forgets = [];
  const fakeCore = {
    preparePair: async () => {
      const p = new ScriptedPairing(`p${made.length + 1}`, target(`p${made.length + 1}`, clock.now()));
      made.push(p);
      clock.advance(2000); // the answer goes out 2 s after the device was read
      return p;
    },
    forget: async (t: unknown, o: unknown) => {
      forgets.push([t, o]);
      return [];
    },
  } as unknown as core.DaemonCore;
  server = new ControlServer({
    socketPath: join(dir, "s.sock"),
    clock: systemClock,
    log: quiet,
    handlers: createHandlers({
      core: fakeCore,
      clock,
      self: noSelf,
    }),
  });
  await server.listen();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function client(): Promise<RpcClient> {
  const c = await RpcClient.connect(join(dir, "s.sock"), systemClock);
  clients.push(c);
  return c;
}

async function failure(p: Promise<unknown>): Promise<OpenClawError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof OpenClawError) return err;
    throw err;
  }
  throw new Error("expected a failure");
}

describe("control API handlers", () => {
  it("counts the window down to the answer and keeps the pairing for a retry after WRONG_CODE", async () => {
    const c = await client();
    const t = await c.call("pair.prepare", { device: "OpenClaw-CCDD" });
    expect(t.window).toMatchObject({ state: "open", timeLeftMs: 98_000, attemptsLeft: 5 });
    const steps: string[] = [];
    c.on("pair.step", (s) => steps.push(s.step));
    const e = await failure(c.call("pair.attempt", { pairingId: t.pairingId, code: "000000" }));
    expect(e.code).toBe("WRONG_CODE");
    const ok = await c.call("pair.attempt", { pairingId: t.pairingId, code: "123456" });
    expect(ok.bond.pairedAt).toBe("2026-01-01T00:00:00.000Z");
    expect(steps).toContain("exchanging-keys");
    // Finished pairings are gone.
    expect((await failure(c.call("pair.refresh", { pairingId: t.pairingId }))).code).toBe("INVALID_ARGUMENT");
  });

  it("lets no other connection use or cancel a pairing", async () => {
    const owner = await client();
    const other = await client();
    const t = await owner.call("pair.prepare", {});
    expect(
      (await failure(other.call("pair.attempt", { pairingId: t.pairingId, code: "123456" }))).message,
    ).toMatch(/no such pairing on this connection/);
    expect((await failure(other.call("pair.cancel", { pairingId: t.pairingId }))).code).toBe(
      "INVALID_ARGUMENT",
    );
    expect(made[0]!.codes).toEqual([]);
    expect(made[0]!.cancelled).toBe(0);
  });

  it("cancels a prepared pairing when its client goes away", async () => {
    const c = await client();
    await c.call("pair.prepare", {});
    const p = made[0]!;
    c.close();
    for (let i = 0; i < 100 && p.cancelled === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(p.cancelled).toBe(1);
    expect(p.state).toBe("cancelled");
  });

  it("passes forget's target and localOnly through, and refuses both or neither", async () => {
    const c = await client();
    await c.call("device.forget", { device: "abc", localOnly: true });
    await c.call("device.forget", { all: true });
    expect(forgets).toEqual([
      ["abc", { localOnly: true }],
      [{ all: true }, {}],
    ]);
    expect((await failure(c.call("device.forget", { device: "abc", all: true }))).code).toBe(
      "INVALID_ARGUMENT",
    );
    expect((await failure(c.call("device.forget", {}))).message).toMatch(/either a device or all/);
  });
});

describe("a long-lived control connection", () => {
  // One connection that pairs and forgets again and again (a GUI; the bench's soak): each call hangs its
  // cancel-on-hang-up on the connection's signal, and a finished call must take it off again, or the
  // connection keeps every pairing it ever made (link, session, channel: ≈ 11 kB each, issue 10's soak).
  function handlers() {
    const made: ScriptedPairing[] = [];
    const fakeCore = {
      preparePair: async () => {
        const p = new ScriptedPairing(`p${made.length + 1}`, target(`p${made.length + 1}`, clock.now()));
        made.push(p);
        return p;
      },
      devices: () => [],
      on: () => () => {},
    } as unknown as core.DaemonCore;
    const h = createHandlers({
      core: fakeCore,
      clock,
      self: noSelf,
    });
    const hangUp = new AbortController();
    const ctx = { connectionId: 1, signal: hangUp.signal, notify: () => {}, subscribe: () => {} };
    return { h, ctx, made, hangUp, listeners: () => getEventListeners(hangUp.signal, "abort").length };
  }

  it("holds nothing of the pairings it finished, bonded or cancelled", async () => {
    const { h, ctx, made, hangUp, listeners } = handlers();
    for (let i = 0; i < 50; i++) {
      const t = await h["pair.prepare"]({ device: "OpenClaw-CCDD" }, ctx);
      if (i % 2 === 0) await h["pair.attempt"]({ pairingId: t.pairingId, code: "123456" }, ctx);
      else await h["pair.cancel"]({ pairingId: t.pairingId }, ctx);
    }
    expect(listeners()).toBe(0);
    // The one still prepared when the client goes away is cancelled; the finished ones are left alone.
    await h["pair.prepare"]({}, ctx);
    expect(listeners()).toBe(1);
    hangUp.abort();
    expect(made.map((p) => p.cancelled)).toEqual([...made.slice(0, 50).map((_, i) => i % 2), 1]);
  });

  it("lets go of pairings the core ended by itself (idle) once the next pairing is prepared", async () => {
    const { h, ctx, made, listeners } = handlers();
    for (let i = 0; i < 20; i++) {
      await h["pair.prepare"]({}, ctx);
      made.at(-1)!.state = "cancelled"; // the core's idle timer hung up; the client never came back
    }
    expect(listeners()).toBe(1); // only the last one, not yet seen as ended
    await expect(h["pair.attempt"]({ pairingId: made[0]!.id, code: "123456" }, ctx)).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });

  it("holds nothing of the scans it finished", async () => {
    const { h, ctx, listeners } = handlers();
    for (let i = 0; i < 20; i++) {
      const scan = h["discovery.scan"]({ durationMs: 1000 }, ctx);
      clock.advance(1000);
      await scan;
    }
    expect(listeners()).toBe(0);
  });
});

describe("core shapes as the API shows them", () => {
  it("turns monotonic times into ages and countdowns as of now", () => {
    const d: core.DiscoveredDevice = {
      radioId: "r",
      address: "a",
      name: null,
      rssi: -60,
      rssiLast: -61,
      lastSeen: 500,
      connectable: true,
      protocolVersion: 1,
      windowOpen: false,
      hasBonds: true,
      window: null,
      deviceId: null,
      bonded: true,
    };
    expect(toDiscovered(d, 1700).lastSeenAgoMs).toBe(1200);
    const t = { ...target("p", 0), window: { state: "locked-out" as const, retryAfterMs: 5000 } };
    expect(toTarget(t, 8000).window).toEqual({ state: "locked-out", retryAfterMs: 0 });
  });
});
