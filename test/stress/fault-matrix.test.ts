/**
 * The fault matrix: the link is cut at every message boundary of pair (pair-setup + its first verify,
 * what `openclaw pair` does), a bonded verify, rotate keys and remove pairing, in both directions —
 * before a message reaches its peer and just after it did — with both roles in process
 * (test/stress/rig.ts).
 *
 * Each time: the laptop's call fails with an OpenClawError (or completes, when the cut came after the
 * last message mattered), nothing but OpenClawErrors is thrown anywhere, no half bond — a bond the laptop
 * committed is permanent on the device and holds a key the laptop has (for remove: the laptop was told,
 * see faultCase) — and after the laptop's recovery (verify with each key it holds, the pending one
 * first, and settle the rotation by which one worked; retry verify with a pending bond; on UNKNOWN_PEER
 * forget locally and pair again; retry a remove) both bond tables agree.
 * The short form runs each cut once at MTU 23; the long form repeats it over seeds at MTU 23 and 247.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_PROVISIONAL_TTL_MS } from "../../src/protocol/accessory/bonds.js";
import { beginRotation, verifiedWith, verifyKeys } from "../../src/protocol/controller/index.js";
import { generateKeyPair } from "../../src/protocol/crypto/noise.js";
import { isOpenClawError, OpenClawError } from "../../src/protocol/errors.js";
import { LONG, limitMs, runs } from "./cases.js";
import { type Connection, type Cut, Rig } from "./rig.js";

type Flow = "pair" | "verify" | "rotate" | "remove";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/**
 * Verify as the daemon does (src/daemon/core/core.ts #verify): each key the bond holds, the pending one
 * first, on one link (the device lets an unknown key retry); the key that worked settles a rotation.
 * UNKNOWN_PEER from every key is the device having forgotten us.
 */
async function verifyBonded(rig: Rig, c: Connection): Promise<void> {
  const bond = rig.laptopBond()!;
  let last: unknown = new OpenClawError("UNKNOWN_PEER", {});
  for (const key of verifyKeys(bond)) {
    try {
      await c.verify(bond, key);
      rig.save(verifiedWith(bond, key));
      return;
    } catch (err) {
      if (!(isOpenClawError(err) && err.is("UNKNOWN_PEER"))) throw err;
      last = err;
    }
  }
  throw last;
}

/** Brings a fresh rig to where the flow starts. */
async function before(flow: Flow, rig: Rig, mtu: number): Promise<void> {
  if (flow === "pair") return;
  const c = rig.connect(mtu);
  await c.pairSetup(rig.code);
  await c.verify(rig.pending!);
  rig.commit();
  c.close();
}

/** The flow on a connection that may be cut. */
async function run(flow: Flow, rig: Rig, c: Connection): Promise<void> {
  if (flow === "pair") {
    await c.pairSetup(rig.code);
    await c.verify(rig.pending!);
    rig.commit();
    return;
  }
  await verifyBonded(rig, c);
  if (flow === "rotate") {
    // Two-phase (PROTOCOL.md §9.4): the new key is saved as pending before the command goes out.
    const next = generateKeyPair(rig.random);
    rig.save(beginRotation(rig.laptopBond()!, next));
    await c.call("rotate keys", (s) => s.rotate(next));
    return;
  }
  if (flow === "remove") {
    await c.call("remove pairing", (s) => s.removePairing());
    rig.forgetLocally();
  }
}

/** What the laptop does next, until its table and the device's agree on the flow's intended outcome. */
async function recover(flow: Flow, rig: Rig, mtu: number): Promise<void> {
  for (let attempt = 0; attempt < 4; attempt++) {
    const c = rig.connect(mtu);
    try {
      if (flow === "remove") {
        if (!rig.laptopBond()) return;
        try {
          await verifyBonded(rig, c);
        } catch (err) {
          if (isOpenClawError(err) && err.is("UNKNOWN_PEER")) {
            rig.forgetLocally(); // the device already removed us: the remove did happen
            return;
          }
          throw err;
        }
        await c.call("remove pairing", (s) => s.removePairing());
        rig.forgetLocally();
        return;
      }
      if (rig.laptopBond()) {
        await verifyBonded(rig, c);
        return;
      }
      if (rig.pending) {
        try {
          await c.verify(rig.pending);
          rig.commit();
          return;
        } catch (err) {
          if (!(isOpenClawError(err) && err.is("UNKNOWN_PEER"))) throw err;
          rig.pending = undefined; // the device never kept it (or it expired): pair again
          c.close();
          continue;
        }
      }
      if (rig.accessory.window.state.kind !== "open") rig.press();
      await c.pairSetup(rig.code);
      await c.verify(rig.pending!);
      rig.commit();
      return;
    } catch (err) {
      if (!isOpenClawError(err)) throw err;
    } finally {
      c.close();
    }
  }
  throw new Error(`${flow}: the laptop could not recover in 4 attempts`);
}

