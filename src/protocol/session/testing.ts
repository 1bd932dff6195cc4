/**
 * An in-memory accessory for tests, benches and examples: a bond list, a shared-window slot and a
 * factory-reset counter behind the SessionHost and verify plug points. Not the device's bond table
 * (that is src/protocol/accessory/bonds.ts); just enough state to run both roles against each other.
 */
import type { Clock } from "../../clock/clock.js";
import { ManualClock } from "../../clock/manual.js";
import { generateKeyPair, type KeyPair } from "../crypto/noise.js";
import { isOpenClawError, OpenClawError } from "../errors.js";
import { encodeMessage } from "../messages/codec.js";
import { CONTROLLER_ID_LEN, DEVICE_ID_LEN } from "../messages/constants.js";
import { errorToMessage } from "../messages/errors.js";
import { type RandomBytes, seededRandom } from "../random.js";
import {
  type AccessoryVerifyBonds,
  type AccessoryVerifyEvent,
  acceptVerify,
  openAccessorySession,
  type VerifyCandidate,
  type VerifyMatch,
} from "../verify/accessory.js";
import { ControllerVerify, openClientSession } from "../verify/controller.js";
import type {
  AccessorySession,
  AccessorySessionEvent,
  AppHandler,
  SessionBondView,
  SessionHost,
  SharedWindowRequest,
} from "./accessory.js";
import type { SessionClient } from "./client.js";
import type { Role } from "./commands.js";
import type { RekeyPolicy } from "./limits.js";

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

export class MemorySessionHost implements SessionHost, AccessoryVerifyBonds {
  readonly slots: number;
  readonly #clock: Pick<Clock, "now">;
  entries: VerifyCandidate[] = [];
  shared: (SharedWindowRequest & { openedAt: number }) | undefined;
  resets = 0;
  app?: AppHandler;
  readonly #onReset: (() => void) | undefined;

  constructor(o: {
    clock: Pick<Clock, "now">;
    slots?: number;
    app?: AppHandler;
    onFactoryReset?: () => void;
  }) {
    this.#clock = o.clock;
    this.slots = o.slots ?? 8;
    this.app = o.app;
    this.#onReset = o.onFactoryReset;
  }

  add(b: VerifyCandidate): void {
    if (this.entries.length >= this.slots) throw new OpenClawError("BOND_TABLE_FULL", { slots: this.slots });
    this.entries.push({ ...b });
  }

  find(controllerId: Uint8Array): VerifyCandidate | undefined {
    return this.entries.find((e) => same(e.controllerId, controllerId));
  }

  candidates(): readonly VerifyCandidate[] {
    return this.entries;
  }

  confirm(controllerId: Uint8Array): void {
    const b = this.find(controllerId);
    if (b) b.state = "permanent";
  }

  bonds(): readonly SessionBondView[] {
    return this.entries.map(({ controllerId, name, role, state }) => ({ controllerId, name, role, state }));
  }

  bondSlots(): { used: number; total: number } {
    return { used: this.entries.length, total: this.slots };
  }

  window(): { state: "closed" } | { state: "open"; timeLeftMs: number } {
    const w = this.shared;
    if (!w) return { state: "closed" };
    const left = w.openedAt + w.ttlMs - this.#clock.now();
    return left > 0 ? { state: "open", timeLeftMs: left } : { state: "closed" };
  }

  removeBond(controllerId: Uint8Array): boolean {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => !same(e.controllerId, controllerId));
    return this.entries.length < before;
  }

  openSharedWindow(request: SharedWindowRequest): { timeLeftMs: number } {
    this.shared = { ...request, openedAt: this.#clock.now() };
    return { timeLeftMs: request.ttlMs };
  }

  replaceControllerKey(controllerId: Uint8Array, publicKey: Uint8Array): void {
    if (
      this.entries.some(
        (e) => !same(e.controllerId, controllerId) && same(e.controllerStaticPublicKey, publicKey),
      )
    ) {
      throw new OpenClawError("INVALID_ARGUMENT", { detail: "that key belongs to another pairing" });
    }
    const b = this.find(controllerId);
    if (b) b.controllerStaticPublicKey = publicKey.slice();
  }

  factoryReset(): void {
    this.entries = [];
    this.shared = undefined;
    this.resets += 1;
    this.#onReset?.();
  }
}

// ---- both roles wired back to back, in memory ----

export interface TestDevice {
  clock: ManualClock;
  random: RandomBytes;
  deviceId: Uint8Array;
  /** Replaced by a factory reset. */
  identity: KeyPair;
  host: MemorySessionHost;
}

