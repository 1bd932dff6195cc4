/**
 * The fault matrix against the daemon itself: its core (src/daemon/core) with the real on-disk bond store
 * and audit log, against the accessory the sim runs, over in-memory links (test/helpers/daemon-world.ts).
 * The link is cut at every message boundary of `openclaw pair` (pair-setup, first verify), of a bonded
 * verify (`status` on a closed session) and of `forget`, in both directions, before a message reaches its
 * peer and just after it did. Half of the cases then restart the laptop (the process dies: its links drop;
 * a new core loads the same state directory from disk), half recover in the same process.
 *
 * Each time: anything thrown is an OpenClawError; the store loads; no half bond — the laptop holds the
 * bond if and only if the device holds it for good, once the laptop has been in touch once more (a
 * `status`) and a device's provisional bond has had time to lapse; a forget reports each side as it is
 * (device "removed" means gone; otherwise the stale-bond remedy is given) and always clears the laptop.
 * Short form (npm test): each cut once; long form (npm run test:stress): each cut over several seeds.
 */
import { describe, expect, it } from "vitest";
import type { ForgetOutcome } from "../../src/daemon/core/api.js";
import type { MemoryDevice } from "../../src/daemon/core/testing/memory-air.js";
import { DEFAULT_PROVISIONAL_TTL_MS } from "../../src/protocol/accessory/bonds.js";
import { isOpenClawError } from "../../src/protocol/errors.js";
import { decodeFrame, MAX_FRAME } from "../../src/transport/frame.js";
import { createWorld, deviceBond, idOf, type Laptop, onDisk, type World } from "../helpers/daemon-world.js";
import { limitMs, runs } from "./cases.js";

type Flow = "pair" | "verify" | "forget";
type Side = "controller" | "accessory";

interface Cut {
  from: Side;
  /** The n-th message (1-based) the side starts on the cut link. */
  n: number;
  when: "before" | "after";
}

const SESSION_IDLE_MS = 5000;

/**
 * Watches the device's next link: counts the messages each side starts (a frame with START) and, with a
 * cut, drops the link before that message reaches its peer, or right after its last frame did. Links
 * after that one are left alone (the recovery's).
 */
function watchNextLink(dev: MemoryDevice, cut?: Cut): { seen: Record<Side, number> } {
  const seen: Record<Side, number> = { controller: 0, accessory: 0 };
  dev.onLink = (pair) => {
    dev.onLink = undefined;
    let dropped = false;
    const drop = () => {
      if (dropped) return;
      dropped = true;
      pair.drop("cut");
    };
    pair.intercept((side, frame) => {
      if (dropped) return null;
      const from: Side = side === "a" ? "controller" : "accessory";
      const f = decodeFrame(frame, MAX_FRAME);
      if (f.kind !== "data") return frame;
      if (f.start) seen[from]++;
      if (!cut || from !== cut.from || seen[from] !== cut.n) return frame;
      if (cut.when === "before") {
        drop();
        return null;
      }
      if (f.end) queueMicrotask(drop);
      return frame;
    });
  };
  return { seen };
}

/** A laptop (with a device) brought to where the flow starts: unpaired, or paired with its session closed. */
async function before(w: World, flow: Flow, seed: string): Promise<{ l: Laptop; dev: MemoryDevice }> {
  const dev = w.device(seed);
  const l = await w.laptop({ options: { sessionIdleMs: SESSION_IDLE_MS } });
  if (flow !== "pair") {
    await w.settle(l.core.pair(dev.name, { code: async () => dev.code! }));
    await w.advance(SESSION_IDLE_MS + 1); // the session closes: the flow starts with a connection
    expect(l.core.sessions()).toHaveLength(0);
  }
  return { l, dev };
}

/** The flow; resolves with forget's outcome, rejects with what the core threw. */
async function run(w: World, flow: Flow, l: Laptop, dev: MemoryDevice): Promise<ForgetOutcome | undefined> {
  if (flow === "pair") {
    await w.settle(l.core.pair(dev.name, { code: async () => dev.code! }));
    return undefined;
  }
  if (flow === "verify") {
    await w.settle(l.core.status(dev.deviceId));
    return undefined;
  }
  const [outcome] = await w.settle(l.core.forget(dev.deviceId));
  return outcome;
}

