/**
 * src/radio/central.ts against a fake noble: scan bookkeeping, connect timeout and cancel, MTU-sized
 * frames, link loss. The real noble on the virtual air is exercised by the sim-* integration tests
 * through the test driver.
 */
import { EventEmitter, getEventListeners } from "node:events";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ManualClock } from "../../src/clock/manual.js";
import { buildAdvertising } from "../../src/protocol/advert.js";
import { INFO_CHAR_UUID, RX_CHAR_UUID, SERVICE_UUID, TX_CHAR_UUID } from "../../src/protocol/gatt.js";
import { Central, LinkDevices } from "../../src/radio/central.js";
import { rejection } from "../helpers/errors.js";

class FakeChar extends EventEmitter {
  writes: Array<{ data: Buffer; withoutResponse: boolean }> = [];
  constructor(
    readonly uuid: string,
    readonly properties: string[],
  ) {
    super();
  }
  async readAsync(): Promise<Buffer> {
    return Buffer.from([1, 2, 3]);
  }
  async writeAsync(data: Buffer, withoutResponse: boolean): Promise<void> {
    this.writes.push({ data, withoutResponse });
  }
  async subscribeAsync(): Promise<void> {}
}

class FakePeripheral extends EventEmitter {
  mtu: number | null = null;
  state = "disconnected";
  connectCb: ((err?: Error | null) => void) | undefined;
  cancelled = 0;
  disconnects = 0;
  chars = [
    new FakeChar(INFO_CHAR_UUID, ["read"]),
    new FakeChar(RX_CHAR_UUID, ["write", "writeWithoutResponse"]),
    new FakeChar(TX_CHAR_UUID, ["notify"]),
  ];
  constructor(
    readonly id: string,
    readonly advertisement: Record<string, unknown>,
    public rssi = -50,
    readonly address = "aa:bb:cc:dd:ee:ff",
    readonly connectable = true,
  ) {
    super();
  }
  connect(_params: unknown, cb: (err?: Error | null) => void): void {
    this.connectCb = cb;
  }
  /** The test completes the connection (as noble would after LE Connection Complete and the MTU exchange). */
  complete(mtu = 247): void {
    this.state = "connected";
    this.mtu = mtu;
    this.connectCb?.(null);
  }
  cancelConnect(): void {
    this.cancelled++;
    this.connectCb?.(new Error("connection canceled!"));
  }
  disconnect(): void {
    this.disconnects++;
    queueMicrotask(() => this.emit("disconnect", 0x16));
  }
  async updateRssiAsync(): Promise<number> {
    return this.rssi;
  }
  async discoverSomeServicesAndCharacteristicsAsync(): Promise<{ characteristics: FakeChar[] }> {
    return { characteristics: this.chars };
  }
}

class FakeNoble extends EventEmitter {
  state = "poweredOn";
  address = "11:22:33:44:55:66";
  starts = 0;
  stops = 0;
  async startScanningAsync(): Promise<void> {
    this.starts++;
  }
  async stopScanningAsync(): Promise<void> {
    this.stops++;
  }
}

function openClawPeripheral(id = "dev1"): FakePeripheral {
  const { scanResponse } = buildAdvertising({
    name: "OpenClaw-ABCD",
    version: 1,
    windowOpen: true,
    hasBonds: false,
    nonce: new Uint8Array(16).fill(9),
  });
  // noble hands over the manufacturer data with the company id, as in the AD structure
  const mfr = Buffer.from(scanResponse.subarray(17));
  return new FakePeripheral(id, {
    localName: "OpenClaw-ABCD",
    serviceUuids: [SERVICE_UUID],
    manufacturerData: mfr,
  });
}

let noble: FakeNoble;
let central: Central;

beforeEach(async () => {
  noble = new FakeNoble();
  central = await Central.fromNoble(noble);
});
afterEach(() => {
  vi.useRealTimers();
});

