import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EVT, LE_EVT, OP } from "../../firmware-sim/air/hci.js";
import { Air, type AirOptions, type Violation } from "../../firmware-sim/air/index.js";
import { H4TestClient, isEvent, isLeMeta, params, statusOf } from "../../firmware-sim/air/test-client.js";
import { ManualClock } from "../../src/clock/index.js";

let dir: string;
let path: string;
let air: Air;
let timers: ManualClock;
let violations: Violation[];
const clients: H4TestClient[] = [];

async function start(opts: AirOptions = {}): Promise<void> {
  timers = new ManualClock();
  air = new Air({ strictAtt: true, clock: timers, seed: 3, ...opts });
  violations = [];
  air.on("violation", (v: Violation) => violations.push(v));
  await air.listen({ path });
}

async function client(label: string): Promise<H4TestClient> {
  const c = await H4TestClient.connect(path);
  clients.push(c);
  await c.init(label);
  return c;
}

async function bdAddr(c: H4TestClient): Promise<Buffer> {
  return Buffer.from((await c.command(OP.readBdAddr)).subarray(7, 13));
}

interface Pair {
  central: H4TestClient;
  periph: H4TestClient;
  ch: number;
  ph: number;
}

/** A laptop connected to dev1 (connection interval in 1.25 ms units, supervision timeout in 10 ms units). */
async function connectPair(intervalUnits = 0x18, timeoutUnits = 0x2a): Promise<Pair> {
  const periph = await client("dev1");
  await periph.command(OP.leSetAdvertisingParameters, params.advertising(50));
  await periph.command(OP.leSetAdvertiseEnable, Buffer.from([1]));
  const central = await client("laptop");
  air.move("laptop", { x: 0, y: 0 });
  air.move("dev1", { x: 1, y: 0 });
  const addr = await bdAddr(periph);
  await central.command(OP.leCreateConnection, params.createConnection(addr, intervalUnits, timeoutUnits));
  const cDone = central.next((p) => isLeMeta(p, LE_EVT.connectionComplete));
  const pDone = periph.next((p) => isLeMeta(p, LE_EVT.connectionComplete));
  timers.advance(100);
  const cc = await cDone;
  const pc = await pDone;
  central.take();
  periph.take();
  return { central, periph, ch: cc.readUInt16LE(5), ph: pc.readUInt16LE(5) };
}

/** An L2CAP PDU (length, CID) around an ATT payload. */
function l2cap(cid: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16LE(payload.length, 0);
  h.writeUInt16LE(cid, 2);
  return Buffer.concat([h, payload]);
}

function acls(c: H4TestClient): Buffer[] {
  return c.take().filter((p) => p[0] === 0x02);
}

function completed(packets: Buffer[]): number {
  return packets
    .filter((p) => isEvent(p, EVT.numberOfCompletedPackets))
    .reduce((n, p) => n + p.readUInt16LE(6), 0);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "air-"));
  path = join(dir, "air.sock");
});

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await air.close();
  expect(timers.pending().length).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});

