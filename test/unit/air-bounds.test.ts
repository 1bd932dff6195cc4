/**
 * The air bounds what a client can make it hold, and keeps its sockets private (issue 7 defect 9): a
 * client that floods commands or scans and never reads is dropped once its unread backlog passes the
 * cap (measured by the air's own counters), a label is one client, counter rows go with their client,
 * and unix sockets are 0600 whatever the umask.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { serveControl } from "../../firmware-sim/air/control.js";
import { commandComplete, OP } from "../../firmware-sim/air/hci.js";
import { Air, type ControllerInfo } from "../../firmware-sim/air/index.js";
import { H4TestClient, params, statusOf } from "../../firmware-sim/air/test-client.js";
import { ManualClock } from "../../src/clock/index.js";

let dir: string;
let path: string;
const cleanup: Array<() => unknown> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "air-bounds-"));
  path = join(dir, "air.sock");
});

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  rmSync(dir, { recursive: true, force: true });
});

async function startAir(o: { cap?: number; log?: string[] } = {}): Promise<{ air: Air; clock: ManualClock }> {
  const clock = new ManualClock();
  const log = o.log;
  const air = new Air({
    clock,
    seed: 5,
    ...(o.cap !== undefined ? { maxClientBacklogBytes: o.cap } : {}),
    ...(log ? { log: (l: string) => log.push(l) } : {}),
  });
  await air.listen({ path });
  cleanup.push(() => air.close());
  return { air, clock };
}

/** A raw client that writes and never reads (its socket is paused before anything arrives). */
async function deafClient(): Promise<Socket> {
  const s = createConnection(path);
  s.pause();
  s.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    s.once("connect", () => resolve());
    s.once("error", reject);
  });
  cleanup.push(() => s.destroy());
  return s;
}

function command(op: number, p: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from([0x01, op & 0xff, op >> 8, p.length]), p]);
}

function gone(air: Air, test: (c: ControllerInfo) => boolean, timeoutMs = 10_000): Promise<ControllerInfo> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("the client was never dropped")), timeoutMs);
    const on = (c: ControllerInfo): void => {
      if (!test(c)) return;
      clearTimeout(t);
      air.off("gone", on);
      resolve(c);
    };
    air.on("gone", on);
  });
}

async function client(label: string): Promise<H4TestClient> {
  const c = await H4TestClient.connect(path);
  cleanup.push(() => c.close());
  await c.init(label);
  return c;
}

describe("air: a client that will not read", () => {
  it("is dropped, with the reason logged, once it floods commands past the backlog cap", async () => {
    const cap = 256 * 1024;
    const log: string[] = [];
    const { air } = await startAir({ cap, log });
    const bystander = await client("bystander");
    const deaf = await deafClient();
    const dropped = gone(air, (c) => c.label === undefined && c.droppedFor !== undefined);
    // 4 MiB of Read Local Version commands: 15 MiB of answers it never reads.
    const flood = Buffer.concat(Array.from({ length: 1 << 20 }, () => command(OP.readLocalVersion)));
    deaf.write(flood);
    const info = await dropped;
    expect(info.droppedFor).toMatch(/bytes unread \(more than 262144\): a client that does not read/);
    // The air's own measure: it never held more than the cap and one answer for it.
    expect(info.peakBacklogBytes).toBeLessThanOrEqual(cap + commandComplete(0, 0, Buffer.alloc(8)).length);
    expect(log.some((l) => /dropped: it left \d+ bytes unread/.test(l))).toBe(true);
    // Everyone else is served as before.
    await bystander.sync();
    expect(air.controllers().map((c) => c.label)).toEqual(["bystander"]);
  });

  it("is dropped when it scans and never reads, however long the air runs", async () => {
    const cap = 16 * 1024;
    const { air, clock } = await startAir({ cap });
    const dev = await client("dev1");
    await dev.advertise("Dev-1", 20);
    const deaf = await deafClient();
    deaf.write(
      Buffer.concat([
        command(OP.vendorSetLabel, Buffer.from("scanner")),
        command(OP.setEventMask, Buffer.from("fffffbff07f8bf3d", "hex")),
        command(OP.leSetEventMask, Buffer.from("1f00000000000000", "hex")),
        command(OP.leSetScanParameters, params.scan(true)),
        command(OP.leSetScanEnable, Buffer.from([1, 0])), // no duplicate filter: every advert is reported
      ]),
    );
    await air.waitForController("scanner", 5000);
    await dev.sync();
    const dropped = gone(air, (c) => c.label === "scanner");
    for (let i = 0; i < 600 && air.controllers().some((c) => c.label === "scanner"); i++) clock.advance(1000);
    const info = await dropped;
    expect(info.droppedFor).toMatch(/a client that does not read/);
    expect(info.peakBacklogBytes).toBeLessThanOrEqual(cap + 300);
    await dev.sync();
  });

  it("is not dropped while it reads, however busy the air is", async () => {
    const { air, clock } = await startAir({ cap: 16 * 1024 });
    const dev = await client("dev1");
    await dev.advertise("Dev-1", 20);
    const scanner = await client("scanner");
    await scanner.command(OP.leSetScanParameters, params.scan(true));
    await scanner.command(OP.leSetScanEnable, Buffer.from([1, 0]));
    for (let i = 0; i < 60; i++) {
      clock.advance(1000); // 50 advertising events, each a report and a scan response
      await scanner.sync();
      scanner.take();
    }
    expect(
      air
        .controllers()
        .map((c) => c.label)
        .sort(),
    ).toEqual(["dev1", "scanner"]);
  });
});

