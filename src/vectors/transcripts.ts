/**
 * Pair-setup transcripts with fixed randomness (hardware/vectors/transcripts.json): for each scenario the
 * file gives the inputs (two seeds for seededRandom, the times, what the person typed), every derived
 * value a firmware author wants to check step by step (identity, code, nonce, w0/w1/L, x/y, shares,
 * Z/V, confirmations, K_shared, the sealing keys and plaintexts) and every message in order, in hex.
 *
 * The checker replays both roles from the seeds with the real Accessory and Controller objects,
 * recomputes the intermediate values independently with the SPAKE2+ primitives (and insists that they
 * agree with the bytes on the wire), then compares every value in the file byte for byte.
 *
 * Random draw order (so other implementations can reproduce the streams): accessory — device id (8),
 * static X25519 private key (32), tag key (16), then per window the code (codes vectors: 3-byte passkey
 * or 5-byte long draws, redrawn on reject) and the window nonce (16), then per PairSetupStart the
 * scalar y (48 bytes, big-endian, mod n, redrawn if 0). Controller — controller id (16), then per
 * attempt the static private key (32) and the scalar x (48 bytes, as y).
 */
import { z } from "zod";
import { Accessory } from "../protocol/accessory/accessory.js";
import { generateAccessoryIdentity } from "../protocol/accessory/identity.js";
import type { AccessoryProfile } from "../protocol/accessory/types.js";
import { fromHex, toHex } from "../protocol/bytes.js";
import { codePassword, normaliseCode } from "../protocol/codes/index.js";
import type { ControllerBond } from "../protocol/controller/bond-record.js";
import { Controller } from "../protocol/controller/controller.js";
import { chachaPolyDecrypt } from "../protocol/crypto/primitives.js";
import {
  deriveW0W1,
  registrationRecord,
  spake2plusKeySchedule,
  spake2plusProverZV,
  spake2plusShare,
  spake2plusTranscript,
  spake2plusVerifierZV,
} from "../protocol/crypto/spake2plus.js";
import { isOpenClawError } from "../protocol/errors.js";
import { decodeMessage } from "../protocol/messages/codec.js";
import { PROTOCOL_VERSION } from "../protocol/messages/constants.js";
import { decodeInfo } from "../protocol/messages/info.js";
import { MessageType } from "../protocol/messages/schema.js";
import { drawScalar, setupContext, setupKeys } from "../protocol/pairsetup/keys.js";
import { type RandomBytes, seededRandom } from "../protocol/random.js";
import { verifyExchange } from "../protocol/verify/exchange.js";
import { createSessionFactory } from "../protocol/verify/handler.js";
import {
  errorText,
  malformedVector,
  runVectorCheck,
  type VectorCheck,
  VectorFileError,
  type VectorResult,
} from "./report.js";

export const TRANSCRIPTS_FORMAT = "openclaw-vectors/1";
export const TRANSCRIPTS_KIND = "transcripts";

export const TranscriptInputs = z.strictObject({
  accessorySeed: z.string().min(1),
  controllerSeed: z.string().min(1),
  profile: z.strictObject({ name: z.string(), model: z.string(), firmware: z.string() }),
  controllerName: z.string(),
  format: z.enum(["passkey", "long"]),
  ttlMs: z.number().int(),
  iterations: z.number().int(),
  /** Monotonic time at which the window opens. */
  openAt: z.number().int().nonnegative(),
  /** Time between the window opening and the first info read, and between attempts. */
  attemptGapMs: z.number().int().positive(),
  /** Time between consecutive messages of an attempt. */
  stepMs: z.number().int().positive(),
  /**
   * What the person types per attempt; "{display}", "{code}" and "{sloppy}" (display form in lower case,
   * spaces for dashes) stand for the device's code.
   */
  attempts: z
    .array(z.strictObject({ typed: z.string() }))
    .min(1)
    .max(6),
  /** After a successful pair-setup: verify on a new link, then one session request. */
  verify: z.strictObject({ request: z.literal("status") }).optional(),
});
export type TranscriptInputs = z.infer<typeof TranscriptInputs>;

export interface TranscriptMessage {
  from: "controller" | "accessory";
  at: number;
  type: string;
  hex: string;
}

