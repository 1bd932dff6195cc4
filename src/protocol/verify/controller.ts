/**
 * Verify, controller side (Noise KK initiator): one round trip, VerifyStart → VerifyAccept (or a
 * cleartext Error, e.g. UNKNOWN_PEER when the device has forgotten us). Forward secret: the session
 * keys come from the ephemeral-ephemeral DH as well as the static keys.
 */

import type { Clock } from "../../clock/clock.js";
import { type KeyPair, NoiseKK } from "../crypto/noise.js";
import { protocolError } from "../errors.js";
import { decodeMessage, encodeMessage } from "../messages/codec.js";
import { messageToError } from "../messages/errors.js";
import type { RandomBytes } from "../random.js";
import { SecureChannel } from "../session/channel.js";
import { SessionClient } from "../session/client.js";
import type { Role } from "../session/commands.js";
import type { RekeyPolicy } from "../session/limits.js";
import { decodeAcceptPayload, encodeStartPayload } from "./payload.js";
import { verifyPrologue } from "./prologue.js";

export interface ControllerVerifyOptions {
  deviceId: Uint8Array;
  /** This controller's static key pair for this bond. */
  identity: KeyPair;
  /** The accessory's static public key, learnt in pair-setup. */
  accessoryPublicKey: Uint8Array;
  random: RandomBytes;
  features?: number;
}

type State = { kind: "ready" } | { kind: "sent"; hs: NoiseKK } | { kind: "done" };

export interface VerifiedSession {
  role: Role;
  accessoryFeatures: number;
  handshakeHash: Uint8Array;
  channel: SecureChannel;
}

export class ControllerVerify {
  readonly #o: ControllerVerifyOptions;
  #state: State = { kind: "ready" };

  constructor(o: ControllerVerifyOptions) {
    this.#o = o;
  }

  /** The VerifyStart message. */
  start(): Uint8Array {
    if (this.#state.kind !== "ready") throw protocolError("verify started twice");
    const hs = new NoiseKK({
      initiator: true,
      prologue: verifyPrologue(this.#o.deviceId),
      s: this.#o.identity,
      rs: this.#o.accessoryPublicKey,
      random: this.#o.random,
    });
    const noise = hs.writeMessage(encodeStartPayload({ features: this.#o.features ?? 0 }));
    this.#state = { kind: "sent", hs };
    return encodeMessage({ type: "VerifyStart", noise: new Uint8Array(noise) });
  }

  /**
   * Takes the accessory's answer. Throws the reported error for an Error message (UNKNOWN_PEER: the
   * device has forgotten this laptop), PROTOCOL_ERROR when VerifyAccept does not authenticate.
   */
  finish(message: Uint8Array, o: { clock: Pick<Clock, "now">; rekey?: RekeyPolicy }): VerifiedSession {
    const st = this.#state;
    if (st.kind !== "sent") throw protocolError("verify answer out of turn");
    this.#state = { kind: "done" };
    const m = decodeMessage(message);
    if (m.type === "Error") throw messageToError(m);
    if (m.type !== "VerifyAccept") throw protocolError(`expected VerifyAccept, got ${m.type}`);
    const accept = decodeAcceptPayload(st.hs.readMessage(m.noise));
    const { send, recv } = st.hs.split();
    return {
      role: accept.role,
      accessoryFeatures: accept.features,
      handshakeHash: st.hs.handshakeHash,
      channel: new SecureChannel({ send, recv, clock: o.clock, rekey: o.rekey }),
    };
  }
}

/** Convenience: finish verify and wrap the channel in a session client. */
export function openClientSession(
  verify: ControllerVerify,
  message: Uint8Array,
  o: {
    clock: Pick<Clock, "now">;
    random: RandomBytes;
    send: (message: Uint8Array) => void;
    rekey?: RekeyPolicy;
  },
): { client: SessionClient; role: Role; accessoryFeatures: number } {
  const v = verify.finish(message, o);
  const client = new SessionClient({ channel: v.channel, random: o.random, send: o.send, role: v.role });
  return { client, role: v.role, accessoryFeatures: v.accessoryFeatures };
}
