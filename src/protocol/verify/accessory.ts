/**
 * Verify, accessory side (Noise KK responder). Message 1 carries no identifier: the accessory finds the
 * calling bond by trial-decrypting it against each bonded controller's static key (the AEAD tag of
 * message 1 only checks out under the right `ss`). No match → UNKNOWN_PEER ("this device has forgotten
 * this laptop"). A match confirms a provisional bond and opens the encrypted session.
 */

import type { Clock } from "../../clock/clock.js";
import { type CipherState, type KeyPair, NoiseKK } from "../crypto/noise.js";
import { OpenClawError, protocolError } from "../errors.js";
import { decodeMessage, encodeMessage } from "../messages/codec.js";
import type { VerifyStart } from "../messages/schema.js";
import type { RandomBytes } from "../random.js";
import { AccessorySession, type SessionBondView, type SessionHost } from "../session/accessory.js";
import { SecureChannel } from "../session/channel.js";
import type { RekeyPolicy } from "../session/limits.js";
import { decodeStartPayload, encodeAcceptPayload } from "./payload.js";
import { verifyPrologue } from "./prologue.js";

/** A bond the accessory may accept a verify from (live: expired provisional bonds left out). */
export interface VerifyCandidate extends SessionBondView {
  controllerStaticPublicKey: Uint8Array;
}

export interface AccessoryVerifyOptions {
  deviceId: Uint8Array;
  /** The accessory's static X25519 identity. */
  identity: KeyPair;
  candidates: readonly VerifyCandidate[];
  random: RandomBytes;
  /** Feature bits to announce (none in v1). */
  features?: number;
}

export interface VerifyMatch {
  bond: VerifyCandidate;
  /** The VerifyAccept message to send. */
  reply: Uint8Array;
  send: CipherState;
  recv: CipherState;
  controllerFeatures: number;
  handshakeHash: Uint8Array;
}

/**
 * Answers one VerifyStart. Throws UNKNOWN_PEER when no bond's key opens message 1, PROTOCOL_ERROR
 * (or VERSION_MISMATCH) when the message is malformed; the caller sends those as Error messages.
 */
export function acceptVerify(message: Uint8Array | VerifyStart, o: AccessoryVerifyOptions): VerifyMatch {
  const m = message instanceof Uint8Array ? decodeMessage(message) : message;
  if (m.type !== "VerifyStart") throw protocolError(`expected VerifyStart, got ${m.type}`);
  const prologue = verifyPrologue(o.deviceId);
  for (const bond of o.candidates) {
    const hs = new NoiseKK({
      initiator: false,
      prologue,
      s: o.identity,
      rs: bond.controllerStaticPublicKey,
      random: o.random,
    });
    let payload: Uint8Array;
    try {
      payload = hs.readMessage(m.noise);
    } catch {
      continue; // not this bond's key
    }
    // Authenticated from here on: a bad payload is the peer's protocol error, not an unknown peer.
    const start = decodeStartPayload(payload);
    const reply = hs.writeMessage(encodeAcceptPayload({ features: o.features ?? 0, role: bond.role }));
    const { send, recv } = hs.split();
    return {
      bond,
      reply: encodeMessage({ type: "VerifyAccept", noise: new Uint8Array(reply) }),
      send,
      recv,
      controllerFeatures: start.features,
      handshakeHash: hs.handshakeHash,
    };
  }
  throw new OpenClawError("UNKNOWN_PEER", {});
}

export type AccessoryVerifyEvent = { kind: "bondConfirmed"; controllerId: Uint8Array };

export interface AccessoryVerifyBonds {
  candidates(): readonly VerifyCandidate[];
  /** Makes a provisional bond permanent (no-op for a permanent one). */
  confirm(controllerId: Uint8Array): void;
}

/**
 * Verify + session in one call, for the accessory's top-level object: answers VerifyStart, confirms
 * the bond if it was provisional, and returns the session that handles the Session messages after it.
 */
export function openAccessorySession(
  message: Uint8Array | VerifyStart,
  o: {
    deviceId: Uint8Array;
    identity: KeyPair;
    bonds: AccessoryVerifyBonds;
    host: SessionHost;
    clock: Pick<Clock, "now">;
    random: RandomBytes;
    rekey?: RekeyPolicy;
    features?: number;
  },
): { session: AccessorySession; reply: Uint8Array; events: AccessoryVerifyEvent[] } {
  const match = acceptVerify(message, { ...o, candidates: o.bonds.candidates() });
  const events: AccessoryVerifyEvent[] = [];
  if (match.bond.state === "provisional") {
    o.bonds.confirm(match.bond.controllerId);
    events.push({ kind: "bondConfirmed", controllerId: match.bond.controllerId });
  }
  const channel = new SecureChannel({ send: match.send, recv: match.recv, clock: o.clock, rekey: o.rekey });
  const { controllerId, name, role } = match.bond;
  const session = new AccessorySession({ peer: { controllerId, name, role }, channel, host: o.host });
  return { session, reply: match.reply, events };
}
