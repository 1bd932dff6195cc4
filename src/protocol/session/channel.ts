/**
 * The record layer of a verified session: Noise transport messages inside Session messages (0x20),
 * with the REKEY flag and the rekey rule. One object per side per session, driven by both directions.
 *
 * Associated data of every session ciphertext = [version][0x20][flags]: the cleartext flags byte is
 * authenticated, so flipping the REKEY bit fails like any other tampering. Noise nonces are implicit
 * counters, so a replayed, reordered, dropped, truncated or altered message fails authentication.
 * Any failure ends the session for good (state "closed"); there is no resynchronisation in v1.
 */

import type { Clock } from "../../clock/clock.js";
import type { CipherState } from "../crypto/noise.js";
import { OpenClawError, protocolError } from "../errors.js";
import { decodeMessage, encodeMessage } from "../messages/codec.js";
import { MAX_MESSAGE, PROTOCOL_VERSION } from "../messages/constants.js";
import type { SessionMessage } from "../messages/schema.js";
import { MessageType } from "../messages/schema.js";
import {
  DEFAULT_REKEY_POLICY,
  MAX_SESSION_PLAINTEXT,
  type RekeyPolicy,
  SESSION_FLAG_REKEY,
  SESSION_FLAGS_KNOWN,
} from "./limits.js";

export type ChannelState =
  | {
      kind: "open";
      send: CipherState;
      recv: CipherState;
      /** Messages sent under the current send key, and when that key started (sender's clock). */
      sentUnderKey: number;
      sendKeySince: number;
      receivedUnderKey: number;
    }
  | { kind: "closed"; reason: string };

function sessionAd(flags: number): Uint8Array {
  return Uint8Array.of(PROTOCOL_VERSION, MessageType.Session, flags);
}

export interface SecureChannelOptions {
  send: CipherState;
  recv: CipherState;
  clock: Pick<Clock, "now">;
  rekey?: RekeyPolicy;
}

export class SecureChannel {
  #state: ChannelState;
  readonly #clock: Pick<Clock, "now">;
  readonly #policy: RekeyPolicy;

  constructor(o: SecureChannelOptions) {
    this.#clock = o.clock;
    this.#policy = o.rekey ?? DEFAULT_REKEY_POLICY;
    this.#state = {
      kind: "open",
      send: o.send,
      recv: o.recv,
      sentUnderKey: 0,
      sendKeySince: o.clock.now(),
      receivedUnderKey: 0,
    };
  }

  get state(): ChannelState["kind"] {
    return this.#state.kind;
  }

  get closedReason(): string | undefined {
    return this.#state.kind === "closed" ? this.#state.reason : undefined;
  }

  /** Ends the session; later seal/open calls throw PROTOCOL_ERROR. Idempotent (first reason wins). */
  close(reason: string): void {
    if (this.#state.kind === "closed") return;
    this.#state = { kind: "closed", reason };
  }

  /** Encrypts one session payload into a complete Session protocol message. */
  seal(plaintext: Uint8Array): Uint8Array {
    const st = this.#state;
    if (st.kind !== "open") throw protocolError("the session has ended");
    if (plaintext.length > MAX_SESSION_PLAINTEXT) {
      throw new RangeError(`session payload of ${plaintext.length} bytes is too large`);
    }
    let flags = 0;
    const now = this.#clock.now();
    if (st.sentUnderKey >= this.#policy.afterMessages || now - st.sendKeySince >= this.#policy.afterMs) {
      st.send.rekey();
      st.sentUnderKey = 0;
      st.sendKeySince = now;
      flags |= SESSION_FLAG_REKEY;
    }
    const ciphertext = st.send.encryptWithAd(sessionAd(flags), plaintext);
    st.sentUnderKey += 1;
    return encodeMessage({ type: "Session", flags, ciphertext: new Uint8Array(ciphertext) });
  }

  /**
   * Decrypts one Session protocol message. Any failure (malformed, oversized, unknown flags, missing
   * rekey, bad tag) closes the session and throws PROTOCOL_ERROR (VERSION_MISMATCH for another version).
   */
  open(message: Uint8Array): Uint8Array {
    return this.#guard(() => {
      if (message.length > MAX_MESSAGE) throw protocolError("session message too large");
      const m = decodeMessage(message);
      if (m.type !== "Session") throw protocolError(`unexpected ${m.type} during a session`);
      return this.#open(m);
    });
  }

  /** The same for a message the caller has already decoded (and schema-checked). */
  openDecoded(m: SessionMessage): Uint8Array {
    return this.#guard(() => this.#open(m));
  }

  #guard(f: () => Uint8Array): Uint8Array {
    if (this.#state.kind !== "open") throw protocolError("the session has ended");
    try {
      return f();
    } catch (err) {
      const e = err instanceof OpenClawError ? err : protocolError("undecodable session message");
      this.close(e.message);
      throw e;
    }
  }

  #open(m: SessionMessage): Uint8Array {
    const st = this.#state;
    if (st.kind !== "open") throw protocolError("the session has ended");
    if ((m.flags & ~SESSION_FLAGS_KNOWN) !== 0) throw protocolError("unknown session flags");
    const rekey = (m.flags & SESSION_FLAG_REKEY) !== 0;
    if (!rekey && st.receivedUnderKey >= this.#policy.afterMessages) {
      throw protocolError("the peer did not rekey in time");
    }
    if (rekey) {
      st.recv.rekey();
      st.receivedUnderKey = 0;
    }
    let plaintext: Uint8Array;
    try {
      plaintext = st.recv.decryptWithAd(sessionAd(m.flags), m.ciphertext);
    } catch {
      // One message for every cause: the tag alone cannot tell tampering from replay or reordering.
      throw protocolError(
        "session message failed authentication (tampered, replayed, reordered or truncated)",
      );
    }
    st.receivedUnderKey += 1;
    return plaintext;
  }
}
