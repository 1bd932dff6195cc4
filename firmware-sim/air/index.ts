import { EventEmitter } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import type { Clock, TimerHandle } from "../../src/clock/clock.js";
import { systemClock } from "../../src/clock/system.js";
import { OpenClawError } from "../../src/protocol/errors.js";
import { Controller, type ControllerHost, VENDOR_POWER_EVENT } from "./controller.js";
import {
  addressToString,
  type ConnParams,
  disconnectionComplete,
  EVT,
  eventPacket,
  leAdvertisingReport,
  leConnectionComplete,
  leConnectionUpdateComplete,
  numberOfCompletedPackets,
  REPORT,
  STATUS,
} from "./hci.js";
import { type AirPdu, type Direction, Link, type Side } from "./link.js";
import {
  DEFAULT_PATH_LOSS,
  defaultPosition,
  distance,
  type PathLossModel,
  type Position,
  receivedPowerDbm,
  seededUniform,
} from "./radio.js";
import {
  type ConfigPatch,
  type ControllerConfig,
  type ControllerInfo,
  DEFAULT_CONFIG,
  type Fault,
  type LinkCounters,
  type Violation,
  type ViolationKind,
} from "./types.js";
import { DEFAULT_SOCKET_MODE, listenUnix, removeSocket } from "./unix-socket.js";

export type {
  ConfigPatch,
  ControllerConfig,
  ControllerInfo,
  Fault,
  LinkCounters,
  Position,
  Violation,
  ViolationKind,
} from "./types.js";
export { DEFAULT_CONFIG } from "./types.js";
export { clearStaleSocket } from "./unix-socket.js";

export interface AirOptions {
  /** Flag ATT PDUs larger than the link's exchanged ATT MTU (tests turn it on). */
  strictAtt?: boolean;
  /** Seed for RSSI jitter, advertising delay and LE Rand. */
  seed?: number;
  /** Defaults for every controller (each can be changed later with configure()). */
  defaults?: ConfigPatch;
  pathLoss?: PathLossModel;
  /** Where time comes from (default: the system clock; unit tests pass a ManualClock). */
  clock?: Clock;
  /** One line per notable event (connections, drops, violations). */
  log?: (line: string) => void;
  /**
   * Most bytes a client may leave unread (queued in the air and in its socket) before the air drops it:
   * a client that floods commands or scans and never reads cannot grow the air. Default 1 MiB.
   */
  maxClientBacklogBytes?: number;
}

/** A unix socket (mode: default 0600, whatever the umask) or a TCP port. */
export type Endpoint = { path: string; mode?: number } | { port: number; host?: string };

export const DEFAULT_MAX_CLIENT_BACKLOG_BYTES = 1 << 20;

interface PairCounters extends LinkCounters {
  centralId: string;
  peripheralId: string;
}

interface Remembered {
  position: Position;
  config: ControllerConfig;
}

/** Link-layer timing constants (ms). */
const ADV_DELAY_MAX_MS = 10; // advDelay: 0-10 ms random per advertising event (Core Vol 6 B 4.4.2.2)
const UPDATE_INSTANT_EVENTS = 6;

/**
 * The virtual air: a user-space LE controller for every client stream, and the radio between them.
 *
 * Events: "controller" (ControllerInfo, when a controller appears or names itself), "gone" (ControllerInfo),
 * "connect" / "disconnect" ({ central, peripheral, reason? }), "violation" (Violation), "power"
 * ({ controller, powered }).
 */
