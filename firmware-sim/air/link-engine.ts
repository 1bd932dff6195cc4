import type { Clock } from "../../src/clock/clock.js";
import type { Controller } from "./controller.js";
import type { PairCounters, PairCounterTable } from "./counters.js";
import {
  type ConnParams,
  disconnectionComplete,
  leConnectionComplete,
  leConnectionUpdateComplete,
  numberOfCompletedPackets,
  STATUS,
} from "./hci.js";
import { type AirPdu, type Direction, Link, type Side } from "./link.js";
import type { Propagation } from "./propagation.js";
import type { AttPduEvent, ViolationKind } from "./types.js";

/** Connection events from the update request to the new parameters' instant. */
const UPDATE_INSTANT_EVENTS = 6;

export interface LinkEngineDeps {
  clock: Clock;
  rng: () => number;
  radio: Propagation;
  counters: PairCounterTable;
  /** Flag ATT PDUs longer than the link's ATT MTU. */
  strictAtt: boolean;
  stopAdvertising(c: Controller): void;
  violation(c: Controller, kind: ViolationKind, detail: string, link?: Link): void;
  log(line: string): void;
  emit(
    event: "connect" | "disconnect",
    payload: { central: string; peripheral: string; reason?: number },
  ): void;
  emit(event: "att", payload: AttPduEvent): void;
}

/**
 * The links between controllers: connection events at the connection interval, LL PDUs across the air
 * with the buffer and flow-control model, parameter updates, faults, supervision timeouts, teardown.
 */
export class LinkEngine {
  private readonly links = new Set<Link>();
  private readonly notify = new Map<Link, Record<Side, boolean>>();
  private nextLinkId = 1;

  constructor(private readonly d: LinkEngineDeps) {}

  /** The host asked to disconnect: the link ends at its next connection event. */
  disconnectRequest(c: Controller, handle: number, reason: number): boolean {
    const link = c.links.get(handle);
    if (link?.state.kind !== "up") return false;
    link.state = { kind: "terminating", by: link.side(c), reason };
    return true;
  }

  /** LE Connection Update: the new parameters apply at an instant a few events ahead. */
  connectionUpdate(c: Controller, handle: number, min: number, latency: number, timeout: number): boolean {
    const link = c.links.get(handle);
    if (link?.state.kind !== "up") return false;
    link.pendingUpdate = {
      params: { interval: clamp(min, 0x0006, 0x0c80), latency, timeout: clamp(timeout, 0x000a, 0x0c80) },
      instant: link.eventCount + UPDATE_INSTANT_EVENTS,
    };
    return true;
  }

  /** The RSSI `c` measures on its link `handle`, or undefined for no such link. */
  rssiOf(c: Controller, handle: number): number | undefined {
    const link = c.links.get(handle);
    return link ? this.d.radio.rssi(link.peerOf(c), c) : undefined;
  }

  /** Every link torn down (the air closes). */
  closeAll(): void {
    for (const link of [...this.links]) this.teardownLink(link);
  }

  connect(central: Controller, peripheral: Controller, advAddr: { type: number; address: Buffer }): void {
    if (central.init.kind !== "initiating") return;
    const req = central.init;
    central.init = { kind: "idle" };
    this.d.stopAdvertising(peripheral);
    const interval = clamp(req.minInterval, 0x0006, 0x0c80);
    // The supervision timeout must exceed (1 + latency) * interval * 2; fix up what a host got wrong.
    const minTimeout = Math.ceil(((1 + req.latency) * interval * 1.25 * 2) / 10) + 1;
    const params: ConnParams = {
      interval,
      latency: req.latency,
      timeout: clamp(Math.max(req.timeout, minTimeout), 0x000a, 0x0c80),
    };
    const link = new Link(
      this.nextLinkId++,
      central,
      peripheral,
      central.allocateHandle(),
      peripheral.allocateHandle(),
      params,
      this.d.clock,
    );
    central.links.set(link.centralHandle, link);
    peripheral.links.set(link.peripheralHandle, link);
    this.links.add(link);
    this.notify.set(link, { central: true, peripheral: true });
    const p = this.d.counters.of(central, peripheral);
    p.connections++;
    p.connected = true;
    p.intervalMs = link.intervalMs;
    const centralOwn = central.ownAddress(req.ownAddressType);
    central.sendEvent(
      leConnectionComplete({
        status: STATUS.success,
        handle: link.centralHandle,
        role: "central",
        peerAddressType: advAddr.type,
        peerAddress: advAddr.address,
        params,
      }),
    );
    peripheral.sendEvent(
      leConnectionComplete({
        status: STATUS.success,
        handle: link.peripheralHandle,
        role: "peripheral",
        peerAddressType: centralOwn.type,
        peerAddress: centralOwn.address,
        params,
      }),
    );
    this.d.log(`air: ${central.name} connected to ${peripheral.name} (interval ${link.intervalMs} ms)`);
    this.d.emit("connect", { central: central.name, peripheral: peripheral.name });
    link.nextEventAt = this.d.clock.now();
    this.scheduleEvent(link);
  }

