import { z } from "zod";
import { hexBytes } from "../protocol/bytes.js";
import {
  type CipherState,
  keyPairFromPrivateKey,
  NOISE_PROTOCOL_NAME,
  NoiseKK,
} from "../protocol/crypto/noise.js";
import {
  errorText,
  malformedVector,
  runVectorCheck,
  type VectorCheck,
  VectorFileError,
  type VectorResult,
} from "./report.js";

/**
 * Checks Noise vectors in the cacophony JSON format (../shared/vectors/noise): any number of vectors for
 * any protocol names. Noise_KK_25519_ChaChaPoly_SHA256 is run; everything else is reported as skipped.
 * Each message is produced by its sender and compared byte for byte, then consumed by its receiver and
 * compared with the payload: the handshake messages, then transport messages alternating initiator and
 * responder (the cacophony convention for two-way patterns), and the handshake hash on both sides.
 */

const hex = hexBytes();

const kkVector = z.looseObject({
  protocol_name: z.literal(NOISE_PROTOCOL_NAME),
  name: z.string().optional(),
  init_prologue: hex,
  init_static: hex,
  init_ephemeral: hex,
  init_remote_static: hex,
  resp_prologue: hex,
  resp_static: hex,
  resp_ephemeral: hex,
  resp_remote_static: hex,
  handshake_hash: hex.optional(),
  messages: z.array(z.object({ payload: hex, ciphertext: hex })),
});

const noiseFile = z.looseObject({
  vectors: z.array(z.looseObject({ protocol_name: z.string(), name: z.string().optional() })),
});

export function isNoiseFile(json: unknown): boolean {
  return noiseFile.safeParse(json).success;
}

/** Fields that change the protocol without changing its name (PSKs, fallback): not ours to run. */
function unsupportedExtras(raw: Record<string, unknown>): string | null {
  for (const k of ["init_psks", "resp_psks"]) {
    const v = raw[k];
    if (Array.isArray(v) && v.length > 0) return "pre-shared keys";
  }
  if (raw["fail"] === true) return "an expected-failure vector";
  if (raw["fallback"] === true || raw["fallback_pattern"] !== undefined) return "a fallback handshake";
  return null;
}

export function checkNoiseVectors(json: unknown): VectorResult[] {
  const file = noiseFile.safeParse(json);
  if (!file.success) {
    throw new VectorFileError(
      'not a Noise vector file: expected { "vectors": [{ "protocol_name": ..., ... }] }',
    );
  }
  return file.data.vectors.map((raw, i) => {
    const name = raw.name ?? `vector ${i + 1} (${raw.protocol_name})`;
    if (raw.protocol_name !== NOISE_PROTOCOL_NAME) {
      return { name, status: "skipped" as const, detail: `protocol ${raw.protocol_name} not implemented` };
    }
    const extra = unsupportedExtras(raw);
    if (extra !== null) return { name, status: "skipped" as const, detail: `${extra} not implemented` };
    const parsed = kkVector.safeParse(raw);
    if (!parsed.success) {
      return malformedVector(name, parsed.error);
    }
    return runVectorCheck(name, (check) => runKK(parsed.data, check));
  });
}

const HANDSHAKE_MESSAGES = 2;

/** The receiver consuming the file's ciphertext; a refusal ends the run (later nonces would not line up). */
function receive(check: VectorCheck, label: string, read: () => Uint8Array): Uint8Array | null {
  try {
    return read();
  } catch (err) {
    check.fail(
      `${label}: the receiver rejected the file's ciphertext (${errorText(err)}); later messages not checked`,
    );
    return null;
  }
}

function runKK(v: z.infer<typeof kkVector>, check: VectorCheck): void {
  const never = (): Uint8Array => {
    throw new Error("a vector run must not draw randomness");
  };
  const initiator = new NoiseKK({
    initiator: true,
    prologue: v.init_prologue,
    s: keyPairFromPrivateKey(v.init_static),
    rs: v.init_remote_static,
    e: keyPairFromPrivateKey(v.init_ephemeral),
    random: never,
  });
  const responder = new NoiseKK({
    initiator: false,
    prologue: v.resp_prologue,
    s: keyPairFromPrivateKey(v.resp_static),
    rs: v.resp_remote_static,
    e: keyPairFromPrivateKey(v.resp_ephemeral),
    random: never,
  });
  let transport: {
    i: { send: CipherState; recv: CipherState };
    r: { send: CipherState; recv: CipherState };
  } | null = null;
  const empty = new Uint8Array(0);
  for (const [idx, m] of v.messages.entries()) {
    const fromInitiator = idx % 2 === 0;
    const label = `message ${idx} (${fromInitiator ? "initiator" : "responder"} → ${fromInitiator ? "responder" : "initiator"})`;
    if (idx < HANDSHAKE_MESSAGES) {
      const [sender, receiver] = fromInitiator ? [initiator, responder] : [responder, initiator];
      check.compare(`${label} ciphertext`, m.ciphertext, sender.writeMessage(m.payload));
      const read = receive(check, label, () => receiver.readMessage(m.ciphertext));
      if (read === null) return;
      check.compare(`${label} payload`, m.payload, read);
      continue;
    }
    if (transport === null) {
      if (v.handshake_hash) {
        check.compare("handshake_hash (initiator)", v.handshake_hash, initiator.handshakeHash);
        check.compare("handshake_hash (responder)", v.handshake_hash, responder.handshakeHash);
      }
      transport = { i: initiator.split(), r: responder.split() };
    }
    const [send, recv] = fromInitiator
      ? [transport.i.send, transport.r.recv]
      : [transport.r.send, transport.i.recv];
    check.compare(`${label} ciphertext`, m.ciphertext, send.encryptWithAd(empty, m.payload));
    const read = receive(check, label, () => recv.decryptWithAd(empty, m.ciphertext));
    if (read === null) return;
    check.compare(`${label} payload`, m.payload, read);
  }
  if (transport === null && v.handshake_hash && initiator.complete && responder.complete) {
    check.compare("handshake_hash (initiator)", v.handshake_hash, initiator.handshakeHash);
    check.compare("handshake_hash (responder)", v.handshake_hash, responder.handshakeHash);
  }
}