export class Air extends EventEmitter {
  readonly strictAtt: boolean;
  private readonly clock: Clock;
  private readonly rng: () => number;
  private readonly pathLoss: PathLossModel;
  private readonly defaults: ControllerConfig;
  private readonly logLine: (line: string) => void;
  private readonly maxBacklogBytes: number;
  private readonly servers: Server[] = [];
  private readonly unixPaths: string[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly live = new Map<string, Controller>();
  private readonly links = new Set<Link>();
  private readonly pairs = new Map<string, PairCounters>();
  private readonly remembered = new Map<string, Remembered>();
  private readonly advTimers = new Map<Controller, TimerHandle>();
  private readonly powerTimers = new Map<Controller, TimerHandle>();
  private readonly powerWaiters = new Map<Controller, () => void>();
  private readonly waiters = new Set<{
    label: string;
    resolve: (c: ControllerInfo) => void;
    reject: (e: Error) => void;
    timer: TimerHandle;
  }>();
  private readonly notify = new Map<Link, Record<Side, boolean>>();
  private nextIndex = 0;
  private nextLinkId = 1;
  private closed = false;
  /** Total violations seen (also counted per pair). */
  violations = 0;

  constructor(opts: AirOptions = {}) {
    super();
    this.strictAtt = opts.strictAtt ?? false;
    this.clock = opts.clock ?? systemClock;
    this.rng = seededUniform(opts.seed ?? 0x0c1a);
    this.pathLoss = opts.pathLoss ?? DEFAULT_PATH_LOSS;
    this.defaults = mergeConfig(DEFAULT_CONFIG, opts.defaults ?? {});
    this.logLine = opts.log ?? (() => {});
    this.maxBacklogBytes = opts.maxClientBacklogBytes ?? DEFAULT_MAX_CLIENT_BACKLOG_BYTES;
  }

  // ---------------------------------------------------------------------------------------------------
  // Serving

  async listen(endpoint: Endpoint): Promise<void> {
    if (this.closed) throw new OpenClawError("INVALID_ARGUMENT", { detail: "this air is closed" });
    const server = createServer((socket) => this.accept(socket));
    if ("path" in endpoint) {
      await listenUnix(server, endpoint.path, endpoint.mode ?? DEFAULT_SOCKET_MODE);
      this.serving(server);
      this.unixPaths.push(endpoint.path);
      return;
    }
    const where = `${endpoint.host ?? "127.0.0.1"}:${endpoint.port}`;
    await new Promise<void>((resolve, reject) => {
      const fail = (err: NodeJS.ErrnoException): void => {
        const why = err.code === "EADDRINUSE" ? "address in use" : (err.code ?? err.message);
        reject(
          new OpenClawError(
            "INVALID_ARGUMENT",
            { detail: `cannot listen on ${where} (${why})`, command: "air" },
            { cause: err },
          ),
        );
      };
      server.once("error", fail);
      const done = (): void => {
        server.off("error", fail);
        resolve();
      };
      try {
        server.listen(endpoint.port, endpoint.host ?? "127.0.0.1", done);
      } catch (err) {
        fail(err as NodeJS.ErrnoException);
      }
    });
    this.serving(server);
  }

  private serving(server: Server): void {
    server.on("error", (err) => this.logLine(`air: server error: ${err.message}`));
    this.servers.push(server);
  }

  /** The TCP port of the first TCP endpoint (useful after listen({ port: 0 })). */
  tcpPort(): number | undefined {
    for (const s of this.servers) {
      const a = s.address();
      if (a && typeof a === "object") return a.port;
    }
    return undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters) {
      this.clock.clearTimeout(w.timer);
      w.reject(new OpenClawError("ADAPTER_UNAVAILABLE", { detail: "the virtual air was closed" }));
    }
    this.waiters.clear();
    for (const link of [...this.links]) this.teardownLink(link);
    for (const t of this.advTimers.values()) this.clock.clearTimeout(t);
    this.advTimers.clear();
    for (const t of this.powerTimers.values()) this.clock.clearTimeout(t);
    this.powerTimers.clear();
    for (const done of this.powerWaiters.values()) done();
    this.powerWaiters.clear();
    for (const c of this.live.values()) c.closeSocket();
    this.live.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.servers.length = 0;
    for (const p of this.unixPaths) removeSocket(p);
    this.unixPaths.length = 0;
  }