/** Everything a replay produces: values are lowercase hex unless named otherwise. */
export interface TranscriptRecord {
  identity: Record<string, string>;
  window: Record<string, string>;
  attempts: Array<{
    typed: string;
    values: Record<string, string>;
    messages: TranscriptMessage[];
    /** "bonded:<role>" or "error:<CODE>". */
    outcome: string;
  }>;
  verify?: { values: Record<string, string>; messages: TranscriptMessage[]; outcome: string };
}

const utf8 = (s: string) => new TextEncoder().encode(s);

/** A RandomBytes that keeps every draw, so the scalars drawn inside the objects can be recorded. */
function recording(seed: string): { random: RandomBytes; draws: Uint8Array[] } {
  const inner = seededRandom(seed);
  const draws: Uint8Array[] = [];
  return {
    draws,
    random: (n) => {
      const b = inner(n);
      draws.push(b.slice());
      return b;
    },
  };
}

/** The scalar drawScalar made from the draws it consumed (48-byte draws; the last one is the scalar). */
function scalarFrom(draws: Uint8Array[]): Uint8Array {
  const last = draws.filter((d) => d.length === 48).at(-1);
  if (!last) throw new Error("no scalar was drawn");
  return drawScalar(() => last);
}

function must(cond: boolean, what: string): void {
  if (!cond) throw new Error(`transcript inconsistent: ${what}`);
}

const same = (a: Uint8Array, b: Uint8Array) => toHex(a) === toHex(b);

