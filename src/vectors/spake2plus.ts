import { z } from "zod";
import { hexBytes } from "../protocol/bytes.js";
import {
  deriveW0W1,
  registrationRecord,
  Spake2PlusProver,
  Spake2PlusVerifier,
  spake2plusKeySchedule,
  spake2plusProverZV,
  spake2plusTranscript,
  spake2plusVerifierZV,
} from "../protocol/crypto/spake2plus.js";
import {
  malformedVector,
  runVectorCheck,
  type VectorCheck,
  VectorFileError,
  type VectorResult,
} from "./report.js";

/**
 * Checks SPAKE2+ vectors in the JSON form of ../shared/vectors/spake2plus (RFC 9383 Appendix C values,
 * hex strings). Every field the file gives is recomputed by this implementation and compared; each role
 * is run against the file's values for the other role, so a mistake on one side cannot hide behind the
 * same mistake on the other.
 */

export const SPAKE2PLUS_SUITE = "P256-SHA256-HKDF-SHA256-HMAC-SHA256";

const hex = hexBytes();

const spakeVector = z.looseObject({
  name: z.string().optional(),
  suite: z.string(),
  password: hex.optional(),
  salt: hex.optional(),
  iterations: z.number().int().optional(),
  context: hex.optional(),
  idProver: hex.optional(),
  idVerifier: hex.optional(),
  w0: hex.optional(),
  w1: hex.optional(),
  L: hex.optional(),
  x: hex.optional(),
  X: hex.optional(),
  y: hex.optional(),
  Y: hex.optional(),
  Z: hex.optional(),
  V: hex.optional(),
  TT: hex.optional(),
  K_main: hex.optional(),
  K_confirmP: hex.optional(),
  K_confirmV: hex.optional(),
  confirmP: hex.optional(),
  confirmV: hex.optional(),
  K_shared: hex.optional(),
});
type SpakeVector = z.infer<typeof spakeVector>;

const spakeFile = z.looseObject({ vectors: z.array(z.looseObject({ suite: z.string() })) });

/** True when the JSON looks like a SPAKE2+ vector file (used by the dispatcher). */
export function isSpake2PlusFile(json: unknown): boolean {
  return spakeFile.safeParse(json).success;
}

export function checkSpake2PlusVectors(json: unknown): VectorResult[] {
  const file = spakeFile.safeParse(json);
  if (!file.success) {
    throw new VectorFileError('not a SPAKE2+ vector file: expected { "vectors": [{ "suite": ..., ... }] }');
  }
  return file.data.vectors.map((raw, i) => {
    const fallbackName = `vector ${i + 1} (${raw.suite})`;
    const parsed = spakeVector.safeParse(raw);
    if (!parsed.success) {
      return malformedVector(fallbackName, parsed.error);
    }
    const v = parsed.data;
    const name = v.name ?? fallbackName;
    if (v.suite !== SPAKE2PLUS_SUITE)
      return { name, status: "skipped" as const, detail: `suite ${v.suite} not implemented` };
    return runVectorCheck(name, (check) => checkOne(v, check));
  });
}

function checkOne(v: SpakeVector, check: VectorCheck): void {
  let w0: Uint8Array | undefined = v.w0;
  let w1: Uint8Array | undefined = v.w1;
  if (v.password && v.salt && v.iterations !== undefined) {
    const derived = deriveW0W1(v.password, v.salt, v.iterations);
    check.compare("w0", w0, derived.w0);
    check.compare("w1", w1, derived.w1);
    w0 ??= derived.w0;
    w1 ??= derived.w1;
  }
  let L: Uint8Array | undefined = v.L;
  if (w1) {
    const ours = registrationRecord(w1);
    check.compare("L", v.L, ours);
    L ??= ours;
  }
  const { context, idProver, idVerifier, x, y } = v;
  if (!w0 || !context || !idProver || !idVerifier) return;
  const never = (): Uint8Array => {
    throw new Error("a vector run must not draw randomness");
  };
  const common = { context, idProver, idVerifier, random: never };

  // Prover: its share from x, then its finish against the file's (or, failing that, our verifier's) values.
  const prover = w1 && x ? new Spake2PlusProver({ ...common, w0, w1, scalar: x }) : undefined;
  const verifier = L && y ? new Spake2PlusVerifier({ ...common, w0, L, scalar: y }) : undefined;
  const X = prover?.start();
  if (X) check.compare("X", v.X, X);
  const shareP = v.X ?? X;
  const response = verifier && shareP ? verifier.respond(shareP) : undefined;
  if (response) {
    check.compare("Y", v.Y, response.shareV);
    check.compare("confirmV (verifier)", v.confirmV, response.confirmV);
  }
  const shareV = v.Y ?? response?.shareV;
  const confirmV = v.confirmV ?? response?.confirmV;
  let proverConfirmP: Uint8Array | undefined;
  if (prover && shareV && confirmV) {
    const done = prover.finish(shareV, confirmV);
    if (done === null) check.fail("the prover rejected confirmV");
    else {
      proverConfirmP = done.confirmP;
      check.compare("confirmP (prover)", v.confirmP, done.confirmP);
      check.compare("K_shared (prover)", v.K_shared, done.kShared);
    }
  }
  const confirmP = v.confirmP ?? proverConfirmP;
  if (verifier && response && confirmP) {
    const done = verifier.finish(confirmP);
    if (done === null) check.fail("the verifier rejected confirmP");
    else check.compare("K_shared (verifier)", v.K_shared, done.kShared);
  }

  // Intermediate values, from each side's point of view.
  if (!shareP || !shareV) return;
  const zvProver = w1 && x ? spake2plusProverZV(w0, w1, x, shareV) : undefined;
  const zvVerifier = L && y ? spake2plusVerifierZV(w0, L, y, shareP) : undefined;
  for (const [who, zv] of [
    ["prover", zvProver],
    ["verifier", zvVerifier],
  ] as const) {
    if (zv === undefined) continue;
    if (zv === null) {
      check.fail(`the ${who} computed the identity for Z/V`);
      continue;
    }
    check.compare(`Z (${who})`, v.Z, zv.Z);
    check.compare(`V (${who})`, v.V, zv.V);
    const TT = spake2plusTranscript({ ...common, shareP, shareV, Z: zv.Z, V: zv.V, w0 });
    check.compare(`TT (${who})`, v.TT, TT);
    const keys = spake2plusKeySchedule(TT, shareP, shareV);
    check.compare(`K_main (${who})`, v.K_main, keys.K_main);
    check.compare(`K_confirmP (${who})`, v.K_confirmP, keys.K_confirmP);
    check.compare(`K_confirmV (${who})`, v.K_confirmV, keys.K_confirmV);
  }
  if (v.TT && !zvProver && !zvVerifier) {
    // Only the transcript and key schedule can be checked (no scalars given).
    const keys = spake2plusKeySchedule(v.TT, shareP, shareV);
    check.compare("K_main", v.K_main, keys.K_main);
    check.compare("K_confirmP", v.K_confirmP, keys.K_confirmP);
    check.compare("K_confirmV", v.K_confirmV, keys.K_confirmV);
    check.compare("confirmP", v.confirmP, keys.confirmP);
    check.compare("confirmV", v.confirmV, keys.confirmV);
    check.compare("K_shared", v.K_shared, keys.K_shared);
  }
}
