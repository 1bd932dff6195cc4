/**
 * Handshake CPU per role, beside its anchors, in one run:
 *
 * - pair-setup prover (controller): PBKDF2 from the typed code, then SPAKE2+ start and finish;
 * - pair-setup verifier (accessory): SPAKE2+ respond and finish per attempt, plus its once-per-window
 *   PBKDF2 + L (separate: it is paid when the window opens, not per attempt);
 * - verify initiator (controller) and responder (accessory): Noise KK both messages and split, and the
 *   responder's worst case of trial-decrypting message 1 against a full bond table;
 * - the anchor: HAP's pair-setup SRP-3072 (fast-srp-hap, SRP.params.hap, the calls HAP-NodeJS makes),
 *   per role, and the floor: one native X25519 agreement per role (node:crypto keygen + diffieHellman).
 *
 * CPU time is process.cpuUsage around each role's own calls while both roles run in this process;
 * medians of `runs` runs after warm-ups. Also a fresh process's first pair-setup against its warm ones
 * (`--cold` child, several fresh processes): @noble/curves builds its precomputed tables lazily.
 */
import { execFileSync } from "node:child_process";
import { diffieHellman, generateKeyPairSync, randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { SRP, SrpClient, SrpServer } from "fast-srp-hap";
import { generateKeyPair, type KeyPair, NoiseKK } from "../src/protocol/crypto/noise.js";
import {
  DEFAULT_PBKDF2_ITERATIONS,
  deriveW0W1,
  registrationRecord,
  Spake2PlusProver,
  Spake2PlusVerifier,
  warmTables,
} from "../src/protocol/crypto/spake2plus.js";
import type { RandomBytes } from "../src/protocol/random.js";
import type { Figure } from "./report.js";
import { median, repeat, round, timed } from "./stats.js";

const SECTION = "handshake CPU";
const random: RandomBytes = (n) => new Uint8Array(randomBytes(n));
const enc = new TextEncoder();

interface PairSetupCpu {
  prover: number;
  verifier: number;
  verifierWindowSetup: number;
}

function pairSetupOnce(iterations: number): PairSetupCpu {
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

/**
 * HAP pair-setup's SRP part, as HAP-NodeJS (accessory) and a HAP controller run it: M1/M2 the accessory
 * draws a salt and b and computes the verifier and B from the setup code; M3 the controller computes A
 * and M1 from B; M4 the accessory checks M1 and answers M2; the controller checks M2. Both derive K.
 */
function srpOnce(): { client: number; server: number } {
  const client = { ms: 0 };
  const server = { ms: 0 };
  const params = SRP.params.hap;
  const identity = Buffer.from("Pair-Setup");
  const pin = Buffer.from("031-45-154");
  const salt = randomBytes(16);
  const s = timed(server, () => {
    const srv = new SrpServer(params, salt, identity, pin, randomBytes(32));
    return { srv, B: srv.computeB() };
  });
  const c = timed(client, () => {
    const cl = new SrpClient(params, salt, identity, pin, randomBytes(32));
    cl.setB(s.B);
    return { cl, A: cl.computeA(), M1: cl.computeM1() };
  });
  const M2 = timed(server, () => {
    s.srv.setA(c.A);
    s.srv.checkM1(c.M1);
    s.srv.computeK();
    return s.srv.computeM2();
  });
  timed(client, () => {
    c.cl.checkM2(M2);
    c.cl.computeK();
  });
  return { client: client.ms, server: server.ms };
}

/** The floor: one native X25519 key generation and agreement per role. */
function x25519Once(): { a: number; b: number } {
  const a = { ms: 0 };
  const b = { ms: 0 };
  const ka = timed(a, () => generateKeyPairSync("x25519"));
  const kb = timed(b, () => generateKeyPairSync("x25519"));
  const sa = timed(a, () => diffieHellman({ privateKey: ka.privateKey, publicKey: kb.publicKey }));
  const sb = timed(b, () => diffieHellman({ privateKey: kb.privateKey, publicKey: ka.publicKey }));
  if (!sa.equals(sb)) throw new Error("bench: X25519 disagreed");
  return { a: a.ms, b: b.ms };
}

export interface CryptoOptions {
  runs?: number;
  bonds?: number;
  /** Fresh processes for the cold-start figure (0 skips it). */
  coldProcesses?: number;
}

export async function benchCrypto(opts: CryptoOptions = {}): Promise<Figure[]> {
  const runs = opts.runs ?? 30;
  const bonds = opts.bonds ?? 8;
  const n = `median of ${runs}`;
  const fig = (name: string, value: number, unit = "ms", extra: Partial<Figure> = {}): Figure => ({
    section: SECTION,
    name,
    value: round(value, 4),
    unit,
    note: n,
    ...extra,
  });
  const ratioFig = (name: string, r: number): Figure =>
    fig(name, r, "×", {
      goal: { op: "<=", value: 1 / 20 },
      note: `= 1/${(1 / r).toFixed(1)}; same run; goal 1/20`,
    });
  const out: Figure[] = [];
  const ps = repeat(runs, 3, () => pairSetupOnce(DEFAULT_PBKDF2_ITERATIONS));
  const ps10k = repeat(Math.max(3, Math.floor(runs / 3)), 1, () => pairSetupOnce(10_000));
  const srp = repeat(Math.max(5, Math.floor(runs / 3)), 2, srpOnce);
  const x = repeat(runs, 5, x25519Once);
  const v = repeat(runs, 3, () => verifyOnce(bonds));

  const prover = median(ps.map((s) => s.prover));
  const verifier = median(ps.map((s) => s.verifier));
  const windowOpen = median(ps.map((s) => s.verifierWindowSetup));
  const srpClient = median(srp.map((s) => s.client));
  const srpServer = median(srp.map((s) => s.server));
  const xA = median(x.map((s) => s.a));
  const xB = median(x.map((s) => s.b));
  out.push(
    fig("pair-setup controller (PBKDF2 1000 + SPAKE2+)", prover),
    fig("pair-setup accessory per attempt (SPAKE2+)", verifier),
    fig("pair-setup accessory per window opened (PBKDF2 1000 + L)", windowOpen),
    fig("pair-setup controller, PBKDF2 10000", median(ps10k.map((s) => s.prover)), "ms", {
      note: `median of ${ps10k.length}`,
    }),
    fig("HAP SRP-3072 controller (fast-srp-hap)", srpClient, "ms", { note: `median of ${srp.length}` }),
    fig("HAP SRP-3072 accessory (fast-srp-hap)", srpServer, "ms", { note: `median of ${srp.length}` }),
    fig("X25519 agreement per role (node:crypto, floor)", (xA + xB) / 2),
    ratioFig("ratio pair-setup / SRP-3072, controller", prover / srpClient),
    ratioFig(
      "ratio pair-setup / SRP-3072, accessory (attempt + window)",
      (verifier + windowOpen) / srpServer,
    ),
    fig("ratio pair-setup / X25519 floor, controller", prover / xA, "×", { note: "same run" }),
    fig("ratio pair-setup / X25519 floor, accessory per attempt", verifier / xB, "×", { note: "same run" }),
    fig("verify controller (Noise KK)", median(v.map((s) => s.initiator))),
    fig("verify accessory (Noise KK)", median(v.map((s) => s.responder))),
    fig(
      `verify accessory, trial decryption over ${bonds} bonds (worst)`,
      median(v.map((s) => s.responderFullTable)),
    ),
    fig("ratio verify / X25519 floor, controller", median(v.map((s) => s.initiator)) / xA, "×", {
      note: "same run",
    }),
  );
  const procs = opts.coldProcesses ?? 5;
  if (procs > 0) out.push(...coldStart(procs));
  return out;
}

interface ColdSample {
  /** CPU of what the daemon and the sim do at start-up before any pairing (warmTables). */
  startMs: number;
  first: PairSetupCpu;
  warm: PairSetupCpu;
}

/**
 * In a fresh process that starts as the daemon and the sim do (warmTables at start-up): the first
 * pair-setup, then the median of warm ones (printed as JSON).
 */
function coldChild(): ColdSample {
  const c0 = process.cpuUsage();
  warmTables();
  const c1 = process.cpuUsage(c0);
  const startMs = (c1.user + c1.system) / 1000;
  const first = pairSetupOnce(DEFAULT_PBKDF2_ITERATIONS);
  const warm = repeat(9, 2, () => pairSetupOnce(DEFAULT_PBKDF2_ITERATIONS));
  const m = (k: keyof PairSetupCpu) => median(warm.map((w) => w[k]));
  return {
    startMs,
    first,
    warm: { prover: m("prover"), verifier: m("verifier"), verifierWindowSetup: m("verifierWindowSetup") },
  };
}

function coldStart(processes: number): Figure[] {
  const self = fileURLToPath(import.meta.url);
  const samples: ColdSample[] = Array.from({ length: processes }, () =>
    JSON.parse(execFileSync(process.execPath, [self, "--cold"], { encoding: "utf8", timeout: 120_000 })),
  );
  const role = (k: keyof PairSetupCpu) => ({
    first: median(samples.map((s) => s.first[k])),
    warm: median(samples.map((s) => s.warm[k])),
  });
  const c = role("prover");
  const a = role("verifier");
  const w = role("verifierWindowSetup");
  const startMs = median(samples.map((s) => s.startMs));
  const note = `median of ${processes} fresh processes, each started as the daemon and the sim start (warmTables: ${round(startMs, 0)} ms CPU at start-up)`;
  const f = (name: string, value: number, unit: string, goal?: Figure["goal"]): Figure => ({
    section: SECTION,
    name,
    value: round(value),
    unit,
    note,
    ...(goal ? { goal } : {}),
  });
  return [
    f("fresh process: first pair-setup, controller", c.first, "ms"),
    f("fresh process: first pair-setup, accessory (window + attempt)", a.first + w.first, "ms"),
    // The daemon's goal for its first pairing (≤ 1.2 × a warm one) applies to the CPU part too.
    f("ratio first / warm pair-setup CPU, controller", c.first / c.warm, "×", { op: "<=", value: 1.2 }),
    f("ratio first / warm pair-setup CPU, accessory", (a.first + w.first) / (a.warm + w.warm), "×", {
      op: "<=",
      value: 1.2,
    }),
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes("--cold")) {
    process.stdout.write(`${JSON.stringify(coldChild())}\n`);
  } else {
    const { table } = await import("./report.js");
    process.stdout.write(table(await benchCrypto()));
  }
}