describe("air: ACL flow control", () => {
  it("moves a bounded number of packets per connection event and reports each as completed", async () => {
    await start({ defaults: { packetsPerEvent: 3 } });
    const { central, periph, ch } = await connectPair(0x18); // 30 ms
    const frag = Buffer.alloc(27, 0xab);
    // 8 fragments = the whole buffer the air announced (27 x 8)
    // one 212-byte L2CAP PDU on a dynamic channel, in 8 fragments
    central.sendAcl(ch, 0b00, Buffer.concat([Buffer.from([0xd4, 0x00, 0x40, 0x00]), frag.subarray(4)]));
    for (let i = 1; i < 8; i++) central.sendAcl(ch, 0b01, frag);
    await central.sync();
    await periph.sync();
    expect(acls(periph)).toHaveLength(0);
    const seen: number[] = [];
    let done = 0;
    for (let e = 0; e < 3; e++) {
      timers.advance(30);
      await periph.sync();
      await central.sync();
      seen.push(acls(periph).length);
      done += completed(central.take());
    }
    expect(seen).toEqual([3, 3, 2]);
    expect(done).toBe(8);
    expect(violations).toEqual([]);
    const counters = air.counters().find((c) => c.central === "laptop");
    expect(counters?.packetsToPeripheral).toBe(8);
    expect(counters?.connectionEvents).toBeGreaterThanOrEqual(3);
  });

  it("flags a host that overruns the controller's buffers or its fragment size", async () => {
    await start({ defaults: { aclBuffers: { length: 27, count: 2 } } });
    const { central, ch } = await connectPair();
    const pdu = l2cap(4, Buffer.from([0x0a, 0x03, 0x00]));
    for (let i = 0; i < 3; i++) central.sendAcl(ch, 0b00, pdu);
    central.sendAcl(ch, 0b00, Buffer.alloc(40));
    await central.sync();
    expect(violations.map((v) => v.kind)).toEqual(["acl-overflow", "acl-too-long", "acl-overflow"]);
  });

  it("discards late data for a link that just ended without complaint, but flags a handle never used", async () => {
    await start();
    const { central, periph, ch } = await connectPair(0x18, 20);
    air.move("dev1", { x: 100, y: 0 });
    const cd = central.next((p) => isEvent(p, EVT.disconnectionComplete));
    timers.advance(400);
    await cd;
    central.sendAcl(ch, 0, l2cap(4, Buffer.from([0x0a, 0x03, 0x00]))); // was in flight in the host
    central.sendAcl(0x0eee, 0, l2cap(4, Buffer.from([0x0a, 0x03, 0x00])));
    await central.sync();
    await periph.sync();
    expect(violations.map((v) => v.kind)).toEqual(["acl-unknown-handle"]);
  });

  it("refragments a long host packet into LL PDUs: start as 0b10, the rest 0b01, one completion", async () => {
    await start({ defaults: { aclBuffers: { length: 251, count: 4 } } });
    const { central, periph, ch, ph } = await connectPair();
    const att = Buffer.concat([Buffer.from([0x52, 0x03, 0x00]), Buffer.alloc(17, 7)]); // Write Command, 20 B
    const pdu = l2cap(4, Buffer.concat([att, Buffer.alloc(40, 1)]));
    central.sendAcl(ch, 0b00, pdu); // 64 bytes in one host packet
    await central.sync(); // the air has it before the clock moves
    timers.advance(30);
    await periph.sync();
    await central.sync();
    const got = acls(periph);
    expect(got.map((p) => p.readUInt16LE(1) >> 12)).toEqual([0b10, 0b01, 0b01]);
    expect(got.map((p) => p.readUInt16LE(3))).toEqual([27, 27, 10]);
    expect(got.every((p) => (p.readUInt16LE(1) & 0x0fff) === ph)).toBe(true);
    expect(Buffer.concat(got.map((p) => p.subarray(5)))).toEqual(pdu);
    expect(completed(central.take())).toBe(1);
  });
});

describe("air: strict ATT", () => {
  it("tracks the exchanged MTU and flags ATT PDUs longer than it", async () => {
    await start({ defaults: { aclBuffers: { length: 27, count: 64 } } });
    const { central, periph, ch, ph } = await connectPair();
    const send = (c: H4TestClient, h: number, att: Buffer): void => {
      const pdu = l2cap(4, att);
      for (let off = 0; off < pdu.length; off += 27)
        c.sendAcl(h, off === 0 ? 0 : 1, pdu.subarray(off, off + 27));
    };
    send(central, ch, Buffer.concat([Buffer.from([0x52, 0x03, 0x00]), Buffer.alloc(30)])); // 33 > 23
    await central.sync();
    expect(violations.map((v) => v.kind)).toEqual(["att-mtu"]);
    send(central, ch, Buffer.from([0x02, 0x00, 0x01])); // Exchange MTU Request: 256
    await central.sync();
    send(periph, ph, Buffer.from([0x03, 0x00, 0x01])); // Response: 256
    await periph.sync();
    send(central, ch, Buffer.concat([Buffer.from([0x52, 0x03, 0x00]), Buffer.alloc(200)])); // fits
    send(central, ch, Buffer.concat([Buffer.from([0x52, 0x03, 0x00]), Buffer.alloc(300)])); // 303 > 256
    await central.sync();
    await periph.sync();
    expect(violations.map((v) => v.kind)).toEqual(["att-mtu", "att-mtu"]);
    expect(violations[1]!.detail).toContain("303 bytes exceeds ATT_MTU 256");
    expect(violations[1]!.controller).toBe("laptop");
    expect(air.counters()[0]?.violations).toBe(2);
  });
});

