import { z } from "zod";
import { hexBytes } from "../protocol/bytes.js";
import {
  type CodeFormat,
  codePassword,
  displayCode,
  generateCode,
  normaliseCode,
  trivialLongData,
  trivialPasskeys,
} from "../protocol/codes/index.js";
import { deriveW0W1, registrationRecord } from "../protocol/crypto/spake2plus.js";
import { isOpenClawError } from "../protocol/errors.js";
import type { RandomBytes } from "../protocol/random.js";
import {
  malformedVector,
  runVectorCheck,
  type VectorCheck,
  VectorFileError,
  type VectorResult,
} from "./report.js";

/**
 * Checks the project's own code vectors (hardware/vectors/codes.json): normalisation of typed input,
 * generation from a fixed random byte stream, display, the PBKDF2 password bytes, the trivial sets, and
 * w0/w1/L from a code. Firmware authors run the same cases against their implementation.
 */

export const CODES_VECTOR_FORMAT = "openclaw-vectors/1";
export const CODES_VECTOR_KIND = "codes";

const hex = hexBytes({ lowercase: true });
const format = z.enum(["passkey", "long"]);
const errorName = z.enum(["MALFORMED_CODE", "BAD_CHECK_CHARACTER"]);
const base = { name: z.string().min(1), note: z.string().optional() };

const normaliseVector = z.strictObject({
  ...base,
  type: z.literal("normalise"),
  format,
  input: z.string(),
  canonical: z.string().optional(),
  error: errorName.optional(),
});
const generateVector = z.strictObject({
  ...base,
  type: z.literal("generate"),
  format,
  random: hex,
  canonical: z.string(),
  bytesUsed: z.number().int().nonnegative(),
});
const displayVector = z.strictObject({
  ...base,
  type: z.literal("display"),
  format,
  canonical: z.string(),
  display: z.string(),
});
const passwordVector = z.strictObject({
  ...base,
  type: z.literal("password"),
  canonical: z.string(),
  password: hex,
});
const trivialVector = z.strictObject({
  ...base,
  type: z.literal("trivial"),
  format,
  /** The complete trivial set: passkeys, or the 8 data symbols of long codes. */
  codes: z.array(z.string()),
});
const w0w1Vector = z.strictObject({
  ...base,
  type: z.literal("w0w1"),
  canonical: z.string(),
  salt: hex,
  iterations: z.number().int(),
  password: hex.optional(),
  w0: hex,
  w1: hex,
  L: hex.optional(),
});

const VECTOR_SCHEMAS = {
  normalise: normaliseVector,
  generate: generateVector,
  display: displayVector,
  password: passwordVector,
  trivial: trivialVector,
  w0w1: w0w1Vector,
} as const;
type VectorType = keyof typeof VECTOR_SCHEMAS;

const codesFile = z.looseObject({
  format: z.literal(CODES_VECTOR_FORMAT),
  kind: z.literal(CODES_VECTOR_KIND),
  description: z.string().optional(),
  vectors: z.array(z.looseObject({ name: z.string().optional(), type: z.string() })),
});

export type NormaliseVector = z.input<typeof normaliseVector>;
export type GenerateVector = z.input<typeof generateVector>;
export type DisplayVector = z.input<typeof displayVector>;
export type PasswordVector = z.input<typeof passwordVector>;
export type TrivialVector = z.input<typeof trivialVector>;
export type W0W1Vector = z.input<typeof w0w1Vector>;
export type CodesVector =
  | NormaliseVector
  | GenerateVector
  | DisplayVector
  | PasswordVector
  | TrivialVector
  | W0W1Vector;
export interface CodesVectorFile {
  format: typeof CODES_VECTOR_FORMAT;
  kind: typeof CODES_VECTOR_KIND;
  description: string;
  vectors: CodesVector[];
}

/** True when the JSON is a codes vector file (for the `vectors check` dispatcher). */
export function isCodesVectorFile(json: unknown): boolean {
  return codesFile.safeParse(json).success;
}

export function checkCodesVectors(json: unknown): VectorResult[] {
  const file = codesFile.safeParse(json);
  if (!file.success) {
    throw new VectorFileError(
      `not a codes vector file: expected { "format": "${CODES_VECTOR_FORMAT}", "kind": "${CODES_VECTOR_KIND}", "vectors": [...] }`,
    );
  }
  return file.data.vectors.map((raw, i): VectorResult => {
    const name = raw.name ?? `vector ${i + 1} (${raw.type})`;
    if (!(raw.type in VECTOR_SCHEMAS)) {
      return { name, status: "skipped", detail: `vector type ${raw.type} not implemented` };
    }
    const parsed = VECTOR_SCHEMAS[raw.type as VectorType].safeParse(raw);
    if (!parsed.success) {
      return malformedVector(name, parsed.error);
    }
    return runVectorCheck(name, (check) => checkOne(parsed.data, check));
  });
}

type ParsedVector = z.output<(typeof VECTOR_SCHEMAS)[VectorType]>;

const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "latin1"));

/** Compares two strings; a difference is reported as text (vector values are public test data). */
function compareText(check: VectorCheck, field: string, expected: string, actual: string): void {
  if (expected === actual) check.compare(field, ascii(expected), ascii(actual));
  else check.fail(`${field} differs: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

/** Replays the vector's bytes and counts them; running out is a failure of the vector, not a hang. */
export function replayRandom(bytes: Uint8Array): RandomBytes & { used(): number } {
  let off = 0;
  const random = (n: number): Uint8Array => {
    if (off + n > bytes.length) throw new Error(`random stream exhausted after ${off} bytes`);
    const out = bytes.slice(off, off + n);
    off += n;
    return out;
  };
  return Object.assign(random, { used: () => off });
}

function normaliseOutcome(input: string, fmt: CodeFormat): { canonical: string } | { error: string } {
  try {
    return { canonical: normaliseCode(input, fmt) };
  } catch (err) {
    if (isOpenClawError(err)) return { error: err.code };
    throw err;
  }
}

function checkOne(v: ParsedVector, check: VectorCheck): void {
  switch (v.type) {
    case "normalise": {
      if ((v.canonical === undefined) === (v.error === undefined)) {
        check.fail("a normalise vector gives exactly one of canonical and error");
        return;
      }
      const got = normaliseOutcome(v.input, v.format);
      const expected = v.canonical !== undefined ? v.canonical : `error ${v.error}`;
      const actual = "canonical" in got ? got.canonical : `error ${got.error}`;
      compareText(check, "result", expected, actual);
      return;
    }
    case "generate": {
      const random = replayRandom(v.random);
      compareText(check, "canonical", v.canonical, generateCode(v.format, random));
      compareText(check, "bytesUsed", String(v.bytesUsed), String(random.used()));
      return;
    }
    case "display":
      compareText(check, "display", v.display, displayCode(v.canonical, v.format));
      return;
    case "password":
      check.compare("password", v.password, codePassword(v.canonical));
      return;
    case "trivial": {
      const ours = v.format === "passkey" ? trivialPasskeys() : trivialLongData();
      const theirs = [...new Set(v.codes)].sort();
      compareText(check, "trivial set", theirs.join(","), ours.join(","));
      return;
    }
    case "w0w1": {
      const password = codePassword(v.canonical);
      check.compare("password", v.password, password);
      const { w0, w1 } = deriveW0W1(password, v.salt, v.iterations);
      check.compare("w0", v.w0, w0);
      check.compare("w1", v.w1, w1);
      check.compare("L", v.L, registrationRecord(w1));
      return;
    }
  }
}
