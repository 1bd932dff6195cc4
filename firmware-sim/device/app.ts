/**
 * The simulated device's own functions, reachable only over a verified session (the session's AppHandler):
 * a battery gauge and a claw. The wire format is the device's own (the protocol carries it opaquely):
 *
 *   channel 1 battery   request: empty            response: [percent u8]
 *   channel 2 claw      request: [op u8]          response: [state u8]   state 0 = closed, 1 = open
 *                       op 0 = status, 1 = open, 2 = close
 *
 * Anything else is answered with INVALID_ARGUMENT. Every bonded role may use both (least privilege is
 * about pairing management; a `user` pairing exists to use the device).
 */
import { APP_CHANNEL, CLAW_OP, type ClawState } from "../../src/app/claw.js";
import { toHex } from "../../src/protocol/bytes.js";
import { OpenClawError } from "../../src/protocol/errors.js";
import type { AppHandler, Peer } from "../../src/protocol/session/accessory.js";
import type { AppMessage } from "../../src/protocol/session/commands.js";

export { APP_CHANNEL, CLAW_OP, type ClawState } from "../../src/app/claw.js";

export interface AppReport {
  op: string;
  detail: Record<string, string | number | boolean>;
}

export class ClawApp implements AppHandler {
  private claw: ClawState = "closed";
  private moves = 0;

  constructor(
    private readonly report: (r: AppReport) => void,
    private readonly batteryStart = 87,
  ) {}

  /** Each ten claw moves cost a percent, never below 5 (a simulated gauge, not a physics model). */
  get battery(): number {
    return Math.max(5, this.batteryStart - Math.floor(this.moves / 10));
  }

  get clawState(): ClawState {
    return this.claw;
  }

  onAppRequest(peer: Peer, message: AppMessage): Uint8Array {
    const by = toHex(peer.controllerId);
    switch (message.channel) {
      case APP_CHANNEL.battery:
        if (message.payload.length !== 0) throw invalid("the battery request has no arguments");
        this.report({ op: "battery", detail: { battery: this.battery, by } });
        return Uint8Array.of(this.battery);
      case APP_CHANNEL.claw: {
        if (message.payload.length !== 1)
          throw invalid("a claw request is one byte: 0 status, 1 open, 2 close");
        const op = message.payload[0];
        if (op === CLAW_OP.open || op === CLAW_OP.close) {
          const next: ClawState = op === CLAW_OP.open ? "open" : "closed";
          if (next !== this.claw) this.moves++;
          this.claw = next;
          this.report({ op: next === "open" ? "claw-open" : "claw-close", detail: { claw: this.claw, by } });
        } else if (op !== CLAW_OP.status) {
          throw invalid("unknown claw operation (0 status, 1 open, 2 close)");
        }
        return Uint8Array.of(this.claw === "open" ? 1 : 0);
      }
      default:
        throw invalid(`unknown application channel ${message.channel} (1 battery, 2 claw)`);
    }
  }
}

function invalid(detail: string): OpenClawError<"INVALID_ARGUMENT"> {
  return new OpenClawError("INVALID_ARGUMENT", { detail });
}