/** Replays a scenario with the real role objects and records every value and message. */
export function runTranscript(inp: TranscriptInputs): TranscriptRecord {
  const acc = recording(inp.accessorySeed);
  const ctl = recording(inp.controllerSeed);
  const identity = generateAccessoryIdentity(acc.random);
  const profile: AccessoryProfile = inp.profile;
  const accessory = new Accessory({
    identity,
    profile,
    random: acc.random,
    window: { iterations: inp.iterations },
    ...(inp.verify ? { session: createSessionFactory({ random: acc.random }) } : {}),
  });
  const opened = accessory.openWindow({ format: inp.format, ttlMs: inp.ttlMs, reason: "button" }, inp.openAt);
  const w = accessory.window.state;
  if (w.kind !== "open") throw new Error("window did not open");
  const { w0, w1 } = deriveW0W1(codePassword(opened.code), opened.nonce, inp.iterations);
  const L = registrationRecord(w1);
  must(same(w0, w.w0) && same(L, w.L), "device w0/L differ from PBKDF2 of the code");
  const context = setupContext(identity.deviceId, opened.nonce);
  const controllerId = ctl.random(16);
  const controller = new Controller({ controllerId, name: inp.controllerName, random: ctl.random });

  const record: TranscriptRecord = {
    identity: {
      deviceId: toHex(identity.deviceId),
      accessoryStaticPrivateKey: toHex(identity.staticKey.privateKey),
      accessoryStaticPublicKey: toHex(identity.staticKey.publicKey),
      tagKey: toHex(identity.tagKey),
      controllerId: toHex(controllerId),
    },
    window: {
      code: opened.code,
      display: opened.display,
      nonce: toHex(opened.nonce),
      w0: toHex(w0),
      w1: toHex(w1),
      L: toHex(L),
      context: toHex(context),
    },
    attempts: [],
  };

  let t = inp.openAt;
  let bond: ControllerBond | undefined;
  for (const attempt of inp.attempts) {
    t += inp.attemptGapMs;
    const typed = attempt.typed
      .replaceAll("{display}", opened.display)
      .replaceAll("{code}", opened.code)
      .replaceAll("{sloppy}", opened.display.toLowerCase().replaceAll("-", " "));
    const infoBytes = accessory.infoBytes(t);
    const info = decodeInfo(infoBytes);
    const values: Record<string, string> = { info: toHex(infoBytes) };
    const messages: TranscriptMessage[] = [];
    const cMark = ctl.draws.length;
    const ps = controller.pairSetup(info, typed);
    const cDraws = ctl.draws.slice(cMark);
    const x = scalarFrom(cDraws);
    const staticPriv = cDraws.find((d) => d.length === 32);
    if (!staticPriv) throw new Error("no controller static key was drawn");
    const typedCanonical = normaliseCode(typed, inp.format);
    const pw = deriveW0W1(codePassword(typedCanonical), opened.nonce, inp.iterations);
    values.typedCanonical = toHex(utf8(typedCanonical));
    values.proverW0 = toHex(pw.w0);
    values.proverW1 = toHex(pw.w1);
    values.controllerStaticPrivateKey = toHex(staticPriv);
    values.x = toHex(x);
    const link = accessory.connect();
    let toAccessory = [ps.firstMessage];
    let outcome = "";
    let y: Uint8Array | undefined;
    for (let round = 0; round < 4 && outcome === ""; round++) {
      const toController: Uint8Array[] = [];
      for (const m of toAccessory) {
        t += inp.stepMs;
        messages.push({ from: "controller", at: t, type: decodeMessage(m).type, hex: toHex(m) });
        const aMark = acc.draws.length;
        const out = link.handle(m, t);
        if (acc.draws.length > aMark) y = scalarFrom(acc.draws.slice(aMark));
        toController.push(...out.replies);
      }
      toAccessory = [];
      for (const m of toController) {
        t += inp.stepMs;
        const decoded = decodeMessage(m);
        messages.push({ from: "accessory", at: t, type: decoded.type, hex: toHex(m) });
        const step = ps.handle(m);
        toAccessory.push(...step.replies);
        if (step.outcome) {
          outcome =
            step.outcome.kind === "ok"
              ? `bonded:${step.outcome.value.role}`
              : `error:${step.outcome.error.code}`;
          if (step.outcome.kind === "ok") {
            bond = step.outcome.value;
            values.controllerStaticPublicKey = toHex(step.outcome.value.controllerStaticKey.publicKey);
          }
        }
      }
      if (outcome !== "") {
        for (const m of toAccessory) {
          t += inp.stepMs;
          messages.push({ from: "controller", at: t, type: decodeMessage(m).type, hex: toHex(m) });
          link.handle(m, t);
        }
      }
    }
    link.close(t);
    if (outcome === "") throw new Error("attempt did not finish");

    // Independent recomputation from the recorded scalars, checked against the wire.
    const byType = (type: string) => {
      const m = messages.find((x) => x.type === type);
      return m ? decodeMessage(fromHex(m.hex)) : undefined;
    };
    const shareP = spake2plusShare("prover", pw.w0, x);
    values.shareP = toHex(shareP);
    const start = byType("PairSetupStart");
    must(start?.type === "PairSetupStart" && same(start.shareP, shareP), "shareP on the wire");
    const challenge = byType("PairSetupChallenge");
    if (challenge?.type === "PairSetupChallenge" && y) {
      values.y = toHex(y);
      const shareV = spake2plusShare("verifier", w0, y);
      must(same(challenge.shareV, shareV), "shareV on the wire");
      values.shareV = toHex(shareV);
      const vzv = spake2plusVerifierZV(w0, L, y, shareP);
      const pzv = spake2plusProverZV(pw.w0, pw.w1, x, shareV);
      if (!vzv || !pzv) throw new Error("degenerate SPAKE2+ values");
      const tt = (zv: { Z: Uint8Array; V: Uint8Array }, w0x: Uint8Array) =>
        spake2plusTranscript({
          context,
          idProver: controllerId,
          idVerifier: identity.deviceId,
          shareP,
          shareV,
          ...zv,
          w0: w0x,
        });
      const kv = spake2plusKeySchedule(tt(vzv, w0), shareP, shareV);
      const kp = spake2plusKeySchedule(tt(pzv, pw.w0), shareP, shareV);
      values.verifierZ = toHex(vzv.Z);
      values.verifierV = toHex(vzv.V);
      values.verifierKmain = toHex(kv.K_main);
      values.confirmV = toHex(kv.confirmV);
      values.expectedConfirmP = toHex(kv.confirmP);
      values.proverZ = toHex(pzv.Z);
      values.proverV = toHex(pzv.V);
      values.proverKmain = toHex(kp.K_main);
      must(same(challenge.confirmV, kv.confirmV), "confirmV on the wire");
      const finish = byType("PairSetupFinish");
      if (finish?.type === "PairSetupFinish") {
        must(same(finish.confirmP, kp.confirmP) && same(kp.K_shared, kv.K_shared), "confirmP / K_shared");
        values.K_shared = toHex(kv.K_shared);
        const keys = setupKeys(kv.K_shared);
        values.setupKeyC2A = toHex(keys.c2a);
        values.setupKeyA2C = toHex(keys.a2c);
        const aad = (type: number) => Uint8Array.of(PROTOCOL_VERSION, type);
        values.controllerSealedPlaintext = toHex(
          chachaPolyDecrypt(keys.c2a, 0n, aad(MessageType.PairSetupFinish), finish.sealed),
        );
        const done = byType("PairSetupDone");
        if (done?.type === "PairSetupDone") {
          values.accessorySealedPlaintext = toHex(
            chachaPolyDecrypt(keys.a2c, 0n, aad(MessageType.PairSetupDone), done.sealed),
          );
        }
      }
    }
    record.attempts.push({ typed, values, messages, outcome });
  }
  if (inp.verify) {
    if (!bond) throw new Error("verify needs a successful pair-setup first");
    record.verify = runVerify(accessory, bond, acc, ctl, t + inp.attemptGapMs, inp.stepMs);
  }
  return record;
}

