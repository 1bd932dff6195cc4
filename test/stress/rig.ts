/**
 * Both roles in one process over src/transport/memory-link.ts, with the real framing (MessageChannel)
 * on each end: the accessory as the sim composes it (Accessory + createSessionFactory) and the
 * controller as the test driver composes it (Controller pair-setup, ControllerVerify, SessionClient),
 * on one ManualClock. A fault hook drops the link at a chosen message boundary.
 *
 * The laptop's bond table is a Map here: this rig tests the two protocol roles. The same matrix against
 * the daemon's core and its on-disk bond store is daemon-fault-matrix.test.ts.
 */

import type { TimerHandle as ClockTimer, ManualClock } from "../../src/clock/index.js";
import type { Accessory, AccessoryLink } from "../../src/protocol/accessory/index.js";
import type { Controller, ControllerBond } from "../../src/protocol/controller/index.js";
import type { KeyPair } from "../../src/protocol/crypto/noise.js";
import { isOpenClawError, OpenClawError } from "../../src/protocol/errors.js";
import { decodeInfo } from "../../src/protocol/messages/info.js";
import type { RandomBytes } from "../../src/protocol/random.js";
import type { SessionClient } from "../../src/protocol/session/index.js";
import { ControllerVerify, openClientSession } from "../../src/protocol/verify/index.js";
import { MessageChannel } from "../../src/transport/channel.js";
import { decodeFrame, MAX_FRAME, maxFrameForMtu } from "../../src/transport/frame.js";
import { createMemoryLinkPair, type MemoryLinkPair } from "../../src/transport/memory-link.js";
import { makeDevice, makeLaptop } from "./exchange.js";

export const STEP_MS = 10_000;

/** Where to cut the link: before the n-th message (1-based) from `from` reaches its peer, or just after. */
export interface Cut {
  from: "controller" | "accessory";
  n: number;
  when: "before" | "after";
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const settle = () => new Promise<void>((r) => setImmediate(r));

/** Anything thrown that is not an OpenClawError: the suite's definition of a crash. */
export class Crashes {
  readonly list: unknown[] = [];
  guard<T>(fn: () => T, fallback: T): T {
    try {
      return fn();
    } catch (err) {
      if (!isOpenClawError(err)) this.list.push(err);
      return fallback;
    }
  }
}

export class Connection {
  readonly pair: MemoryLinkPair;
  readonly laptop: MessageChannel;
  readonly device: MessageChannel;
  readonly link: AccessoryLink;
  session: SessionClient | null = null;
  /** Messages that started through the link, per sender. */
  readonly seen = { controller: 0, accessory: 0 };
  private dropped = false;

  constructor(
    private readonly rig: Rig,
    mtu: number,
    cut?: Cut,
  ) {
    this.pair = createMemoryLinkPair(maxFrameForMtu(mtu));
    this.laptop = new MessageChannel(this.pair.a, { clock: rig.clock });
    this.device = new MessageChannel(this.pair.b, { clock: rig.clock });
    this.link = rig.accessory.connect();
    const link = this.link;
    this.device.onMessage((m) => {
      const out = rig.crashes.guard(() => link.handle(m, rig.clock.now()), { replies: [], events: [] });
      const sent = out.replies.map((r) => this.device.send(r));
      // As the sim does: the replies go out (acknowledged), then the device drops the link.
      Promise.allSettled(sent).then(() => {
        if (out.disconnect) this.drop();
      });
    });
    this.pair.b.onClose(() => rig.crashes.guard(() => link.close(rig.clock.now()), undefined));
    this.laptop.onError((err) => this.session?.close(err));
    this.pair.a.onClose(() => this.session?.close(new OpenClawError("OUT_OF_RANGE", {})));
    this.pair.intercept((side, frame) => {
      if (this.dropped) return null;
      const from = side === "a" ? "controller" : "accessory";
      let f: ReturnType<typeof decodeFrame> | undefined;
      try {
        f = decodeFrame(frame, MAX_FRAME);
      } catch {
        return frame;
      }
      if (f.kind !== "data") return frame;
      if (f.start) this.seen[from]++;
      if (!cut || from !== cut.from || this.seen[from] !== cut.n) return frame;
      if (cut.when === "before") {
        this.drop();
        return null;
      }
      if (f.end) queueMicrotask(() => this.drop());
      return frame;
    });
  }

  drop(): void {
    if (this.dropped) return;
    this.dropped = true;
    this.pair.drop("cut");
  }

  /** Delivers frames and lets promise continuations run until `p` settles (time moves only if idle). */
  async drive<T>(p: Promise<T>): Promise<T> {
    let done = false;
    const watched = p.finally(() => {
      done = true;
    });
    watched.catch(() => {});
    for (let idle = 0; !done; ) {
      await settle();
      const moved = this.pair.flush();
      if (moved > 0 || done) {
        idle = 0;
        continue;
      }
      // Nothing in flight and nothing settled: let the step timeouts fire (a lost message).
      if (++idle > 3) {
        this.rig.advance(STEP_MS + 1);
        idle = 0;
      }
    }
    return watched;
  }

  private receive(what: string): Promise<Uint8Array> {
    return this.laptop.receive(STEP_MS, what);
  }

