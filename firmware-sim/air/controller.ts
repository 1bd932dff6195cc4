import type { Socket } from "node:net";
import type { TimerHandle } from "../../src/clock/clock.js";
import { runCommand } from "./commands.js";
import { addressToString, commandComplete, commandStatus, EVT, H4, H4Parser } from "./hci.js";
import type { Link } from "./link.js";
import { addressFromCounter, type Position } from "./radio.js";
import type { ControllerConfig, Fault, ViolationKind } from "./types.js";

/** What a controller needs from the air around it. */
export interface ControllerHost {
  advertisingChanged(c: Controller): void;
  scanningChanged(c: Controller): void;
  initiatingChanged(c: Controller): void;
  aclFromHost(c: Controller, packet: Buffer): void;
  disconnect(c: Controller, handle: number, reason: number): boolean;
  connectionUpdate(
    c: Controller,
    handle: number,
    min: number,
    max: number,
    latency: number,
    timeout: number,
  ): boolean;
  rssiOf(c: Controller, handle: number): number | undefined;
  /** Whether another live controller already carries this label. */
  labelTaken(c: Controller, label: string): boolean;
  labelled(c: Controller): void;
  /** The host has left more than the backlog cap unread: drop it. */
  overflowed(c: Controller, bytes: number): void;
  resetLinks(c: Controller): void;
  violation(c: Controller, kind: ViolationKind, detail: string): void;
  random(): number;
}

export type AdvState = { kind: "off" } | { kind: "on"; timer?: TimerHandle; nextAt: number };

export type ScanState = { kind: "off" } | { kind: "on"; filterDuplicates: boolean; seen: Set<string> };

export type InitState =
  | { kind: "idle" }
  | {
      kind: "initiating";
      ownAddressType: number;
      peerAddressType: number;
      peerAddress: Buffer;
      minInterval: number;
      maxInterval: number;
      latency: number;
      timeout: number;
    };

export type PowerState = { kind: "on" } | { kind: "off"; held: Buffer[]; timer?: TimerHandle };

const DEFAULT_EVENT_MASK = 0x00001fffffffffffn;
const DEFAULT_LE_EVENT_MASK = 0x1fn;

/** Vendor event sub-code announcing the controller's power state (params: [0x01, 0 off | 1 on]). */
export const VENDOR_POWER_EVENT = 0x01;

/**
 * One virtual controller: the H4 stream of one host, its command handling and its radio state.
 * Everything that involves another controller (reports, links) goes through the ControllerHost.
 */
export class Controller {
  label: string | undefined;
  address: Buffer;
  randomAddress: Buffer | undefined;
  position: Position;
  config: ControllerConfig;
  fault: Fault & { packetsSeen: number } = { packetsSeen: 0 };
  power: PowerState = { kind: "on" };
  present = true;

  eventMask = DEFAULT_EVENT_MASK;
  leEventMask = DEFAULT_LE_EVENT_MASK;
  advParams = { intervalUnits: 0x0800, type: 0x00, ownAddressType: 0x00 };
  advData: Buffer = Buffer.alloc(0);
  scanRspData: Buffer = Buffer.alloc(0);
  adv: AdvState = { kind: "off" };
  scanParams = { active: false, ownAddressType: 0x00 };
  scan: ScanState = { kind: "off" };
  init: InitState = { kind: "idle" };
  /** Links by this controller's handle. */
  readonly links = new Map<number, Link>();
  /** Handles of links that ended: late ACL data for them is discarded quietly (the host had it in flight). */
  readonly closedHandles = new Set<number>();
  /** ACL packets the host has handed us that are not yet reported complete. */
  outstanding = 0;
  private nextHandle = 0x0040;

  private readonly parser = new H4Parser();
  private readonly out: Buffer[] = [];
  /** Bytes in `out` (queued here) — with the socket's own buffer, what the host has not read yet. */
  private outBytes = 0;
  /** The most the host ever left unread (the air's own measure of a client that does not read). */
  peakBacklogBytes = 0;
  private pump: NodeJS.Immediate | undefined;
  /** Most unread bytes a host may leave before it is dropped. */
  maxBacklogBytes = Number.POSITIVE_INFINITY;
  /** Why the air dropped this host, if it did. */
  droppedFor: string | undefined;

  constructor(
    readonly id: string,
    readonly index: number,
    private readonly socket: Socket,
    readonly host: ControllerHost,
    config: ControllerConfig,
    position: Position,
  ) {
    this.address = addressFromCounter(index);
    this.config = config;
    this.position = position;
  }

  get name(): string {
    return this.label ?? addressToString(this.address);
  }

  get powered(): boolean {
    return this.power.kind === "on";
  }