/** Messages each way in a clean run of the flow. */
async function messages(flow: Flow, mtu: number): Promise<{ controller: number; accessory: number }> {
  const rig = new Rig(`count-${flow}`);
  await before(flow, rig, mtu);
  const c = rig.connect(mtu);
  await run(flow, rig, c);
  c.close();
  return { ...c.seen };
}

interface Outcome {
  error?: string;
  completed: boolean;
}

async function faultCase(flow: Flow, cut: Cut, mtu: number, seed: string): Promise<Outcome> {
  const rig = new Rig(seed);
  await before(flow, rig, mtu);
  const start = rig.laptopBond();
  const c = rig.connect(mtu, cut);
  let outcome: Outcome = { completed: true };
  try {
    await run(flow, rig, c);
  } catch (err) {
    // A typed error, never anything else.
    expect(isOpenClawError(err), `${flow} ${JSON.stringify(cut)}: ${String(err)}`).toBe(true);
    outcome = { completed: false, error: isOpenClawError(err) ? err.code : String(err) };
  } finally {
    c.close();
  }
  // No half bond right after the fault: what the laptop committed, the device holds for good. A remove
  // is the exception by nature (the device forgets first; a lost answer cannot be taken back): the
  // laptop was told (a typed error) and learns the outcome at its next verify (UNKNOWN_PEER).
  const at = `${flow} ${JSON.stringify(cut)}`;
  const bond = rig.laptopBond();
  if (bond && flow !== "remove") {
    expect(rig.deviceBond(), at).toBe("permanent");
    // A rotation cut anywhere leaves the device with a key the laptop still holds (never bricked).
    expect(
      verifyKeys(bond).map((k) => hex(k.publicKey)),
      at,
    ).toContain(rig.deviceKey());
  }
  if (flow === "rotate" && outcome.completed) {
    // The device answered: it holds the new key (still pending on the laptop until a verify with it).
    expect(rig.deviceKey(), at).toBe(hex(bond!.pendingStaticKey!.publicKey));
    expect(rig.deviceKey(), at).not.toBe(hex(start!.controllerStaticKey.publicKey));
  }
  if (flow === "remove" && rig.laptopBond() && rig.deviceBond() === "absent")
    expect(outcome.error).toBeDefined();
  await recover(flow, rig, mtu);
  const want = flow === "remove" ? "absent" : "permanent";
  expect(rig.deviceBond(), `${flow} ${JSON.stringify(cut)} after recovery`).toBe(want);
  expect(rig.laptopBond() !== undefined, `${flow} ${JSON.stringify(cut)} laptop after recovery`).toBe(
    flow !== "remove",
  );
  if (flow !== "remove") {
    // One verify settled it: no rotation left unresolved, and both sides name the same key.
    const settled = rig.laptopBond()!;
    expect(settled.pendingStaticKey, at).toBeUndefined();
    expect(rig.deviceKey(), at).toBe(hex(settled.controllerStaticKey.publicKey));
  }
  // A provisional bond the laptop never committed does not outlive its TTL.
  rig.advance(DEFAULT_PROVISIONAL_TTL_MS + 1);
  expect(rig.deviceBond()).toBe(want);
  expect(rig.crashes.list).toEqual([]);
  return outcome;
}

const FLOWS: Flow[] = ["pair", "verify", "rotate", "remove"];
const MTUS = LONG ? [23, 247] : [23];
const REPEATS = runs(1, 40);

describe("fault matrix: a cut at every message boundary, both directions", () => {
  for (const flow of FLOWS) {
    it(
      `${flow}: typed error, no half bond, both sides agree after recovery`,
      async () => {
        const seenCodes = new Set<string>();
        let cases = 0;
        for (const mtu of MTUS) {
          const count = await messages(flow, mtu);
          expect(count.controller + count.accessory).toBeGreaterThan(0);
          for (let rep = 0; rep < REPEATS; rep++) {
            for (const from of ["controller", "accessory"] as const) {
              for (let n = 1; n <= count[from]; n++) {
                for (const when of ["before", "after"] as const) {
                  const o = await faultCase(
                    flow,
                    { from, n, when },
                    mtu,
                    `${flow}-${mtu}-${rep}-${from}-${n}-${when}`,
                  );
                  if (o.error) seenCodes.add(o.error);
                  cases++;
                }
              }
            }
          }
        }
        // Every cut that broke the exchange said so with a code a user can act on.
        for (const code of seenCodes) expect(["OUT_OF_RANGE", "TIMEOUT", "PROTOCOL_ERROR"]).toContain(code);
        expect(cases).toBeGreaterThanOrEqual(4);
      },
      limitMs(20_000),
    );
  }
});