  /**
   * Pair-setup with a typed code, as the test driver runs it. The bond is kept as the laptop's pending
   * one: a laptop commits a bond only once a verify with it succeeded (see Rig.pending).
   */
  pairSetup(code: string): Promise<ControllerBond> {
    return this.drive(
      (async () => {
        const info = decodeInfo(this.rig.accessory.infoBytes(this.rig.clock.now()));
        const ps = this.rig.controller.pairSetup(info, code);
        await this.laptop.send(ps.firstMessage);
        for (;;) {
          const step = ps.handle(await this.receive("the device's pair-setup answer"));
          for (const r of step.replies) {
            if (step.outcome?.kind === "failed") await this.laptop.send(r).catch(() => {});
            else await this.laptop.send(r);
          }
          if (step.outcome?.kind === "ok") {
            this.rig.pending = step.outcome.value;
            return step.outcome.value;
          }
          if (step.outcome?.kind === "failed") throw step.outcome.error;
        }
      })(),
    );
  }

  /** A verify with one of the bond's keys (its current one unless told: a rotation offers two). */
  verify(bond: ControllerBond, key: KeyPair = bond.controllerStaticKey): Promise<void> {
    return this.drive(
      (async () => {
        const v = new ControllerVerify({
          deviceId: bond.deviceId,
          identity: key,
          accessoryPublicKey: bond.accessoryStaticPublicKey,
          random: this.rig.random,
        });
        await this.laptop.send(v.start());
        const answer = await this.receive("the device's verify answer");
        const { client } = openClientSession(v, answer, {
          clock: this.rig.clock,
          random: this.rig.random,
          send: (m) => {
            this.laptop.send(m).catch((err: unknown) => {
              client.close(isOpenClawError(err) ? err : new OpenClawError("OUT_OF_RANGE", {}));
            });
          },
        });
        this.session = client;
        this.laptop.onMessage((m) => {
          if (client.state.kind === "open") this.rig.crashes.guard(() => client.receive(m), undefined);
        });
      })(),
    );
  }

  /** A session call, bounded like the driver's: TIMEOUT after the step time. */
  call<T>(what: string, fn: (s: SessionClient) => Promise<T>): Promise<T> {
    const s = this.session;
    if (!s) return Promise.reject(new OpenClawError("INVALID_ARGUMENT", { detail: "no session" }));
    let timer: ClockTimer | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.rig.clock.setTimeout("session call", STEP_MS, () =>
        reject(new OpenClawError("TIMEOUT", { what, afterMs: STEP_MS })),
      );
    });
    timeout.catch(() => {});
    return this.drive(Promise.race([fn(s), timeout]).finally(() => this.rig.clock.clearTimeout(timer)));
  }

  close(): void {
    this.laptop.close();
    this.device.close();
    this.drop();
  }
}

export class Rig {
  readonly clock: ManualClock;
  /** The laptop's randomness. */
  readonly random: RandomBytes;
  readonly accessory: Accessory;
  readonly controller: Controller;
  /** The laptop's bond table (device id hex → bond): committed bonds only. */
  readonly bonds = new Map<string, ControllerBond>();
  /** A bond from pair-setup whose first verify has not succeeded yet (the laptop retries verify with it). */
  pending: ControllerBond | undefined;
  readonly crashes = new Crashes();
  code: string;

  constructor(seed: string) {
    const device = makeDevice(`stress:${seed}`);
    const laptop = makeLaptop(`stress:${seed}`);
    this.clock = device.clock;
    this.accessory = device.accessory;
    this.controller = laptop.controller;
    this.random = laptop.random;
    const w = this.accessory.window.state;
    if (w.kind !== "open") throw new Error("the device opens its first-boot window");
    this.code = w.code;
  }

  connect(mtu = 23, cut?: Cut): Connection {
    return new Connection(this, mtu, cut);
  }

  /** The button: a fresh window and code (after any lockout has run out). */
  press(): string {
    const w = this.accessory.window.state;
    if (w.kind === "locked-out") this.advance(w.until - this.clock.now() + 1);
    this.code = this.accessory.openWindow({ reason: "button" }, this.clock.now()).code;
    return this.code;
  }

  advance(ms: number): void {
    this.clock.advance(ms);
    this.accessory.tick(this.clock.now());
  }

  /** The device's bond for our controller: absent, provisional or permanent. */
  deviceBond(): "absent" | "provisional" | "permanent" {
    const id = hex(this.controller.controllerId);
    const b = this.accessory.bonds(this.clock.now()).find((v) => hex(v.controllerId) === id);
    return b === undefined ? "absent" : b.provisional ? "provisional" : "permanent";
  }

  /** The controller key (hex) the device's bond for us holds; undefined when it holds none. */
  deviceKey(): string | undefined {
    const id = hex(this.controller.controllerId);
    const b = this.accessory.bonds(this.clock.now()).find((v) => hex(v.controllerId) === id);
    return b && hex(b.controllerStaticPublicKey);
  }

  laptopBond(): ControllerBond | undefined {
    return this.bonds.get(hex(this.accessory.identity.deviceId));
  }

  /** The first verify with the pending bond succeeded: it becomes the laptop's bond. */
  commit(): void {
    if (!this.pending) return;
    this.bonds.set(hex(this.pending.deviceId), this.pending);
    this.pending = undefined;
  }

  /** The laptop's bond saved with a new record (a rotation begun or settled). */
  save(bond: ControllerBond): void {
    this.bonds.set(hex(bond.deviceId), bond);
  }

  forgetLocally(): void {
    this.bonds.delete(hex(this.accessory.identity.deviceId));
  }
}
