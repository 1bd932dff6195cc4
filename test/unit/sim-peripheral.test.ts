import { describe, expect, it } from "vitest";
import { ClawApp } from "../../firmware-sim/device/app.js";
import { isOpenClawError } from "../../src/protocol/errors.js";
import { PeripheralConnection } from "../../src/radio/peripheral.js";

const peer = { controllerId: new Uint8Array(16), name: "laptop", role: "user" as const };

describe("a peripheral connection as a FrameLink", () => {
  it("follows the negotiated MTU and refuses frames bleno would truncate", async () => {
    const conn = new PeripheralConnection("aa:bb");
    expect(conn.maxFrame).toBe(20);
    const sent: Buffer[] = [];
    conn.setNotify((b) => sent.push(b));
    await expect(conn.sendFrame(new Uint8Array(21))).rejects.toSatisfy(
      (e: unknown) => isOpenClawError(e) && e.code === "PROTOCOL_ERROR",
    );
    conn.setMtu(247);
    expect(conn.maxFrame).toBe(244);
    await conn.sendFrame(new Uint8Array(244).fill(7));
    expect(sent).toHaveLength(1);
    expect(sent[0]!.length).toBe(244);
  });

  it("keeps frames written before the channel listens, and ends once", async () => {
    const conn = new PeripheralConnection("aa:bb");
    conn.deliver(Uint8Array.of(1));
    conn.deliver(Uint8Array.of(2));
    const got: number[] = [];
    conn.onFrame((f) => got.push(f[0]!));
    await Promise.resolve();
    expect(got).toEqual([1, 2]);
    const reasons: string[] = [];
    conn.onClose((r) => reasons.push(r));
    conn.end("disconnected");
    conn.end("again");
    conn.deliver(Uint8Array.of(3));
    expect(reasons).toEqual(["disconnected"]);
    expect(got).toEqual([1, 2]);
    await expect(conn.sendFrame(Uint8Array.of(1))).rejects.toSatisfy(
      (e: unknown) => isOpenClawError(e) && e.code === "OUT_OF_RANGE",
    );
    // A late close listener still hears why.
    const late = await new Promise<string>((resolve) => conn.onClose(resolve));
    expect(late).toBe("disconnected");
  });
});

describe("the simulated device's application (battery, claw)", () => {
  it("opens, closes and reports the claw; reads the battery; refuses the unknown", () => {
    const reports: string[] = [];
    const app = new ClawApp((r) => reports.push(r.op));
    expect(app.onAppRequest(peer, { channel: 1, payload: new Uint8Array() })).toEqual(Uint8Array.of(87));
    expect(app.onAppRequest(peer, { channel: 2, payload: Uint8Array.of(1) })).toEqual(Uint8Array.of(1));
    expect(app.onAppRequest(peer, { channel: 2, payload: Uint8Array.of(0) })).toEqual(Uint8Array.of(1));
    expect(app.onAppRequest(peer, { channel: 2, payload: Uint8Array.of(2) })).toEqual(Uint8Array.of(0));
    expect(reports).toEqual(["battery", "claw-open", "claw-close"]);
    for (const bad of [
      { channel: 2, payload: Uint8Array.of(9) },
      { channel: 2, payload: new Uint8Array() },
      { channel: 1, payload: Uint8Array.of(1) },
      { channel: 7, payload: new Uint8Array() },
    ]) {
      expect(() => app.onAppRequest(peer, bad)).toThrow(/invalid argument/);
    }
  });
});
