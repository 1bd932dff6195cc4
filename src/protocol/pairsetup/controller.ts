/**
 * Pair-setup, controller side (the laptop). Built from the info payload and the code a person typed;
 * the typed code is normalised first, so a bad check character or a malformed code is reported here
 * and costs no attempt. States:
 *
 *   awaiting-challenge ──Challenge, confirmV ok──▶ awaiting-done (Finish sent)
 *   awaiting-challenge ──Challenge, confirmV bad──▶ awaiting-verdict (Abort{WRONG_CODE} sent)
 *   awaiting-done ──Done──▶ bonded            awaiting-verdict ──Error──▶ failed(WRONG_CODE/LOCKED_OUT)
 *   any ──Error──▶ failed(that error)         any ──anything else──▶ failed(PROTOCOL_ERROR), Error sent
 */

import type { KeyPair } from "../accessory/types.js";
import { codePassword, normaliseCode } from "../codes/index.js";
import type { ControllerBond } from "../controller/bond-record.js";
import { generateKeyPair } from "../crypto/noise.js";
import { deriveW0W1, Spake2PlusProver } from "../crypto/spake2plus.js";
import { isOpenClawError, OpenClawError, protocolError } from "../errors.js";
import { decodeMessage, encodeMessage } from "../messages/codec.js";
import { CONTROLLER_ID_LEN } from "../messages/constants.js";
import { errorToMessage, messageToError } from "../messages/errors.js";
import type { AccessoryInfo } from "../messages/info.js";
import type { RandomBytes } from "../random.js";
import { drawScalar, openAccessoryInfo, sealControllerInfo, setupContext, setupKeys } from "./keys.js";

export interface ControllerPairSetupOptions {
  info: AccessoryInfo;
  /** What the person typed (any spacing, case, look-alikes). */
  typedCode: string;
  controllerId: Uint8Array;
  controllerName: string;
  random: RandomBytes;
  /** This bond's static key pair; a fresh one is drawn when absent. */
  staticKey?: KeyPair;
}

/** One step of a controller-side exchange: messages to send, and the outcome once there is one. */
export interface ControllerStep<R> {
  replies: Uint8Array[];
  outcome?: { kind: "ok"; value: R } | { kind: "failed"; error: OpenClawError };
}

type State =
  | { kind: "awaiting-challenge"; prover: Spake2PlusProver }
  | { kind: "awaiting-done"; a2c: Uint8Array }
  | { kind: "awaiting-verdict" }
  | { kind: "bonded"; bond: ControllerBond }
  | { kind: "failed"; error: OpenClawError };

export class ControllerPairSetup {
  /** PairSetupStart, to send first. */
  readonly firstMessage: Uint8Array;
  #state: State;
  readonly #o: ControllerPairSetupOptions & { staticKey: KeyPair };
  readonly #deviceId: Uint8Array;

  /**
   * Throws locally, before anything is sent: WINDOW_CLOSED / LOCKED_OUT (from the info payload),
   * MALFORMED_CODE / BAD_CHECK_CHARACTER (the typed code), INVALID_ARGUMENT (controller id).
   */
  constructor(o: ControllerPairSetupOptions) {
    const w = o.info.window;
    if (w.state === "closed") throw new OpenClawError("WINDOW_CLOSED", {});
    if (w.state === "locked-out") throw new OpenClawError("LOCKED_OUT", { retryAfterMs: w.retryAfterMs });
    if (o.controllerId.length !== CONTROLLER_ID_LEN) {
      throw new OpenClawError("INVALID_ARGUMENT", {
        detail: `a controller id is ${CONTROLLER_ID_LEN} bytes`,
      });
    }
    const code = normaliseCode(o.typedCode, w.format);
    const staticKey = o.staticKey ?? generateKeyPair(o.random);
    this.#o = { ...o, staticKey };
    this.#deviceId = o.info.deviceId;
    const { w0, w1 } = deriveW0W1(codePassword(code), w.nonce, w.iterations);
    const prover = new Spake2PlusProver({
      context: setupContext(o.info.deviceId, w.nonce),
      idProver: o.controllerId,
      idVerifier: o.info.deviceId,
      w0,
      w1,
      random: o.random,
      scalar: drawScalar(o.random),
    });
    const shareP = prover.start();
    this.#state = { kind: "awaiting-challenge", prover };
    this.firstMessage = encodeMessage({
      type: "PairSetupStart",
      controllerId: o.controllerId,
      windowNonce: w.nonce,
      shareP,
    });
  }