describe("Central (fake noble)", () => {
  it("reports OpenClaw devices with their window state and ignores others", async () => {
    const seen: string[] = [];
    const s = await central.startScan((r) => seen.push(`${r.name}:${r.advert?.windowOpen}:${r.rssi}`));
    noble.emit("discover", openClawPeripheral());
    noble.emit("discover", new FakePeripheral("other", { localName: "Heart rate", serviceUuids: ["180d"] }));
    await s.stop();
    expect(seen).toEqual(["OpenClaw-ABCD:true:-50"]);
  });

  it("keeps the radio scanning while any scan is active", async () => {
    const a = await central.startScan(() => {});
    const b = await central.startScan(() => {});
    expect(noble.starts).toBe(1);
    await a.stop();
    expect(noble.stops).toBe(0);
    await b.stop();
    await b.stop();
    expect(noble.stops).toBe(1);
  });

  it("refuses to scan or connect without a powered adapter", async () => {
    noble.state = "poweredOff";
    expect((await rejection(central.startScan(() => {}))).code).toBe("ADAPTER_UNAVAILABLE");
    expect((await rejection(central.connect("dev1"))).code).toBe("ADAPTER_UNAVAILABLE");
  });

  it("times out a connection naming the device, and cancels it", async () => {
    const p = openClawPeripheral();
    noble.emit("discover", p);
    vi.useFakeTimers();
    const attempt = rejection(central.connect(p.id, { timeoutMs: 3000 }));
    await vi.advanceTimersByTimeAsync(3000);
    const err = await attempt;
    expect(err.code).toBe("TIMEOUT");
    expect(err.details).toEqual({ what: "connecting to OpenClaw-ABCD", afterMs: 3000 });
    expect(p.cancelled).toBe(1);
  });

  it("cancels on abort", async () => {
    const p = openClawPeripheral();
    noble.emit("discover", p);
    const ac = new AbortController();
    const attempt = rejection(central.connect(p.id, { signal: ac.signal }));
    ac.abort();
    expect((await attempt).code).toBe("TIMEOUT");
    expect(p.cancelled).toBe(1);
  });

  it("leaves nothing on a long-lived signal once a connection attempt is over", async () => {
    const ac = new AbortController();
    for (let i = 0; i < 10; i++) {
      const p = openClawPeripheral(`dev${i}`);
      noble.emit("discover", p);
      const pending = central.connect(p.id, { signal: ac.signal });
      p.complete();
      await pending;
    }
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
  });

  it("connects, sizes frames to the negotiated MTU, writes without response, hears notifications", async () => {
    const p = openClawPeripheral();
    noble.emit("discover", p);
    const pending = central.connect(p.id);
    p.complete(23);
    const conn = await pending;
    expect(conn.mtu).toBe(23);
    expect(conn.maxFrame).toBe(20);
    expect([...(await conn.readInfo())]).toEqual([1, 2, 3]);
    await conn.sendFrame(new Uint8Array(20));
    expect(p.chars[1]!.writes).toEqual([{ data: Buffer.alloc(20), withoutResponse: true }]);
    expect((await rejection(conn.sendFrame(new Uint8Array(21)))).code).toBe("PROTOCOL_ERROR");
    const frames: number[][] = [];
    conn.onFrame((f) => frames.push([...f]));
    p.chars[2]!.emit("data", Buffer.from([0xc0, 0, 0, 0]), true);
    expect(frames).toEqual([[0xc0, 0, 0, 0]]);
    const closed = new Promise<string>((r) => conn.onClose(r));
    p.emit("disconnect", 0x08);
    expect(await closed).toContain("0x8");
    expect((await rejection(conn.sendFrame(new Uint8Array(1)))).code).toBe("OUT_OF_RANGE");
  });

  it("closes links when the adapter powers off", async () => {
    const p = openClawPeripheral();
    noble.emit("discover", p);
    const pending = central.connect(p.id);
    p.complete();
    const conn = await pending;
    const closed = new Promise<string>((r) => conn.onClose(r));
    noble.emit("stateChange", "poweredOff");
    expect(await closed).toBe("the adapter is poweredOff");
  });

  it("rejects a device without the OpenClaw characteristics and hangs up", async () => {
    const p = openClawPeripheral();
    p.chars = p.chars.slice(0, 2);
    noble.emit("discover", p);
    const pending = rejection(central.connect(p.id));
    p.complete();
    expect((await pending).code).toBe("PROTOCOL_ERROR");
    expect(p.disconnects).toBe(1);
  });

  it("uses MTU 23 when noble never learnt one", async () => {
    const p = openClawPeripheral();
    noble.emit("discover", p);
    const pending = central.connect(p.id);
    p.connectCb?.(null);
    expect((await pending).maxFrame).toBe(20);
  });
});

