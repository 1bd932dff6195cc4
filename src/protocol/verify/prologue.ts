import { PROTOCOL_NAME } from "../messages/constants.js";

/** Noise prologue = "OpenClaw-Pair/1" || device id: binds protocol version and device to the handshake. */
export function verifyPrologue(deviceId: Uint8Array): Uint8Array {
  const name = new TextEncoder().encode(PROTOCOL_NAME);
  const out = new Uint8Array(name.length + deviceId.length);
  out.set(name);
  out.set(deviceId, name.length);
  return out;
}