/** Verify (Noise KK) on a fresh link, then one session request and its answer. */
function runVerify(
  accessory: Accessory,
  bond: ControllerBond,
  acc: { draws: Uint8Array[] },
  ctl: { random: RandomBytes; draws: Uint8Array[] },
  start: number,
  stepMs: number,
): NonNullable<TranscriptRecord["verify"]> {
  let t = start;
  const messages: TranscriptMessage[] = [];
  const values: Record<string, string> = {};
  const sent: Uint8Array[] = [];
  const note = (from: TranscriptMessage["from"], m: Uint8Array) => {
    t += stepMs;
    messages.push({ from, at: t, type: decodeMessage(m).type, hex: toHex(m) });
  };
  const link = accessory.connect();
  const cMark = ctl.draws.length;
  const ex = verifyExchange(bond, { random: ctl.random, clock: { now: () => t }, send: (m) => sent.push(m) });
  const ce = ctl.draws.slice(cMark).find((d) => d.length === 32);
  if (ce) values.controllerEphemeralPrivateKey = toHex(ce);
  note("controller", ex.firstMessage);
  const aMark = acc.draws.length;
  const out = link.handle(ex.firstMessage, t);
  const ae = acc.draws.slice(aMark).find((d) => d.length === 32);
  if (ae) values.accessoryEphemeralPrivateKey = toHex(ae);
  const accept = out.replies[0];
  if (!accept) throw new Error("no answer to VerifyStart");
  note("accessory", accept);
  const step = ex.handle(accept);
  if (step.outcome?.kind !== "ok") {
    return {
      values,
      messages,
      outcome: `error:${step.outcome?.kind === "failed" ? step.outcome.error.code : "none"}`,
    };
  }
  const client = step.outcome.value.client;
  client.status().catch(() => undefined);
  for (const m of sent.splice(0)) {
    note("controller", m);
    for (const r of link.handle(m, t).replies) {
      note("accessory", r);
      client.receive(r);
    }
  }
  link.close(t);
  const confirmed = accessory.bondTable.find(bond.controllerId)?.state.kind === "permanent";
  return {
    values,
    messages,
    outcome: `verified:${step.outcome.value.role}${confirmed ? ",bond-permanent" : ""}`,
  };
}

// ---- the file ----

const hexString = z.string().regex(/^([0-9a-f]{2})*$/);
const RecordedMessages = z.array(
  z.strictObject({
    from: z.enum(["controller", "accessory"]),
    at: z.number(),
    type: z.string(),
    hex: hexString,
  }),
);
const TranscriptVector = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  inputs: TranscriptInputs,
  identity: z.record(z.string(), hexString),
  window: z.record(z.string(), z.string()),
  attempts: z.array(
    z.strictObject({
      typed: z.string(),
      values: z.record(z.string(), hexString),
      messages: RecordedMessages,
      outcome: z.string(),
    }),
  ),
  verify: z
    .strictObject({
      values: z.record(z.string(), hexString),
      messages: RecordedMessages,
      outcome: z.string(),
    })
    .optional(),
});
export type TranscriptVector = z.infer<typeof TranscriptVector>;