describe("Central: one LE Create Connection at a time (fake noble)", () => {
  // A controller has one pending LE Create Connection (another is Command Disallowed) and the link comes
  // up at the target's next advert: Central keeps the queue and picks the device due to advertise soonest.
  let clock: ManualClock;
  let order: string[];
  beforeEach(async () => {
    clock = new ManualClock(1000);
    order = [];
    central = await Central.fromNoble(noble, 10_000, clock, (id) => order.push(id));
  });

  /** Devices heard advertising at these instants (absolute ms on the manual clock), in time order. */
  function heard(schedule: Record<string, number[]>): Record<string, FakePeripheral> {
    const ps = Object.fromEntries(Object.keys(schedule).map((id) => [id, openClawPeripheral(id)]));
    const events = Object.entries(schedule)
      .flatMap(([id, times]) => times.map((t) => ({ id, t })))
      .sort((a, b) => a.t - b.t);
    for (const e of events) {
      clock.advance(e.t - clock.now());
      noble.emit("discover", ps[e.id]);
    }
    return ps;
  }

  it("hands noble one attempt at a time, the next as soon as the link is up (GATT set-up overlaps)", async () => {
    const { a, b } = heard({ a: [1000], b: [1010] }) as Record<"a" | "b", FakePeripheral>;
    let discovered!: () => void;
    a.discoverSomeServicesAndCharacteristicsAsync = () =>
      new Promise((resolve) => {
        discovered = () => resolve({ characteristics: a.chars });
      });
    const ca = central.connect("a");
    const cb = central.connect("b");
    expect(order).toEqual(["a"]);
    expect(b.connectCb).toBeUndefined();
    a.complete();
    await vi.waitFor(() => expect(order).toEqual(["a", "b"]));
    // b is initiating while a is still discovering its GATT: neither waits for the other's set-up.
    b.complete();
    const connB = await cb;
    expect(connB.id).toBe("b");
    discovered();
    expect((await ca).id).toBe("a");
  });

  it("starts the queued device whose next advert is due soonest, not the first to ask", async () => {
    const { x, a, b, c } = heard({ x: [1000], a: [1000, 1100], b: [1030, 1130], c: [1060, 1160] }) as Record<
      "x" | "a" | "b" | "c",
      FakePeripheral
    >;
    clock.advance(1170 - clock.now());
    const all = [central.connect("x"), central.connect("c"), central.connect("b"), central.connect("a")];
    expect(order).toEqual(["x"]);
    clock.advance(5); // 1175: a is due at 1200, b at 1230, c at 1260
    x.complete();
    await vi.waitFor(() => expect(order).toEqual(["x", "a"]));
    clock.advance(25); // 1200: a's advert; b is due next
    a.complete();
    await vi.waitFor(() => expect(order).toEqual(["x", "a", "b"]));
    b.complete();
    await vi.waitFor(() => expect(order).toEqual(["x", "a", "b", "c"]));
    c.complete();
    expect((await Promise.all(all)).map((conn) => conn.id)).toEqual(["x", "c", "b", "a"]);
  });

  it("pools connects asked for together before the first pick, unless an advert is due at once", async () => {
    const { a, b, c } = heard({ a: [1000, 1100], b: [1040, 1140], c: [1000, 1145] }) as Record<
      "a" | "b" | "c",
      FakePeripheral
    >;
    clock.advance(1150 - clock.now()); // a is due at 1200, b 1240, c 1290
    const ca = central.connect("c");
    await clock.advanceAsync(4);
    const cb = central.connect("b");
    const cc = central.connect("a");
    expect(order).toEqual([]);
    await clock.advanceAsync(5);
    expect(order).toEqual([]);
    await clock.advanceAsync(1); // 10 ms after the first ask: a, due soonest, goes first
    expect(order).toEqual(["a"]);
    a.complete();
    await vi.waitFor(() => expect(order).toEqual(["a", "b"]));
    b.complete();
    await vi.waitFor(() => expect(order).toEqual(["a", "b", "c"]));
    c.complete();
    await Promise.all([ca, cb, cc]);
    // An advert due within the guard: no waiting.
    const { d } = heard({ d: [2000, 2100] }) as Record<"d", FakePeripheral>;
    clock.advance(2180 - clock.now());
    const cd = central.connect("d");
    expect(order.at(-1)).toBe("d");
    d.complete();
    await cd;
  });

  it("puts a device not heard lately after those that are advertising", async () => {
    const { x, quiet, live } = heard({ x: [1000], quiet: [1000, 1100], live: [5000, 5100] }) as Record<
      "x" | "quiet" | "live",
      FakePeripheral
    >;
    clock.advance(5110 - clock.now());
    const all = [central.connect("x"), central.connect("quiet"), central.connect("live")];
    x.complete();
    await clock.advanceAsync(10); // the pooling of connects asked for together
    await vi.waitFor(() => expect(order).toEqual(["x", "live"]));
    live.complete();
    await vi.waitFor(() => expect(order).toEqual(["x", "live", "quiet"]));
    quiet.complete();
    await Promise.all(all);
  });

  it("a queued attempt that times out leaves the queue and cancels nobody's pending connection", async () => {
    const { x, y } = heard({ x: [1000], y: [1000] }) as Record<"x" | "y", FakePeripheral>;
    const cx = central.connect("x", { timeoutMs: 5000 });
    const cy = rejection(central.connect("y", { timeoutMs: 1000 }));
    await clock.advanceAsync(1000);
    expect((await cy).code).toBe("TIMEOUT");
    expect(y.cancelled).toBe(0);
    expect(x.cancelled).toBe(0); // noble's cancelConnect(y) would have cancelled x at the controller
    x.complete();
    expect((await cx).id).toBe("x");
    expect(order).toEqual(["x"]);
    expect(y.connectCb).toBeUndefined();
  });

  it("a pending attempt cancelled frees the controller for the next", async () => {
    const { y } = heard({ x: [1000], y: [1000] }) as Record<"y", FakePeripheral>;
    const cx = rejection(central.connect("x", { timeoutMs: 1000 }));
    const cy = central.connect("y", { timeoutMs: 5000 });
    await clock.advanceAsync(1000);
    expect((await cx).code).toBe("TIMEOUT");
    await vi.waitFor(() => expect(order).toEqual(["x", "y"]));
    y.complete();
    expect((await cy).id).toBe("y");
  });

  it("fails queued attempts when the adapter powers off, and connects again once it is back", async () => {
    const { x } = heard({ x: [1000], y: [1000] }) as Record<"x", FakePeripheral>;
    const cx = rejection(central.connect("x"));
    const cy = rejection(central.connect("y"));
    noble.state = "poweredOff";
    noble.emit("stateChange", "poweredOff");
    expect((await cx).code).toBe("ADAPTER_UNAVAILABLE");
    expect((await cy).code).toBe("ADAPTER_UNAVAILABLE");
    noble.state = "poweredOn";
    noble.emit("stateChange", "poweredOn");
    const again = central.connect("x");
    expect(order).toEqual(["x", "x"]);
    x.complete();
    expect((await again).id).toBe("x");
  });
});

