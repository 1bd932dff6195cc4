import { pbkdf2Sync } from "node:crypto";
import { p256 } from "@noble/curves/nist.js";
import { fromHex, toHex } from "../bytes.js";
import { OpenClawError, protocolError } from "../errors.js";
import type { RandomBytes } from "../random.js";
import { concatBytes, constantTimeEqual, hkdfSha256, hmacSha256, sha256, utf8 } from "./primitives.js";

/**
 * SPAKE2+ (RFC 9383), ciphersuite P256-SHA256-HKDF-SHA256-HMAC-SHA256, cofactor h = 1.
 *
 * The prover (controller) knows the code; the verifier (accessory) stores only w0 and L = w1*P, so a
 * leaked accessory record does not give away w1. The pure functions below are the RFC's steps; the two
 * classes sequence them for each role and are what the protocol uses. The vector checker calls both.
 */

type Point = InstanceType<typeof p256.Point>;
const Point = p256.Point;
const ORDER = Point.Fn.ORDER;
const SCALAR_LEN = 32;
const POINT_LEN = 65;

/** PBKDF2 iterations the accessory publishes unless configured otherwise (Matter's minimum). */
export const DEFAULT_PBKDF2_ITERATIONS = 1000;
export const MIN_PBKDF2_ITERATIONS = 1000;
/** Upper bound a controller accepts, so a hostile accessory cannot make it spin (Matter's maximum). */
export const MAX_PBKDF2_ITERATIONS = 100_000;
export const MIN_SALT_LEN = 16;
export const MAX_SALT_LEN = 32;

// RFC 9383 §4: the fixed points M and N for P-256 (SEC1 compressed, as printed in the RFC).
const M = Point.fromHex("02886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f");
const N = Point.fromHex("03d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49");
// Window tables for M and N (multiplied in every exchange). @noble/curves builds a table on first use
// (~170 ms each), which made a fresh process's first pair-setup 5-8x a warm one; processes that will
// pair call warmTables() before their first exchange (the sim at start-up, the daemon once it is first
// quiet). Not at import: the CLI imports this too and would pay ~0.45 s on every command.
M.precompute(8);
N.precompute(8);
let warmed = false;

/** Builds the M, N and G window tables now rather than in the first exchange. Idempotent. */
export function warmTables(): void {
  if (warmed) return;
  warmed = true;
  M.precompute(8, false);
  N.precompute(8, false);
  Point.BASE.precompute(8, false);
}
const M_BYTES = M.toBytes(false);
const N_BYTES = N.toBytes(false);
/** M and N, SEC1 uncompressed (copies: the transcript uses its own). */
export const SPAKE2PLUS_M: Uint8Array = M_BYTES.slice();
export const SPAKE2PLUS_N: Uint8Array = N_BYTES.slice();

const CONFIRMATION_KEYS_INFO = utf8("ConfirmationKeys");
const SHARED_KEY_INFO = utf8("SharedKey");

// ---- scalars and points ----

function bytesToBigInt(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt(`0x${toHex(b)}`);
}

function bigIntTo32(n: bigint): Uint8Array {
  return fromHex(n.toString(16).padStart(SCALAR_LEN * 2, "0"));
}

function invalidArgument(detail: string): OpenClawError<"INVALID_ARGUMENT"> {
  return new OpenClawError("INVALID_ARGUMENT", { detail });
}

/** A 32-byte big-endian scalar in [0, n); `nonZero` for x, y and w1. */
function parseScalar(b: Uint8Array, what: string, nonZero: boolean): bigint {
  if (b.length !== SCALAR_LEN) throw invalidArgument(`${what} must be 32 bytes`);
  const k = bytesToBigInt(b);
  if (k >= ORDER || (nonZero && k === 0n)) throw invalidArgument(`${what} is out of range`);
  return k;
}

/** k*P that tolerates k = 0 (noble's constant-time multiply wants 1 <= k < n). */
function mul(p: Point, k: bigint): Point {
  return k === 0n ? Point.ZERO : p.multiply(k);
}

