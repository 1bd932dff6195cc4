import type { Socket } from "node:net";
import type { TimerHandle } from "../../src/clock/clock.js";
import {
  addressToString,
  commandComplete,
  commandStatus,
  EVT,
  eventPacket,
  H4,
  H4Parser,
  LE_EVT,
  OP,
  STATUS,
} from "./hci.js";
import type { Link } from "./link.js";
import { addressFromCounter, addressFromLabel, type Position } from "./radio.js";
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
    private readonly host: ControllerHost,
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

  private complete(op: number, status: number, ret?: Buffer): void {
    this.send(commandComplete(op, status, ret));
  }

  private handleCommand(p: Buffer): void {
    const op = p.readUInt16LE(1);
    const params = p.subarray(4);
    const need = (n: number): boolean => {
      if (params.length >= n) return true;
      this.host.violation(
        this,
        "malformed-command",
        `opcode 0x${op.toString(16)} with ${params.length} parameter bytes`,
      );
      this.complete(op, STATUS.invalidParameters);
      return false;
    };
    switch (op) {
      case OP.reset:
        this.resetState();
        this.complete(op, STATUS.success);
        return;
      case OP.setEventMask:
        if (!need(8)) return;
        this.eventMask = params.readBigUInt64LE(0);
        this.complete(op, STATUS.success);
        return;
      case OP.leSetEventMask:
        if (!need(8)) return;
        this.leEventMask = params.readBigUInt64LE(0);
        this.complete(op, STATUS.success);
        return;
      case OP.readLocalVersion: {
        const r = Buffer.alloc(8);
        r.writeUInt8(0x09, 0); // HCI version 5.0 (stacks refuse < 0x06)
        r.writeUInt16LE(0x0001, 1);
        r.writeUInt8(0x09, 3); // LMP/LL version 5.0
        r.writeUInt16LE(0xffff, 4); // manufacturer: none (test/unassigned)
        r.writeUInt16LE(0x0001, 6);
        this.complete(op, STATUS.success, r);
        return;
      }
      case OP.readLocalSupportedCommands: {
        // Octet 25-28 flag the LE commands we answer; no extended advertising/scanning (octet 37 stays 0).
        const r = Buffer.alloc(64);
        r[0] = 0x20; // Disconnect
        r[5] = 0xc0; // Set Event Mask, Reset
        r[14] = 0x28; // Read Local Version, Read Local Supported Features
        r[15] = 0x22; // Read Buffer Size, Read BD_ADDR
        r[24] = 0x60; // Read/Write LE Host Supported
        r[25] = 0xf7;
        r[26] = 0xff;
        r[27] = 0x3f;
        r[28] = 0x0f;
        this.complete(op, STATUS.success, r);
        return;
      }
      case OP.readLocalSupportedFeatures: {
        const r = Buffer.alloc(8);
        r[4] = 0x60; // LE supported (controller), BR/EDR not supported
        this.complete(op, STATUS.success, r);
        return;
      }
      case OP.readBdAddr:
        this.complete(op, STATUS.success, Buffer.from(this.address));
        return;
      case OP.readBufferSize: {
        const r = Buffer.alloc(7);
        r.writeUInt16LE(this.config.aclBuffers.length, 0);
        r.writeUInt8(0, 2);
        r.writeUInt16LE(this.config.aclBuffers.count, 3);
        r.writeUInt16LE(0, 5);
        this.complete(op, STATUS.success, r);
        return;
      }
      case OP.leReadBufferSize: {
        const r = Buffer.alloc(3);
        r.writeUInt16LE(this.config.aclBuffers.length, 0);
        r.writeUInt8(Math.min(255, this.config.aclBuffers.count), 2);
        this.complete(op, STATUS.success, r);
        return;
      }
      case OP.writeLeHostSupported:
        if (!need(2)) return;
        this.complete(op, STATUS.success);
        return;
      case OP.readLeHostSupported:
        this.complete(op, STATUS.success, Buffer.from([0x01, 0x00]));
        return;
      case OP.leReadLocalSupportedFeatures: {
        const r = Buffer.alloc(8);
        r[0] = 0x01 | 0x02; // LE encryption bit is set by most controllers; we also do param request
        this.complete(op, STATUS.success, r);
        return;
      }
      case OP.leReadSupportedStates:
        this.complete(op, STATUS.success, Buffer.from([0xff, 0xff, 0xff, 0x1f, 0, 0, 0, 0]));
        return;
      case OP.leReadWhiteListSize:
        this.complete(op, STATUS.success, Buffer.from([8]));
        return;
      case OP.leClearWhiteList:
        this.complete(op, STATUS.success);
        return;
      case OP.leReadAdvertisingTxPower:
        this.complete(op, STATUS.success, Buffer.from([this.config.txPowerDbm & 0xff]));
        return;
      case OP.leRand: {
        const r = Buffer.alloc(8);
        for (let i = 0; i < 8; i++) r[i] = Math.floor(this.host.random() * 256);
        this.complete(op, STATUS.success, r);
        return;
      }
      case OP.leSetRandomAddress:
        if (!need(6)) return;
        this.randomAddress = Buffer.from(params.subarray(0, 6));
        this.complete(op, STATUS.success);
        return;
      case OP.leSetAdvertisingParameters: {
        if (!need(15)) return;
        if (this.adv.kind === "on") {
          this.complete(op, STATUS.commandDisallowed);
          return;
        }
        const min = params.readUInt16LE(0);
        const max = params.readUInt16LE(2);
        const type = params.readUInt8(4);
        if (min > max || type > 0x04) {
          this.complete(op, STATUS.invalidParameters);
          return;
        }
        this.advParams = { intervalUnits: min, type, ownAddressType: params.readUInt8(5) };
        this.complete(op, STATUS.success);
        return;
      }
      case OP.leSetAdvertisingData:
      case OP.leSetScanResponseData: {
        if (!need(1)) return;
        const len = Math.min(31, params.readUInt8(0));
        const data = Buffer.from(params.subarray(1, 1 + len));
        if (op === OP.leSetAdvertisingData) this.advData = data;
        else this.scanRspData = data;
        this.complete(op, STATUS.success);
        return;
      }
      case OP.leSetAdvertiseEnable: {
        if (!need(1)) return;
        const on = params.readUInt8(0) === 0x01;
        const wasOn = this.adv.kind === "on";
        if (on && !wasOn) this.adv = { kind: "on", nextAt: 0 };
        if (!on && wasOn) this.adv = { kind: "off" };
        this.complete(op, STATUS.success);
        if (on !== wasOn) this.host.advertisingChanged(this);
        return;
      }
      case OP.leSetScanParameters:
        if (!need(7)) return;
        if (this.scan.kind === "on") {
          this.complete(op, STATUS.commandDisallowed);
          return;
        }
        this.scanParams = { active: params.readUInt8(0) === 0x01, ownAddressType: params.readUInt8(5) };
        this.complete(op, STATUS.success);
        return;
      case OP.leSetScanEnable: {
        if (!need(2)) return;
        const on = params.readUInt8(0) === 0x01;
        const filterDuplicates = params.readUInt8(1) === 0x01;
        const wasOn = this.scan.kind === "on";
        // Every enable starts a fresh duplicate filter (a host re-enables to rediscover devices).
        if (on) this.scan = { kind: "on", filterDuplicates, seen: new Set() };
        if (!on) this.scan = { kind: "off" };
        this.complete(op, STATUS.success);
        if (on !== wasOn) this.host.scanningChanged(this);
        return;
      }
      case OP.leCreateConnection: {
        if (params.length < 25) {
          this.host.violation(this, "malformed-command", "LE Create Connection too short");
          this.send(commandStatus(op, STATUS.invalidParameters));
          return;
        }
        if (this.init.kind === "initiating") {
          this.send(commandStatus(op, STATUS.commandDisallowed));
          return;
        }
        if (
          !validConnParams(
            params.readUInt16LE(13),
            params.readUInt16LE(15),
            params.readUInt16LE(17),
            params.readUInt16LE(19),
          )
        ) {
          this.send(commandStatus(op, STATUS.invalidParameters));
          return;
        }
        this.init = {
          kind: "initiating",
          ownAddressType: params.readUInt8(12),
          peerAddressType: params.readUInt8(5),
          peerAddress: Buffer.from(params.subarray(6, 12)),
          minInterval: params.readUInt16LE(13),
          maxInterval: params.readUInt16LE(15),
          latency: params.readUInt16LE(17),
          timeout: params.readUInt16LE(19),
        };
        this.send(commandStatus(op, STATUS.success));
        this.host.initiatingChanged(this);
        return;
      }
      case OP.leCreateConnectionCancel: {
        if (this.init.kind !== "initiating") {
          this.complete(op, STATUS.commandDisallowed);
          return;
        }
        const peer = this.init;
        this.init = { kind: "idle" };
        this.host.initiatingChanged(this);
        this.complete(op, STATUS.success);
        // The spec answers a cancelled initiation with LE Connection Complete, status Unknown Connection ID.
        const ev = Buffer.alloc(18);
        ev.writeUInt8(STATUS.unknownConnection, 0);
        ev.writeUInt8(peer.peerAddressType, 4);
        peer.peerAddress.copy(ev, 5);
        this.sendEvent(
          eventPacket(EVT.leMeta, Buffer.concat([Buffer.from([LE_EVT.connectionComplete]), ev])),
        );
        return;
      }
      case OP.disconnect: {
        if (params.length < 3) {
          this.send(commandStatus(op, STATUS.invalidParameters));
          return;
        }
        const ok = this.host.disconnect(this, params.readUInt16LE(0) & 0x0fff, params.readUInt8(2));
        this.send(commandStatus(op, ok ? STATUS.success : STATUS.unknownConnection));
        return;
      }
      case OP.leConnectionUpdate: {
        if (params.length < 14) {
          this.send(commandStatus(op, STATUS.invalidParameters));
          return;
        }
        const [min, max, latency, timeout] = [2, 4, 6, 8].map((o) => params.readUInt16LE(o)) as [
          number,
          number,
          number,
          number,
        ];
        if (!validConnParams(min, max, latency, timeout)) {
          this.send(commandStatus(op, STATUS.invalidParameters));
          return;
        }
        const ok = this.host.connectionUpdate(
          this,
          params.readUInt16LE(0) & 0x0fff,
          min,
          max,
          latency,
          timeout,
        );
        this.send(commandStatus(op, ok ? STATUS.success : STATUS.unknownConnection));
        return;
      }
      case OP.readRssi: {
        if (!need(2)) return;
        const handle = params.readUInt16LE(0) & 0x0fff;
        const rssi = this.host.rssiOf(this, handle);
        const r = Buffer.alloc(3);
        r.writeUInt16LE(handle, 0);
        r.writeInt8(rssi === undefined ? 127 : Math.max(-127, Math.min(20, Math.round(rssi))), 2);
        this.complete(op, rssi === undefined ? STATUS.unknownConnection : STATUS.success, r);
        return;
      }
      case OP.leLtkNegativeReply: {
        if (!need(2)) return;
        const handle = params.readUInt16LE(0) & 0x0fff;
        const r = Buffer.alloc(2);
        r.writeUInt16LE(handle, 0);
        this.complete(op, this.links.has(handle) ? STATUS.success : STATUS.unknownConnection, r);
        return;
      }
      case OP.vendorSetLabel: {
        const label = params.toString("utf8");
        if (params.length === 0 || params.length > 32) {
          this.complete(op, STATUS.invalidParameters);
          return;
        }
        if (label !== this.label && this.host.labelTaken(this, label)) {
          // One label, one device: a second client would get the same address and confuse `air ctl`.
          this.complete(op, STATUS.commandDisallowed);
          return;
        }
        this.label = label;
        this.address = addressFromLabel(label);
        this.complete(op, STATUS.success);
        this.host.labelled(this);
        return;
      }
      default:
        // Never silence: a real controller answers every command it does not know.
        if (isAsyncCommand(op)) this.send(commandStatus(op, STATUS.unknownCommand));
        else this.complete(op, STATUS.unknownCommand);
    }
  }
}

/**
 * LE connection parameter ranges (Core Vol 4 Part E 7.8.12): intervals 7.5 ms-4 s, latency < 500,
 * supervision timeout 100 ms-32 s and longer than two (latency-stretched) maximum intervals.
 */
export function validConnParams(min: number, max: number, latency: number, timeout: number): boolean {
  if (min < 0x0006 || max > 0x0c80 || min > max) return false;
  if (latency > 0x01f3 || timeout < 0x000a || timeout > 0x0c80) return false;
  return timeout * 10 > (1 + latency) * max * 1.25 * 2;
}

/** Commands answered with Command Status rather than Command Complete (they finish with their own event). */
function isAsyncCommand(op: number): boolean {
  const ogf = op >> 10;
  const ocf = op & 0x3ff;
  if (ogf === 0x01) return true; // link control: connect, disconnect, read remote name, ...
  if (ogf === 0x08) {
    // LE: Read Remote Features, Start Encryption, Read Local P-256 Key, Generate DHKey, Set PHY,
    // Extended/Periodic Create Connection and friends.
    return [0x0016, 0x0019, 0x0025, 0x0026, 0x0032, 0x0043, 0x0044, 0x005e].includes(ocf);
  }
  return false;
}