  get state(): State["kind"] {
    return this.#state.kind;
  }

  /** The controller gives up (its own timeout, the person cancelled): a message telling the device. */
  abort(
    reason: OpenClawError = new OpenClawError("TIMEOUT", { what: "pair-setup", afterMs: 0 }),
  ): Uint8Array {
    const s = this.#state;
    // The device answers an Abort with its verdict (attempts left, lockout), which `handle` reports.
    if (s.kind !== "bonded" && s.kind !== "failed") this.#state = { kind: "awaiting-verdict" };
    return encodeMessage({ type: "PairSetupAbort", reason: reason.code });
  }

  handle(bytes: Uint8Array): ControllerStep<ControllerBond> {
    const s = this.#state;
    let msg: ReturnType<typeof decodeMessage>;
    try {
      msg = decodeMessage(bytes);
    } catch (err) {
      if (!isOpenClawError(err)) throw err;
      return this.#fail(err, true);
    }
    // Never answer an Error with an Error (no ping-pong), whatever the state.
    if (msg.type === "Error") return this.#fail(messageToError(msg), false);
    if (s.kind === "bonded" || s.kind === "failed") {
      return this.#fail(protocolError("message after pair-setup ended"), true);
    }
    if (s.kind === "awaiting-challenge" && msg.type === "PairSetupChallenge") {
      let done: { confirmP: Uint8Array; kShared: Uint8Array } | null;
      try {
        done = s.prover.finish(msg.shareV, msg.confirmV);
      } catch (err) {
        if (!isOpenClawError(err)) throw err;
        return this.#fail(protocolError("invalid SPAKE2+ share from the device"), true);
      }
      if (done === null) {
        this.#state = { kind: "awaiting-verdict" };
        return { replies: [encodeMessage({ type: "PairSetupAbort", reason: "WRONG_CODE" })] };
      }
      const keys = setupKeys(done.kShared);
      const sealed = sealControllerInfo(keys.c2a, {
        staticPublicKey: this.#o.staticKey.publicKey,
        name: this.#o.controllerName,
      });
      this.#state = { kind: "awaiting-done", a2c: keys.a2c };
      return { replies: [encodeMessage({ type: "PairSetupFinish", confirmP: done.confirmP, sealed })] };
    }
    if (s.kind === "awaiting-done" && msg.type === "PairSetupDone") {
      let acc: ReturnType<typeof openAccessoryInfo>;
      try {
        acc = openAccessoryInfo(s.a2c, msg.sealed);
      } catch (err) {
        if (!isOpenClawError(err)) throw err;
        return this.#fail(protocolError("sealed device info rejected"), true);
      }
      const bond: ControllerBond = {
        deviceId: this.#deviceId.slice(),
        controllerId: this.#o.controllerId.slice(),
        controllerStaticKey: this.#o.staticKey,
        accessoryStaticPublicKey: acc.staticPublicKey,
        tagKey: acc.tagKey,
        role: acc.role,
        accessoryName: acc.name,
        model: acc.model,
        firmware: acc.firmware,
        controllerName: this.#o.controllerName,
      };
      this.#state = { kind: "bonded", bond };
      return { replies: [], outcome: { kind: "ok", value: bond } };
    }
    return this.#fail(protocolError(`unexpected ${msg.type} during pair-setup`), true);
  }

  #fail(error: OpenClawError, tellDevice: boolean): ControllerStep<ControllerBond> {
    this.#state = { kind: "failed", error };
    return {
      replies: tellDevice ? [encodeMessage(errorToMessage(error))] : [],
      outcome: { kind: "failed", error },
    };
  }
}