/** Decodes a peer's share: SEC1 uncompressed, on the curve, not the identity; otherwise PROTOCOL_ERROR. */
function decodeShare(b: Uint8Array): Point {
  if (b.length !== POINT_LEN || b[0] !== 0x04)
    throw protocolError("SPAKE2+ share is not an uncompressed P-256 point");
  let p: Point;
  try {
    p = Point.fromBytes(b);
    p.assertValidity();
  } catch {
    throw protocolError("SPAKE2+ share is not a valid P-256 point");
  }
  if (p.is0()) throw protocolError("SPAKE2+ share is the identity point");
  return p;
}

/** A uniform scalar in [1, n): 48 random bytes reduced mod n (bias < 2^-128), redrawn on zero. */
function randomScalar(random: RandomBytes): bigint {
  for (;;) {
    const k = bytesToBigInt(random(48)) % ORDER;
    if (k !== 0n) return k;
  }
}

// ---- RFC 9383 steps (pure) ----

/**
 * w0 and w1 from a code, as Matter does: PBKDF2-HMAC-SHA256(password, salt, iterations) gives 80 bytes;
 * each 40-byte half is reduced mod n (40 bytes keep the bias below 2^-64) and encoded as 32 bytes BE.
 */
export function deriveW0W1(
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
): { w0: Uint8Array; w1: Uint8Array } {
  if (
    !Number.isInteger(iterations) ||
    iterations < MIN_PBKDF2_ITERATIONS ||
    iterations > MAX_PBKDF2_ITERATIONS
  ) {
    throw invalidArgument(
      `PBKDF2 iterations must be an integer from ${MIN_PBKDF2_ITERATIONS} to ${MAX_PBKDF2_ITERATIONS}`,
    );
  }
  if (salt.length < MIN_SALT_LEN || salt.length > MAX_SALT_LEN) {
    throw invalidArgument(`PBKDF2 salt must be ${MIN_SALT_LEN} to ${MAX_SALT_LEN} bytes`);
  }
  const ws = new Uint8Array(pbkdf2Sync(password, salt, iterations, 80, "sha256"));
  const w0 = bigIntTo32(bytesToBigInt(ws.subarray(0, 40)) % ORDER);
  const w1 = bigIntTo32(bytesToBigInt(ws.subarray(40, 80)) % ORDER);
  ws.fill(0);
  return { w0, w1 };
}

/** The verifier's registration record L = w1*P (SEC1 uncompressed, 65 bytes). */
export function registrationRecord(w1: Uint8Array): Uint8Array {
  return Point.BASE.multiply(parseScalar(w1, "w1", true)).toBytes(false);
}

/** shareP = X = x*P + w0*M (prover) or shareV = Y = y*P + w0*N (verifier). */
export function spake2plusShare(role: "prover" | "verifier", w0: Uint8Array, scalar: Uint8Array): Uint8Array {
  return shareFor(role, parseScalar(w0, "w0", false), parseScalar(scalar, "scalar", true)).toBytes(false);
}

function shareFor(role: "prover" | "verifier", w0: bigint, k: bigint): Point {
  const share = Point.BASE.multiply(k).add(mul(role === "prover" ? M : N, w0));
  // Only possible for a k chosen against w0; a share must never be the identity.
  if (share.is0()) throw invalidArgument("scalar gives the identity share");
  return share;
}

/** Z and V as the prover computes them; null if degenerate (Y = w0*N: only a peer that knows w0 can do that). */
export function spake2plusProverZV(
  w0: Uint8Array,
  w1: Uint8Array,
  x: Uint8Array,
  shareV: Uint8Array,
): { Z: Uint8Array; V: Uint8Array } | null {
  return proverZV(
    parseScalar(w0, "w0", false),
    parseScalar(w1, "w1", true),
    parseScalar(x, "x", true),
    decodeShare(shareV),
  );
}

function proverZV(w0: bigint, w1: bigint, x: bigint, Y: Point): { Z: Uint8Array; V: Uint8Array } | null {
  const base = Y.subtract(mul(N, w0)); // h = 1
  if (base.is0()) return null;
  return { Z: base.multiply(x).toBytes(false), V: base.multiply(w1).toBytes(false) };
}

