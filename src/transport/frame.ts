/**
 * OpenClaw GATT framing: how one protocol message (≤ 2048 bytes) travels as frames that each fit in one
 * ATT PDU (frame ≤ ATT_MTU − 3, so 20 bytes at the minimum MTU 23 and 514 at 517).
 *
 * Frame layout (both directions, rx writes and tx notifications alike):
 *
 *   byte 0  flags   0x80 START  first frame of a message
 *                   0x40 END    last frame of a message (START|END: a one-frame message)
 *                   0x20 ACK    control: acknowledges data frames up to and including `seq`
 *                   0x10 RESET  control: the sender abandoned the exchange; RESET|ACK answers it
 *                   0x0F        reserved, must be 0
 *   byte 1  seq     data frames: sequence number (u8, starts at 0 after the link opens or a reset,
 *                   +1 per data frame, wraps at 256); ACK: the last data seq received; RESET: 0
 *   START frames only: bytes 2..3 total message length (u16 big-endian)
 *   rest    payload (data frames only; non-START data frames carry at least one byte)
 *
 * Control frames are exactly 2 bytes. A data frame is START, END, START|END or 0 (a middle frame).
 * The ATT layer and the LE link layer already guarantee integrity and order, so there is no checksum:
 * the framing only has to catch a peer that is confused or hostile, and the session layer's AEAD
 * authenticates content.
 *
 * This module is pure: segmentation and a reassembler that throws PROTOCOL_ERROR on anything off.
 */
import { protocolError } from "../protocol/errors.js";

export const FLAG_START = 0x80;
export const FLAG_END = 0x40;
export const FLAG_ACK = 0x20;
export const FLAG_RESET = 0x10;
const RESERVED = 0x0f;

export const MIN_ATT_MTU = 23;
export const MAX_ATT_MTU = 517;
/** The ATT header of a Write Command / Handle Value Notification: opcode + handle. */
export const ATT_OVERHEAD = 3;
export const MIN_FRAME = MIN_ATT_MTU - ATT_OVERHEAD;
export const MAX_FRAME = MAX_ATT_MTU - ATT_OVERHEAD;

export const DATA_HEADER = 2;
export const START_HEADER = 4;
export const CONTROL_FRAME = 2;

/** The default per-message limit (the protocol's MAX_MESSAGE). The u16 length field caps it at 65535. */
export const DEFAULT_MAX_MESSAGE = 2048;

export function maxFrameForMtu(mtu: number): number {
  if (!Number.isInteger(mtu) || mtu < MIN_ATT_MTU || mtu > MAX_ATT_MTU) {
    throw new RangeError(`ATT MTU must be an integer in ${MIN_ATT_MTU}..${MAX_ATT_MTU}, got ${mtu}`);
  }
  return mtu - ATT_OVERHEAD;
}

export type Frame =
  | { kind: "data"; start: boolean; end: boolean; seq: number; total?: number; payload: Uint8Array }
  | { kind: "ack"; seq: number }
  | { kind: "reset" }
  | { kind: "reset-ack" };

export function encodeAck(seq: number): Uint8Array {
  return Uint8Array.of(FLAG_ACK, seq & 0xff);
}

export function encodeReset(ack: boolean): Uint8Array {
  return Uint8Array.of(ack ? FLAG_RESET | FLAG_ACK : FLAG_RESET, 0);
}

/** Parses one frame's structure. Sequence and length checks against state belong to the Reassembler. */
export function decodeFrame(frame: Uint8Array, maxFrame: number): Frame {
  if (frame.length > maxFrame) throw protocolError(`frame of ${frame.length} bytes exceeds ${maxFrame}`);
  if (frame.length < CONTROL_FRAME) throw protocolError("truncated frame header");
  const flags = frame[0]!;
  const seq = frame[1]!;
  if (flags & RESERVED) throw protocolError("frame has reserved flag bits set");
  const start = (flags & FLAG_START) !== 0;
  const end = (flags & FLAG_END) !== 0;
  const ack = (flags & FLAG_ACK) !== 0;
  const reset = (flags & FLAG_RESET) !== 0;
  if (reset || ack) {
    if (start || end) throw protocolError("control frame has data flags");
    if (frame.length !== CONTROL_FRAME) throw protocolError("control frame has a payload");
    if (reset) {
      if (seq !== 0) throw protocolError("reset frame has a sequence number");
      return { kind: ack ? "reset-ack" : "reset" };
    }
    return { kind: "ack", seq };
  }
  if (start) {
    if (frame.length < START_HEADER) throw protocolError("truncated first frame");
    const total = (frame[2]! << 8) | frame[3]!;
    return { kind: "data", start, end, seq, total, payload: frame.subarray(START_HEADER) };
  }
  if (frame.length === DATA_HEADER) throw protocolError("continuation frame without payload");
  return { kind: "data", start, end, seq, payload: frame.subarray(DATA_HEADER) };
}

