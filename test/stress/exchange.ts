/**
 * A whole exchange between the two pure roles, message by message with no transport: pair-setup with
 * the code on the device, verify, a session command (status). Used to record valid transcripts that the
 * fuzzers mutate, and afterwards to check that the same objects still do a valid exchange (the state
 * was not corrupted by what the fuzzer fed them).
 */
import { ManualClock } from "../../src/clock/index.js";
import {
  Accessory,
  type AccessoryLink,
  generateAccessoryIdentity,
} from "../../src/protocol/accessory/index.js";
import { Controller, type ControllerBond } from "../../src/protocol/controller/index.js";
import { OpenClawError } from "../../src/protocol/errors.js";
import { decodeInfo } from "../../src/protocol/messages/info.js";
import { type RandomBytes, seededRandom } from "../../src/protocol/random.js";
import type { SessionClient } from "../../src/protocol/session/index.js";
import {
  ControllerVerify,
  createSessionFactory,
  openClientSession,
} from "../../src/protocol/verify/index.js";

export type Sender = "controller" | "accessory";
export interface Recorded {
  from: Sender;
  phase: "pair-setup" | "verify" | "session";
  bytes: Uint8Array;
}

export interface Device {
  clock: ManualClock;
  random: RandomBytes;
  accessory: Accessory;
}

/** A device and a laptop from seeds: the same seeds give byte-identical transcripts. */
export function makeDevice(seed: string): Device {
  const random = seededRandom(`fuzz-device:${seed}`);
  const accessory = new Accessory({
    identity: generateAccessoryIdentity(random),
    profile: { name: "OpenClaw-FUZZ", model: "OpenClaw Sim", firmware: "fuzz" },
    random,
    session: createSessionFactory({ random }),
  });
  const clock = new ManualClock(1_000);
  accessory.openWindow({ reason: "boot" }, clock.now());
  return { clock, random, accessory };
}

export function makeLaptop(seed: string): { controller: Controller; random: RandomBytes } {
  const random = seededRandom(`fuzz-laptop:${seed}`);
  return { controller: new Controller({ controllerId: random(16), name: "fuzz laptop", random }), random };
}

function codeOf(d: Device): string {
  const w = d.accessory.window.state;
  if (w.kind === "open") return w.code;
  return d.accessory.openWindow({ reason: "button" }, d.clock.now()).code;
}

/** Pair-setup on `link`; every message is recorded. Throws the typed failure. */
export function pairSetup(
  d: Device,
  link: AccessoryLink,
  laptop: { controller: Controller },
  log: Recorded[] = [],
): ControllerBond {
  const code = codeOf(d); // first: it may open a window, which the info must then show
  const ps = laptop.controller.pairSetup(decodeInfo(d.accessory.infoBytes(d.clock.now())), code);
  const toDevice = [ps.firstMessage];
  for (let hop = 0; hop < 8; hop++) {
    const m = toDevice.shift();
    if (!m) break;
    log.push({ from: "controller", phase: "pair-setup", bytes: m });
    const out = link.handle(m, d.clock.now());
    for (const r of out.replies) {
      log.push({ from: "accessory", phase: "pair-setup", bytes: r });
      const step = ps.handle(r);
      if (step.outcome?.kind === "ok") return step.outcome.value;
      if (step.outcome?.kind === "failed") throw step.outcome.error;
      toDevice.push(...step.replies);
    }
  }
  throw new OpenClawError("TIMEOUT", { what: "pair-setup in memory", afterMs: 0 });
}

/** Verify on `link` and a session on it; device replies are handed to the client as they come. */
export function verify(
  d: Device,
  link: AccessoryLink,
  laptop: { random: RandomBytes },
  bond: ControllerBond,
  log: Recorded[] = [],
): { client: SessionClient; deliver: () => void } {
  const v = new ControllerVerify({
    deviceId: bond.deviceId,
    identity: bond.controllerStaticKey,
    accessoryPublicKey: bond.accessoryStaticPublicKey,
    random: laptop.random,
  });
  const start = v.start();
  log.push({ from: "controller", phase: "verify", bytes: start });
  const answer = link.handle(start, d.clock.now()).replies[0];
  if (!answer) throw new OpenClawError("TIMEOUT", { what: "verify in memory", afterMs: 0 });
  log.push({ from: "accessory", phase: "verify", bytes: answer });
  const outbox: Uint8Array[] = [];
  const { client } = openClientSession(v, answer, {
    clock: d.clock,
    random: laptop.random,
    send: (m) => outbox.push(m),
  });
  const deliver = () => {
    while (outbox.length > 0) {
      const m = outbox.shift()!;
      log.push({ from: "controller", phase: "session", bytes: m });
      for (const r of link.handle(m, d.clock.now()).replies) {
        log.push({ from: "accessory", phase: "session", bytes: r });
        client.receive(r);
      }
    }
  };
  return { client, deliver };
}

/** One status call over a verified session; resolves with the device's bond count. */
export async function status(s: { client: SessionClient; deliver: () => void }): Promise<number> {
  const p = s.client.status();
  s.deliver();
  return (await p).bondSlots.used;
}

/** The whole journey; resolves with the transcript. */
export async function fullExchange(
  d: Device,
  laptop: ReturnType<typeof makeLaptop>,
  link?: AccessoryLink,
): Promise<Recorded[]> {
  const log: Recorded[] = [];
  const l = link ?? d.accessory.connect();
  const bond = pairSetup(d, l, laptop, log);
  const s = verify(d, l, laptop, bond, log);
  await status(s);
  return log;
}
