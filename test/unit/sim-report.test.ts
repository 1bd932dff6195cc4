/**
 * The simulated device's pure pieces: what it reports and writes for each accessory event, and what
 * its screen shows for a state.
 */
import { describe, expect, it } from "vitest";
import { report } from "../../firmware-sim/device/report.js";
import { screenFor } from "../../firmware-sim/device/screen-state.js";
import { Accessory } from "../../src/protocol/accessory/accessory.js";
import { generateAccessoryIdentity } from "../../src/protocol/accessory/identity.js";
import { seededRandom } from "../../src/protocol/random.js";

describe("sim report", () => {
  it("turns accessory events into sim events, one set of state writes, advert and reboot flags", () => {
    const r = report([
      { type: "bonded", controllerId: "ab", role: "admin", name: "laptop", provisional: true },
      { type: "bonds-changed" },
      { type: "guard-changed" },
      { type: "guard-changed" },
    ]);
    expect(r.events).toEqual([
      { type: "bonded", peerId: "ab", role: "admin", name: "laptop", provisional: true },
    ]);
    expect(r.causes.sort()).toEqual(["bonds", "guard"]);
    expect(r).toMatchObject({ advert: true, reboot: false, bonded: { peerName: "laptop", role: "admin" } });
    const reset = report([{ type: "factory-reset" }, { type: "identity-changed" }]);
    expect(reset).toMatchObject({ reboot: true, causes: ["reset", "identity"] });
  });

  it("never puts the canonical code in an event, only what the screen shows", () => {
    const r = report([
      {
        type: "display",
        code: "123456",
        display: "123 456",
        format: "passkey",
        codeSource: "device",
        expiresAt: 120_000.4,
        expiresInMs: 120_000,
        attemptsLeft: 5,
        reason: "boot",
      },
    ]);
    expect(r.events).toEqual([
      {
        type: "display",
        code: "123 456",
        format: "passkey",
        expiresInMs: 120_000,
        expiresAt: 120_000,
        attemptsLeft: 5,
        reason: "boot",
      },
    ]);
  });
});

describe("sim screen", () => {
  it("shows the code while its window is open, then idle", () => {
    const random = seededRandom("screen");
    const acc = new Accessory({
      identity: generateAccessoryIdentity(random),
      profile: { name: "OpenClaw-SCRN", model: "m", firmware: "f" },
      random,
    });
    const o = { name: "OpenClaw-SCRN", now: 0, maxAttempts: 5, lastBonded: undefined };
    expect(screenFor(acc, o)).toEqual({ kind: "idle", name: "OpenClaw-SCRN", bonds: 0, slots: 8 });
    const w = acc.openWindow({}, 0);
    expect(screenFor(acc, o)).toMatchObject({ kind: "pairing", code: w.display, attemptsLeft: 5 });
  });
});
