import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { addressToString, EVT, LE_EVT, OP, REPORT } from "../../firmware-sim/air/hci.js";
import { Air } from "../../firmware-sim/air/index.js";
import { H4TestClient, isEvent, isLeMeta, params, statusOf } from "../../firmware-sim/air/test-client.js";
import { ManualClock } from "../../src/clock/index.js";

let dir: string;
let path: string;
let air: Air;
let timers: ManualClock;
const clients: H4TestClient[] = [];

async function client(label?: string): Promise<H4TestClient> {
  const c = await H4TestClient.connect(path);
  clients.push(c);
  await c.init(label);
  return c;
}

const status = statusOf;
const advParams = params.advertising;
const advData = params.data;
const scanParams = params.scan;
const createConn = params.createConnection;

async function bdAddr(c: H4TestClient): Promise<Buffer> {
  const a = await c.command(OP.readBdAddr);
  return Buffer.from(a.subarray(7, 13));
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "air-"));
  path = join(dir, "air.sock");
  timers = new ManualClock();
  air = new Air({ strictAtt: true, clock: timers, seed: 7 });
  await air.listen({ path });
});

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await air.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("air: controller bring-up", () => {
  it("answers the noble/bleno init sequence with the values the stacks check", async () => {
    const c = await H4TestClient.connect(path);
    clients.push(c);
    expect(status(await c.command(OP.reset))).toBe(0);
    expect(status(await c.command(OP.setEventMask, Buffer.from("fffffbff07f8bf3d", "hex")))).toBe(0);
    expect(status(await c.command(OP.leSetEventMask, Buffer.from("1f00000000000000", "hex")))).toBe(0);
    const version = await c.command(OP.readLocalVersion);
    expect(status(version)).toBe(0);
    expect(version[7]).toBeGreaterThanOrEqual(0x06);
    expect(status(await c.command(OP.writeLeHostSupported, Buffer.from([1, 0])))).toBe(0);
    const host = await c.command(OP.readLeHostSupported);
    expect(host.subarray(7, 9)).toEqual(Buffer.from([1, 0]));
    const buf = await c.command(OP.leReadBufferSize);
    expect(buf.readUInt16LE(7)).toBe(27);
    expect(buf.readUInt8(9)).toBe(8);
    const bredr = await c.command(OP.readBufferSize);
    expect(bredr.readUInt16LE(7)).toBe(27);
    expect(bredr.readUInt16LE(10)).toBe(8);
    expect(status(await c.command(OP.leSetScanParameters, scanParams(true)))).toBe(0);
    expect(status(await c.command(OP.leSetAdvertisingParameters, advParams(100)))).toBe(0);
  });

  it("answers an unknown command with status Unknown HCI Command, never silence", async () => {
    const c = await client();
    const sync = await c.command(0x0c14); // Read Local Name: not an LE controller thing here
    expect(sync[1]).toBe(EVT.commandComplete);
    expect(status(sync)).toBe(0x01);
    const async_ = await c.command(0x0405); // Create Connection (BR/EDR): answered with Command Status
    expect(async_[1]).toBe(EVT.commandStatus);
    expect(status(async_)).toBe(0x01);
  });

  it("derives a stable BD_ADDR from the vendor label command", async () => {
    const a = await client("dev1");
    const addr = await bdAddr(a);
    await a.close();
    const b = await client("dev1");
    expect(await bdAddr(b)).toEqual(addr);
    const other = await client("dev2");
    expect(await bdAddr(other)).not.toEqual(addr);
    const info = await air.waitForController("dev1", 1000);
    expect(info.address).toBe(addressToString(addr));
  });
});