/** How many messages each side starts in the flow, uncut. */
async function messages(flow: Flow): Promise<Record<Side, number>> {
  const cleanups: Array<() => Promise<void> | void> = [];
  try {
    const w = await createWorld(cleanups);
    const { l, dev } = await before(w, flow, `count-${flow}`);
    const watch = watchNextLink(dev);
    await run(w, flow, l, dev);
    return { ...watch.seen };
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
}

interface Outcome {
  error?: string;
}

async function faultCase(flow: Flow, cut: Cut, restart: boolean, seed: string): Promise<Outcome> {
  const label = `${flow} ${JSON.stringify(cut)}${restart ? " restart" : ""}`;
  const cleanups: Array<() => Promise<void> | void> = [];
  try {
    const w = await createWorld(cleanups);
    const { l, dev } = await before(w, flow, seed);
    watchNextLink(dev, cut);
    let outcome: Outcome = {};
    let forgot: ForgetOutcome | undefined;
    try {
      forgot = await run(w, flow, l, dev);
    } catch (err) {
      expect(isOpenClawError(err), `${label}: ${String(err)}`).toBe(true);
      outcome = { error: isOpenClawError(err) ? err.code : String(err) };
    }
    let laptop = l;
    if (restart) {
      // The process dies: its links drop without a goodbye; a new daemon loads the same directory.
      l.central.powerOff();
      await w.advance(0);
      laptop = await w.laptop({
        paths: l.paths,
        seed: `${seed}-restarted`,
        options: { sessionIdleMs: SESSION_IDLE_MS },
      });
    }
    const disk = await onDisk(w, l.paths); // loads: never a quarantine
    expect(disk.quarantined(), label).toEqual([]);

    if (flow === "forget") {
      // Cleared here whatever the device said; the device's side reported as it is.
      expect(forgot, `${label}: forget reports, never throws`).toBeDefined();
      expect(disk.list(), label).toEqual([]);
      expect(forgot!.local).toBe("removed");
      if (forgot!.device === "removed") expect(deviceBond(dev), label).toBeUndefined();
      if (deviceBond(dev) !== undefined) expect(forgot!.staleBondRemedy, label).not.toBeNull();
      return outcome;
    }

    // One more contact, as the next command makes: the core settles a candidate, or reports the bond.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await w.settle(laptop.core.status(dev.deviceId));
        break;
      } catch (err) {
        expect(isOpenClawError(err), `${label} recovery: ${String(err)}`).toBe(true);
        if (isOpenClawError(err) && (err.is("NO_SUCH_DEVICE") || err.is("NOT_BONDED"))) break;
        await w.advance(1000);
      }
    }
    // A provisional bond the laptop never committed lapses on the device.
    await w.advance(DEFAULT_PROVISIONAL_TTL_MS + 1000);
    const after = await onDisk(w, l.paths);
    const here = after.list().map(idOf).includes(dev.deviceId);
    const there = deviceBond(dev);
    expect(after.candidates(), `${label}: no candidate left after a contact`).toEqual([]);
    expect(there?.provisional ?? false, label).toBe(false);
    expect(here, `${label}: laptop holds the bond iff the device does`).toBe(there !== undefined);
    // A bonded verify cut anywhere never costs the bond.
    if (flow === "verify") expect(here, label).toBe(true);
    if (here) expect(await w.settle(laptop.core.status(dev.deviceId))).toMatchObject({ role: "admin" });
    else {
      // Nothing half-done blocks pairing again.
      dev.press();
      await w.settle(laptop.core.pair(dev.name, { code: async () => dev.code! }));
      expect(deviceBond(dev)?.provisional).toBe(false);
    }
    return outcome;
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
}

const FLOWS: Flow[] = ["pair", "verify", "forget"];
const REPEATS = runs(1, 8);

describe("daemon fault matrix: a cut at every message boundary, both directions, with and without a restart", () => {
  for (const flow of FLOWS) {
    it(
      `${flow}: typed errors, the store loads, no half bond after one more contact`,
      async () => {
        const count = await messages(flow);
        expect(count.controller).toBeGreaterThan(0);
        expect(count.accessory).toBeGreaterThan(0);
        const codes = new Set<string>();
        let cases = 0;
        for (let rep = 0; rep < REPEATS; rep++)
          for (const from of ["controller", "accessory"] as const)
            for (let n = 1; n <= count[from]; n++)
              for (const when of ["before", "after"] as const) {
                const restart = (n + rep + (when === "after" ? 1 : 0)) % 2 === 0;
                const o = await faultCase(
                  flow,
                  { from, n, when },
                  restart,
                  `${flow}-${rep}-${from}-${n}-${when}`,
                );
                if (o.error) codes.add(o.error);
                cases++;
              }
        // Every cut that broke the exchange said so with a code a user can act on.
        for (const code of codes) expect(["OUT_OF_RANGE", "TIMEOUT", "PROTOCOL_ERROR"]).toContain(code);
        expect(cases).toBe(REPEATS * 2 * (count.controller + count.accessory));
      },
      limitMs(60_000),
    );
  }
});
