import type { StopAt } from "../../rig/controller-driver.js";
import { type Child, type ChildEvent, spawnProgram } from "../../rig/proc.js";
import type { ControllerBondJson } from "../../src/protocol/controller/index.js";
import type { Role } from "../../src/protocol/session/index.js";

export { ControllerDriver, type DriverOptions, type StopAt } from "../../rig/controller-driver.js";

// ---- the child-process proxy for tests ---------------------------------------------------------

/** What a scan reports, JSON-safe. */
export interface ScanResultJson {
  id: string;
  address: string;
  rssi: number;
  name: string | null;
  txPowerDbm: number | null;
  advert: {
    version: number;
    windowOpen: boolean;
    hasBonds: boolean;
    noncePrefix: string | null;
    tag: string | null;
    /** The bonded device id this laptop resolved the tag to. */
    resolvedDeviceId: string | null;
  } | null;
}

export interface BondSummary {
  deviceId: string;
  controllerId: string;
  role: Role;
  accessoryName: string;
  model: string;
  firmware: string;
}

export type DriverEvent =
  | { type: "ready"; address: string; controllerId: string }
  | { type: "disconnect"; reason: string }
  | { type: "notification"; channel: number; payload: string }
  | {
      type: "failure";
      cmd: string;
      error: { code: string; message: string; details: Record<string, unknown> };
    }
  | { type: "result"; req: number; ok: boolean; value?: unknown; error?: { code?: string; message: string } };

export interface StartDriverOptions {
  /** Shown in errors. */
  name?: string;
  /** 32 hex digits; random otherwise. */
  controllerId?: string;
  /** The laptop name the device lists. */
  laptopName?: string;
  /** Negotiate at most this ATT MTU (23 exercises fragmentation hardest). */
  maxMtu?: number;
  stepTimeoutMs?: number;
}

/** An error from the driver child, with the OpenClawError code and details when there were any. */
export class DriverError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly details: Record<string, unknown> | undefined,
  ) {
    super(message);
  }
}

/** A driver child on an HCI spec (e.g. `air.spec("laptop")`). Kill it with `killAll()` / `end()`. */
export class DriverProcess {
  readonly child: Child<DriverEvent & ChildEvent>;
  private readyEvent: Promise<{ address: string; controllerId: string }>;

  constructor(hci: string, o: StartDriverOptions = {}) {
    const args: string[] = [];
    if (o.controllerId) args.push("--controller-id", o.controllerId);
    if (o.laptopName) args.push("--name", o.laptopName);
    if (o.maxMtu !== undefined) args.push("--max-mtu", String(o.maxMtu));
    if (o.stepTimeoutMs !== undefined) args.push("--step-timeout", String(o.stepTimeoutMs));
    this.child = spawnProgram<DriverEvent & ChildEvent>("test/fixtures/driver-child.js", {
      name: o.name ?? "driver",
      hci,
      args,
    });
    this.readyEvent = this.child.next("ready", 10_000, "the driver's adapter powering on").then((e) => ({
      address: e.address,
      controllerId: e.controllerId,
    }));
    this.readyEvent.catch(() => {});
  }

  ready(): Promise<{ address: string; controllerId: string }> {
    return this.readyEvent;
  }

  private async call<V>(cmd: string, args: object = {}, timeoutMs = 15_000): Promise<V> {
    await this.readyEvent;
    const mark = this.child.mark();
    try {
      return await this.child.call<V>(cmd, args, timeoutMs);
    } catch (err) {
      const failure = this.child.events
        .slice(mark)
        .find((e): e is Extract<DriverEvent, { type: "failure" }> => e.type === "failure" && e.cmd === cmd);
      const code = (err as { code?: string }).code;
      throw new DriverError((err as Error).message, failure?.error.code ?? code, failure?.error.details);
    }
  }

  scan(durationMs: number): Promise<ScanResultJson[]> {
    return this.call("scan", { durationMs }, durationMs + 10_000);
  }
  /** Scans until a device with this name (or id) shows up. */
  find(nameOrId: string, timeoutMs = 10_000): Promise<ScanResultJson> {
    return this.call("find", { name: nameOrId, timeoutMs }, timeoutMs + 5000);
  }
  connect(id: string, o: { timeoutMs?: number; intervalMs?: number } = {}): Promise<{ mtu: number }> {
    return this.call("connect", { id, ...o }, (o.timeoutMs ?? 10_000) + 5000);
  }
  info(): Promise<Record<string, unknown>> {
    return this.call("info");
  }
  pair(code: string, stopAt?: StopAt): Promise<BondSummary | null> {
    return this.call("pair", { code, ...(stopAt ? { stopAt } : {}) }, 30_000);
  }
  verify(deviceId?: string): Promise<{ role: Role }> {
    return this.call("verify", deviceId ? { deviceId } : {});
  }
  status(): Promise<Record<string, unknown>> {
    return this.call("status");
  }
  listPairings(): Promise<
    Array<{ controllerId: string; name: string; role: Role; state: string; self: boolean }>
  > {
    return this.call("listPairings");
  }
  removePairing(controllerId?: string): Promise<{ removedSelf: boolean }> {
    return this.call("removePairing", controllerId ? { controllerId } : {});
  }
  share(o: { ttlMs: number; role?: Role; format?: "passkey" | "long" }): Promise<{
    code: string;
    display: string;
    format: string;
    role: Role;
    timeLeftMs: number;
  }> {
    return this.call("share", o);
  }
  rotate(): Promise<null> {
    return this.call("rotate");
  }
  factoryReset(): Promise<null> {
    return this.call("factoryReset");
  }
  app(channel: number, payloadHex: string): Promise<string> {
    return this.call("app", { channel, payload: payloadHex });
  }
  sendMessage(hexMessage: string): Promise<null> {
    return this.call("sendMessage", { data: hexMessage });
  }
  receiveMessage(timeoutMs: number): Promise<string> {
    return this.call("receiveMessage", { timeoutMs }, timeoutMs + 5000);
  }
  sendFrame(hexFrame: string): Promise<null> {
    return this.call("sendFrame", { data: hexFrame });
  }
  exportBond(deviceId?: string): Promise<ControllerBondJson> {
    return this.call("exportBond", deviceId ? { deviceId } : {});
  }
  importBond(bond: ControllerBondJson): Promise<string> {
    return this.call("importBond", { bond });
  }
  rssi(): Promise<number> {
    return this.call("rssi");
  }
  disconnect(): Promise<null> {
    return this.call("disconnect");
  }
  /** Closes stdin: the child disconnects and exits. */
  end(): Promise<unknown> {
    return this.child.end();
  }
}

export function startDriver(hci: string, o: StartDriverOptions = {}): DriverProcess {
  return new DriverProcess(hci, o);
}