describe("air: link model", () => {
  it("drops a link whose peer moved out of range after the supervision timeout, with reason 0x08 on both sides", async () => {
    await start();
    const { central, periph } = await connectPair(0x18, 20); // 30 ms interval, 200 ms supervision timeout
    air.move("dev1", { x: 100, y: 0 });
    const cd = central.next((p) => isEvent(p, EVT.disconnectionComplete));
    const pd = periph.next((p) => isEvent(p, EVT.disconnectionComplete));
    timers.advance(180);
    await central.sync();
    expect(central.take().filter((p) => isEvent(p, EVT.disconnectionComplete))).toEqual([]);
    timers.advance(60);
    expect((await cd)[6]).toBe(0x08);
    expect((await pd)[6]).toBe(0x08);
    expect(air.counters()[0]?.connected).toBe(false);
  });

  it("keeps a link whose peer comes back within the supervision timeout", async () => {
    await start();
    const { central } = await connectPair(0x18, 20);
    air.move("dev1", { x: 100, y: 0 });
    timers.advance(150);
    air.move("dev1", { x: 1, y: 0 });
    timers.advance(500);
    await central.sync();
    expect(central.take().filter((p) => isEvent(p, EVT.disconnectionComplete))).toEqual([]);
  });

  it("applies a connection update at its instant and tells both hosts", async () => {
    await start();
    const { central, periph, ch } = await connectPair(0x18);
    const upd = Buffer.alloc(14);
    upd.writeUInt16LE(ch, 0);
    upd.writeUInt16LE(0x28, 2); // 50 ms
    upd.writeUInt16LE(0x28, 4);
    upd.writeUInt16LE(0, 6);
    upd.writeUInt16LE(400, 8); // 4 s
    expect(statusOf(await central.command(OP.leConnectionUpdate, upd))).toBe(0);
    const cu = central.next((p) => isLeMeta(p, LE_EVT.connectionUpdateComplete));
    const pu = periph.next((p) => isLeMeta(p, LE_EVT.connectionUpdateComplete));
    timers.advance(30 * 6);
    const c = await cu;
    const p = await pu;
    expect(c.readUInt16LE(7)).toBe(0x28);
    expect(c.readUInt16LE(11)).toBe(400);
    expect(p.readUInt16LE(7)).toBe(0x28);
    expect(air.counters()[0]?.intervalMs).toBe(50);
  });

  it("reads RSSI over a link from the distance", async () => {
    await start();
    const { central, ch } = await connectPair();
    air.move("dev1", { x: 10, y: 0 });
    const r = await central.command(OP.readRssi, params.handle(ch));
    expect(statusOf(r)).toBe(0);
    expect(r.readInt8(9)).toBe(-81);
    const bad = await central.command(OP.readRssi, params.handle(0x0eee));
    expect(statusOf(bad)).toBe(0x02);
  });

  it("gives weaker devices less range: a -20 dBm transmitter 5 m away is not heard", async () => {
    await start();
    const dev = await client("dev1");
    await dev.command(OP.leSetAdvertisingParameters, params.advertising(100));
    await dev.command(OP.leSetAdvertiseEnable, Buffer.from([1]));
    const laptop = await client("laptop");
    await laptop.command(OP.leSetScanParameters, params.scan(true));
    await laptop.command(OP.leSetScanEnable, Buffer.from([1, 0]));
    air.move("laptop", { x: 0, y: 0 });
    air.move("dev1", { x: 5, y: 0 });
    air.configure("dev1", { txPowerDbm: -20 }); // -20 - 59 - 15.4 = -94 dBm < -90
    timers.advance(500);
    await laptop.sync();
    expect(laptop.take().filter((p) => isLeMeta(p, LE_EVT.advertisingReport))).toEqual([]);
    air.configure("laptop", { sensitivityDbm: -97 });
    timers.advance(500);
    await laptop.sync();
    expect(laptop.take().filter((p) => isLeMeta(p, LE_EVT.advertisingReport)).length).toBeGreaterThan(0);
  });
});

