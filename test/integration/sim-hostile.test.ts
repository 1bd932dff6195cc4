/**
 * `openclaw sim` against centrals that misbehave on purpose: malformed Error messages (never answered
 * with an Error, PROTOCOL §3.4), a central that connects and does nothing (dropped within the idle bound,
 * so a laptop gets in), a pair-setup that stalls or fails (the link goes with it). Real noble and bleno
 * on the virtual air.
 */
import { describe, expect, it } from "vitest";
import type { TestAir } from "../fixtures/radio.js";
import { DriverError, startDriver } from "../helpers/driver.js";
import { connected, startSim, useSimAir } from "./sim-harness.js";

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
});
