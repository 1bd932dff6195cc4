import { createConnection, type Socket } from "node:net";
import { EVT, H4, H4Parser, OP } from "./hci.js";

/**
 * A bare H4 host for tests and probes: sends raw commands and ACL packets to the air and waits for what
 * comes back. No Bluetooth stack; every byte is explicit.
 */
export class H4TestClient {
  readonly received: Buffer[] = [];
  private readonly parser = new H4Parser();
  private waiters: Array<{ pred: (p: Buffer) => boolean; resolve: (p: Buffer) => void }> = [];
  private cursor = 0;
  closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      for (const p of this.parser.push(chunk).packets) {
        this.received.push(p);
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
    });
    socket.on("error", () => {});
  }

  static connect(path: string): Promise<H4TestClient> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once("connect", () => resolve(new H4TestClient(s)));
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
          clearTimeout(t);
          resolve(p);
        },
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
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

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once("close", () => resolve());
      this.socket.destroy();
    });
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