describe("Central reconnecting on cached GATT handles (noble's seeding calls)", () => {
  // noble 1.9.2-26 (lib/noble.js addService) appends each seeded service to the peripheral's list, where
  // a discovery replaces the list; this fake does the same, so the test sees what the daemon's noble keeps.
  class SeedingNoble extends FakeNoble {
    readonly byId = new Map<string, FakePeripheral & { services: Array<{ uuid: string }> | null }>();
    readonly serviceObjects = new Map<string, { uuid: string; characteristics?: FakeChar[] }>();
    addServices(id: string, services: Array<{ uuid: string }>): unknown[] {
      const p = this.byId.get(id)!;
      return services.map((s) => {
        const svc = { uuid: s.uuid };
        p.services ??= [];
        p.services.push(svc);
        this.serviceObjects.set(`${id}/${s.uuid}`, svc);
        return svc;
      });
    }
    addCharacteristics(id: string, serviceUuid: string, chars: Array<{ uuid: string }>): FakeChar[] {
      const cs = chars.map((c) => new FakeChar(c.uuid, []));
      this.serviceObjects.get(`${id}/${serviceUuid}`)!.characteristics = cs;
      return cs;
    }
  }
  const TX = { uuid: TX_CHAR_UUID, startHandle: 16, valueHandle: 17, endHandle: 18, properties: 0x10 };
  const declaration = Buffer.concat([
    Buffer.from([TX.properties, TX.valueHandle & 0xff, TX.valueHandle >> 8]),
    Buffer.from(TX.uuid, "hex").reverse(),
  ]);

  it("leaves noble one OpenClaw service per device however often it reconnects", async () => {
    const seeding = new SeedingNoble();
    const c = await Central.fromNoble(seeding);
    const p = Object.assign(openClawPeripheral(), {
      services: null as Array<{ uuid: string }> | null,
      readHandleAsync: async () => declaration,
      writeHandleAsync: async () => {},
    });
    seeding.byId.set(p.id, p);
    seeding.emit("discover", p);
    c.gattCache.set(p.id, {
      advertVersion: 1,
      service: { uuid: SERVICE_UUID, startHandle: 10, endHandle: 18 },
      characteristics: [
        { uuid: INFO_CHAR_UUID, startHandle: 11, valueHandle: 12, endHandle: 12, properties: 0x02 },
        { uuid: RX_CHAR_UUID, startHandle: 13, valueHandle: 14, endHandle: 15, properties: 0x0c },
        TX,
      ],
      txCccd: 18,
    });
    for (let i = 0; i < 20; i++) {
      const pending = c.connect(p.id);
      p.complete();
      const conn = await pending;
      const closed = new Promise<string>((r) => conn.onClose(r));
      p.emit("disconnect", 0x13);
      await closed;
    }
    expect(c.gattCache.has(p.id)).toBe(true); // every one of them was a cached reconnect
    expect(p.services?.map((s) => s.uuid)).toEqual([SERVICE_UUID]);
  });
});

