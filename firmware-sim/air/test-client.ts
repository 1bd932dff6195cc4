import { createConnection, type Socket } from "node:net";
import type { Clock } from "../../src/clock/clock.js";
import { systemClock } from "../../src/clock/system.js";
import { EVT, H4, H4Parser, LE_EVT, l2capFrame, OP, PB } from "./hci.js";

export { l2capFrame } from "./hci.js";

import { L2capReassembler } from "./link.js";

/**
 * A bare H4 host for tests and probes: sends raw commands and ACL packets to the air and waits for what
 * comes back. No Bluetooth stack; every byte is explicit. Its waits are bounded on `clock` (a test is its
 * entry point: the system clock by default, since the bytes travel over a real socket).
 */
export class H4TestClient {
  readonly received: Buffer[] = [];
  private readonly parser = new H4Parser();
  private waiters: Array<{ pred: (p: Buffer) => boolean; resolve: (p: Buffer) => void }> = [];
  private readonly taps = new Set<(p: Buffer) => void>();
  private cursor = 0;
  closed = false;

  private constructor(
    private readonly socket: Socket,
    readonly clock: Clock,
  ) {
    socket.on("data", (chunk: Buffer) => {
      for (const p of this.parser.feed(chunk).packets) {
        this.received.push(p);
        for (const tap of [...this.taps]) tap(p);
        for (const w of [...this.waiters]) {
          if (w.pred(p)) {
            this.waiters = this.waiters.filter((x) => x !== w);
            w.resolve(p);
          }
        }
      }
    });
    socket.on("close", () => {
      this.closed = true;
      for (const tap of [...this.taps]) tap(Buffer.alloc(0)); // wakes whoever waits on this stream
    });
    socket.on("error", () => {});
  }