/** Z and V as the verifier computes them; null if degenerate (X = w0*M). */
export function spake2plusVerifierZV(
  w0: Uint8Array,
  L: Uint8Array,
  y: Uint8Array,
  shareP: Uint8Array,
): { Z: Uint8Array; V: Uint8Array } | null {
  return verifierZV(
    parseScalar(w0, "w0", false),
    decodeRecord(L),
    parseScalar(y, "y", true),
    decodeShare(shareP),
  );
}

function verifierZV(w0: bigint, L: Point, y: bigint, X: Point): { Z: Uint8Array; V: Uint8Array } | null {
  const base = X.subtract(mul(M, w0));
  if (base.is0()) return null;
  return { Z: base.multiply(y).toBytes(false), V: L.multiply(y).toBytes(false) };
}

function decodeRecord(L: Uint8Array): Point {
  try {
    return decodeShare(L);
  } catch {
    throw invalidArgument("L is not a valid P-256 point");
  }
}

function lengthPrefixed(b: Uint8Array): Uint8Array {
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(b.length), true);
  return concatBytes(len, b);
}

/** RFC 9383 §3.3 transcript TT: each field preceded by its length as 8 bytes little-endian. */
export function spake2plusTranscript(t: {
  context: Uint8Array;
  idProver: Uint8Array;
  idVerifier: Uint8Array;
  shareP: Uint8Array;
  shareV: Uint8Array;
  Z: Uint8Array;
  V: Uint8Array;
  w0: Uint8Array;
}): Uint8Array {
  return concatBytes(
    ...[t.context, t.idProver, t.idVerifier, M_BYTES, N_BYTES, t.shareP, t.shareV, t.Z, t.V, t.w0].map(
      lengthPrefixed,
    ),
  );
}

export interface Spake2PlusKeys {
  K_main: Uint8Array;
  K_confirmP: Uint8Array;
  K_confirmV: Uint8Array;
  confirmP: Uint8Array;
  confirmV: Uint8Array;
  K_shared: Uint8Array;
}

/** RFC 9383 §3.4 key schedule and key confirmation. */
export function spake2plusKeySchedule(
  TT: Uint8Array,
  shareP: Uint8Array,
  shareV: Uint8Array,
): Spake2PlusKeys {
  const K_main = sha256(TT);
  const confirmation = hkdfSha256(K_main, new Uint8Array(0), CONFIRMATION_KEYS_INFO, 64);
  const K_confirmP = confirmation.slice(0, 32);
  const K_confirmV = confirmation.slice(32, 64);
  const K_shared = hkdfSha256(K_main, new Uint8Array(0), SHARED_KEY_INFO, 32);
  return {
    K_main,
    K_confirmP,
    K_confirmV,
    confirmP: hmacSha256(K_confirmP, shareV),
    confirmV: hmacSha256(K_confirmV, shareP),
    K_shared,
  };
}

// ---- the two roles ----

export interface Spake2PlusParams {
  context: Uint8Array;
  idProver: Uint8Array;
  idVerifier: Uint8Array;
  random: RandomBytes;
  /** A fixed x (prover) or y (verifier), 32 bytes BE, for vectors only; otherwise drawn from `random`. */
  scalar?: Uint8Array;
}

type ProverState =
  | { kind: "ready" }
  | { kind: "started"; x: bigint; shareP: Uint8Array }
  | { kind: "finished" };

/** The controller's side: start() → shareP; finish(shareV, confirmV) → confirmP and K_shared, or null. */
export class Spake2PlusProver {
  readonly #p: Spake2PlusParams;
  readonly #w0: bigint;
  readonly #w0Bytes: Uint8Array;
  readonly #w1: bigint;
  #state: ProverState = { kind: "ready" };

  constructor(p: Spake2PlusParams & { w0: Uint8Array; w1: Uint8Array }) {
    this.#p = p;
    this.#w0 = parseScalar(p.w0, "w0", false);
    this.#w0Bytes = p.w0.slice();
    this.#w1 = parseScalar(p.w1, "w1", true);
  }