describe("air: advertising and scanning", () => {
  async function advertiser(label: string, data: Buffer, rsp: Buffer): Promise<H4TestClient> {
    const p = await client(label);
    await p.command(OP.leSetAdvertisingParameters, advParams(100));
    await p.command(OP.leSetAdvertiseEnable, Buffer.from([1]));
    // bleno sets the data after enabling: reports must carry the current data
    await p.command(OP.leSetScanResponseData, advData(rsp));
    await p.command(OP.leSetAdvertisingData, advData(data));
    return p;
  }

  it("delivers reports with the current data, scan responses only to active scanners, RSSI falling with distance", async () => {
    const data = Buffer.from([0x02, 0x01, 0x06]);
    const rsp = Buffer.from([0x05, 0x09, 0x64, 0x65, 0x76, 0x31]);
    await advertiser("dev1", data, rsp);
    const active = await client("laptop");
    await active.command(OP.leSetScanParameters, scanParams(true));
    await active.command(OP.leSetScanEnable, Buffer.from([1, 0]));
    const passive = await client("passive");
    await passive.command(OP.leSetScanParameters, scanParams(false));
    await passive.command(OP.leSetScanEnable, Buffer.from([1, 0]));
    air.move("laptop", { x: 0, y: 0 });
    air.move("passive", { x: 0, y: 0 });
    air.move("dev1", { x: 1, y: 0 });
    active.take();
    passive.take();

    const reports = (c: H4TestClient): Array<{ type: number; data: Buffer; rssi: number }> =>
      c
        .take()
        .filter((p) => isLeMeta(p, LE_EVT.advertisingReport))
        .map((p) => {
          const len = p[13]!;
          return { type: p[5]!, data: p.subarray(14, 14 + len), rssi: p.readInt8(14 + len) };
        });

    timers.advance(1000);
    await active.sync();
    await passive.sync();
    const near = reports(active);
    const adv = near.filter((r) => r.type === REPORT.advInd);
    const scanRsp = near.filter((r) => r.type === REPORT.scanRsp);
    // 100 ms interval + 0-10 ms advDelay: 9 or 10 events in a second
    expect(adv.length).toBeGreaterThanOrEqual(9);
    expect(adv.length).toBeLessThanOrEqual(10);
    expect(scanRsp.length).toBe(adv.length);
    expect(adv[0]!.data).toEqual(data);
    expect(scanRsp[0]!.data).toEqual(rsp);
    expect(adv[0]!.rssi).toBe(-59);
    expect(reports(passive).every((r) => r.type === REPORT.advInd)).toBe(true);

    air.move("dev1", { x: 10, y: 0 });
    timers.advance(200);
    await active.sync();
    const far = reports(active);
    expect(far.length).toBeGreaterThan(0);
    expect(far[0]!.rssi).toBe(-81);

    air.move("dev1", { x: 40, y: 0 }); // -94 dBm: below the -90 dBm floor
    active.take();
    timers.advance(1000);
    await active.sync();
    expect(reports(active)).toEqual([]);
    const counters = air.counters().find((c) => c.central === "laptop" && c.peripheral === "dev1");
    expect(counters?.adverts).toBe(adv.length * 2 + far.length);
  });

  it("builds every report from the current data, and advertises a random address when asked", async () => {
    const p = await client("dev1");
    const random = Buffer.from([0x11, 0x22, 0x33, 0x44, 0x55, 0xc6]);
    await p.command(OP.leSetRandomAddress, random);
    const ap = advParams(100);
    ap.writeUInt8(0x01, 5); // own address type: random
    await p.command(OP.leSetAdvertisingParameters, ap);
    await p.command(OP.leSetAdvertisingData, advData(Buffer.from([0x02, 0x01, 0x06])));
    await p.command(OP.leSetAdvertiseEnable, Buffer.from([1]));
    const s = await client("laptop");
    await s.command(OP.leSetScanParameters, scanParams(false));
    await s.command(OP.leSetScanEnable, Buffer.from([1, 0]));
    s.take();
    timers.advance(150);
    await s.sync();
    const first = s.take().filter((x) => isLeMeta(x, LE_EVT.advertisingReport));
    expect(first.length).toBeGreaterThan(0);
    expect(first[0]![6]).toBe(0x01);
    expect(first[0]!.subarray(7, 13)).toEqual(random);
    expect(first[0]!.subarray(14, 17)).toEqual(Buffer.from([0x02, 0x01, 0x06]));
    await p.command(OP.leSetAdvertisingData, advData(Buffer.from([0x02, 0x01, 0x04])));
    timers.advance(150);
    await s.sync();
    const later = s.take().filter((x) => isLeMeta(x, LE_EVT.advertisingReport));
    expect(later.length).toBeGreaterThan(0);
    expect(later.every((x) => x.subarray(14, 17).equals(Buffer.from([0x02, 0x01, 0x04])))).toBe(true);

    const done = s.next((x) => isLeMeta(x, LE_EVT.connectionComplete));
    expect(status(await s.command(OP.leCreateConnection, createConn(random, 0x18, 0x2a, 0x01)))).toBe(0);
    timers.advance(150);
    const cc = await done;
    expect(cc[4]).toBe(0);
    expect(cc[8]).toBe(0x01);
    expect(cc.subarray(9, 15)).toEqual(random);
  });

  it("honours Filter_Duplicates: one report per address, type and data", async () => {
    await advertiser("dev1", Buffer.from([0x02, 0x01, 0x06]), Buffer.alloc(0));
    const s = await client("laptop");
    await s.command(OP.leSetScanParameters, scanParams(true));
    await s.command(OP.leSetScanEnable, Buffer.from([1, 1]));
    s.take();
    timers.advance(1000);
    await s.sync();
    expect(s.take().filter((p) => isLeMeta(p, LE_EVT.advertisingReport))).toHaveLength(2);
  });
});

