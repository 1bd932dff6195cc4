/**
 * The stream HCI socket against a tiny H4 server of our own (a unix socket in a temp dir): what noble and
 * bleno rely on from the native binding, over a stream.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { OpenClawError } from "../../src/protocol/errors.js";
import { commandPacket, H4Parser } from "../../src/radio/hci/h4.js";
import type { HciReport } from "../../src/radio/hci/reports.js";
import { type HciStreamSocket, hciSocketClassFor } from "../../src/radio/hci/socket.js";

/** Answers every command with Command Complete (status 0, or `refuse` for the label) and echoes ACL. */
class TinyH4Server {
  readonly received: Buffer[] = [];
  readonly clients = new Set<Socket>();
  private readonly server: Server;
  private waiters: Array<() => void> = [];
  /** Answer the label command with this status (0x0c: in use, 0x12: invalid). */
  refuseLabel = 0;

  constructor(readonly path: string) {
    this.server = createServer((c) => {
      this.clients.add(c);
      c.on("close", () => this.clients.delete(c));
      c.on("error", () => {});
      const parser = new H4Parser();
      c.on("data", (chunk) => {
        for (const p of parser.push(chunk)) {
          this.received.push(p);
          if (p[0] === 0x01) {
            const opcode = p.readUInt16LE(1);
            const status = opcode === 0xfc01 ? this.refuseLabel : 0;
            c.write(Buffer.from([0x04, 0x0e, 4, 1, opcode & 0xff, opcode >> 8, status]));
          } else if (p[0] === 0x02) {
            c.write(p);
          }
        }
        for (const w of this.waiters.splice(0)) w();
      });
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.path, resolve));
  }

  /** Resolves once `n` packets were received in total. */
  async receivedAtLeast(n: number): Promise<Buffer[]> {
    while (this.received.length < n) await new Promise<void>((r) => this.waiters.push(r));
    return this.received;
  }

  send(bytes: Buffer): void {
    for (const c of this.clients) c.write(bytes);
  }

  dropClients(): void {
    for (const c of this.clients) c.destroy();
  }