  private accept(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.setNoDelay?.(true);
    const index = this.nextIndex++;
    const c = new Controller(
      `c${index + 1}`,
      index,
      socket,
      this.host,
      cloneConfig(this.defaults),
      defaultPosition(index),
    );
    c.maxBacklogBytes = this.maxBacklogBytes;
    this.live.set(c.id, c);
    this.logLine(`air: ${c.id} connected (${c.name})`);
    this.emit("controller", this.info(c));
    socket.on("data", (chunk: Buffer) => {
      if (!c.receive(chunk)) socket.destroy();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.sockets.delete(socket);
      this.detachController(c);
    });
  }

  /** The client's stream is gone: its radio falls silent; peers notice by supervision timeout. */
  private detachController(c: Controller): void {
    if (!this.live.has(c.id)) return;
    this.live.delete(c.id);
    c.detach();
    this.orphanLinks(c, undefined);
    this.stopAdvertising(c);
    c.init = { kind: "idle" };
    c.scan = { kind: "off" };
    this.clock.clearTimeout(this.powerTimers.get(c));
    this.powerTimers.delete(c);
    this.powerWaiters.get(c)?.();
    this.powerWaiters.delete(c);
    // Its counter rows go with it (a long-running air serves many short-lived clients).
    for (const [key, p] of this.pairs)
      if (p.centralId === c.id || p.peripheralId === c.id) this.pairs.delete(key);
    this.logLine(`air: ${c.id} (${c.name}) left`);
    this.emit("gone", this.info(c));
  }

  // ---------------------------------------------------------------------------------------------------
  // Public controls

  controllers(): ControllerInfo[] {
    return [...this.live.values()].map((c) => this.info(c));
  }

  waitForController(label: string, timeoutMs: number): Promise<ControllerInfo> {
    const found = this.findByLabel(label);
    if (found) return Promise.resolve(this.info(found));
    return new Promise((resolve, reject) => {
      const w = {
        label,
        resolve,
        reject,
        timer: this.clock.setTimeout("air.wait-for-controller", timeoutMs, () => {
          this.waiters.delete(w);
          reject(
            new OpenClawError("TIMEOUT", {
              what: `controller "${label}" to appear on the air`,
              afterMs: timeoutMs,
            }),
          );
        }),
      };
      this.waiters.add(w);
    });
  }

  move(who: string, to: Position): void {
    const c = this.resolve(who);
    c.position = { x: to.x, y: to.y };
    if (c.label) this.remember(c);
    this.logLine(`air: ${c.name} moved to (${to.x}, ${to.y})`);
  }

  /** Replaces the controller's faults (setFault(who, {}) clears them). */
  setFault(who: string, f: Fault): void {
    const c = this.resolve(who);
    c.fault = { ...f, packetsSeen: 0 };
    this.logLine(`air: ${c.name} fault ${JSON.stringify(f)}`);
  }

  /** Powers the controller off for offMs: its links drop, its radio goes quiet, then it comes back reset. */
  powerCycle(who: string, offMs = 500): Promise<void> {
    const c = this.resolve(who);
    if (c.power.kind === "off") return Promise.resolve();
    this.logLine(`air: ${c.name} powered off for ${offMs} ms`);
    const power = { kind: "off" as const, held: [] as Buffer[] };
    // The local host sees its links end (BlueZ flushes connections with "local host" when a device goes down).
    this.orphanLinks(c, STATUS.localHostTerminated);
    this.stopAdvertising(c);
    c.power = power;
    c.send(eventPacket(EVT.vendor, Buffer.from([VENDOR_POWER_EVENT, 0x00])));
    this.emit("power", { controller: c.name, powered: false });
    return new Promise((resolve) => {
      this.powerWaiters.set(c, resolve);
      const t = this.clock.setTimeout("air.power-cycle", offMs, () => {
        this.powerWaiters.delete(c);
        this.powerTimers.delete(c);
        c.power = { kind: "on" };
        c.resetState();
        c.send(eventPacket(EVT.vendor, Buffer.from([VENDOR_POWER_EVENT, 0x01])));
        this.logLine(`air: ${c.name} powered on`);
        this.emit("power", { controller: c.name, powered: true });
        for (const p of power.held) c.handlePacket(p);
        resolve();
      });
      this.powerTimers.set(c, t);
    });
  }