describe("air: faults", () => {
  it("drops a link at its Nth packet: the packet is lost and the link times out", async () => {
    await start();
    const { central, periph, ch } = await connectPair(0x18, 20);
    air.setFault("dev1", { dropAtPacket: 2 });
    const pdu = l2cap(4, Buffer.from([0x0a, 0x03, 0x00]));
    central.sendAcl(ch, 0, pdu);
    central.sendAcl(ch, 0, pdu);
    await central.sync();
    const cd = central.next((p) => isEvent(p, EVT.disconnectionComplete));
    timers.advance(30);
    await periph.sync();
    expect(acls(periph)).toHaveLength(1);
    timers.advance(250);
    expect((await cd)[6]).toBe(0x08);
    expect(air.counters()[0]?.dropped).toBe(1);
  });

  it("delays packets by the configured latency, keeping their order", async () => {
    await start();
    const { central, periph, ch } = await connectPair(0x18);
    air.setFault("laptop", { latencyMs: 100, jitterMs: 20 });
    for (let i = 0; i < 4; i++) central.sendAcl(ch, 0, l2cap(4, Buffer.from([0x0a, i, 0x00])));
    await central.sync();
    timers.advance(30);
    await periph.sync();
    expect(acls(periph)).toHaveLength(0);
    timers.advance(130);
    await periph.sync();
    const got = acls(periph);
    expect(got.map((p) => p[10])).toEqual([0, 1, 2, 3]);
  });

  it("tells the peer when a client's stream closes (supervision timeout, 0x08)", async () => {
    await start();
    const { central, periph } = await connectPair(0x18, 20);
    const gone = new Promise<void>((resolve) => air.once("gone", () => resolve()));
    await periph.close();
    await gone;
    const cd = central.next((p) => isEvent(p, EVT.disconnectionComplete));
    timers.advance(250);
    expect((await cd)[6]).toBe(0x08);
  });

  it("power-cycles a controller: its links drop, it comes back reset and answers what was sent meanwhile", async () => {
    await start();
    const { central, periph } = await connectPair(0x18, 20);
    const offEvent = periph.next((p) => isEvent(p, EVT.vendor) && p[4] === 0);
    const localDown = periph.next((p) => isEvent(p, EVT.disconnectionComplete));
    const cycled = air.powerCycle("dev1", 300);
    await offEvent;
    expect((await localDown)[6]).toBe(0x16);
    expect(air.controllers().find((c) => c.label === "dev1")?.powered).toBe(false);
    const answer = periph.next((p) => p[1] === EVT.commandComplete);
    periph.sendCommand(OP.readBdAddr);
    const cd = central.next((p) => isEvent(p, EVT.disconnectionComplete));
    timers.advance(250);
    expect((await cd)[6]).toBe(0x08);
    const onEvent = periph.next((p) => isEvent(p, EVT.vendor) && p[4] === 1);
    timers.advance(60);
    await cycled;
    const on = await onEvent;
    const a = await answer;
    expect(statusOf(a)).toBe(0);
    // held while off, answered only after the power-on event
    expect(periph.received.indexOf(a)).toBeGreaterThan(periph.received.indexOf(on));
    const info = air.controllers().find((c) => c.label === "dev1");
    expect(info?.powered).toBe(true);
    expect(info?.advertising).toBe(false);
  });
});