  /** The address the controller advertises and initiates with. */
  ownAddress(type: number): { type: number; address: Buffer } {
    if (type === 0x01 && this.randomAddress) return { type: 0x01, address: this.randomAddress };
    return { type: 0x00, address: this.address };
  }

  allocateHandle(): number {
    for (;;) {
      const h = this.nextHandle;
      this.nextHandle = this.nextHandle >= 0x0eff ? 0x0040 : this.nextHandle + 1;
      if (!this.links.has(h)) {
        this.closedHandles.delete(h);
        return h;
      }
    }
  }

  /** Bytes from the host's stream. Returns false when the stream must be closed (bad framing). */
  receive(chunk: Buffer): boolean {
    const { packets, error } = this.parser.feed(chunk);
    for (const p of packets) this.handlePacket(p);
    if (error) {
      this.host.violation(this, "h4-framing", error);
      return false;
    }
    return true;
  }

  handlePacket(p: Buffer): void {
    if (this.power.kind === "off") {
      // A rebooting controller's host interface stalls; what arrives meanwhile is answered after power-on.
      this.power.held.push(p);
      return;
    }
    const type = p[0];
    if (type === H4.command) this.handleCommand(p);
    else if (type === H4.acl) this.host.aclFromHost(this, p);
    else this.host.violation(this, "h4-framing", `unexpected H4 packet type ${type} from host`);
  }

  /** Bytes the host has not read: queued here plus in the socket's buffer (past the kernel's). */
  get backlogBytes(): number {
    return this.outBytes + (this.socket.destroyed ? 0 : this.socket.writableLength);
  }

  /**
   * Queues one H4 packet for the host; packets leave one per event-loop turn (see issue 3). A host that
   * leaves more than maxBacklogBytes unread (it floods commands, or scans, and never reads) is dropped:
   * the air's memory per client is bounded.
   */
  send(packet: Buffer): void {
    if (!this.present) return;
    this.out.push(packet);
    this.outBytes += packet.length;
    const backlog = this.backlogBytes;
    if (backlog > this.peakBacklogBytes) this.peakBacklogBytes = backlog;
    if (backlog > this.maxBacklogBytes) {
      this.host.overflowed(this, backlog);
      return;
    }
    if (!this.pump) this.pump = setImmediate(this.drain);
  }

  private readonly drain = (): void => {
    this.pump = undefined;
    const p = this.out.shift();
    if (p) this.outBytes -= p.length;
    if (p && !this.socket.destroyed && this.socket.writable) this.socket.write(p);
    if (this.out.length > 0 && this.present) this.pump = setImmediate(this.drain);
  };

  /** Sends an event if the host's event masks let it through (as a controller filters them). */
  sendEvent(packet: Buffer): void {
    const code = packet[1]!;
    if (code === EVT.leMeta) {
      const sub = packet[3]!;
      if ((this.eventMask & (1n << 61n)) === 0n) return;
      if ((this.leEventMask & (1n << BigInt(sub - 1))) === 0n) return;
    } else if (code === EVT.disconnectionComplete) {
      if ((this.eventMask & (1n << 4n)) === 0n) return;
    }
    this.send(packet);
  }

  detach(): void {
    this.present = false;
    if (this.pump) clearImmediate(this.pump);
    this.pump = undefined;
    this.out.length = 0;
    this.outBytes = 0;
  }

  closeSocket(): void {
    this.detach();
    this.socket.destroy();
  }

  /** Back to power-on defaults (HCI Reset, or a power cycle). Label and public address survive. */
  resetState(): void {
    this.host.resetLinks(this);
    this.eventMask = DEFAULT_EVENT_MASK;
    this.leEventMask = DEFAULT_LE_EVENT_MASK;
    this.advParams = { intervalUnits: 0x0800, type: 0x00, ownAddressType: 0x00 };
    this.advData = Buffer.alloc(0);
    this.scanRspData = Buffer.alloc(0);
    this.randomAddress = undefined;
    this.scanParams = { active: false, ownAddressType: 0x00 };
    this.outstanding = 0;
    const wasAdv = this.adv.kind === "on";
    const wasScan = this.scan.kind === "on";
    const wasInit = this.init.kind === "initiating";
    this.adv = { kind: "off" };
    this.scan = { kind: "off" };
    this.init = { kind: "idle" };
    if (wasAdv) this.host.advertisingChanged(this);
    if (wasScan) this.host.scanningChanged(this);
    if (wasInit) this.host.initiatingChanged(this);
  }

  /** Command Complete for `op` (the command table answers through this). */
  answerComplete(op: number, status: number, ret?: Buffer): void {
    this.send(commandComplete(op, status, ret));
  }

  /** Command Status for `op`. */
  answerStatus(op: number, status: number): void {
    this.send(commandStatus(op, status));
  }

  private handleCommand(p: Buffer): void {
    runCommand(this, p.readUInt16LE(1), p.subarray(4));
  }
}