  /** Changes a controller's radio/buffer settings; "*" changes the defaults and every live controller. */
  configure(who: string, cfg: ConfigPatch): void {
    if (who === "*") {
      Object.assign(this.defaults, mergeConfig(this.defaults, cfg));
      for (const c of this.live.values()) c.config = mergeConfig(c.config, cfg);
      for (const r of this.remembered.values()) r.config = mergeConfig(r.config, cfg);
      return;
    }
    const c = this.resolve(who);
    c.config = mergeConfig(c.config, cfg);
    if (c.label) this.remember(c);
  }

  counters(): LinkCounters[] {
    return [...this.pairs.values()].map(({ centralId: _c, peripheralId: _p, ...rest }) => ({ ...rest }));
  }

  /** What `to` would measure from `from` right now (no jitter), dBm. */
  rssiBetween(from: string, to: string): number {
    const a = this.resolve(from);
    const b = this.resolve(to);
    return receivedPowerDbm(a.config.txPowerDbm, distance(a.position, b.position), this.pathLoss);
  }

  // ---------------------------------------------------------------------------------------------------
  // Lookup

  private info(c: Controller): ControllerInfo {
    let role: ControllerInfo["role"];
    for (const l of c.links.values()) role = l.central === c ? "central" : "peripheral";
    if (!role && c.adv.kind === "on") role = "peripheral";
    if (!role && (c.scan.kind === "on" || c.init.kind === "initiating")) role = "central";
    const out: ControllerInfo = {
      id: c.id,
      address: addressToString(c.address),
      position: { ...c.position },
      powered: c.powered,
      advertising: c.adv.kind === "on",
      scanning: c.scan.kind === "on",
      connections: c.links.size,
      backlogBytes: c.backlogBytes,
      peakBacklogBytes: c.peakBacklogBytes,
    };
    if (c.label !== undefined) out.label = c.label;
    if (c.droppedFor !== undefined) out.droppedFor = c.droppedFor;
    if (role) out.role = role;
    return out;
  }

  /** Labels are unique among live controllers (a second client with one in use is refused). */
  private findByLabel(label: string): Controller | undefined {
    for (const c of this.live.values()) if (c.label === label) return c;
    return undefined;
  }

  private resolve(who: string): Controller {
    const byLabel = this.findByLabel(who);
    if (byLabel) return byLabel;
    const lower = who.toLowerCase();
    for (const c of this.live.values()) {
      if (c.id === who || addressToString(c.address) === lower) return c;
      if (c.randomAddress && addressToString(c.randomAddress) === lower) return c;
    }
    throw new OpenClawError("INVALID_ARGUMENT", {
      detail: `no controller "${who}" on the air`,
      command: "air ctl",
    });
  }

  private remember(c: Controller): void {
    if (c.label) this.remembered.set(c.label, { position: { ...c.position }, config: cloneConfig(c.config) });
  }

  private pair(central: Controller, peripheral: Controller): PairCounters {
    const key = `${central.label ?? central.id}>${peripheral.label ?? peripheral.id}`;
    let p = this.pairs.get(key);
    if (!p) {
      p = {
        central: central.name,
        peripheral: peripheral.name,
        centralId: central.id,
        peripheralId: peripheral.id,
        adverts: 0,
        scanResponses: 0,
        connections: 0,
        connectionEvents: 0,
        packetsToPeripheral: 0,
        packetsToCentral: 0,
        dropped: 0,
        violations: 0,
        connected: false,
      };
      this.pairs.set(key, p);
    }
    return p;
  }

  // ---------------------------------------------------------------------------------------------------
  // Radio

