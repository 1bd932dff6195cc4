/**
 * The sim's application wire format (src/app/claw.ts), shared by the device and the laptop: what one
 * side encodes the other decodes, and a malformed answer from a device is a PROTOCOL_ERROR, not a
 * wrong reading.
 */
import { describe, expect, it } from "vitest";
import { ClawApp } from "../../firmware-sim/device/app.js";
import {
  APP_CHANNEL,
  decodeBatteryLevel,
  decodeClawRequest,
  decodeClawState,
  encodeBatteryLevel,
  encodeBatteryRequest,
  encodeClawRequest,
  encodeClawState,
  isClawOp,
} from "../../src/app/claw.js";
import { expectProtocolError } from "../helpers/errors.js";

const peer = { controllerId: new Uint8Array(16), role: "user" as const, name: "t" };

describe("claw and battery wire format", () => {
  it("round-trips every op and state", () => {
    for (const op of ["status", "open", "close"] as const)
      expect(decodeClawRequest(encodeClawRequest(op))).toBe(op);
    for (const s of ["open", "closed"] as const) expect(decodeClawState(encodeClawState(s))).toBe(s);
    expect(decodeBatteryLevel(encodeBatteryLevel(87))).toBe(87);
    expect(isClawOp("open")).toBe(true);
    expect(isClawOp("toString")).toBe(false);
  });

  it("refuses malformed device answers with PROTOCOL_ERROR", () => {
    for (const bad of [new Uint8Array(0), Uint8Array.of(2), Uint8Array.of(1, 1)])
      expectProtocolError(() => decodeClawState(bad));
    expect(() => decodeBatteryLevel(Uint8Array.of(101))).toThrow(/percentage/);
    expect(decodeClawRequest(Uint8Array.of(9))).toBeUndefined();
  });

  it("is what the simulated device speaks", () => {
    const app = new ClawApp(() => {});
    const ask = (channel: number, payload: Uint8Array) => app.onAppRequest(peer, { channel, payload });
    expect(decodeClawState(ask(APP_CHANNEL.claw, encodeClawRequest("open")))).toBe("open");
    expect(decodeClawState(ask(APP_CHANNEL.claw, encodeClawRequest("status")))).toBe("open");
    expect(decodeClawState(ask(APP_CHANNEL.claw, encodeClawRequest("close")))).toBe("closed");
    expect(decodeBatteryLevel(ask(APP_CHANNEL.battery, encodeBatteryRequest()))).toBe(87);
  });
});
