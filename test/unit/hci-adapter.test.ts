/**
 * The kernel adapter as the stacks get it (src/radio/hci/adapter.ts), with a fake native binding: every
 * errno becomes ADAPTER_UNAVAILABLE in words, nothing throws into the stacks, and data passes the guard.
 */
import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import {
  adapterFailure,
  GuardedAdapterSocket,
  type NativeHciSocket,
  type NativeHciSocketClass,
} from "../../src/radio/hci/adapter.js";
import type { HciReport } from "../../src/radio/hci/reports.js";

function errno(code: string): NodeJS.ErrnoException {
  const e = new Error(`${code}, something`) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

/** A stand-in for the native binding: emits through `this.emit`, as the C++ does. */
class FakeNative extends EventEmitter implements NativeHciSocket {
  static failConstruct: string | undefined;
  static failBind: string | undefined;
  static last: FakeNative | undefined;
  readonly written: Buffer[] = [];
  constructor() {
    super();
    if (FakeNative.failConstruct) throw errno(FakeNative.failConstruct);
    FakeNative.last = this;
  }
  getDeviceList() {
    return [];
  }
  isDevUp() {
    return true;
  }
  start() {}
  stop() {}
  bindRaw(devId?: number) {
    if (FakeNative.failBind) throw errno(FakeNative.failBind);
    return devId ?? 0;
  }
  bindUser(devId?: number) {
    return devId ?? 0;
  }
  bindControl() {
    return 0;
  }
  setFilter() {}
  write(d: Buffer) {
    this.written.push(d);
  }
}

function open(o: { construct?: string; bind?: string } = {}) {
  FakeNative.failConstruct = o.construct;
  FakeNative.failBind = o.bind;
  FakeNative.last = undefined;
  const reports: HciReport[] = [];
  const s = new GuardedAdapterSocket(
    () => FakeNative as unknown as NativeHciSocketClass,
    (r) => reports.push(r),
  );
  return { s, reports, native: FakeNative.last as FakeNative | undefined };
}

describe("GuardedAdapterSocket", () => {
  it.each([
    ["EAFNOSUPPORT", "construct", /this system has no Bluetooth support \(EAFNOSUPPORT/],
    ["ENODEV", "bind", /there is no adapter hci7 \(ENODEV\)/],
    ["EPERM", "bind", /permission denied opening hci7 \(EPERM\): node needs the cap_net_raw capability/],
    ["EBUSY", "bind", /hci7 is busy \(EBUSY\)/],
    ["ERFKILL", "bind", /hci7 is blocked by rfkill/],
  ] as const)(
    "turns %s (at %s) into one ADAPTER_UNAVAILABLE report and reads as down",
    (code, where, text) => {
      const { s, reports } = open(where === "construct" ? { construct: code } : { bind: code });
      expect(() => s.bindRaw(7)).not.toThrow();
      expect(s.bindRaw(7)).toBe(7);
      expect(s.isDevUp()).toBe(false);
      expect(s.getDeviceList()).toEqual([]);
      expect(() => s.start()).not.toThrow();
      s.write(Buffer.from("01030c00", "hex")); // quietly nowhere
      expect(reports.map((r) => r.kind)).toEqual(["adapter"]);
      expect(reports[0]!.error.code).toBe("ADAPTER_UNAVAILABLE");
      expect(reports[0]!.error.message).toMatch(text);
      expect(reports[0]!.error.message).not.toMatch(/something/); // the errno's own text is not the message
    },
  );

  it("gives bleno's management socket an inert object when the adapter is unusable", () => {
    const { s } = open({ construct: "EAFNOSUPPORT" });
    expect(s.bindControl()).toBe(0);
  });

  it("passes the stack's writes and the controller's packets through the guard", () => {
    const { s, native, reports } = open();
    const seen: string[] = [];
    s.on("data", (d: Buffer) => seen.push(d.toString("hex")));
    s.bindRaw(0);
    s.write(Buffer.from("01030c00", "hex"));
    expect(native!.written.map((b) => b.toString("hex"))).toEqual(["01030c00"]);
    native!.emit("data", Buffer.from("040e0401030c00", "hex"));
    // A truncated Read Request from a peer: answered by the guard, never seen by the stack.
    native!.emit("data", Buffer.from("024020050001000400" + "0a", "hex"));
    expect(seen).toEqual(["040e0401030c00"]);
    expect(native!.written.map((b) => b.toString("hex")).at(-1)).toBe("024000090005000400010a000004");
    expect(reports.map((r) => r.kind === "malformed" && r.action)).toEqual(["answered"]);
  });

  it("contains what the stack throws on data, and disconnects that link", () => {
    const { s, native, reports } = open();
    s.on("data", () => {
      throw new RangeError("out of range");
    });
    expect(() => native!.emit("data", Buffer.from("0240200700030004000a0100", "hex"))).not.toThrow();
    expect(reports.map((r) => r.kind)).toEqual(["stack-threw"]);
    expect(native!.written.map((b) => b.toString("hex"))).toEqual(["01060403400013"]);
  });

  it("hands the stacks the errno they map to states, and reports it typed", () => {
    const { s, native, reports } = open();
    const seen: NodeJS.ErrnoException[] = [];
    s.on("error", (e: NodeJS.ErrnoException) => seen.push(e));
    s.bindRaw(0);
    native!.emit("error", errno("ENETDOWN"));
    expect(seen.map((e) => e.code)).toEqual(["ENETDOWN"]);
    expect(reports[0]!.error.message).toMatch(/hci0 is down \(ENETDOWN\)/);
  });

  it("names the adapter in every errno it does not know", () => {
    expect(adapterFailure(errno("EIO"), 2).message).toBe(
      "no usable Bluetooth adapter: cannot use hci2 (EIO)",
    );
  });
});