  private rssi(from: Controller, to: Controller): number {
    const base = receivedPowerDbm(
      from.config.txPowerDbm,
      distance(from.position, to.position),
      this.pathLoss,
    );
    const j = to.config.rssiJitterDb;
    return j > 0 ? base + (this.rng() * 2 - 1) * j : base;
  }

  /** Whether `to` receives `from` now; returns the RSSI it measures, or undefined. */
  private hear(from: Controller, to: Controller): number | undefined {
    if (!from.present || !to.present || !from.powered || !to.powered) return undefined;
    const r = this.rssi(from, to);
    return r >= to.config.sensitivityDbm ? r : undefined;
  }

  private advIntervalMs(c: Controller): number {
    return Math.max(c.config.minAdvIntervalMs, c.advParams.intervalUnits * 0.625);
  }

  private stopAdvertising(c: Controller): void {
    this.clock.clearTimeout(this.advTimers.get(c));
    this.advTimers.delete(c);
    if (c.adv.kind === "on") c.adv = { kind: "off" };
  }

  private scheduleAdvert(c: Controller, delayMs: number): void {
    this.clock.clearTimeout(this.advTimers.get(c));
    this.advTimers.set(
      c,
      this.clock.setTimeout("air.advertising-event", delayMs, () => this.advertisingEvent(c)),
    );
  }

  /** One advertising event: every scanner in range gets a report built from the current data. */
  private advertisingEvent(adv: Controller): void {
    this.advTimers.delete(adv);
    if (adv.adv.kind !== "on" || !adv.present) return;
    if (adv.powered) {
      const own = adv.ownAddress(adv.advParams.ownAddressType);
      const type = adv.advParams.type === 0x04 ? REPORT.advDirectInd : adv.advParams.type;
      const connectable = type === REPORT.advInd || type === REPORT.advDirectInd;
      const scannable = type === REPORT.advInd || type === REPORT.advScanInd;
      for (const s of this.live.values()) {
        if (s === adv) continue;
        if (s.scan.kind === "on") {
          const rssi = this.hear(adv, s);
          if (rssi !== undefined) {
            this.report(s, adv, type, own, adv.advData, rssi);
            if (s.scanParams.active && scannable && this.hear(s, adv) !== undefined) {
              this.report(s, adv, REPORT.scanRsp, own, adv.scanRspData, rssi);
            }
          }
        }
      }
      for (const s of this.live.values()) {
        if (s === adv || s.init.kind !== "initiating" || !connectable) continue;
        if (s.init.peerAddressType !== own.type || !s.init.peerAddress.equals(own.address)) continue;
        if (this.hear(adv, s) === undefined || this.hear(s, adv) === undefined) continue;
        this.connect(s, adv, own);
        return; // a connectable advertiser stops advertising once connected
      }
    }
    this.scheduleAdvert(adv, this.advIntervalMs(adv) + this.rng() * ADV_DELAY_MAX_MS);
  }

  private report(
    s: Controller,
    adv: Controller,
    type: number,
    own: { type: number; address: Buffer },
    data: Buffer,
    rssi: number,
  ): void {
    if (s.scan.kind !== "on") return;
    if (s.scan.filterDuplicates && s.config.honourDuplicateFilter) {
      const key = `${own.type}/${own.address.toString("hex")}/${type}/${data.toString("hex")}`;
      if (s.scan.seen.has(key)) return;
      s.scan.seen.add(key);
    }
    s.sendEvent(leAdvertisingReport({ type, addressType: own.type, address: own.address, data, rssi }));
    const p = this.pair(s, adv);
    p.adverts++;
    if (type === REPORT.scanRsp) p.scanResponses++;
  }

  // ---------------------------------------------------------------------------------------------------
  // Links