  static connect(path: string, clock: Clock = systemClock): Promise<H4TestClient> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once("connect", () => resolve(new H4TestClient(s, clock)));
      s.once("error", reject);
    });
  }

  write(packet: Buffer): void {
    this.socket.write(packet);
  }

  sendCommand(op: number, params: Buffer = Buffer.alloc(0)): void {
    const h = Buffer.from([H4.command, op & 0xff, op >> 8, params.length]);
    this.write(Buffer.concat([h, params]));
  }

  /** Sends a command and resolves with its Command Complete or Command Status event. */
  async command(op: number, params: Buffer = Buffer.alloc(0), timeoutMs = 2000): Promise<Buffer> {
    const p = this.next((e) => isAnswerTo(e, op), timeoutMs, `answer to opcode 0x${op.toString(16)}`);
    this.sendCommand(op, params);
    return p;
  }

  sendAcl(handle: number, pb: number, payload: Buffer): void {
    const h = Buffer.alloc(5);
    h.writeUInt8(H4.acl, 0);
    h.writeUInt16LE((handle & 0x0fff) | (pb << 12), 1);
    h.writeUInt16LE(payload.length, 3);
    this.write(Buffer.concat([h, payload]));
  }

  /** Resolves with the first packet (received from now on) that matches, or rejects after timeoutMs. */
  next(pred: (p: Buffer) => boolean, timeoutMs = 2000, what = "packet"): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (p: Buffer) => {
          this.clock.clearTimeout(t);
          resolve(p);
        },
      };
      const t = this.clock.setTimeout("h4-test-client.wait", timeoutMs, () => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      });
      this.waiters.push(w);
    });
  }

  /**
   * A barrier: the air answers commands in order on the same queue it uses for everything else, so once
   * this answer arrives every packet the air queued before it has arrived too. No sleeping.
   */
  async sync(): Promise<void> {
    await this.command(OP.readLocalVersion);
  }

  /** Resolves once cond() holds, checking now and after every packet (or rejects after timeoutMs). */
  async until(cond: () => boolean, timeoutMs = 2000, what = "condition"): Promise<void> {
    if (cond()) return;
    await this.next(() => cond(), timeoutMs, what);
  }

  /** Packets received since the last call to take(). */
  take(): Buffer[] {
    const out = this.received.slice(this.cursor);
    this.cursor = this.received.length;
    return out;
  }

  /** The standard bring-up noble/bleno do, with an optional label first. */
  async init(label?: string): Promise<void> {
    if (label) await this.command(OP.vendorSetLabel, Buffer.from(label, "utf8"));
    await this.command(OP.reset);
    await this.command(OP.setEventMask, Buffer.from("fffffbff07f8bf3d", "hex"));
    await this.command(OP.leSetEventMask, Buffer.from("1f00000000000000", "hex"));
  }

  /** Calls `fn` with every packet received from now on; returns the unsubscribe function. */
  tap(fn: (p: Buffer) => void): () => void {
    this.taps.add(fn);
    return () => this.taps.delete(fn);
  }

  /** As a central: connects to a (public) address and returns the link's ATT channel. */
  async connectTo(
    address: Buffer,
    intervalUnits = 0x08,
    timeoutUnits = 0x64,
    timeoutMs = 5000,
  ): Promise<RawAttLink> {
    const done = this.next(
      (p) => isLeMeta(p, LE_EVT.connectionComplete),
      timeoutMs,
      "LE Connection Complete",
    );
    await this.command(OP.leCreateConnection, params.createConnection(address, intervalUnits, timeoutUnits));
    const cc = await done;
    if (cc[4] !== 0) throw new Error(`connection failed with HCI status 0x${cc[4]!.toString(16)}`);
    return new RawAttLink(this, cc.readUInt16LE(5) & 0x0fff);
  }

  /** As a peripheral: advertises connectably with this complete local name. */
  async advertise(name: string, intervalMs = 20): Promise<void> {
    const n = Buffer.from(name, "utf8");
    const data = Buffer.concat([Buffer.from([0x02, 0x01, 0x06, n.length + 1, 0x09]), n]);
    await this.command(OP.leSetAdvertisingParameters, params.advertising(intervalMs));
    await this.command(OP.leSetAdvertisingData, params.data(data));
    await this.command(OP.leSetAdvertiseEnable, Buffer.from([1]));
  }

  /** As a peripheral: resolves with the ATT channel of the next connection a central makes. */
  async accepted(timeoutMs = 5000): Promise<RawAttLink> {
    const cc = await this.next(
      (p) => isLeMeta(p, LE_EVT.connectionComplete),
      timeoutMs,
      "a central to connect",
    );
    return new RawAttLink(this, cc.readUInt16LE(5) & 0x0fff);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once("close", () => resolve());
      this.socket.destroy();
    });
  }
}

export const ATT_CID = 0x0004;

/**
 * One link's ATT channel (L2CAP CID 4) as a raw host sees it: every byte of every PDU is the test's,
 * so it can send what no stack would (truncated requests, notifications without a handle).
 */
export class RawAttLink {
  /** Whole ATT PDUs the peer sent on this link, not yet taken by next(). */
  private readonly inbox: Buffer[] = [];
  private wake: (() => void) | undefined;
  private readonly reasm = new L2capReassembler();
  private readonly untap: () => void;
  disconnected: number | undefined;

  constructor(
    readonly client: H4TestClient,
    readonly handle: number,
  ) {
    this.untap = client.tap((p) => {
      if (p.length === 0) {
        this.wake?.();
        return;
      }
      if (p[0] === H4.acl && (p.readUInt16LE(1) & 0x0fff) === handle) {
        const pb = (p.readUInt16LE(1) >> 12) & 0x3;
        for (const l2 of this.reasm.push(pb !== PB.continuation, p.subarray(5))) {
          if (l2.cid === ATT_CID) this.inbox.push(Buffer.from(l2.payload));
        }
      } else if (isEvent(p, EVT.disconnectionComplete) && (p.readUInt16LE(4) & 0x0fff) === handle) {
        this.disconnected = p[6];
      } else return;
      this.wake?.();
    });
  }

  /** Sends raw bytes as one ATT PDU (one L2CAP frame in one ACL packet). */
  send(pdu: Buffer): void {
    this.client.sendAcl(this.handle, PB.startNoFlush, l2capFrame(ATT_CID, pdu));
  }

