/**
 * The controller role (the laptop), pure. A Controller is this laptop's identity towards devices; each
 * protocol exchange is its own object with `handle(bytes) → { replies, outcome? }`:
 *
 *   const ps = controller.pairSetup(decodeInfo(infoBytes), typedCode);   // throws locally on a bad code
 *   send(ps.firstMessage);
 *   for each message received: const step = ps.handle(msg); send(...step.replies); if (step.outcome) done
 *
 * Verify follows the same `ControllerExchange` shape, starting from the ControllerBond that
 * pair-setup produced.
 */

import type { KeyPair } from "../accessory/types.js";
import { OpenClawError } from "../errors.js";
import { CONTROLLER_ID_LEN, MAX_TEXT } from "../messages/constants.js";
import type { AccessoryInfo } from "../messages/info.js";
import { ControllerPairSetup, type ControllerStep } from "../pairsetup/controller.js";
import type { RandomBytes } from "../random.js";
import type { ControllerBond } from "./bond-record.js";

/** Any controller-side exchange (pair-setup here; verify and session requests in src/protocol/verify and session). */
export interface ControllerExchange<R> {
  readonly firstMessage: Uint8Array;
  handle(bytes: Uint8Array): ControllerStep<R>;
}

export interface ControllerOptions {
  /** 16 bytes, stable for this laptop (re-pairing then replaces this laptop's old bond on the device). */
  controllerId: Uint8Array;
  /** Shown on the device and in its bond list ("alice's laptop"). */
  name: string;
  random: RandomBytes;
}

export class Controller {
  readonly controllerId: Uint8Array;
  readonly name: string;
  readonly #random: RandomBytes;

  constructor(o: ControllerOptions) {
    if (o.controllerId.length !== CONTROLLER_ID_LEN) {
      throw new OpenClawError("INVALID_ARGUMENT", {
        detail: `a controller id is ${CONTROLLER_ID_LEN} bytes`,
      });
    }
    if (new TextEncoder().encode(o.name).length > MAX_TEXT) {
      throw new OpenClawError("INVALID_ARGUMENT", {
        detail: `a controller name is at most ${MAX_TEXT} bytes`,
      });
    }
    this.controllerId = o.controllerId.slice();
    this.name = o.name;
    this.#random = o.random;
  }

  /**
   * Starts pair-setup with a device whose info payload was just read. Throws (nothing sent, no attempt
   * used): WINDOW_CLOSED, LOCKED_OUT, MALFORMED_CODE, BAD_CHECK_CHARACTER.
   */
  pairSetup(info: AccessoryInfo, typedCode: string, opts: { staticKey?: KeyPair } = {}): ControllerPairSetup {
    return new ControllerPairSetup({
      info,
      typedCode,
      controllerId: this.controllerId,
      controllerName: this.name,
      random: this.#random,
      ...(opts.staticKey ? { staticKey: opts.staticKey } : {}),
    });
  }
}

export type { ControllerBond, ControllerStep };
