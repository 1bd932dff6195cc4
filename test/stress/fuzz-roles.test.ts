/**
 * The state machines under hostile input: a valid transcript (pair-setup, verify, session) is replayed up
 * to a point, then one message is replaced by a mutated or random one, fed to the real role objects:
 * the accessory (Accessory + the sim's session factory: pair-setup, verify and session accessory), the
 * controller's pair-setup, its verify and its session client. Nothing but an OpenClawError may escape,
 * and the same objects then still do a whole valid exchange (their state was not corrupted) without
 * losing a bond they held.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isOpenClawError, OpenClawError } from "../../src/protocol/errors.js";
import { decodeInfo } from "../../src/protocol/messages/info.js";
import { ControllerVerify, openClientSession } from "../../src/protocol/verify/index.js";
import { fcParams, limitMs } from "./cases.js";
import {
  fullExchange,
  makeDevice,
  makeLaptop,
  pairSetup,
  type Recorded,
  status,
  verify,
} from "./exchange.js";
import { mutated, typedOnly } from "./mutate.js";

const SEED = "transcript";
const transcript: Recorded[] = await fullExchange(makeDevice(SEED), makeLaptop(SEED));
const fromController = transcript.filter((m) => m.from === "controller");
const fromAccessory = transcript.filter((m) => m.from === "accessory");
const all = transcript.map((m) => m.bytes);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("fuzzing the roles with mutated transcripts", () => {
  it("has a transcript of every phase to mutate", () => {
    expect(new Set(transcript.map((m) => `${m.from}:${m.phase}`)).size).toBe(6);
  });

  it(
    "accessory: pair-setup, verify and session messages; no untyped throw, device still pairs, no bond lost",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc
            .nat({ max: fromController.length - 1 })
            .chain((i) => fc.tuple(fc.constant(i), mutated(fromController[i]!.bytes, all))),
          async ([i, bad]) => {
            const d = makeDevice(SEED);
            const link = d.accessory.connect();
            for (const m of fromController.slice(0, i)) link.handle(m.bytes, d.clock.now());
            const held = d.accessory.bonds(d.clock.now()).map((b) => hex(b.controllerId));
            // handle() answers hostile bytes with Error replies; it must never throw at all.
            const out = link.handle(bad, d.clock.now());
            expect(Array.isArray(out.replies)).toBe(true);
            link.close(d.clock.now());
            const after = d.accessory.bonds(d.clock.now()).map((b) => hex(b.controllerId));
            for (const id of held) expect(after).toContain(id);
            // Not corrupted: another laptop pairs, verifies and runs a command on a new link.
            d.clock.advance(1);
            await fullExchange(d, makeLaptop(`other-${i}`));
          },
        ),
        fcParams(20, 1000),
      );
    },
    limitMs(15_000),
  );

  it(
    "controller pair-setup: mutated device answers end in a typed failure; the laptop pairs afterwards",
    async () => {
      const answers = transcript.filter((m) => m.from === "accessory" && m.phase === "pair-setup");
      await fc.assert(
        fc.asyncProperty(
          fc
            .nat({ max: answers.length - 1 })
            .chain((j) => fc.tuple(fc.constant(j), mutated(answers[j]!.bytes, all))),
          async ([j, bad]) => {
            const d = makeDevice(SEED);
            const laptop = makeLaptop(SEED);
            const w = d.accessory.window.state;
            if (w.kind !== "open") throw new Error("no window");
            const ps = laptop.controller.pairSetup(decodeInfo(d.accessory.infoBytes(d.clock.now())), w.code);
            for (const m of answers.slice(0, j)) ps.handle(m.bytes);
            const step = typedOnly(() => ps.handle(bad), isOpenClawError);
            if (step?.outcome?.kind === "failed") expect(isOpenClawError(step.outcome.error)).toBe(true);
            // The same Controller pairs with a fresh device (and its mutated exchange is over for good).
            const fresh = makeDevice(`fresh-${j}`);
            expect(pairSetup(fresh, fresh.accessory.connect(), laptop).role).toBe("admin");
          },
        ),
        fcParams(20, 1000),
      );
    },
    limitMs(15_000),
  );

  it(
    "controller verify and session client: mutated answers are typed errors; verify works afterwards",
    async () => {
      const verifyAnswer = fromAccessory.find((m) => m.phase === "verify")!.bytes;
      const sessionAnswer = fromAccessory.find((m) => m.phase === "session")!.bytes;
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            mutated(verifyAnswer, all).map((b) => ({ at: "verify" as const, b })),
            mutated(sessionAnswer, all).map((b) => ({ at: "session" as const, b })),
          ),
          async ({ at, b }) => {
            const d = makeDevice(SEED);
            const laptop = makeLaptop(SEED);
            const link = d.accessory.connect();
            const bond = pairSetup(d, link, laptop);
            if (at === "verify") {
              const v = new ControllerVerify({
                deviceId: bond.deviceId,
                identity: bond.controllerStaticKey,
                accessoryPublicKey: bond.accessoryStaticPublicKey,
                random: laptop.random,
              });
              link.handle(v.start(), d.clock.now());
              typedOnly(
                () => openClientSession(v, b, { clock: d.clock, random: laptop.random, send: () => {} }),
                isOpenClawError,
              );
            } else {
              const s = verify(d, link, laptop, bond);
              const pending = s.client.status();
              pending.catch(() => {});
              typedOnly(() => s.client.receive(b), isOpenClawError);
              // Either the mutated answer was refused (the call fails typed) or it is still pending.
              const settled = await Promise.race([
                pending.then(
                  () => "ok",
                  (e: unknown) => (isOpenClawError(e) ? "typed" : "untyped"),
                ),
                new Promise<string>((r) => setImmediate(() => r("pending"))),
              ]);
              expect(settled).not.toBe("untyped");
              s.client.close(new OpenClawError("OUT_OF_RANGE", {}));
            }
            link.close(d.clock.now());
            // Not corrupted: the bond still verifies on a new link and a command goes through.
            expect(await status(verify(d, d.accessory.connect(), laptop, bond))).toBeGreaterThanOrEqual(1);
          },
        ),
        fcParams(20, 1000),
      );
    },
    limitMs(15_000),
  );
});
