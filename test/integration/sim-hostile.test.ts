/**
 * `openclaw sim` against centrals that misbehave on purpose: malformed Error messages (never answered
 * with an Error, PROTOCOL §3.4), a central that connects and does nothing (dropped within the idle bound,
 * so a laptop gets in), a pair-setup that stalls or fails (the link goes with it). Real noble and bleno
 * on the virtual air.
 */
import { describe, expect, it } from "vitest";
import type { TestAir } from "../../rig/radio.js";
import { Controller } from "../../src/protocol/controller/index.js";
import { decodeMessage } from "../../src/protocol/messages/codec.js";
import type { AccessoryInfo } from "../../src/protocol/messages/info.js";
import { seededRandom } from "../../src/protocol/random.js";
import { DriverError, startDriver } from "../helpers/driver.js";
import { connected, driverFailure, startSim, useSimAir, wrong } from "./sim-harness.js";

let t: TestAir;
useSimAir((air) => {
  t = air;
});

/** Error messages (type 0x7F) that do not decode, or decode to something a device cannot act on. */
const MALFORMED_ERRORS = [
  "017f", // no code
  "017f010001ee", // a code that is not in the catalogue
  "017f0100", // truncated TLV length
  "017f0100020102", // code of the wrong length
  "017f0200010401000102", // tags out of order
  "017f01000102ff000100", // an unknown tag
];

describe("openclaw sim: hostile centrals", () => {
  it("malformed Error messages are never answered with an Error", async () => {
    const laptop = startDriver(t.spec("laptop-err"));
    const dev = await startSim(t, "dev-err");
    await connected(laptop, dev);
    for (const m of MALFORMED_ERRORS) await laptop.sendMessage(m);
    const answers: string[] = [];
    for (;;) {
      const got = await laptop.receiveMessage(1500).catch((e: unknown) => e as DriverError);
      if (got instanceof DriverError) {
        expect(got.code).toBe("TIMEOUT");
        break;
      }
      answers.push(got);
    }
    expect(answers).toEqual([]);
    // The device is none the worse: it still pairs.
    expect(await laptop.pair(dev.firstDisplay!.code)).toMatchObject({ role: "admin" });
  }, 60_000);

  it("a central that connects and does nothing is dropped within the idle bound, so a laptop pairs", async () => {
    const holder = startDriver(t.spec("holder"));
    const laptop = startDriver(t.spec("laptop-hold"));
    const dev = await startSim(t, "dev-hold");
    await holder.ready();
    const found = await holder.find(dev.ready.name);
    await holder.connect(found.id);
    await dev.next("connected");
    const start = Date.now();
    await laptop.ready();
    // While the holder sits on the device's one connection the device does not advertise; within the
    // bound (10 s, PROTOCOL §7) it hangs up and the laptop finds it, connects and pairs.
    const again = await laptop.find(dev.ready.name, 20_000);
    await laptop.connect(again.id);
    expect(await laptop.pair(dev.firstDisplay!.code)).toMatchObject({ role: "admin" });
    const waited = Date.now() - start;
    expect(waited).toBeLessThan(18_000);
    const hangUp = await dev.next("hang-up", 1000);
    expect(hangUp.reason).toMatch(/no progress/);
    await holder.child.next("disconnect", 1000);
  }, 60_000);

  it("a pair-setup that stalls is dropped at its step timeout (30 s at 10x device time)", async () => {
    const laptop = startDriver(t.spec("laptop-stall"), { controllerId: "ab".repeat(16) });
    const dev = await startSim(t, "dev-stall", { args: ["--time-scale", "10"] });
    await connected(laptop, dev);
    // PairSetupStart from a controller that then goes silent (built here from the info it read).
    const info = (await laptop.info()) as unknown as InfoJson;
    const ps = new Controller({
      controllerId: new Uint8Array(16).fill(0xab),
      name: "staller",
      random: seededRandom("staller"),
    }).pairSetup(infoFromJson(info), dev.firstDisplay!.code);
    await laptop.sendMessage(Buffer.from(ps.firstMessage).toString("hex"));
    expect(decodeMessage(new Uint8Array(Buffer.from(await laptop.receiveMessage(5000), "hex"))).type).toBe(
      "PairSetupChallenge",
    );
    const started = Date.now();
    await laptop.child.next("disconnect", 10_000);
    expect(Date.now() - started).toBeGreaterThan(2000); // 30 s of device time is 3 s here
    expect((await dev.next("hang-up", 2000)).reason).toMatch(/no progress/);
  }, 60_000);

  it("a failed exchange (a wrong code) ends the link after the device's answer", async () => {
    const laptop = startDriver(t.spec("laptop-fail"));
    const dev = await startSim(t, "dev-fail");
    await connected(laptop, dev);
    const err = await driverFailure(laptop.pair(wrong(dev.firstDisplay!.code)));
    expect(err.details).toEqual({ attemptsLeft: 4 });
    await laptop.child.next("disconnect", 5000);
    expect((await dev.next("hang-up", 2000)).reason).toMatch(/failed/);
  }, 60_000);
});

interface InfoJson {
  protocolVersion: number;
  deviceId: string;
  name: string;
  model: string;
  firmware: string;
  bondSlots: { used: number; total: number };
  window: { state: string; nonce: string; [k: string]: unknown };
}

/** The driver's JSON view of the info characteristic, back as the controller role takes it. */
function infoFromJson(i: InfoJson): AccessoryInfo {
  return {
    ...i,
    deviceId: new Uint8Array(Buffer.from(i.deviceId, "hex")),
    window: { ...i.window, nonce: new Uint8Array(Buffer.from(i.window.nonce, "hex")) },
  } as unknown as AccessoryInfo;
}
