/**
 * Verify in the controller's exchange shape (src/protocol/controller/controller.ts): start from the
 * ControllerBond pair-setup produced, send `firstMessage`, feed the answer to `handle`; the outcome is
 * a SessionClient on success, or the error (UNKNOWN_PEER: "this device has forgotten this laptop").
 */

import type { Clock } from "../../clock/clock.js";
import type { ControllerBond } from "../controller/bond-record.js";
import type { ControllerExchange, ControllerStep } from "../controller/controller.js";
import { isOpenClawError, protocolError } from "../errors.js";
import type { RandomBytes } from "../random.js";
import type { SessionClient } from "../session/client.js";
import type { Role } from "../session/commands.js";
import type { RekeyPolicy } from "../session/limits.js";
import { ControllerVerify, openClientSession } from "./controller.js";

export interface VerifiedClient {
  client: SessionClient;
  role: Role;
  accessoryFeatures: number;
}

export function verifyExchange(
  bond: ControllerBond,
  o: {
    random: RandomBytes;
    clock: Pick<Clock, "now">;
    /** Where the session client sends its messages (the link to this device). */
    send: (message: Uint8Array) => void;
    rekey?: RekeyPolicy;
    features?: number;
  },
): ControllerExchange<VerifiedClient> {
  const verify = new ControllerVerify({
    deviceId: bond.deviceId,
    identity: bond.controllerStaticKey,
    accessoryPublicKey: bond.accessoryStaticPublicKey,
    random: o.random,
    features: o.features,
  });
  const firstMessage = verify.start();
  let done = false;
  return {
    firstMessage,
    handle(bytes: Uint8Array): ControllerStep<VerifiedClient> {
      if (done)
        return { replies: [], outcome: { kind: "failed", error: protocolError("verify already finished") } };
      done = true;
      try {
        return { replies: [], outcome: { kind: "ok", value: openClientSession(verify, bytes, o) } };
      } catch (err) {
        if (!isOpenClawError(err)) throw err;
        return { replies: [], outcome: { kind: "failed", error: err } };
      }
    },
  };
}