export function testDevice(seed: string, o: { slots?: number; app?: AppHandler } = {}): TestDevice {
  const random = seededRandom(`device:${seed}`);
  const clock = new ManualClock(1_000);
  const d: TestDevice = {
    clock,
    random,
    deviceId: random(DEVICE_ID_LEN),
    identity: generateKeyPair(random),
    host: new MemorySessionHost({
      clock,
      ...o,
      onFactoryReset: () => (d.identity = generateKeyPair(random)),
    }),
  };
  return d;
}

export interface TestController {
  clock: ManualClock;
  random: RandomBytes;
  controllerId: Uint8Array;
  keys: KeyPair;
  name: string;
}

export function testController(seed: string): TestController {
  const random = seededRandom(`controller:${seed}`);
  return {
    clock: new ManualClock(50_000),
    random,
    controllerId: random(CONTROLLER_ID_LEN),
    keys: generateKeyPair(random),
    name: seed,
  };
}

export function addBond(
  d: TestDevice,
  c: TestController,
  role: Role,
  state: VerifyCandidate["state"] = "permanent",
): void {
  d.host.add({
    controllerId: c.controllerId,
    controllerStaticPublicKey: c.keys.publicKey,
    name: c.name,
    role,
    state,
  });
}

/** The controller's half of verify: `c` calling `d`, holding `d`'s current key. */
export function controllerVerify(d: TestDevice, c: TestController): ControllerVerify {
  return new ControllerVerify({
    deviceId: d.deviceId,
    identity: c.keys,
    accessoryPublicKey: d.identity.publicKey,
    random: c.random,
  });
}

/** The device's half of verify for one VerifyStart, against its bonds (no session is opened). */
export function deviceAccept(d: TestDevice, start: Uint8Array): VerifyMatch {
  return acceptVerify(start, {
    deviceId: d.deviceId,
    identity: d.identity,
    candidates: d.host.entries,
    random: d.random,
  });
}

export interface TestLink {
  client: SessionClient;
  session: AccessorySession;
  role: Role;
  verifyEvents: AccessoryVerifyEvent[];
  /** Session events of the accessory, accumulated. */
  events: AccessorySessionEvent[];
  /** Messages the controller sent that are not delivered yet (manual mode). */
  queue: Uint8Array[];
  /** Delivers one message to the accessory and its replies (or the Error it causes) to the controller. */
  deliver(message: Uint8Array): void;
  /** Delivers everything queued, in order. */
  flush(): void;
}

/** Verifies `c` with `d` and wires the session. Throws what verify throws (e.g. UNKNOWN_PEER). */
export function connect(
  d: TestDevice,
  c: TestController,
  o: { manual?: boolean; rekey?: RekeyPolicy; deviceRekey?: RekeyPolicy } = {},
): TestLink {
  const verify = controllerVerify(d, c);
  const start = verify.start();
  let opened: ReturnType<typeof openAccessorySession>;
  try {
    opened = openAccessorySession(start, {
      deviceId: d.deviceId,
      identity: d.identity,
      bonds: d.host,
      host: d.host,
      clock: d.clock,
      random: d.random,
      rekey: o.deviceRekey ?? o.rekey,
    });
  } catch (err) {
    // What the accessory sends back: a cleartext Error, which the controller turns into the error.
    if (isOpenClawError(err)) verify.finish(encodeMessage(errorToMessage(err)), { clock: c.clock });
    throw err;
  }
  const queue: Uint8Array[] = [];
  const events: AccessorySessionEvent[] = [];
  let client: SessionClient | undefined;
  const deliver = (m: Uint8Array) => {
    let replies: Uint8Array[];
    try {
      const r = opened.session.handle(m);
      events.push(...r.events);
      replies = r.replies;
    } catch (err) {
      if (!isOpenClawError(err)) throw err;
      replies = [encodeMessage(errorToMessage(err))];
    }
    for (const r of replies) {
      try {
        client?.receive(r);
      } catch {
        // The client has already failed its pending calls with this error.
      }
    }
  };
  const link: TestLink = {
    client: undefined as unknown as SessionClient,
    session: opened.session,
    role: "user",
    verifyEvents: opened.events,
    events,
    queue,
    deliver,
    flush: () => {
      for (const m of queue.splice(0, queue.length)) deliver(m);
    },
  };
  const r = openClientSession(verify, opened.reply, {
    clock: c.clock,
    random: c.random,
    rekey: o.rekey,
    send: (m) => (o.manual ? queue.push(m) : deliver(m)),
  });
  client = r.client;
  link.client = r.client;
  link.role = r.role;
  return link;
}
