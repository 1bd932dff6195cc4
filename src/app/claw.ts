/**
 * The simulated device's application wire format (carried opaquely by verified sessions), shared by
 * the device (firmware-sim/device/app.ts) and the laptop (the daemon's claw/battery), so the two cannot
 * drift apart:
 *
 *   channel 1 battery   request: empty            response: [percent u8]
 *   channel 2 claw      request: [op u8]          response: [state u8]   state 0 = closed, 1 = open
 *                       op 0 = status, 1 = open, 2 = close
 *
 * Pure: no I/O. Decoders throw PROTOCOL_ERROR on a malformed response (the device's answer), encoders
 * take only valid values.
 */
import { protocolError } from "../protocol/errors.js";

export const APP_CHANNEL = { battery: 1, claw: 2 } as const;
export const CLAW_OP = { status: 0, open: 1, close: 2 } as const;
export type ClawOp = keyof typeof CLAW_OP;
export type ClawState = "open" | "closed";
export const CLAW_STATE_WIRE = { closed: 0, open: 1 } as const satisfies Record<ClawState, number>;

const OP_BY_WIRE = new Map<number, ClawOp>((Object.keys(CLAW_OP) as ClawOp[]).map((op) => [CLAW_OP[op], op]));

export function isClawOp(s: string): s is ClawOp {
  return Object.hasOwn(CLAW_OP, s);
}

// ---- claw ----

export function encodeClawRequest(op: ClawOp): Uint8Array {
  return Uint8Array.of(CLAW_OP[op]);
}

/** The device's reading of a claw request: the op, or undefined when it is not one. */
export function decodeClawRequest(payload: Uint8Array): ClawOp | undefined {
  return payload.length === 1 ? OP_BY_WIRE.get(payload[0]!) : undefined;
}

export function encodeClawState(state: ClawState): Uint8Array {
  return Uint8Array.of(CLAW_STATE_WIRE[state]);
}

export function decodeClawState(payload: Uint8Array): ClawState {
  if (payload.length !== 1 || payload[0]! > 1) throw protocolError("claw response is not one state byte");
  return payload[0] === CLAW_STATE_WIRE.open ? "open" : "closed";
}

// ---- battery ----

export function encodeBatteryRequest(): Uint8Array {
  return new Uint8Array(0);
}

export function encodeBatteryLevel(percent: number): Uint8Array {
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) throw new RangeError("battery 0..100 %");
  return Uint8Array.of(percent);
}

export function decodeBatteryLevel(payload: Uint8Array): number {
  if (payload.length !== 1 || payload[0]! > 100) throw protocolError("battery response is not a percentage");
  return payload[0]!;
}