  private scheduleEvent(link: Link): void {
    const now = this.d.clock.now();
    link.nextEventAt += link.intervalMs;
    if (link.nextEventAt < now) link.nextEventAt = now + link.intervalMs; // we fell behind: skip events
    link.timer = this.d.clock.setTimeout("air.connection-event", link.nextEventAt - now, () =>
      this.connectionEvent(link),
    );
  }

  private connectionEvent(link: Link): void {
    link.timer = undefined;
    if (link.state.kind === "down") return;
    const now = this.d.clock.now();
    link.eventCount++;
    const pc = this.d.counters.of(link.central, link.peripheral);
    pc.connectionEvents++;
    const reachable =
      !link.silenced &&
      this.d.radio.hear(link.central, link.peripheral) !== undefined &&
      this.d.radio.hear(link.peripheral, link.central) !== undefined;
    if (link.state.kind === "terminating") {
      const { by, reason } = link.state;
      const peerReason = reachable ? reason : STATUS.connectionTimeout;
      this.dropLink(
        link,
        by === "central" ? STATUS.localHostTerminated : peerReason,
        by === "peripheral" ? STATUS.localHostTerminated : peerReason,
      );
      return;
    }
    if (!reachable) {
      if (now - link.lastHeardAt >= link.supervisionMs) {
        this.d.log(`air: link ${link.central.name}-${link.peripheral.name} lost (supervision timeout)`);
        this.dropLink(link, STATUS.connectionTimeout, STATUS.connectionTimeout);
        return;
      }
      this.scheduleEvent(link);
      return;
    }
    link.lastHeardAt = now;
    if (link.pendingUpdate && link.eventCount >= link.pendingUpdate.instant) {
      link.params = link.pendingUpdate.params;
      link.pendingUpdate = undefined;
      pc.intervalMs = link.intervalMs;
      const n = this.notify.get(link);
      if (n?.central)
        link.central.sendEvent(leConnectionUpdateComplete(STATUS.success, link.centralHandle, link.params));
      if (n?.peripheral)
        link.peripheral.sendEvent(
          leConnectionUpdateComplete(STATUS.success, link.peripheralHandle, link.params),
        );
    }
    this.transfer(link, link.toPeripheral, pc);
    this.transfer(link, link.toCentral, pc);
    this.scheduleEvent(link);
  }

  /** Moves up to packetsPerEvent PDUs across the air and reports the sender's completed packets. */
  private transfer(link: Link, d: Direction, pc: PairCounters): void {
    const budget = Math.min(d.from.config.packetsPerEvent, d.to.config.packetsPerEvent);
    let completed = 0;
    for (let i = 0; i < budget && d.queue.length > 0 && !link.silenced; i++) {
      if (this.faultTrips(link)) {
        link.silenced = true;
        pc.dropped++;
        this.d.log(`air: link ${link.central.name}-${link.peripheral.name} dropped by fault`);
        break;
      }
      const pdu = d.queue.shift() as AirPdu;
      if (d === link.toPeripheral) pc.packetsToPeripheral++;
      else pc.packetsToCentral++;
      const packet = Link.toHost(d, pdu);
      const to = d.to;
      const toSide = link.side(to);
      d.delay.push(this.faultDelay(d.from) + this.faultDelay(d.to), () => {
        if (this.notify.get(link)?.[toSide]) to.send(packet);
      });
      if (pdu.completesHostPacket) completed++;
    }
    if (completed > 0) {
      d.from.outstanding = Math.max(0, d.from.outstanding - completed);
      if (this.notify.get(link)?.[link.side(d.from)]) {
        d.from.send(numberOfCompletedPackets([{ handle: link.handleOf(d.from), count: completed }]));
      }
    }
  }

  private faultTrips(link: Link): boolean {
    let trip = false;
    for (const c of [link.central, link.peripheral]) {
      const at = c.fault.dropAtPacket;
      if (at === undefined) continue;
      c.fault.packetsSeen++;
      if (c.fault.packetsSeen >= at) {
        delete c.fault.dropAtPacket;
        trip = true;
      }
    }
    return trip;
  }

  private faultDelay(c: Controller): number {
    const l = c.fault.latencyMs ?? 0;
    const j = c.fault.jitterMs ?? 0;
    return l + (j > 0 ? this.d.rng() * j : 0);
  }

