import { EventEmitter } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import type { Clock, TimerHandle } from "../../src/clock/clock.js";
import { systemClock } from "../../src/clock/system.js";
import { OpenClawError } from "../../src/protocol/errors.js";
import { Advertising } from "./advertising.js";
import { Controller, type ControllerHost, VENDOR_POWER_EVENT } from "./controller.js";
import { PairCounterTable } from "./counters.js";
import { addressToString, EVT, eventPacket, STATUS } from "./hci.js";
import type { Link } from "./link.js";
import { LinkEngine } from "./link-engine.js";
import { Propagation } from "./propagation.js";
import {
  DEFAULT_PATH_LOSS,
  defaultPosition,
  type PathLossModel,
  type Position,
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
  AttPduEvent,
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

interface Remembered {
  position: Position;
  config: ControllerConfig;
}

/**
 * The virtual air: a user-space LE controller for every client stream, and the radio between them.
 *
 * Events: "controller" (ControllerInfo, when a controller appears or names itself), "gone" (ControllerInfo),
 * "connect" / "disconnect" ({ central, peripheral, reason? }), "violation" (Violation), "power"
 * ({ controller, powered }), "att" (AttPduEvent: every ATT PDU either way, for tests that count them).
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
  private readonly pairs = new PairCounterTable();
  private readonly radio: Propagation;
  private readonly advertising: Advertising;
  private readonly linkEngine: LinkEngine;
  private readonly remembered = new Map<string, Remembered>();
  private readonly powerTimers = new Map<Controller, TimerHandle>();
  private readonly powerWaiters = new Map<Controller, () => void>();
  private readonly waiters = new Set<{
    label: string;
    resolve: (c: ControllerInfo) => void;
    reject: (e: Error) => void;
    timer: TimerHandle;
  }>();
  private nextIndex = 0;
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
    this.radio = new Propagation(this.rng, this.pathLoss);
    this.linkEngine = new LinkEngine({
      clock: this.clock,
      rng: this.rng,
      radio: this.radio,
      counters: this.pairs,
      strictAtt: this.strictAtt,
      stopAdvertising: (c) => this.advertising.stop(c),
      violation: (c, kind, detail, link) => this.violation(c, kind, detail, link),
      log: this.logLine,
      emit: (event, payload) => this.emit(event, payload),
    });
    this.advertising = new Advertising({
      clock: this.clock,
      rng: this.rng,
      radio: this.radio,
      counters: this.pairs,
      controllers: () => this.live.values(),
      connect: (central, peripheral, own) => this.linkEngine.connect(central, peripheral, own),
    });
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
    this.linkEngine.closeAll();
    this.advertising.close();
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
    this.linkEngine.orphanLinks(c, undefined);
    this.advertising.stop(c);
    c.init = { kind: "idle" };
    c.scan = { kind: "off" };
    this.clock.clearTimeout(this.powerTimers.get(c));
    this.powerTimers.delete(c);
    this.powerWaiters.get(c)?.();
    this.powerWaiters.delete(c);
    this.pairs.forget(c.id);
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
    this.linkEngine.orphanLinks(c, STATUS.localHostTerminated);
    this.advertising.stop(c);
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
    return this.pairs.list();
  }

  /** What `to` would measure from `from` right now (no jitter), dBm. */
  rssiBetween(from: string, to: string): number {
    return this.radio.nominal(this.resolve(from), this.resolve(to));
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

  private violation(c: Controller, kind: ViolationKind, detail: string, link?: Link): void {
    this.violations++;
    if (link) this.pairs.of(link.central, link.peripheral).violations++;
    const v: Violation = { kind, controller: c.name, detail };
    this.logLine(`air: violation (${kind}) by ${c.name}: ${detail}`);
    this.emit("violation", v);
  }

  // ---------------------------------------------------------------------------------------------------
  // What controllers call

  private readonly host: ControllerHost = {
    advertisingChanged: (c) => this.advertising.changed(c),
    scanningChanged: () => {},
    initiatingChanged: () => {},
    aclFromHost: (c, p) => this.linkEngine.aclFromHost(c, p),
    disconnect: (c, handle, reason) => this.linkEngine.disconnectRequest(c, handle, reason),
    connectionUpdate: (c, handle, min, _max, latency, timeout) =>
      this.linkEngine.connectionUpdate(c, handle, min, latency, timeout),
    rssiOf: (c, handle) => this.linkEngine.rssiOf(c, handle),
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
    resetLinks: (c) => this.linkEngine.orphanLinks(c, undefined),
    violation: (c, kind, detail) => this.violation(c, kind, detail),
    random: () => this.rng(),
  };
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
