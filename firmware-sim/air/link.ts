import type { Clock, TimerHandle } from "../../src/clock/clock.js";
import type { Controller } from "./controller.js";
import type { ConnParams } from "./hci.js";
import { aclPacket, PB } from "./hci.js";

/** One LL data PDU waiting for a connection event. */
export interface AirPdu {
  payload: Buffer;
  /** LLID "start of an L2CAP message" (delivered to the receiving host with boundary flag 0b10). */
  start: boolean;
  /** The last PDU cut from one host ACL packet: sending it completes that packet (Number Of Completed Packets). */
  completesHostPacket: boolean;
}

export type Side = "central" | "peripheral";

export type LinkState = { kind: "up" } | { kind: "terminating"; by: Side; reason: number } | { kind: "down" };

/** Watches one direction's L2CAP stream to find whole ATT PDUs (for strict ATT MTU checks). */
export class L2capReassembler {
  private buf: Buffer | undefined;

  /** Feeds one host ACL fragment; returns each complete L2CAP PDU as {cid, payload}. */
  push(start: boolean, fragment: Buffer): Array<{ cid: number; payload: Buffer }> {
    if (start) this.buf = fragment;
    else if (this.buf) this.buf = Buffer.concat([this.buf, fragment]);
    else return [];
    const out: Array<{ cid: number; payload: Buffer }> = [];
    while (this.buf && this.buf.length >= 4) {
      const len = this.buf.readUInt16LE(0);
      if (this.buf.length < 4 + len) break;
      out.push({ cid: this.buf.readUInt16LE(2), payload: this.buf.subarray(4, 4 + len) });
      const rest = this.buf.subarray(4 + len);
      this.buf = rest.length > 0 ? rest : undefined;
    }
    return out;
  }
}

/** A queue that hands packets on after a delay while keeping their order. */
export class DelayLine {
  private readonly items: Array<{ at: number; deliver: () => void }> = [];
  private timer: TimerHandle | undefined;

  constructor(private readonly clock: Clock) {}

  push(delayMs: number, deliver: () => void): void {
    const now = this.clock.now();
    if (delayMs <= 0 && this.items.length === 0) {
      deliver();
      return;
    }
    const last = this.items[this.items.length - 1];
    this.items.push({ at: Math.max(now + delayMs, last ? last.at : 0), deliver });
    this.arm();
  }

  private arm(): void {
    if (this.timer || this.items.length === 0) return;
    const head = this.items[0]!;
    this.timer = this.clock.setTimeout("air.delay-line", head.at - this.clock.now(), () => {
      this.timer = undefined;
      const now = this.clock.now();
      while (this.items.length > 0 && this.items[0]!.at <= now) this.items.shift()!.deliver();
      this.arm();
    });
  }

  clear(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.items.length = 0;
  }
}

export interface Direction {
  from: Controller;
  to: Controller;
  toHandle: number;
  queue: AirPdu[];
  reasm: L2capReassembler;
  delay: DelayLine;
}

/** A connection between a central and a peripheral controller. Scheduling lives in the Air. */
export class Link {
  state: LinkState = { kind: "up" };
  eventCount = 0;
  lastHeardAt: number;
  timer: TimerHandle | undefined;
  nextEventAt: number;
  pendingUpdate: { params: ConnParams; instant: number } | undefined;
  /** Effective ATT MTU (min of the two sides' Exchange MTU values; 23 until exchanged). */
  attMtu = 23;
  attClientMtu: number | undefined;
  /** A fault silenced the link: nothing gets through until the supervision timeout drops it. */
  silenced = false;
  readonly toPeripheral: Direction;
  readonly toCentral: Direction;

  constructor(
    readonly id: number,
    readonly central: Controller,
    readonly peripheral: Controller,
    readonly centralHandle: number,
    readonly peripheralHandle: number,
    public params: ConnParams,
    clock: Clock,
  ) {
    this.lastHeardAt = clock.now();
    this.nextEventAt = clock.now();
    this.toPeripheral = {
      from: central,
      to: peripheral,
      toHandle: peripheralHandle,
      queue: [],
      reasm: new L2capReassembler(),
      delay: new DelayLine(clock),
    };
    this.toCentral = {
      from: peripheral,
      to: central,
      toHandle: centralHandle,
      queue: [],
      reasm: new L2capReassembler(),
      delay: new DelayLine(clock),
    };
  }

  get intervalMs(): number {
    return this.params.interval * 1.25;
  }

  get supervisionMs(): number {
    return this.params.timeout * 10;
  }

  side(c: Controller): Side {
    return c === this.central ? "central" : "peripheral";
  }

  handleOf(c: Controller): number {
    return c === this.central ? this.centralHandle : this.peripheralHandle;
  }

  peerOf(c: Controller): Controller {
    return c === this.central ? this.peripheral : this.central;
  }

  outbound(c: Controller): Direction {
    return c === this.central ? this.toPeripheral : this.toCentral;
  }

  /** The H4 packet the receiving host gets for one PDU: starts carry 0b10, whatever the sender used. */
  static toHost(d: Direction, pdu: AirPdu): Buffer {
    return aclPacket(d.toHandle, pdu.start ? PB.start : PB.continuation, pdu.payload);
  }
}