  /** Ends a link, telling each host that is still attached (with its own reason). */
  private dropLink(link: Link, centralReason: number, peripheralReason: number): void {
    const n = this.notify.get(link) ?? { central: false, peripheral: false };
    this.teardownLink(link);
    if (n.central) link.central.sendEvent(disconnectionComplete(link.centralHandle, centralReason));
    if (n.peripheral)
      link.peripheral.sendEvent(disconnectionComplete(link.peripheralHandle, peripheralReason));
    const pc = this.d.counters.of(link.central, link.peripheral);
    pc.connected = false;
    delete pc.intervalMs;
    this.d.emit("disconnect", {
      central: link.central.name,
      peripheral: link.peripheral.name,
      reason: centralReason === STATUS.localHostTerminated ? peripheralReason : centralReason,
    });
  }

  private teardownLink(link: Link): void {
    link.state = { kind: "down" };
    this.d.clock.clearTimeout(link.timer);
    link.timer = undefined;
    for (const d of [link.toPeripheral, link.toCentral]) {
      const pending = d.queue.filter((p) => p.completesHostPacket).length;
      d.from.outstanding = Math.max(0, d.from.outstanding - pending);
      d.queue.length = 0;
      d.delay.clear();
    }
    for (const c of [link.central, link.peripheral]) {
      const h = link.handleOf(c);
      if (c.links.get(h) !== link) continue;
      c.links.delete(h);
      c.closedHandles.add(h);
    }
    this.links.delete(link);
    this.notify.delete(link);
  }

  /**
   * Detaches a controller from its links (reset, power-off, stream closed): its host is told now with
   * `localReason` (or not at all), the link goes silent and the peer sees a supervision timeout.
   */
  orphanLinks(c: Controller, localReason: number | undefined): void {
    for (const [handle, link] of [...c.links]) {
      c.links.delete(handle);
      c.closedHandles.add(handle);
      const side = link.side(c);
      const n = this.notify.get(link);
      if (n) n[side] = false;
      link.silenced = true;
      const d = link.outbound(c);
      const pending = d.queue.filter((p) => p.completesHostPacket).length;
      c.outstanding = Math.max(0, c.outstanding - pending);
      d.queue.length = 0;
      if (localReason !== undefined) c.sendEvent(disconnectionComplete(handle, localReason));
    }
  }

  private checkAtt(link: Link, from: Controller, pdu: Buffer): void {
    if (pdu.length === 0) return;
    const op = pdu[0];
    // For tests that count what a GATT client asks (discovery PDUs): opcode and direction only.
    this.d.emit("att", {
      central: link.central.name,
      peripheral: link.peripheral.name,
      fromCentral: from === link.central,
      opcode: op,
    });
    if (op === 0x02 && pdu.length >= 3) link.attClientMtu = pdu.readUInt16LE(1);
    else if (op === 0x03 && pdu.length >= 3 && link.attClientMtu !== undefined) {
      link.attMtu = Math.max(23, Math.min(link.attClientMtu, pdu.readUInt16LE(1)));
    }
    if (this.d.strictAtt && pdu.length > link.attMtu) {
      this.d.violation(
        from,
        "att-mtu",
        `ATT PDU opcode 0x${op?.toString(16).padStart(2, "0")} of ${pdu.length} bytes exceeds ATT_MTU ${link.attMtu}`,
        link,
      );
    }
  }

  aclFromHost(c: Controller, p: Buffer): void {
    const hdr = p.readUInt16LE(1);
    const handle = hdr & 0x0fff;
    const pb = (hdr >> 12) & 0x3;
    const payload = p.subarray(5);
    const link = c.links.get(handle);
    if (!link || link.state.kind === "down") {
      if (!c.closedHandles.has(handle)) {
        this.d.violation(c, "acl-unknown-handle", `ACL data for unknown handle 0x${handle.toString(16)}`);
      }
      return;
    }
    if (payload.length > c.config.aclBuffers.length) {
      this.d.violation(
        c,
        "acl-too-long",
        `ACL fragment of ${payload.length} bytes exceeds the ${c.config.aclBuffers.length}-byte buffer`,
        link,
      );
    }
    c.outstanding++;
    if (c.outstanding > c.config.aclBuffers.count) {
      this.d.violation(
        c,
        "acl-overflow",
        `host has ${c.outstanding} ACL packets in flight; the controller has ${c.config.aclBuffers.count} buffers`,
        link,
      );
    }
    const start = pb !== 0b01;
    const d = link.outbound(c);
    for (const l2 of d.reasm.push(start, payload)) {
      if (l2.cid === 0x0004) this.checkAtt(link, c, l2.payload);
    }
    const mtu = Math.max(
      1,
      Math.min(link.central.config.llPayloadBytes, link.peripheral.config.llPayloadBytes),
    );
    if (payload.length === 0) {
      d.queue.push({ payload, start, completesHostPacket: true });
      return;
    }
    for (let off = 0; off < payload.length; off += mtu) {
      d.queue.push({
        payload: Buffer.from(payload.subarray(off, off + mtu)),
        start: start && off === 0,
        completesHostPacket: off + mtu >= payload.length,
      });
    }
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