  private connect(
    central: Controller,
    peripheral: Controller,
    advAddr: { type: number; address: Buffer },
  ): void {
    if (central.init.kind !== "initiating") return;
    const req = central.init;
    central.init = { kind: "idle" };
    this.stopAdvertising(peripheral);
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
      this.clock,
    );
    central.links.set(link.centralHandle, link);
    peripheral.links.set(link.peripheralHandle, link);
    this.links.add(link);
    this.notify.set(link, { central: true, peripheral: true });
    const p = this.pair(central, peripheral);
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
    this.logLine(`air: ${central.name} connected to ${peripheral.name} (interval ${link.intervalMs} ms)`);
    this.emit("connect", { central: central.name, peripheral: peripheral.name });
    link.nextEventAt = this.clock.now();
    this.scheduleEvent(link);
  }

  private scheduleEvent(link: Link): void {
    const now = this.clock.now();
    link.nextEventAt += link.intervalMs;
    if (link.nextEventAt < now) link.nextEventAt = now + link.intervalMs; // we fell behind: skip events
    link.timer = this.clock.setTimeout("air.connection-event", link.nextEventAt - now, () =>
      this.connectionEvent(link),
    );
  }

  private connectionEvent(link: Link): void {
    link.timer = undefined;
    if (link.state.kind === "down") return;
    const now = this.clock.now();
    link.eventCount++;
    const pc = this.pair(link.central, link.peripheral);
    pc.connectionEvents++;
    const reachable =
      !link.silenced &&
      this.hear(link.central, link.peripheral) !== undefined &&
      this.hear(link.peripheral, link.central) !== undefined;
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
        this.logLine(`air: link ${link.central.name}-${link.peripheral.name} lost (supervision timeout)`);
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
        this.logLine(`air: link ${link.central.name}-${link.peripheral.name} dropped by fault`);
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
    return l + (j > 0 ? this.rng() * j : 0);
  }

  /** Ends a link, telling each host that is still attached (with its own reason). */
  private dropLink(link: Link, centralReason: number, peripheralReason: number): void {
    const n = this.notify.get(link) ?? { central: false, peripheral: false };
    this.teardownLink(link);
    if (n.central) link.central.sendEvent(disconnectionComplete(link.centralHandle, centralReason));
    if (n.peripheral)
      link.peripheral.sendEvent(disconnectionComplete(link.peripheralHandle, peripheralReason));
    const pc = this.pair(link.central, link.peripheral);
    pc.connected = false;
    delete pc.intervalMs;
    this.emit("disconnect", {
      central: link.central.name,
      peripheral: link.peripheral.name,
      reason: centralReason === STATUS.localHostTerminated ? peripheralReason : centralReason,
    });
  }

  private teardownLink(link: Link): void {
    link.state = { kind: "down" };
    this.clock.clearTimeout(link.timer);
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
  private orphanLinks(c: Controller, localReason: number | undefined): void {
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
    if (op === 0x02 && pdu.length >= 3) link.attClientMtu = pdu.readUInt16LE(1);
    else if (op === 0x03 && pdu.length >= 3 && link.attClientMtu !== undefined) {
      link.attMtu = Math.max(23, Math.min(link.attClientMtu, pdu.readUInt16LE(1)));
    }
    if (this.strictAtt && pdu.length > link.attMtu) {
      this.violation(
        from,
        "att-mtu",
        `ATT PDU opcode 0x${op?.toString(16).padStart(2, "0")} of ${pdu.length} bytes exceeds ATT_MTU ${link.attMtu}`,
        link,
      );
    }
  }

  private violation(c: Controller, kind: ViolationKind, detail: string, link?: Link): void {
    this.violations++;
    if (link) this.pair(link.central, link.peripheral).violations++;
    const v: Violation = { kind, controller: c.name, detail };
    this.logLine(`air: violation (${kind}) by ${c.name}: ${detail}`);
    this.emit("violation", v);
  }

  // ---------------------------------------------------------------------------------------------------
  // What controllers call

  private readonly host: ControllerHost = {
    advertisingChanged: (c) => {
      if (c.adv.kind === "on") {
        // Data commands often follow the enable (bleno does this): the first event waits a moment.
        this.scheduleAdvert(c, 1 + this.rng() * ADV_DELAY_MAX_MS);
      } else this.stopAdvertising(c);
    },
    scanningChanged: () => {},
    initiatingChanged: () => {},
    aclFromHost: (c, p) => this.aclFromHost(c, p),
    disconnect: (c, handle, reason) => {
      const link = c.links.get(handle);
      if (link?.state.kind !== "up") return false;
      link.state = { kind: "terminating", by: link.side(c), reason };
      return true;
    },
    connectionUpdate: (c, handle, min, _max, latency, timeout) => {
      const link = c.links.get(handle);
      if (link?.state.kind !== "up") return false;
      link.pendingUpdate = {
        params: { interval: clamp(min, 0x0006, 0x0c80), latency, timeout: clamp(timeout, 0x000a, 0x0c80) },
        instant: link.eventCount + UPDATE_INSTANT_EVENTS,
      };
      return true;
    },
    rssiOf: (c, handle) => {
      const link = c.links.get(handle);
      if (!link) return undefined;
      return this.rssi(link.peerOf(c), c);
    },
    labelled: (c) => {
      const r = c.label ? this.remembered.get(c.label) : undefined;
      if (r) {
        c.position = { ...r.position };
        c.config = cloneConfig(r.config);
      } else this.remember(c);
      this.logLine(`air: ${c.id} is "${c.label}" (${addressToString(c.address)})`);
      const info = this.info(c);
      this.emit("controller", info);
      for (const w of [...this.waiters]) {
        if (w.label !== c.label) continue;
        this.clock.clearTimeout(w.timer);
        this.waiters.delete(w);
        w.resolve(info);
      }
    },
    labelTaken: (c, label) => {
      const holder = this.findByLabel(label);
      if (!holder || holder === c) return false;
      this.logLine(`air: ${c.id} asked for the label "${label}", which ${holder.id} holds: refused`);
      return true;
    },
    overflowed: (c, bytes) => {
      if (c.droppedFor !== undefined) return;
      c.droppedFor = `it left ${bytes} bytes unread (more than ${this.maxBacklogBytes}): a client that does not read`;
      this.logLine(`air: ${c.id} (${c.name}) dropped: ${c.droppedFor}`);
      c.closeSocket();
      this.detachController(c);
    },
    resetLinks: (c) => this.orphanLinks(c, undefined),
    violation: (c, kind, detail) => this.violation(c, kind, detail),
    random: () => this.rng(),
  };

  private aclFromHost(c: Controller, p: Buffer): void {
    const hdr = p.readUInt16LE(1);
    const handle = hdr & 0x0fff;
    const pb = (hdr >> 12) & 0x3;
    const payload = p.subarray(5);
    const link = c.links.get(handle);
    if (!link || link.state.kind === "down") {
      if (!c.closedHandles.has(handle)) {
        this.violation(c, "acl-unknown-handle", `ACL data for unknown handle 0x${handle.toString(16)}`);
      }
      return;
    }
    if (payload.length > c.config.aclBuffers.length) {
      this.violation(
        c,
        "acl-too-long",
        `ACL fragment of ${payload.length} bytes exceeds the ${c.config.aclBuffers.length}-byte buffer`,
        link,
      );
    }
    c.outstanding++;
    if (c.outstanding > c.config.aclBuffers.count) {
      this.violation(
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

function cloneConfig(c: ControllerConfig): ControllerConfig {
  return { ...c, aclBuffers: { ...c.aclBuffers } };
}

function mergeConfig(base: ControllerConfig, patch: ConfigPatch): ControllerConfig {
  const out = cloneConfig(base);
  for (const [k, v] of Object.entries(patch) as Array<[keyof ControllerConfig, unknown]>) {
    if (v === undefined) continue;
    if (k === "aclBuffers")
      out.aclBuffers = { ...out.aclBuffers, ...(v as Partial<ControllerConfig["aclBuffers"]>) };
    else (out as unknown as Record<string, unknown>)[k] = v;
  }
  return out;
}