describe("air: connections", () => {
  async function connectPair(intervalUnits = 0x18, timeoutUnits = 0x2a) {
    const periph = await client("dev1");
    await periph.command(OP.leSetAdvertisingParameters, advParams(50));
    await periph.command(OP.leSetAdvertisingData, advData(Buffer.from([0x02, 0x01, 0x06])));
    await periph.command(OP.leSetAdvertiseEnable, Buffer.from([1]));
    const central = await client("laptop");
    const periphAddr = await bdAddr(periph);
    const centralAddr = await bdAddr(central);
    const st = await central.command(
      OP.leCreateConnection,
      createConn(periphAddr, intervalUnits, timeoutUnits),
    );
    expect(st[1]).toBe(EVT.commandStatus);
    expect(status(st)).toBe(0);
    const cDone = central.next((p) => isLeMeta(p, LE_EVT.connectionComplete));
    const pDone = periph.next((p) => isLeMeta(p, LE_EVT.connectionComplete));
    timers.advance(100);
    const cc = await cDone;
    const pc = await pDone;
    return { periph, central, periphAddr, centralAddr, cc, pc };
  }

  it("completes a connection on both sides with the right roles and peer addresses", async () => {
    const { cc, pc, periphAddr, centralAddr } = await connectPair();
    expect(cc[4]).toBe(0); // status
    expect(cc[7]).toBe(0x00); // role central
    expect(cc.subarray(9, 15)).toEqual(periphAddr);
    expect(cc.readUInt16LE(15)).toBe(0x18);
    expect(pc[4]).toBe(0);
    expect(pc[7]).toBe(0x01); // role peripheral
    expect(pc.subarray(9, 15)).toEqual(centralAddr);
    expect(air.controllers().find((c) => c.label === "dev1")?.advertising).toBe(false);
  });

  it("routes ACL data at connection events, rewrites start flags to 0b10, and reports completed packets", async () => {
    const { central, periph, cc, pc } = await connectPair(0x18); // 30 ms
    const ch = cc.readUInt16LE(5);
    const ph = pc.readUInt16LE(5);
    // An ATT read request (L2CAP length 3, CID 4) as a host sends it: start flag 0b00
    const l2 = Buffer.from([0x03, 0x00, 0x04, 0x00, 0x0a, 0x03, 0x00]);
    central.take();
    periph.take();
    central.sendAcl(ch, 0b00, l2);
    await periph.sync();
    expect(periph.take().filter((p) => p[0] === 0x02)).toEqual([]); // waits for the next connection event
    const got = periph.next((p) => p[0] === 0x02);
    const nocp = central.next((p) => isEvent(p, EVT.numberOfCompletedPackets));
    timers.advance(30);
    const acl = await got;
    expect(acl.readUInt16LE(1) & 0x0fff).toBe(ph);
    expect(acl.readUInt16LE(1) >> 12).toBe(0b10);
    expect(acl.subarray(5)).toEqual(l2);
    const n = await nocp;
    expect(n[3]).toBe(1);
    expect(n.readUInt16LE(4)).toBe(ch);
    expect(n.readUInt16LE(6)).toBe(1);
  });

  it("disconnects both sides with the right reasons", async () => {
    const { central, periph, cc } = await connectPair();
    const ch = cc.readUInt16LE(5);
    const st = await central.command(OP.disconnect, Buffer.from([ch & 0xff, ch >> 8, 0x13]));
    expect(status(st)).toBe(0);
    const cd = central.next((p) => isEvent(p, EVT.disconnectionComplete));
    const pd = periph.next((p) => isEvent(p, EVT.disconnectionComplete));
    timers.advance(30);
    expect((await cd)[6]).toBe(0x16);
    expect((await pd)[6]).toBe(0x13);
  });

  it("refuses connection parameters outside the spec's ranges with status 0x12", async () => {
    const central = await client("laptop");
    // 100 ms supervision timeout cannot cover two 75 ms intervals
    const st = await central.command(OP.leCreateConnection, createConn(Buffer.alloc(6, 1), 60, 10));
    expect(st[1]).toBe(EVT.commandStatus);
    expect(status(st)).toBe(0x12);
  });

  it("cancels a pending connection with LE Connection Complete status 0x02", async () => {
    const central = await client("laptop");
    await central.command(OP.leCreateConnection, createConn(Buffer.from([1, 2, 3, 4, 5, 6])));
    const done = central.next((p) => isLeMeta(p, LE_EVT.connectionComplete));
    const c = await central.command(OP.leCreateConnectionCancel);
    expect(status(c)).toBe(0);
    expect((await done)[4]).toBe(0x02);
  });
});

describe("air: close", () => {
  it("removes the socket file and leaves no timers", async () => {
    const c = await client("dev1");
    await c.command(OP.leSetAdvertisingParameters, advParams(100));
    await c.command(OP.leSetAdvertiseEnable, Buffer.from([1]));
    expect(existsSync(path)).toBe(true);
    await air.close();
    expect(existsSync(path)).toBe(false);
    expect(timers.pending().length).toBe(0);
  });
});