  /** Sends raw bytes as the payload of one ACL start packet (for malformed L2CAP framing). */
  sendAclPayload(payload: Buffer): void {
    this.client.sendAcl(this.handle, PB.startNoFlush, payload);
  }

  /** The next ATT PDU from the peer, or rejects after timeoutMs (or when the link or stream ends). */
  async next(timeoutMs = 3000, what = "an ATT PDU"): Promise<Buffer> {
    const clock = this.client.clock;
    const deadline = clock.now() + timeoutMs;
    for (;;) {
      const pdu = this.inbox.shift();
      if (pdu) return pdu;
      if (this.disconnected !== undefined)
        throw new Error(
          `link 0x${this.handle.toString(16)} ended (reason 0x${this.disconnected.toString(16)}) waiting for ${what}`,
        );
      if (this.client.closed) throw new Error(`the stream closed waiting for ${what}`);
      const left = deadline - clock.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = clock.setTimeout("raw-att.wait", left, resolve);
        this.wake = () => {
          clock.clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Sends a PDU and resolves with the next one the peer sends. */
  async request(pdu: Buffer, timeoutMs = 3000): Promise<Buffer> {
    this.send(pdu);
    return this.next(timeoutMs, `the answer to ${pdu.toString("hex")}`);
  }

  /** PDUs received and not yet taken (a command must leave none). */
  pending(): Buffer[] {
    return this.inbox.splice(0);
  }

  async disconnect(timeoutMs = 3000): Promise<void> {
    if (this.disconnected !== undefined) return;
    const gone = this.client.next(
      (p) => isEvent(p, EVT.disconnectionComplete) && (p.readUInt16LE(4) & 0x0fff) === this.handle,
      timeoutMs,
      "Disconnection Complete",
    );
    await this.client.command(OP.disconnect, params.handle(this.handle, 0x13));
    await gone;
    this.untap();
  }
}

export function isAnswerTo(p: Buffer, op: number): boolean {
  if (p[0] !== H4.event) return false;
  if (p[1] === EVT.commandComplete) return p.readUInt16LE(4) === op;
  if (p[1] === EVT.commandStatus) return p.readUInt16LE(5) === op;
  return false;
}

export function isLeMeta(p: Buffer, sub: number): boolean {
  return p[0] === H4.event && p[1] === EVT.leMeta && p[3] === sub;
}

export function isEvent(p: Buffer, code: number): boolean {
  return p[0] === H4.event && p[1] === code;
}

/** Command parameter blocks as noble and bleno build them. */
export const params = {
  advertising(intervalMs: number, type = 0x00): Buffer {
    const p = Buffer.alloc(15);
    const units = Math.round(intervalMs / 0.625);
    p.writeUInt16LE(units, 0);
    p.writeUInt16LE(units, 2);
    p.writeUInt8(type, 4);
    p.writeUInt8(0x07, 13);
    return p;
  },
  data(data: Buffer): Buffer {
    const p = Buffer.alloc(32);
    p.writeUInt8(data.length, 0);
    data.copy(p, 1);
    return p;
  },
  scan(active: boolean): Buffer {
    return Buffer.from([active ? 1 : 0, 0x12, 0x00, 0x12, 0x00, 0x00, 0x00]);
  },
  createConnection(peer: Buffer, intervalUnits = 0x18, timeoutUnits = 0x2a, peerType = 0): Buffer {
    const p = Buffer.alloc(25);
    p.writeUInt16LE(0x60, 0);
    p.writeUInt16LE(0x30, 2);
    p.writeUInt8(peerType, 5);
    peer.copy(p, 6);
    p.writeUInt16LE(intervalUnits, 13);
    p.writeUInt16LE(intervalUnits, 15);
    p.writeUInt16LE(0, 17);
    p.writeUInt16LE(timeoutUnits, 19);
    return p;
  },
  handle(handle: number, ...rest: number[]): Buffer {
    return Buffer.from([handle & 0xff, handle >> 8, ...rest]);
  },
};

/** Status byte of a Command Complete or Command Status event. */
export function statusOf(answer: Buffer): number {
  return answer[1] === EVT.commandComplete ? answer[6]! : answer[3]!;
}