  close(): Promise<void> {
    this.dropClients();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function nextEvent<T>(emitter: HciStreamSocket, name: string, count = 1): Promise<T[]> {
  return new Promise((resolve) => {
    const got: T[] = [];
    const on = (v: T): void => {
      got.push(v);
      if (got.length === count) {
        emitter.off(name, on);
        resolve(got);
      }
    };
    emitter.on(name, on);
  });
}

let dir: string;
let server: TinyH4Server;
const sockets: HciStreamSocket[] = [];
let reports: HciReport[] = [];

function open(label?: string): HciStreamSocket {
  const Socket = hciSocketClassFor(
    label === undefined ? { kind: "unix", path: server.path } : { kind: "unix", path: server.path, label },
    { report: (r) => reports.push(r) },
  );
  const s = new Socket();
  sockets.push(s);
  return s;
}

beforeEach(async () => {
  reports = [];
  dir = mkdtempSync(join(tmpdir(), "hci-socket-"));
  server = new TinyH4Server(join(dir, "h4.sock"));
  await server.listen();
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const RESET = commandPacket(0x0c03);

describe("HciStreamSocket", () => {
  it("is up at once and queues writes until the stream connects", async () => {
    const s = open();
    s.on("error", () => {});
    expect(s.isDevUp()).toBe(true);
    expect(s.bindRaw(undefined)).toBe(0);
    s.start();
    s.write(RESET); // before the connection exists
    const [reply] = await nextEvent<Buffer>(s, "data");
    expect(reply?.toString("hex")).toBe("040e0401030c00");
    expect(s.getDeviceList()).toEqual([expect.objectContaining({ devId: 0, devUp: true })]);
  });

  it("sends the label command before anything the stack writes, and hides its reply", async () => {
    const s = open("dev1");
    s.bindRaw();
    s.start();
    s.write(RESET);
    const seen: Buffer[] = [];
    s.on("data", (d: Buffer) => seen.push(d));
    const [first, second] = await server.receivedAtLeast(2);
    expect(first?.toString("hex")).toBe(`01`.concat("01fc04", Buffer.from("dev1").toString("hex")));
    expect(second?.toString("hex")).toBe("01030c00");
    await nextEvent(s, "data");
    expect(seen.map((d) => d.readUInt16LE(4).toString(16))).toEqual(["c03"]);
  });

  it("goes down with a clear error when the radio says the label is in use (one device, not two)", async () => {
    server.refuseLabel = 0x0c;
    const s = open("dev1");
    const errored = nextEvent<OpenClawError>(s, "error");
    s.bindRaw();
    s.start();
    const [err] = await errored;
    expect(err?.code).toBe("ADAPTER_UNAVAILABLE");
    expect(err?.message).toMatch(/the label "dev1" is already in use on unix:.*choose another \?label=/);
    expect(err?.remedy).toMatch(/openclaw air/);
    expect(s.isDevUp()).toBe(false);
  });

  it("goes down when the radio refuses the label as invalid", async () => {
    server.refuseLabel = 0x12;
    const s = open("dev1");
    const errored = nextEvent<OpenClawError>(s, "error");
    s.bindRaw();
    s.start();
    const [err] = await errored;
    expect(err?.message).toMatch(/refused the label "dev1" \(HCI status 0x12\)/);
    expect(s.isDevUp()).toBe(false);
  });

  it("hands the stack one whole packet per event-loop turn, however the stream cut them", async () => {
    const s = open();
    s.bindRaw();
    s.start();
    s.write(RESET); // lets the server know this client
    await nextEvent(s, "data"); // the reset's Command Complete
    const order: string[] = [];
    s.on("data", (d: Buffer) => {
      order.push(`data ${d[1]}`);
      // noble attaches listeners in promise continuations: they must run before the next packet.
      void Promise.resolve().then(() => order.push(`then ${d[1]}`));
    });
    const got = nextEvent<Buffer>(s, "data", 3);
    const a = Buffer.from([0x04, 0x3e, 3, 0x02, 0xaa, 0xbb]);
    const b = Buffer.from([0x04, 0x05, 4, 0, 0x40, 0, 0x13]);
    const c = Buffer.from([0x04, 0x13, 5, 1, 0x40, 0, 1, 0]);
    const stream = Buffer.concat([a, b, c]);
    server.send(stream.subarray(0, 4)); // a cut inside the first packet...
    server.send(stream.subarray(4)); // ...and the rest merged
    expect((await got).map((p) => p.toString("hex"))).toEqual([a, b, c].map((p) => p.toString("hex")));
    expect(order).toEqual(["data 62", "then 62", "data 5", "then 5", "data 19", "then 19"]);
  });

  it("delivers a flood in order without loss, pausing the stream while the stack is behind", async () => {
    const s = open();
    s.bindRaw();
    s.write(RESET);
    await server.receivedAtLeast(1);
    const count = 6000; // more than the socket queues before it pauses the stream
    const flood = Buffer.concat(
      Array.from({ length: count }, (_, i) => Buffer.from([0x04, 0x3e, 3, 0x02, i & 0xff, i >> 8])),
    );
    const all = nextEvent<Buffer>(s, "data", count + 1);
    server.send(flood);
    s.start(); // delivery starts only now: everything above was queued or left in the stream
    const got = (await all).slice(1);
    expect(got.map((p) => p.readUInt16LE(4))).toEqual(Array.from({ length: count }, (_, i) => i));
  });

  it("applies the stack's filter like the kernel", async () => {
    const s = open();
    s.bindRaw();
    s.start();
    const filter = Buffer.alloc(16);
    filter.writeUInt32LE((1 << 4) | (1 << 2), 0);
    filter.writeUInt32LE(1 << 0x0e, 4);
    s.setFilter(filter);
    s.write(RESET);
    await server.receivedAtLeast(1);
    const seen: string[] = [];
    s.on("data", (d: Buffer) => seen.push(d.toString("hex")));
    const two = nextEvent(s, "data", 2);
    server.send(Buffer.from([0x04, 0x10, 1, 0x01])); // Hardware Error: filtered out
    server.send(Buffer.from([0x02, 0x40, 0x20, 5, 0, 1, 0, 4, 0, 0x99])); // ACL (an ATT frame): passes
    await two;
    expect(seen).toEqual(["040e0401030c00", "02402005000100040099"]);
  });

  it("pauses and resumes delivery with stop() and start()", async () => {
    const s = open();
    s.bindRaw();
    s.write(RESET);
    await server.receivedAtLeast(1);
    const seen: Buffer[] = [];
    s.on("data", (d: Buffer) => seen.push(d));
    const first = nextEvent(s, "data");
    s.start();
    await first;
    s.stop();
    s.write(RESET);
    await server.receivedAtLeast(2);
    await new Promise((r) => setImmediate(r));
    expect(seen).toHaveLength(1);
    const second = nextEvent(s, "data");
    s.start();
    await second;
    expect(seen).toHaveLength(2);
  });

  it("reports a stream that cannot connect as ADAPTER_UNAVAILABLE and goes down", async () => {
    const Socket = hciSocketClassFor(
      { kind: "unix", path: join(dir, "nobody-here.sock") },
      { report: (r) => reports.push(r) },
    );
    const s = new Socket();
    sockets.push(s);
    const errored = nextEvent<OpenClawError>(s, "error");
    s.bindRaw();
    s.start();
    const [err] = await errored;
    expect(err?.code).toBe("ADAPTER_UNAVAILABLE");
    expect(err?.message).toMatch(
      /no socket at .*nobody-here\.sock \(ENOENT\).*`openclaw air --socket .*nobody-here\.sock`/,
    );
    expect(reports.map((r) => r.kind)).toEqual(["adapter"]);
    expect(s.isDevUp()).toBe(false);
    s.write(RESET); // dropped quietly: already reported
  });

  it("reports a dropped stream and goes down (the stacks then say poweredOff)", async () => {
    const s = open();
    s.bindRaw();
    s.start();
    s.write(RESET);
    await nextEvent(s, "data");
    const errored = nextEvent<OpenClawError>(s, "error");
    server.dropClients();
    const [err] = await errored;
    expect(err?.message).toMatch(/closed the stream/);
    expect(s.isDevUp()).toBe(false);
  });

  it("gives bleno's management socket an inert control object", () => {
    const s = open();
    s.on("error", () => {
      throw new Error("the control socket must never error");
    });
    s.bindControl();
    s.start();
    s.write(Buffer.from([0x13, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]));
    s.stop();
    expect(s.status).toBe("control");
    expect(server.clients.size).toBe(0);
  });

  it("refuses HCI_CHANNEL_USER mode with a clear error", () => {
    const s = open();
    expect(() => s.bindUser(0)).toThrow(/HCI_CHANNEL_USER is not supported/);
  });

  it("closes the stream on close() without reporting an error", async () => {
    const s = open();
    s.on("error", () => {
      throw new Error("close() is not a failure");
    });
    s.bindRaw();
    s.write(RESET);
    await server.receivedAtLeast(1);
    const gone = new Promise<void>((r) => [...server.clients][0]?.once("close", () => r()));
    s.close();
    await gone;
    expect(s.isDevUp()).toBe(false);
  });
});

describe("HciStreamSocket and the virtual controller's power", () => {
  it("goes down on a power-off event and shows a short power cycle to the next isDevUp() poll", async () => {
    const s = open();
    s.bindRaw();
    s.start();
    s.write(RESET);
    await nextEvent(s, "data");
    const seen: Buffer[] = [];
    s.on("data", (d: Buffer) => seen.push(d));
    server.send(Buffer.from([0x04, 0xff, 2, 0x01, 0x00])); // off
    server.send(Buffer.from([0x04, 0xff, 2, 0x01, 0x01])); // on again before the stack polled
    s.write(RESET);
    await nextEvent(s, "data"); // the Command Complete: the power events were consumed before it
    expect(seen.map((d) => d[1])).toEqual([0x0e]);
    expect(s.isDevUp()).toBe(false); // the stack sees the cycle once...
    expect(s.isDevUp()).toBe(true); // ...and then the controller is back
    server.send(Buffer.from([0x04, 0xff, 2, 0x01, 0x00]));
    s.write(RESET);
    await nextEvent(s, "data");
    expect(s.isDevUp()).toBe(false);
    expect(s.isDevUp()).toBe(false);
  });
});