  start(): Uint8Array {
    if (this.#state.kind !== "ready") throw protocolError("SPAKE2+ prover started twice");
    const x = this.#p.scalar ? parseScalar(this.#p.scalar, "scalar", true) : randomScalar(this.#p.random);
    const shareP = shareFor("prover", this.#w0, x).toBytes(false);
    this.#state = { kind: "started", x, shareP };
    return shareP;
  }

  /** Throws PROTOCOL_ERROR on an invalid shareV; returns null when confirmV does not match (wrong code). */
  finish(shareV: Uint8Array, confirmV: Uint8Array): { confirmP: Uint8Array; kShared: Uint8Array } | null {
    const s = this.#state;
    if (s.kind !== "started") throw protocolError("SPAKE2+ prover finished out of order");
    this.#state = { kind: "finished" };
    const zv = proverZV(this.#w0, this.#w1, s.x, decodeShare(shareV));
    if (zv === null) return null;
    const keys = spake2plusKeySchedule(this.#transcript(s.shareP, shareV, zv), s.shareP, shareV);
    if (!constantTimeEqual(keys.confirmV, confirmV)) return null;
    return { confirmP: keys.confirmP, kShared: keys.K_shared };
  }
  #transcript(shareP: Uint8Array, shareV: Uint8Array, zv: { Z: Uint8Array; V: Uint8Array }): Uint8Array {
    const { context, idProver, idVerifier } = this.#p;
    return spake2plusTranscript({ context, idProver, idVerifier, shareP, shareV, ...zv, w0: this.#w0Bytes });
  }
}

type VerifierState =
  | { kind: "ready" }
  | { kind: "responded"; expected: { confirmP: Uint8Array; kShared: Uint8Array } | null }
  | { kind: "finished" };

/** The accessory's side: respond(shareP) → shareV, confirmV; finish(confirmP) → K_shared, or null. */
export class Spake2PlusVerifier {
  readonly #p: Spake2PlusParams;
  readonly #w0: bigint;
  readonly #w0Bytes: Uint8Array;
  readonly #L: Point;
  #state: VerifierState = { kind: "ready" };

  constructor(p: Spake2PlusParams & { w0: Uint8Array; L: Uint8Array }) {
    this.#p = p;
    this.#w0 = parseScalar(p.w0, "w0", false);
    this.#w0Bytes = p.w0.slice();
    this.#L = decodeRecord(p.L);
  }

  /** Throws PROTOCOL_ERROR on an invalid shareP (before anything is computed or counted). */
  respond(shareP: Uint8Array): { shareV: Uint8Array; confirmV: Uint8Array } {
    if (this.#state.kind !== "ready") throw protocolError("SPAKE2+ verifier responded twice");
    const X = decodeShare(shareP);
    const y = this.#p.scalar ? parseScalar(this.#p.scalar, "scalar", true) : randomScalar(this.#p.random);
    const shareV = shareFor("verifier", this.#w0, y).toBytes(false);
    const zv = verifierZV(this.#w0, this.#L, y, X);
    if (zv === null) {
      // X = w0*M: the prover guessed w0. Answer exactly as for a wrong guess (a random confirmV, the
      // attempt is counted by the caller) so a failure here is no free guess oracle.
      this.#state = { kind: "responded", expected: null };
      return { shareV, confirmV: this.#p.random(32) };
    }
    const keys = spake2plusKeySchedule(this.#transcript(shareP, shareV, zv), shareP, shareV);
    this.#state = { kind: "responded", expected: { confirmP: keys.confirmP, kShared: keys.K_shared } };
    return { shareV, confirmV: keys.confirmV };
  }

  /** Null when confirmP does not match (the prover did not know the code). */
  finish(confirmP: Uint8Array): { kShared: Uint8Array } | null {
    const s = this.#state;
    if (s.kind !== "responded") throw protocolError("SPAKE2+ verifier finished out of order");
    this.#state = { kind: "finished" };
    if (s.expected === null) return null;
    if (!constantTimeEqual(s.expected.confirmP, confirmP)) return null;
    return { kShared: s.expected.kShared };
  }
  #transcript(shareP: Uint8Array, shareV: Uint8Array, zv: { Z: Uint8Array; V: Uint8Array }): Uint8Array {
    const { context, idProver, idVerifier } = this.#p;
    return spake2plusTranscript({ context, idProver, idVerifier, shareP, shareV, ...zv, w0: this.#w0Bytes });
  }
}
