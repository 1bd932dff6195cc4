import { randomBytes } from "node:crypto";
import { generateKeyPair, type KeyPair, NoiseKK } from "../src/protocol/crypto/noise.js";
import {
  DEFAULT_PBKDF2_ITERATIONS,
  deriveW0W1,
  registrationRecord,
  Spake2PlusProver,
  Spake2PlusVerifier,
} from "../src/protocol/crypto/spake2plus.js";
import type { RandomBytes } from "../src/protocol/random.js";

/**
 * CPU time per role for the two handshakes, measured with process.cpuUsage (user + system) around each
 * role's own calls while both roles run in this process. Medians over `runs` runs, in milliseconds.
 *
 * - pair-setup prover (controller): PBKDF2 from the typed code, then SPAKE2+ start and finish;
 * - pair-setup verifier (accessory): SPAKE2+ respond and finish per attempt, plus its once-per-window
 *   PBKDF2 + L (reported separately because it is paid when the window opens, not per attempt);
 * - verify initiator (controller) and responder (accessory): Noise KK both messages and split, and the
 *   responder's worst case of trial-decrypting message 1 against a full bond table.
 */

const random: RandomBytes = (n) => new Uint8Array(randomBytes(n));
const enc = new TextEncoder();

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Runs fn, adding its CPU time to the slot. */
function timed<T>(acc: { ms: number }, fn: () => T): T {
  const t0 = cpuMs();
  const out = fn();
  acc.ms += cpuMs() - t0;
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const m = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return Math.round(m * 1000) / 1000;
}

function pairSetupOnce(iterations: number): {
  prover: number;
  verifier: number;
  verifierWindowSetup: number;
} {
  const prover = { ms: 0 };
  const verifier = { ms: 0 };
  const windowSetup = { ms: 0 };
  const salt = random(16);
  const code = enc.encode("123456");
  const ids = {
    context: enc.encode("OpenClaw-Pair/1 bench"),
    idProver: enc.encode("controller"),
    idVerifier: enc.encode("accessory"),
  };
  const record = timed(windowSetup, () => {
    const w = deriveW0W1(code, salt, iterations);
    return { w0: w.w0, L: registrationRecord(w.w1) };
  });
  const p = timed(
    prover,
    () => new Spake2PlusProver({ ...ids, random, ...deriveW0W1(code, salt, iterations) }),
  );
  const v = timed(verifier, () => new Spake2PlusVerifier({ ...ids, random, ...record }));
  const X = timed(prover, () => p.start());
  const r = timed(verifier, () => v.respond(X));
  const done = timed(prover, () => p.finish(r.shareV, r.confirmV));
  if (done === null) throw new Error("bench: SPAKE2+ roles disagreed");
  if (timed(verifier, () => v.finish(done.confirmP)) === null)
    throw new Error("bench: SPAKE2+ verifier refused");
  return { prover: prover.ms, verifier: verifier.ms, verifierWindowSetup: windowSetup.ms };
}

function verifyOnce(bonds: number): { initiator: number; responder: number; responderFullTable: number } {
  const initiatorMs = { ms: 0 };
  const responderMs = { ms: 0 };
  const fullTable = { ms: 0 };
  const prologue = enc.encode("OpenClaw-Pair/1 bench");
  const controller = generateKeyPair(random);
  const accessory = generateKeyPair(random);
  const i = timed(
    initiatorMs,
    () => new NoiseKK({ initiator: true, prologue, s: controller, rs: accessory.publicKey, random }),
  );
  const m1 = timed(initiatorMs, () => i.writeMessage(new Uint8Array(0)));
  const r = timed(responderMs, () => {
    const kk = new NoiseKK({ initiator: false, prologue, s: accessory, rs: controller.publicKey, random });
    kk.readMessage(m1);
    return kk;
  });
  const m2 = timed(responderMs, () => r.writeMessage(new Uint8Array(0)));
  timed(initiatorMs, () => {
    i.readMessage(m2);
    i.split();
  });
  timed(responderMs, () => r.split());
  // Worst case for the accessory: the caller is the last of `bonds` bonded controllers it tries.
  const others: KeyPair[] = Array.from({ length: bonds - 1 }, () => generateKeyPair(random));
  timed(fullTable, () => {
    for (const candidate of [...others.map((k) => k.publicKey), controller.publicKey]) {
      const kk = new NoiseKK({ initiator: false, prologue, s: accessory, rs: candidate, random });
      try {
        kk.readMessage(m1);
        return;
      } catch {
        // not this bond
      }
    }
    throw new Error("bench: no bond matched");
  });
  return { initiator: initiatorMs.ms, responder: responderMs.ms, responderFullTable: fullTable.ms };
}

/** A flat record (bench/run.ts prints one `key  value` line each): median CPU ms per role. */
export async function benchCrypto(
  opts: { runs?: number; bonds?: number } = {},
): Promise<Record<string, unknown>> {
  const runs = opts.runs ?? 30;
  const bonds = opts.bonds ?? 8;
  const out: Record<string, unknown> = { "runs (median of)": runs };
  for (const iterations of [DEFAULT_PBKDF2_ITERATIONS, 10_000]) {
    pairSetupOnce(iterations); // warm-up (JIT, noble's precomputed tables)
    const samples = Array.from({ length: runs }, () => pairSetupOnce(iterations));
    const tag = `PBKDF2 ${iterations} it${iterations === DEFAULT_PBKDF2_ITERATIONS ? ", default" : ""}`;
    out[`pair-setup prover/controller CPU ms (${tag})`] = median(samples.map((s) => s.prover));
    out[`pair-setup verifier/accessory CPU ms per attempt (${tag})`] = median(samples.map((s) => s.verifier));
    out[`pair-setup accessory window opening CPU ms (${tag})`] = median(
      samples.map((s) => s.verifierWindowSetup),
    );
  }
  verifyOnce(bonds);
  const v = Array.from({ length: runs }, () => verifyOnce(bonds));
  out["verify initiator/controller CPU ms (Noise KK)"] = median(v.map((s) => s.initiator));
  out["verify responder/accessory CPU ms (Noise KK)"] = median(v.map((s) => s.responder));
  out[`verify responder CPU ms, trial decryption over ${bonds} bonds (worst case)`] = median(
    v.map((s) => s.responderFullTable),
  );
  return out;
}
