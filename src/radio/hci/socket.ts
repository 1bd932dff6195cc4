/**
 * A stand-in for @abandonware/bluetooth-hci-socket that speaks H4 over a unix or TCP stream, so the
 * unmodified noble and bleno drive a virtual controller (firmware-sim/air, or BlueZ's `btvirt -s`).
 *
 * It mirrors the native class as noble 1.9.2 and bleno 0.6.2 use it:
 * - `bindRaw()` opens the stream (and returns device id 0); `bindControl()` makes an inert management
 *   socket (bleno's smp.js opens one at load to push long-term keys to the kernel: here they go nowhere);
 *   `bindUser()` (HCI_CHANNEL_USER) is refused: noble then skips LE Read Buffer Size and GATT hangs.
 * - `isDevUp()` is true at once (writes made before the stream connects are queued by the stream), and
 *   false after the stream failed or closed, or while the virtual controller is powered off (its vendor
 *   power event), which the stacks report as `poweredOff`; they re-initialise it when it is back.
 * - `data` events carry one whole H4 packet each, at most one per event-loop turn: both stacks attach
 *   listeners in promise continuations, and a synchronous burst loses events.
 * - `setFilter()` is honoured like the kernel's HCI_FILTER (packet types, events, opcode).
 * - Everything the controller sends passes the host guard (guard.ts) first: malformed PDUs from peers
 *   never reach the stack, and an exception the stack throws while handling a packet is contained.
 * - Failures are reported once, typed (ADAPTER_UNAVAILABLE, through reports.ts), and as `error` events
 *   for the stacks (which only log them).
 */