describe("LinkDevices (the device on each HCI link handle)", () => {
  it("keeps one handle per device however many links the process makes", () => {
    const t = new LinkDevices();
    for (let h = 0x40; h < 0x40 + 500; h++) {
      t.note(h, "e46d87846a25");
      t.note(h, "e46d87846a25"); // every write on the link names it again
    }
    t.note(0x01, "other");
    expect(t.size).toBe(2);
    expect(t.get(0x40 + 499)).toBe("e46d87846a25");
    expect(t.get(0x40)).toBeUndefined();
    // A controller may hand a closed link's handle to another device: its first write names it anew.
    t.note(0x01, "e46d87846a25");
    expect([t.size, t.get(0x01), t.get(0x40 + 499)]).toEqual([1, "e46d87846a25", undefined]);
  });
});

describe("Central: advertisers long gone are forgotten, in noble's tables too (fake noble)", () => {
  // Phones take a new private address every few minutes; a daemon scanning for weeks must not keep an
  // entry per address it ever heard (bench "scan memory": ≈ 1.2 kB each in noble before this).
  const TTL = 120_000;
  let clock: ManualClock;
  /** noble's per-address tables, as lib/noble.js and lib/hci-socket/{bindings,gap}.js keep them. */
  let tables: FakeNoble & {
    _peripherals: Record<string, unknown>;
    _services: Record<string, unknown>;
    _discoveredPeripheralUUids: Record<string, boolean>;
    _bindings: { _addresses: Record<string, string>; _gap: { _discoveries: Record<string, unknown> } };
  };
  beforeEach(async () => {
    clock = new ManualClock(1000);
    tables = Object.assign(new FakeNoble(), {
      _peripherals: {},
      _services: {},
      _discoveredPeripheralUUids: {},
      _bindings: { _addresses: {}, _gap: { _discoveries: {} } },
    });
    central = await Central.fromNoble(tables, 10_000, clock, undefined, TTL);
  });

  /** A foreign advertiser heard once, entered in noble's tables as noble would. */
  function foreign(i: number): FakePeripheral {
    const address = `40:00:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 0xff).toString(16).padStart(2, "0")}`;
    const id = address.replaceAll(":", "");
    const p = new FakePeripheral(id, { manufacturerData: Buffer.from("4c0010", "hex") }, -70, address, false);
    tables._peripherals[id] = p;
    tables._services[id] = {};
    tables._discoveredPeripheralUUids[id] = true;
    tables._bindings._addresses[id] = address;
    tables._bindings._gap._discoveries[address] = { address };
    tables.emit("discover", p);
    return p;
  }

  it("forgets what was not heard for the TTL, everywhere, and keeps what is still around", async () => {
    for (let i = 0; i < 100; i++) foreign(i);
    clock.advance(TTL / 2);
    const dev = openClawPeripheral("dev1");
    tables.emit("discover", dev);
    expect(central.peripheralCount).toEqual({ central: 101, noble: 100 });
    clock.advance(TTL / 2); // the first sweep: the 100 are a TTL old, dev1 half of one
    expect(central.peripheralCount.central).toBe(1);
    expect(tables._peripherals).toEqual({});
    expect(tables._services).toEqual({});
    expect(tables._discoveredPeripheralUUids).toEqual({});
    expect(tables._bindings._addresses).toEqual({});
    expect(tables._bindings._gap._discoveries).toEqual({});
    // Still heard: still connectable.
    tables.emit("discover", dev);
    const pending = central.connect("dev1");
    // The initiator waits for the advert it expects next (the clock is manual).
    await vi.waitFor(() => {
      clock.advance(10);
      expect(dev.connectCb).toBeDefined();
    });
    dev.complete();
    expect((await pending).id).toBe("dev1");
  });

  it("never forgets a device with a link or a connect running, however quiet", async () => {
    const linked = openClawPeripheral("linked");
    const connecting = openClawPeripheral("connecting");
    tables.emit("discover", linked);
    tables.emit("discover", connecting);
    const link = central.connect("linked");
    linked.complete();
    await link;
    const attempt = central.connect("connecting", { timeoutMs: 10 * TTL });
    clock.advance(3 * TTL);
    expect(central.peripheralCount.central).toBe(2);
    connecting.complete();
    expect((await attempt).id).toBe("connecting");
  });

  it("a closed Central leaves no sweep behind", async () => {
    foreign(1);
    await central.close();
    expect(clock.pending()).toEqual([]);
  });
});