/**
 * Splits a message into data frames of at most maxFrame bytes, numbered from firstSeq (mod 256).
 * A message of n bytes takes 1 + ceil(max(0, n − (maxFrame − 4)) / (maxFrame − 2)) frames.
 */
export function segmentMessage(message: Uint8Array, maxFrame: number, firstSeq: number): Uint8Array[] {
  if (!Number.isInteger(maxFrame) || maxFrame < MIN_FRAME || maxFrame > MAX_FRAME) {
    throw new RangeError(`frame size must be in ${MIN_FRAME}..${MAX_FRAME}, got ${maxFrame}`);
  }
  if (message.length > 0xffff) throw new RangeError("message longer than the 16-bit length field");
  const frames: Uint8Array[] = [];
  let off = 0;
  let seq = firstSeq & 0xff;
  do {
    const first = off === 0;
    const header = first ? START_HEADER : DATA_HEADER;
    const take = Math.min(maxFrame - header, message.length - off);
    const last = off + take === message.length;
    const frame = new Uint8Array(header + take);
    frame[0] = (first ? FLAG_START : 0) | (last ? FLAG_END : 0);
    frame[1] = seq;
    if (first) {
      frame[2] = message.length >>> 8;
      frame[3] = message.length & 0xff;
    }
    frame.set(message.subarray(off, off + take), header);
    frames.push(frame);
    off += take;
    seq = (seq + 1) & 0xff;
  } while (off < message.length);
  return frames;
}

export function frameCount(messageLength: number, maxFrame: number): number {
  const rest = Math.max(0, messageLength - (maxFrame - START_HEADER));
  return 1 + Math.ceil(rest / (maxFrame - DATA_HEADER));
}

type ReassemblyState =
  | { kind: "idle" }
  | { kind: "assembling"; total: number; buf: Uint8Array; filled: number };

/**
 * Receives the data frames of one direction in order and yields whole messages. Every violation —
 * a gap or repeat in sequence numbers, a START inside a message, a continuation outside one, a message
 * over the limit, a length that does not add up — throws PROTOCOL_ERROR; the caller then resets.
 */
export class Reassembler {
  private state: ReassemblyState = { kind: "idle" };
  private expectedSeq = 0;

  constructor(
    private readonly maxMessage: number = DEFAULT_MAX_MESSAGE,
    /** Only for naming errors: frames are accepted strictly in order. */
    private readonly window = 8,
  ) {}

  get assembling(): boolean {
    return this.state.kind === "assembling";
  }

  /** The sequence number the next data frame must carry. */
  get nextSeq(): number {
    return this.expectedSeq;
  }

  reset(): void {
    this.state = { kind: "idle" };
    this.expectedSeq = 0;
  }

  /** Feeds one decoded data frame; returns the message it completes, or null. */
  push(frame: Extract<Frame, { kind: "data" }>): Uint8Array | null {
    if (frame.seq !== this.expectedSeq) {
      const ahead = (frame.seq - this.expectedSeq) & 0xff;
      throw protocolError(
        ahead >= 128
          ? `duplicate frame ${frame.seq} (expected ${this.expectedSeq})`
          : ahead >= this.window
            ? `frame ${frame.seq} is outside the receive window (expected ${this.expectedSeq})`
            : `frames missing before ${frame.seq} (expected ${this.expectedSeq})`,
      );
    }
    this.expectedSeq = (this.expectedSeq + 1) & 0xff;
    if (frame.start) {
      if (this.state.kind === "assembling") throw protocolError("new message started inside another");
      const total = frame.total ?? 0;
      if (total > this.maxMessage) {
        throw protocolError(`message of ${total} bytes exceeds the ${this.maxMessage}-byte limit`);
      }
      this.state = { kind: "assembling", total, buf: new Uint8Array(total), filled: 0 };
    } else if (this.state.kind === "idle") {
      throw protocolError("continuation frame outside a message");
    }
    const st = this.state as Extract<ReassemblyState, { kind: "assembling" }>;
    if (st.filled + frame.payload.length > st.total)
      throw protocolError("frames carry more than the message length");
    st.buf.set(frame.payload, st.filled);
    st.filled += frame.payload.length;
    const complete = st.filled === st.total;
    if (frame.end !== complete) {
      throw protocolError(
        frame.end ? "message ended short of its length" : "message length reached without END",
      );
    }
    if (!complete) return null;
    this.state = { kind: "idle" };
    return st.buf;
  }
}