import { EventEmitter } from "node:events";
import { lstatSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import type { Clock, TimerHandle } from "../../clock/clock.js";
import { systemClock } from "../../clock/system.js";
import { OpenClawError } from "../../protocol/errors.js";
import { HostGuard } from "./guard.js";
import {
  answeredOpcode,
  commandPacket,
  H4Parser,
  type HciFilter,
  OPCODE_SET_LABEL,
  PASS_ALL,
  parseHciFilter,
  passesHciFilter,
  SET_LABEL_IN_USE,
  vendorPowerEvent,
} from "./h4.js";
import { type HciReport, reportHci } from "./reports.js";
import { formatHciSpec, type HciStreamSpec } from "./spec.js";

/** What getDeviceList() returns per device (same shape as the native binding). */
export interface HciDeviceInfo {
  devId: number | null;
  devUp: boolean | null;
  idVendor: number | null;
  idProduct: number | null;
  busNumber: number | null;
  deviceAddress: number | null;
}

export interface HciStreamSocketOptions {
  /** Give up connecting after this long (a TCP host that never answers). Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Where the connect timeout runs (default: the system clock; entry points pass theirs). */
  clock?: Clock;
  /** Where failures and contained trouble are reported (default: the process-wide reports.ts). */
  report?: (r: HciReport) => void;
}

type SocketState =
  | { kind: "unbound" }
  | { kind: "control" }
  | { kind: "connecting"; stream: Socket; timer: TimerHandle }
  | { kind: "open"; stream: Socket }
  | { kind: "failed"; error: OpenClawError<"ADAPTER_UNAVAILABLE"> }
  | { kind: "closed" };

/** Pause reading the stream when this many packets wait for the stack; resume below the low mark. */
const QUEUE_HIGH = 4096;
const QUEUE_LOW = 1024;

export class HciStreamSocket extends EventEmitter {
  readonly spec: HciStreamSpec;
  private state: SocketState = { kind: "unbound" };
  private delivery: "paused" | "flowing" = "paused";
  private labelReply: "none" | "awaiting" = "none";
  /** The stream was up once: a later connect failure means the radio went away, not that it never ran. */
  private wasOpen = false;
  /**
   * The virtual controller's power, from its vendor power event. "cycled": back on, but the stack has not
   * yet polled isDevUp() while it was off (the stacks poll once a second; a short cycle must not be missed).
   */
  private power: "on" | "off" | "cycled" = "on";
  private filter: HciFilter = PASS_ALL;
  private readonly parser = new H4Parser();
  private readonly guard: HostGuard;
  private queue: Buffer[] = [];
  private head = 0;
  private tick: NodeJS.Immediate | undefined;
  private readonly connectTimeoutMs: number;
  private readonly clock: Clock;
  private readonly reportTo: (r: HciReport) => void;

  constructor(spec: HciStreamSpec, options: HciStreamSocketOptions = {}) {
    super();
    this.spec = spec;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.clock = options.clock ?? systemClock;
    this.reportTo = options.report ?? reportHci;
    this.guard = new HostGuard({ toController: (p) => this.writeOwn(p), report: this.reportTo });
  }

  /** Where this socket connects, as `unix:/path?label=x` / `tcp:host:port`. */
  get target(): string {
    return formatHciSpec(this.spec);
  }

  /** The state kind, for diagnostics and tests. */
  get status(): SocketState["kind"] {
    return this.state.kind;
  }

  getDeviceList(): HciDeviceInfo[] {
    return [
      {
        devId: 0,
        devUp: this.streamUp() && this.power !== "off",
        idVendor: null,
        idProduct: null,
        busNumber: null,
        deviceAddress: null,
      },
    ];
  }

  private streamUp(): boolean {
    return this.state.kind !== "failed" && this.state.kind !== "closed";
  }

  isDevUp(): boolean {
    if (!this.streamUp()) return false;
    if (this.power === "cycled") {
      this.power = "on";
      return false;
    }
    return this.power === "on";
  }

  bindRaw(devId?: number): number {
    if (this.state.kind === "unbound") this.connect();
    return devId ?? 0;
  }

  bindUser(_devId?: number): number {
    throw new OpenClawError("ADAPTER_UNAVAILABLE", {
      detail: `HCI_CHANNEL_USER is not supported on ${this.target}; unset HCI_CHANNEL_USER`,
    });
  }

  bindControl(): number {
    if (this.state.kind === "unbound") this.state = { kind: "control" };
    return 0;
  }

  setFilter(filter: Uint8Array): void {
    this.filter = parseHciFilter(filter, this.filter);
  }

  start(): void {
    this.delivery = "flowing";
    this.schedule();
  }

  stop(): void {
    this.delivery = "paused";
    if (this.tick) clearImmediate(this.tick);
    this.tick = undefined;
  }

  /** The native binding's periodic L2CAP cleanup and reset: nothing to do on a stream. */
  cleanup(): void {}
  reset(): void {}

  write(data: Uint8Array): void {
    switch (this.state.kind) {
      case "connecting":
      case "open":
        this.guard.fromHost(data);
        // net.Socket queues writes made before 'connect'.
        this.state.stream.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
        return;
      case "control": // management commands (long-term keys) have no kernel to go to
      case "failed": // already reported
      case "closed":
        return;
      case "unbound":
        this.fail(`write before bindRaw() on ${this.target}`);
        return;
    }
  }

  /** A packet the guard sends itself (not the stack's: not counted as the stack's). */
  private writeOwn(packet: Buffer): void {
    const s = this.state;
    if (s.kind === "connecting" || s.kind === "open") s.stream.write(packet);
  }

  /** Ends the stream (the virtual radio then disconnects this controller's links). Idempotent. */
  close(): void {
    const s = this.state;
    if (s.kind === "connecting" || s.kind === "open") {
      if (s.kind === "connecting") this.clock.clearTimeout(s.timer);
      s.stream.removeAllListeners();
      s.stream.on("error", () => {}); // a late error on a stream we are discarding is not news
      s.stream.destroy();
    }
    if (s.kind !== "control") this.state = { kind: "closed" };
    this.stop();
    this.queue = [];
    this.head = 0;
  }

  private connect(): void {
    const stream =
      this.spec.kind === "unix"
        ? createConnection({ path: this.spec.path })
        : createConnection({ host: this.spec.host, port: this.spec.port });
    stream.setNoDelay?.(true);
    const timer = this.clock.setTimeout("hci-stream.connect", this.connectTimeoutMs, () =>
      this.fail(`no answer from ${this.target} within ${this.connectTimeoutMs} ms`),
    );
    this.state = { kind: "connecting", stream, timer };

    stream.on("connect", () => {
      if (this.state.kind !== "connecting") return;
      this.clock.clearTimeout(this.state.timer);
      this.state = { kind: "open", stream };
      this.wasOpen = true;
    });
    stream.on("data", (chunk: Buffer) => this.onChunk(chunk));
    stream.on("error", (err: NodeJS.ErrnoException) => {
      this.fail(
        this.state.kind === "connecting"
          ? this.wasOpen
            ? `the virtual radio at ${this.target} is gone (${err.code ?? err.message}): the program that hosted it quit; run \`openclaw air\` on its own to keep a radio up`
            : connectFailure(this.spec, err)
          : `lost the stream to ${this.target} (${err.code ?? err.message})`,
        err,
      );
    });
    stream.on("close", () => this.fail(`the virtual radio at ${this.target} closed the stream`));

    if (this.spec.label !== undefined) {
      // Sent before anything the stack writes, so the radio knows who we are before we advertise or scan.
      this.labelReply = "awaiting";
      stream.write(commandPacket(OPCODE_SET_LABEL, Buffer.from(this.spec.label, "utf8")));
    }
  }

  private onChunk(chunk: Buffer): void {
    let packets: Buffer[];
    try {
      packets = this.parser.push(chunk);
    } catch (err) {
      this.fail(err instanceof OpenClawError ? err.details.detail : String(err), err);
      return;
    }
    for (const packet of packets) {
      if (this.labelReply === "awaiting") {
        const answer = answeredOpcode(packet);
        if (answer?.opcode === OPCODE_SET_LABEL) {
          // Our own command: the stack never sent it, so it must not see the reply.
          this.labelReply = "none";
          if (answer.status === SET_LABEL_IN_USE) {
            // Two clients with one label would be one device twice (same address): refuse to run.
            this.fail(
              `the label "${this.spec.label}" is already in use on ${this.target}: another client (an \`openclaw sim\`, a test) is connected with it; stop that one or choose another ?label=`,
            );
            return;
          }
          if (answer.status !== 0) {
            this.fail(
              `${this.target} refused the label "${this.spec.label}" (HCI status 0x${answer.status.toString(16)}): labels are 1 to 32 bytes of UTF-8`,
            );
            return;
          }
          continue;
        }
      }
      const power = vendorPowerEvent(packet);
      if (power !== undefined) {
        // The stacks re-initialise the controller when isDevUp() goes false and then true again.
        this.power = power ? (this.power === "off" ? "cycled" : this.power) : "off";
        continue;
      }
      this.queue.push(packet);
    }
    const s = this.state;
    if (this.queue.length - this.head > QUEUE_HIGH && (s.kind === "open" || s.kind === "connecting")) {
      s.stream.pause();
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.tick || this.delivery !== "flowing" || this.head >= this.queue.length) return;
    this.tick = setImmediate(() => this.deliverOne());
  }

  private deliverOne(): void {
    this.tick = undefined;
    while (this.head < this.queue.length) {
      const packet = this.queue[this.head]!;
      this.head += 1;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      const forStack = this.guard.fromController(packet);
      if (!forStack || !passesHciFilter(this.filter, forStack)) continue;
      this.guard.deliver(forStack, (p) => this.emit("data", p));
      break;
    }
    const s = this.state;
    if (this.queue.length - this.head < QUEUE_LOW && s.kind === "open" && s.stream.isPaused())
      s.stream.resume();
    this.schedule();
  }

  private fail(detail: string, cause?: unknown): void {
    const s = this.state;
    if (s.kind !== "connecting" && s.kind !== "open") return;
    if (s.kind === "connecting") this.clock.clearTimeout(s.timer);
    s.stream.removeAllListeners();
    s.stream.on("error", () => {});
    s.stream.destroy();
    const error = new OpenClawError("ADAPTER_UNAVAILABLE", { detail, transport: "stream" }, { cause });
    this.state = { kind: "failed", error };
    this.report(error);
  }

  private report(error: OpenClawError<"ADAPTER_UNAVAILABLE">): void {
    this.reportTo({ kind: "adapter", error });
    if (this.listenerCount("error") > 0) {
      try {
        this.emit("error", error);
      } catch {
        // the stacks' error handlers only log; a throw there must not end the process either
      }
    }
  }
}

/** Says what went wrong connecting to a stream, and what to start: the words a person acts on. */
export function connectFailure(spec: HciStreamSpec, err: NodeJS.ErrnoException): string {
  const code = err.code ?? err.message;
  if (spec.kind === "tcp") {
    const where = `tcp:${spec.host.includes(":") ? `[${spec.host}]` : spec.host}:${spec.port}`;
    if (code === "ECONNREFUSED")
      return `nothing is listening on ${where} (ECONNREFUSED): start the virtual radio there with \`openclaw air --tcp ${spec.port}\``;
    return `cannot connect to ${where} (${code})`;
  }
  const path = spec.path;
  const air = `start the virtual radio with \`openclaw air --socket ${path}\``;
  if (code === "ENOENT") return `there is no socket at ${path} (ENOENT): ${air}, or give the path it prints`;
  const elsewhere =
    "start the virtual radio on a free path (`openclaw air --socket PATH`) and give that path";
  if (code === "EACCES" || code === "EPERM") {
    return `permission denied connecting to ${path} (${code}): the air's socket is private to the user who started \`openclaw air\` (see its --socket-mode)`;
  }
  if (code === "ECONNREFUSED") {
    let what: string | undefined;
    try {
      const st = lstatSync(path);
      if (!st.isSocket())
        what = st.isDirectory() ? "a directory" : st.isFile() ? "a regular file" : "a special file";
    } catch {
      // gone meanwhile: the socket case below still reads right
    }
    if (what !== undefined)
      return `${path} is ${what}, not a socket (ECONNREFUSED): --hci unix: needs the socket of a running \`openclaw air\`; ${elsewhere}`;
    return `nothing is listening on ${path} (ECONNREFUSED; a socket left by an air that stopped?): ${air}`;
  }
  return `cannot connect to ${path} (${code}): ${air}`;
}

/**
 * A constructor with the native class's signature (no arguments) bound to one stream spec: what noble
 * and bleno get from `require("@abandonware/bluetooth-hci-socket")` once the preload is in place.
 */
export type HciSocketConstructor = new () => HciStreamSocket;

export function hciSocketClassFor(
  spec: HciStreamSpec,
  options: HciStreamSocketOptions = {},
): HciSocketConstructor {
  return class BoundHciStreamSocket extends HciStreamSocket {
    constructor() {
      super(spec, options);
    }
  };
}