const TranscriptFile = z.object({
  format: z.literal(TRANSCRIPTS_FORMAT),
  kind: z.literal(TRANSCRIPTS_KIND),
  description: z.string().optional(),
  vectors: z.array(z.unknown()),
});

const HEX_WINDOW_FIELDS = new Set(["nonce", "w0", "w1", "L", "context"]);

function compareRecord(check: VectorCheck, expected: TranscriptVector, actual: TranscriptRecord): void {
  for (const [k, v] of Object.entries(expected.identity)) {
    const a = actual.identity[k];
    if (a === undefined) check.fail(`identity.${k}: not produced`);
    else check.compare(`identity.${k}`, fromHex(v), fromHex(a));
  }
  for (const [k, v] of Object.entries(expected.window)) {
    const a = actual.window[k];
    if (a === undefined) check.fail(`window.${k}: not produced`);
    else if (HEX_WINDOW_FIELDS.has(k)) check.compare(`window.${k}`, fromHex(v), fromHex(a));
    else check.compare(`window.${k}`, utf8(v), utf8(a));
  }
  if (expected.attempts.length !== actual.attempts.length) {
    check.fail(`${actual.attempts.length} attempts replayed, the file has ${expected.attempts.length}`);
  }
  expected.attempts.forEach((e, i) => {
    compareSteps(check, `attempt ${i + 1}`, e, actual.attempts[i]);
  });
  if (expected.verify) {
    if (!actual.verify) check.fail("verify: not produced");
    else compareSteps(check, "verify", expected.verify, actual.verify);
  }
}

type Steps = { values: Record<string, string>; messages: TranscriptMessage[]; outcome: string };

function compareSteps(check: VectorCheck, p: string, e: Steps, a: Steps | undefined): void {
  if (!a) return;
  if (e.outcome !== a.outcome) check.fail(`${p}: outcome ${a.outcome}, expected ${e.outcome}`);
  else check.compare(`${p}.outcome`, utf8(e.outcome), utf8(a.outcome));
  for (const [k, v] of Object.entries(e.values)) {
    const av = a.values[k];
    if (av === undefined) check.fail(`${p}.${k}: not produced`);
    else check.compare(`${p}.${k}`, fromHex(v), fromHex(av));
  }
  if (e.messages.length !== a.messages.length) {
    check.fail(`${p}: ${a.messages.length} messages, expected ${e.messages.length}`);
  }
  e.messages.forEach((m, j) => {
    const am = a.messages[j];
    if (!am) return;
    const name = `${p} message ${j + 1} (${m.from} ${m.type})`;
    if (am.from !== m.from || am.type !== m.type || am.at !== m.at) {
      check.fail(`${name}: got ${am.from} ${am.type} at ${am.at}`);
    }
    check.compare(name, fromHex(m.hex), fromHex(am.hex));
  });
}

/** Checks every vector of a transcripts file (see the module comment). */
export function checkTranscriptVectors(json: unknown): VectorResult[] {
  const file = TranscriptFile.safeParse(json);
  if (!file.success) {
    throw new VectorFileError(
      `not a transcripts vector file: expected { "format": "${TRANSCRIPTS_FORMAT}", "kind": "${TRANSCRIPTS_KIND}", "vectors": [...] }`,
    );
  }
  return file.data.vectors.map((raw, i): VectorResult => {
    const fallback = `transcript ${i + 1}`;
    const name =
      typeof raw === "object" && raw !== null && typeof (raw as { name?: unknown }).name === "string"
        ? (raw as { name: string }).name
        : fallback;
    const parsed = TranscriptVector.safeParse(raw);
    if (!parsed.success) {
      return malformedVector(name, parsed.error);
    }
    return runVectorCheck(
      name,
      (check) => compareRecord(check, parsed.data, runTranscript(parsed.data.inputs)),
      (err) => `replay threw: ${isOpenClawError(err) ? err.message : errorText(err)}`,
    );
  });
}
