/**
 * The kernel adapter (`hci0`, `hci1`, the default) as noble and bleno get it: the native
 * @abandonware/bluetooth-hci-socket with the host guard (guard.ts) in front, exactly as on a stream,
 * and its failures turned into ADAPTER_UNAVAILABLE with the reason in words.
 *
 * The native class throws from its constructor (EAFNOSUPPORT on a kernel without Bluetooth) and from
 * bind (ENODEV, EPERM, EBUSY), at moments when the stacks cannot report it (bleno constructs its socket
 * while it is being imported; noble swallows the throw into a warning and waits for ever). Here nothing
 * throws: the failure is reported once (reports.ts) and the adapter reads as down, so the stacks say
 * `poweredOff` and src/radio/central.ts / peripheral.ts fail at once with the reported reason.
 */
import { EventEmitter } from "node:events";
import { OpenClawError } from "../../protocol/errors.js";
import { HostGuard } from "./guard.js";
import { type HciReport, reportHci } from "./reports.js";
import type { HciDeviceInfo } from "./socket.js";

/** The native binding's surface as the stacks use it. */
export interface NativeHciSocket {
  getDeviceList(): HciDeviceInfo[];
  isDevUp(): boolean;
  start(): void;
  stop(): void;
  reset?(): void;
  cleanup?(): void;
  bindRaw(devId?: number): number;
  bindUser(devId?: number): number;
  bindControl(): number;
  setFilter(filter: Buffer): void;
  write(data: Buffer): void;
  emit(event: string | symbol, ...args: unknown[]): boolean;
}

export type NativeHciSocketClass = new () => NativeHciSocket;

type State =
  | { kind: "ready"; native: NativeHciSocket }
  | { kind: "failed"; error: OpenClawError<"ADAPTER_UNAVAILABLE">; reported: boolean };

/** The adapter's name as people know it. */
const nameOf = (devId: number | undefined): string => `hci${devId ?? 0}`;

/** What an errno from the native binding means for a person. */
export function adapterFailure(
  err: unknown,
  devId: number | undefined,
): OpenClawError<"ADAPTER_UNAVAILABLE"> {
  const e = err as NodeJS.ErrnoException;
  const code = e?.code ?? (err instanceof Error ? err.message : String(err));
  const name = nameOf(devId);
  let detail: string;
  switch (code) {
    case "EAFNOSUPPORT":
      detail =
        "this system has no Bluetooth support (EAFNOSUPPORT: the kernel offers no Bluetooth sockets, as in most containers and WSL)";
      break;
    case "ENODEV":
      detail = `there is no adapter ${name} (ENODEV)`;
      break;
    case "EPERM":
    case "EACCES":
      detail = `permission denied opening ${name} (${code}): node needs the cap_net_raw capability, or root`;
      break;
    case "EBUSY":
      detail = `${name} is busy (EBUSY): another program holds it (bluetoothd, or another openclaw)`;
      break;
    case "ENETDOWN":
      detail = `${name} is down (ENETDOWN): \`sudo hciconfig ${name} up\` or \`bluetoothctl power on\``;
      break;
    case "ERFKILL":
      detail = `${name} is blocked by rfkill (ERFKILL): \`rfkill unblock bluetooth\``;
      break;
    default:
      detail = `cannot use ${name} (${code})`;
  }
  return new OpenClawError("ADAPTER_UNAVAILABLE", { detail }, { cause: err });
}

export class GuardedAdapterSocket extends EventEmitter {
  private state: State;
  private devId: number | undefined;
  private readonly guard: HostGuard;
  private readonly reportTo: (r: HciReport) => void;

  constructor(load: () => NativeHciSocketClass, report: (r: HciReport) => void = reportHci) {
    super();
    this.reportTo = report;
    this.guard = new HostGuard({ toController: (p) => this.writeNative(p), report }, "the Bluetooth stack");
    try {
      const Native = load();
      const native = new Native();
      // The binding calls this.emit from C++ (it looks the method up on the object): route it here.
      native.emit = (event: string | symbol, ...args: unknown[]) => this.fromNative(event, args);
      this.state = { kind: "ready", native };
    } catch (err) {
      this.state = { kind: "failed", error: adapterFailure(err, undefined), reported: false };
    }
  }

  getDeviceList(): HciDeviceInfo[] {
    return this.call((n) => n.getDeviceList(), []);
  }

  isDevUp(): boolean {
    return this.call((n) => n.isDevUp(), false);
  }

  bindRaw(devId?: number): number {
    this.devId = devId;
    this.bind((n) => n.bindRaw(devId));
    return devId ?? 0;
  }

  bindUser(devId?: number): number {
    this.devId = devId;
    this.bind((n) => n.bindUser(devId));
    return devId ?? 0;
  }

  /** bleno's management socket (long-term keys to the kernel): inert when the adapter is unusable. */
  bindControl(): number {
    return this.call((n) => n.bindControl(), 0);
  }

  setFilter(filter: Buffer): void {
    this.call((n) => n.setFilter(filter), undefined);
  }

  start(): void {
    this.call((n) => n.start(), undefined);
  }

  stop(): void {
    this.call((n) => n.stop(), undefined);
  }

  reset(): void {
    this.call((n) => n.reset?.(), undefined);
  }

  cleanup(): void {
    this.call((n) => n.cleanup?.(), undefined);
  }

  write(data: Buffer): void {
    if (this.state.kind !== "ready") return;
    this.guard.fromHost(data);
    this.writeNative(data);
  }

  private writeNative(data: Buffer): void {
    this.call((n) => n.write(data), undefined);
  }

  private fromNative(event: string | symbol, args: unknown[]): boolean {
    if (event === "data" && Buffer.isBuffer(args[0])) {
      const forStack = this.guard.fromController(args[0]);
      if (forStack) this.guard.deliver(forStack, (p) => super.emit("data", p));
      return true;
    }
    if (event === "error") {
      // The stacks read the errno (EPERM → unauthorized, ENETDOWN → poweredOff): they get it as it is.
      this.reportTo({ kind: "adapter", error: adapterFailure(args[0], this.devId) });
      try {
        return this.listenerCount("error") > 0 ? super.emit("error", args[0]) : true;
      } catch {
        return true; // a throwing handler must not end the process
      }
    }
    return super.emit(event, ...args);
  }

  private bind(fn: (n: NativeHciSocket) => number): void {
    if (this.state.kind === "failed") {
      // The constructor failed before the stack said which adapter: name it now.
      const error = adapterFailure(this.state.error.cause, this.devId);
      this.fail(error);
      return;
    }
    try {
      fn(this.state.native);
    } catch (err) {
      this.fail(adapterFailure(err, this.devId));
    }
  }

  private fail(error: OpenClawError<"ADAPTER_UNAVAILABLE">): void {
    const already = this.state.kind === "failed" && this.state.reported;
    this.state = { kind: "failed", error, reported: true };
    if (!already) this.reportTo({ kind: "adapter", error });
  }

  private call<T>(fn: (n: NativeHciSocket) => T, fallback: T): T {
    if (this.state.kind !== "ready") return fallback;
    try {
      return fn(this.state.native);
    } catch (err) {
      this.fail(adapterFailure(err, this.devId));
      return fallback;
    }
  }
}

/** A constructor with the native class's signature, bound to how the real binding is loaded. */
export function adapterSocketClassFor(
  load: () => NativeHciSocketClass,
  report?: (r: HciReport) => void,
): new () => GuardedAdapterSocket {
  return class BoundAdapterSocket extends GuardedAdapterSocket {
    constructor() {
      super(load, report);
    }
  };
}