describe("air: one label, one client", () => {
  it("refuses a second client asking for a label in use; the first keeps it and keeps working", async () => {
    const { air } = await startAir();
    const first = await client("dev1");
    const firstAddress = air.controllers()[0]!.address;
    const second = await H4TestClient.connect(path);
    cleanup.push(() => second.close());
    const answer = await second.command(OP.vendorSetLabel, Buffer.from("dev1"));
    expect(statusOf(answer)).toBe(0x0c); // Command Disallowed
    await first.sync();
    const labelled = air.controllers().filter((c) => c.label === "dev1");
    expect(labelled).toHaveLength(1);
    expect(labelled[0]!.address).toBe(firstAddress);
    // The refused client may still take a free label.
    expect(statusOf(await second.command(OP.vendorSetLabel, Buffer.from("dev2")))).toBe(0);
    // And once the first leaves, its label is free again.
    await first.close();
    await gone(air, (c) => c.label === "dev1");
    const third = await H4TestClient.connect(path);
    cleanup.push(() => third.close());
    expect(statusOf(await third.command(OP.vendorSetLabel, Buffer.from("dev1")))).toBe(0);
  });
});

describe("air: counters", () => {
  it("frees a client's counter rows when it leaves", async () => {
    const { air, clock } = await startAir();
    const dev = await client("dev1");
    await dev.advertise("Dev-1", 20);
    const scanners: H4TestClient[] = [];
    for (let i = 0; i < 5; i++) {
      const s = await client(`scanner${i}`);
      await s.command(OP.leSetScanParameters, params.scan(false));
      await s.command(OP.leSetScanEnable, Buffer.from([1, 1]));
      scanners.push(s);
    }
    clock.advance(100);
    await dev.sync();
    expect(
      air
        .counters()
        .map((c) => c.central)
        .sort(),
    ).toEqual([0, 1, 2, 3, 4].map((i) => `scanner${i}`));
    for (const s of scanners) {
      const left = gone(air, () => true);
      await s.close();
      await left;
    }
    expect(air.counters()).toEqual([]);
  });
});

describe("air: private sockets", () => {
  it("makes the radio's and the control socket 0600 whatever the umask, and creates a missing directory 0700", async () => {
    const previous = process.umask(0o002);
    try {
      const sub = join(dir, "run", "openclaw");
      const air = new Air({ clock: new ManualClock() });
      cleanup.push(() => air.close());
      await air.listen({ path: join(sub, "air.sock") });
      const ctl = await serveControl(air, join(sub, "air.sock.ctl"));
      cleanup.push(() => ctl.close());
      expect(statSync(join(sub, "air.sock")).mode & 0o777).toBe(0o600);
      expect(statSync(join(sub, "air.sock.ctl")).mode & 0o777).toBe(0o600);
      expect(statSync(sub).mode & 0o777).toBe(0o700);
    } finally {
      process.umask(previous);
    }
  });

  it("takes another mode when asked, and leaves an existing directory's mode alone", async () => {
    const shared = join(dir, "shared");
    mkdirSync(shared, { mode: 0o755 });
    const air = new Air({ clock: new ManualClock() });
    cleanup.push(() => air.close());
    await air.listen({ path: join(shared, "air.sock"), mode: 0o660 });
    expect(statSync(join(shared, "air.sock")).mode & 0o777).toBe(0o660);
    expect(statSync(shared).mode & 0o777).toBe(0o755);
  });
});
