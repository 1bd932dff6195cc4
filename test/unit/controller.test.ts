import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Accessory } from "../../src/protocol/accessory/accessory.js";
import { generateAccessoryIdentity } from "../../src/protocol/accessory/identity.js";
import { bondRecordFromJson, bondRecordToJson, Controller } from "../../src/protocol/controller/index.js";
import { generateKeyPair } from "../../src/protocol/crypto/noise.js";
import { decodeInfo, decodeMessage } from "../../src/protocol/messages/index.js";
import { seededRandom } from "../../src/protocol/random.js";

function device() {
  const random = seededRandom("controller-test");
  const acc = new Accessory({
    identity: generateAccessoryIdentity(random),
    profile: { name: "OpenClaw-C0DE", model: "Claw 1", firmware: "1.0.0" },
    random,
  });
  return { acc, random };
}

describe("controller", () => {
  it("refuses locally (nothing sent) when the window is closed or locked, or the code is malformed", () => {
    const { acc, random } = device();
    const c = new Controller({ controllerId: random(16), name: "laptop", random });
    expect(() => c.pairSetup(decodeInfo(acc.infoBytes(0)), "123456")).toThrowError(
      expect.objectContaining({ code: "WINDOW_CLOSED" }) as unknown as Error,
    );
    acc.openWindow({}, 0);
    expect(() => c.pairSetup(decodeInfo(acc.infoBytes(0)), "12345")).toThrowError(
      expect.objectContaining({ code: "MALFORMED_CODE" }) as unknown as Error,
    );
    expect(() => new Controller({ controllerId: random(15), name: "x", random })).toThrowError(
      expect.objectContaining({ code: "INVALID_ARGUMENT" }) as unknown as Error,
    );
    expect(() => new Controller({ controllerId: random(16), name: "x".repeat(65), random })).toThrowError(
      expect.objectContaining({ code: "INVALID_ARGUMENT" }) as unknown as Error,
    );
  });

  it("produces a bond record that survives its JSON form, with the static key it was given", () => {
    const { acc, random } = device();
    const w = acc.openWindow({}, 0);
    const c = new Controller({ controllerId: random(16), name: "laptop", random });
    const staticKey = generateKeyPair(seededRandom("my static key"));
    const ps0 = c.pairSetup(decodeInfo(acc.infoBytes(0)), w.code, { staticKey });
    expect(ps0.state).toBe("awaiting-challenge");
    const link = acc.connect();
    const ch = link.handle(ps0.firstMessage, 1).replies[0]!;
    const fin = ps0.handle(ch).replies[0]!;
    const done = link.handle(fin, 2).replies[0]!;
    const step = ps0.handle(done);
    expect(step.outcome?.kind).toBe("ok");
    if (step.outcome?.kind !== "ok") return;
    const bond = step.outcome.value;
    expect(ps0.state).toBe("bonded");
    const json = JSON.parse(JSON.stringify(bondRecordToJson(bond))) as unknown;
    expect(bondRecordFromJson(json)).toEqual(bond);
    expect(() => bondRecordFromJson({ ...(json as object), role: "root" })).toThrowError(
      expect.objectContaining({ code: "PROTOCOL_ERROR" }) as unknown as Error,
    );
    // anything after the end is a protocol error, reported to the device
    const after = ps0.handle(done);
    expect(after.outcome?.kind).toBe("failed");
    expect(decodeMessage(after.replies[0]!)).toMatchObject({ type: "Error", code: "PROTOCOL_ERROR" });
    expect(bond.controllerStaticKey).toEqual(staticKey);
    expect(acc.bonds(3)[0]?.controllerStaticPublicKey).toEqual(staticKey.publicKey);
  });

  it("abort() tells the device and ends the exchange", () => {
    const { acc, random } = device();
    const w = acc.openWindow({}, 0);
    const c = new Controller({ controllerId: random(16), name: "laptop", random });
    const ps = c.pairSetup(decodeInfo(acc.infoBytes(0)), w.code);
    const link = acc.connect();
    link.handle(ps.firstMessage, 1);
    const abort = ps.abort();
    expect(decodeMessage(abort)).toEqual({ type: "PairSetupAbort", reason: "TIMEOUT" });
    expect(ps.state).toBe("awaiting-verdict");
    const out = link.handle(abort, 2);
    expect(decodeMessage(out.replies[0]!)).toMatchObject({
      type: "Error",
      code: "WRONG_CODE",
      attemptsLeft: 4,
    });
    // the verdict is reported, and an Error is never answered with an Error
    const verdict = ps.handle(out.replies[0]!);
    expect(verdict.replies).toEqual([]);
    expect(verdict.outcome?.kind === "failed" && verdict.outcome.error.details).toEqual({ attemptsLeft: 4 });
    expect(ps.handle(out.replies[0]!).replies).toEqual([]);
  });
});

describe("controller under arbitrary input (property)", () => {
  it("handle() never throws and any reply is a valid message", () => {
    const { acc, random } = device();
    const w = acc.openWindow({}, 0);
    const info = decodeInfo(acc.infoBytes(0));
    const c = new Controller({ controllerId: random(16), name: "laptop", random });
    const link = acc.connect();
    const probe = c.pairSetup(info, w.code);
    const challenge = link.handle(probe.firstMessage, 1).replies[0]!;
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        (b, pos, val) => {
          const ps = c.pairSetup(info, w.code);
          for (const r of ps.handle(b).replies) decodeMessage(r);
          const ps2 = c.pairSetup(info, w.code);
          const m = challenge.slice();
          m[pos % m.length] = val;
          const step = ps2.handle(m);
          for (const r of step.replies) decodeMessage(r);
          if (step.outcome) expect(step.outcome.kind).toBe("failed");
        },
      ),
      { numRuns: 200 },
    );
  });
});
