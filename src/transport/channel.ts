/**
 * MessageChannel: whole protocol messages over a FrameLink (the rx/tx characteristic pair).
 *
 * Flow control is symmetric. Notifications (tx) and Write Commands (rx) are not acknowledged by ATT,
 * so each side may have at most `window` data frames unacknowledged; the receiver sends a cumulative
 * ACK after every ceil(window/2) frames and after the last frame of every message. Acks travel in the
 * opposite direction over the same link (the controller acks by writing rx, the accessory by
 * notifying tx), so a firmware author implements one rule for both directions. A message's send()
 * resolves once the peer acknowledged all its frames; messages go one at a time.
 *
 * The window is the sender's obligation: it bounds what the link has to buffer (bleno's notification
 * queue, the controller's ACL buffers). A receiver cannot tell a sender that ignores acks from one whose
 * acks are still in flight, since it acks promptly; its own memory is bounded by maxMessage (the
 * reassembly buffer is sized from the declared length, checked first) and maxQueued unread messages.
 * Frames must arrive strictly in sequence: a repeated, skipped or out-of-window sequence number is a
 * PROTOCOL_ERROR.
 *
 * Any violation (see frame.ts), an ack for a frame never sent, a peer overrunning the window, a
 * message that stops half way (reassembly timeout) or acks that never come (ack timeout) ends the
 * exchange: pending sends and receives reject, error listeners hear the error, and the channel resets —
 * it sends RESET, drops everything until the peer answers RESET|ACK (or resetTimeoutMs passes), then
 * both sides start again from sequence 0. A RESET from the peer does the same on this side. Link loss
 * closes the channel for good with OUT_OF_RANGE.
 */
import type { Clock, TimerHandle } from "../clock/clock.js";
import { systemClock } from "../clock/system.js";
import { isOpenClawError, OpenClawError, protocolError } from "../protocol/errors.js";
import {
  DEFAULT_MAX_MESSAGE,
  decodeFrame,
  encodeAck,
  encodeReset,
  type Frame,
  Reassembler,
  segmentMessage,
} from "./frame.js";

/** One end of a GATT connection as the transport sees it. */
export interface FrameLink {
  /** ATT MTU − 3: the largest frame either side may send (20..514). */
  readonly maxFrame: number;
  /** Sends one frame; the channel never calls it again before the previous promise settles. */
  sendFrame(frame: Uint8Array): Promise<void>;
  onFrame(listener: (frame: Uint8Array) => void): () => void;
  onClose(listener: (reason: string) => void): () => void;
}

export interface MessageChannelOptions {
  /** Largest message accepted or sent (default 2048). */
  maxMessage?: number;
  /** Data frames in flight unacknowledged, per direction (default 8; both sides must agree). */
  window?: number;
  /** From a message's first frame to its last (default 10 s). */
  reassemblyTimeoutMs?: number;
  /** From sending a frame to its acknowledgement (default 10 s). */
  ackTimeoutMs?: number;
  /** How long a reset waits for the peer's RESET|ACK before carrying on (default 2 s). */
  resetTimeoutMs?: number;
  /** Messages received and not yet read before the channel gives up on the reader (default 8). */
  maxQueued?: number;
  /**
   * Where the channel's timeouts run (timers named `transport.*`). Pass the process's clock from the
   * entry point, a ManualClock in tests. The systemClock fallback is transitional, for callers not yet
   * migrated (the sim device, the test driver); it goes once they pass theirs.
   */
  clock?: Clock;
}

/** The detail of the PROTOCOL_ERROR pending operations get when this side closed the channel. */
export const CHANNEL_CLOSED = "the channel was closed";

export const DEFAULT_WINDOW = 8;
export const MAX_WINDOW = 127;

interface Outgoing {
  message: Uint8Array;
  resolve: () => void;
  reject: (err: OpenClawError) => void;
}

interface Sending {
  out: Outgoing;
  frames: Uint8Array[];
  next: number;
}

interface Waiter {
  resolve: (m: Uint8Array) => void;
  reject: (err: OpenClawError) => void;
  timer: TimerHandle;
}

type ChannelState =
  | { kind: "open" }
  | { kind: "resetting"; timer: TimerHandle }
  | { kind: "closed"; error: OpenClawError };

export class MessageChannel {
  readonly maxMessage: number;
  readonly window: number;
  private readonly ackEvery: number;
  private readonly reassemblyTimeoutMs: number;
  private readonly ackTimeoutMs: number;
  private readonly resetTimeoutMs: number;
  private readonly maxQueued: number;
  private readonly clock: Clock;

  private state: ChannelState = { kind: "open" };
  /** Bumped on every reset: frames queued for writing under an older epoch are dropped. */
  private epoch = 0;
  private writeChain: Promise<void> = Promise.resolve();

  // Sending direction.
  private outbox: Outgoing[] = [];
  private sending: Sending | null = null;
  private sendSeq = 0;
  private unacked = 0;
  private ackTimer: TimerHandle | null = null;

  // Receiving direction.
  private readonly reassembler: Reassembler;
  private receivedSinceAck = 0;
  private reassemblyTimer: TimerHandle | null = null;
  private inbox: Uint8Array[] = [];
  private waiters: Waiter[] = [];

  private readonly messageListeners = new Set<(m: Uint8Array) => void>();
  private readonly errorListeners = new Set<(err: OpenClawError) => void>();
  private readonly closeListeners = new Set<(err: OpenClawError) => void>();
  private readonly unsubscribe: Array<() => void>;

  constructor(
    private readonly link: FrameLink,
    opts: MessageChannelOptions = {},
  ) {
    this.maxMessage = opts.maxMessage ?? DEFAULT_MAX_MESSAGE;
    this.window = opts.window ?? DEFAULT_WINDOW;
    if (!Number.isInteger(this.window) || this.window < 1 || this.window > MAX_WINDOW) {
      throw new RangeError(`window must be 1..${MAX_WINDOW}`);
    }
    if (!Number.isInteger(this.maxMessage) || this.maxMessage < 0 || this.maxMessage > 0xffff) {
      throw new RangeError("maxMessage must be 0..65535");
    }
    this.ackEvery = Math.ceil(this.window / 2);
    this.reassemblyTimeoutMs = opts.reassemblyTimeoutMs ?? 10_000;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 10_000;
    this.resetTimeoutMs = opts.resetTimeoutMs ?? 2_000;
    this.maxQueued = opts.maxQueued ?? 8;
    this.clock = opts.clock ?? systemClock;
    this.reassembler = new Reassembler(this.maxMessage, this.window);
    this.unsubscribe = [
      link.onFrame((f) => this.onFrame(f)),
      link.onClose(() => this.closeWith(new OpenClawError("OUT_OF_RANGE", {}))),
    ];
  }

  get closed(): boolean {
    return this.state.kind === "closed";
  }

  /** Sends one message; resolves when the peer has acknowledged every frame of it. */
  send(message: Uint8Array): Promise<void> {
    if (this.state.kind === "closed") return Promise.reject(this.state.error);
    if (message.length > this.maxMessage) {
      return Promise.reject(
        protocolError(`message of ${message.length} bytes exceeds the ${this.maxMessage}-byte limit`),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.outbox.push({ message: message.slice(), resolve, reject });
      this.pump();
    });
  }

  /**
   * The next message, in order. Rejects with TIMEOUT{what} after timeoutMs, PROTOCOL_ERROR if the
   * exchange breaks, OUT_OF_RANGE if the link is lost.
   */
  receive(timeoutMs: number, what: string): Promise<Uint8Array> {
    if (this.state.kind === "closed") return Promise.reject(this.state.error);
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise<Uint8Array>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: this.clock.setTimeout(`transport.receive: ${what}`, timeoutMs, () => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new OpenClawError("TIMEOUT", { what, afterMs: timeoutMs }));
        }),
      };
      this.waiters.push(waiter);
    });
  }

  /**
   * Messages nobody is waiting for in receive() go to these listeners (and are queued only when there
   * are none). A listener that throws ends the exchange with its error.
   */
  onMessage(listener: (message: Uint8Array) => void): () => void {
    this.messageListeners.add(listener);
    return () => this.messageListeners.delete(listener);
  }

  /** Every error that ended an exchange, including the final one that closed the channel. */
  onError(listener: (err: OpenClawError) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  onClose(listener: (err: OpenClawError) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** Stops using the link (the link's owner disconnects it). Pending operations reject. */
  close(): void {
    this.closeWith(protocolError(CHANNEL_CLOSED));
  }

  // ---- sending ---------------------------------------------------------------------------------

  private pump(): void {
    if (this.state.kind !== "open") return;
    if (this.sending === null) {
      const out = this.outbox.shift();
      if (!out) return;
      let frames: Uint8Array[];
      try {
        frames = segmentMessage(out.message, this.link.maxFrame, this.sendSeq);
      } catch (err) {
        out.reject(protocolError(`cannot frame a message: ${(err as Error).message}`));
        this.pump();
        return;
      }
      this.sending = { out, frames, next: 0 };
    }
    const s = this.sending;
    while (s.next < s.frames.length && this.unacked < this.window) {
      this.write(s.frames[s.next++]!);
      this.sendSeq = (this.sendSeq + 1) & 0xff;
      this.unacked++;
      if (this.ackTimer === null) this.armAckTimer();
    }
  }

  private armAckTimer(): void {
    this.ackTimer = this.clock.setTimeout("transport.ack", this.ackTimeoutMs, () => {
      this.ackTimer = null;
      this.fail(
        new OpenClawError("TIMEOUT", { what: "the peer acknowledging frames", afterMs: this.ackTimeoutMs }),
      );
    });
  }

  private onAck(seq: number): void {
    const oldest = (this.sendSeq - this.unacked) & 0xff;
    const count = ((seq - oldest) & 0xff) + 1;
    if (this.unacked === 0 || count > this.unacked) {
      throw protocolError(`acknowledgement of frame ${seq}, which is not in flight`);
    }
    this.unacked -= count;
    if (this.ackTimer !== null) this.clock.clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (this.unacked > 0) this.armAckTimer();
    const s = this.sending;
    if (s && s.next === s.frames.length && this.unacked === 0) {
      this.sending = null;
      s.out.resolve();
    }
    this.pump();
  }

  /** Queues a frame for the link, in order; frames from before a reset are dropped, not sent. */
  private write(frame: Uint8Array): void {
    const epoch = this.epoch;
    this.writeChain = this.writeChain.then(async () => {
      if (epoch !== this.epoch || this.state.kind === "closed") return;
      try {
        await this.link.sendFrame(frame);
      } catch (err) {
        this.closeWith(isOpenClawError(err) ? err : new OpenClawError("OUT_OF_RANGE", {}, { cause: err }));
      }
    });
  }

  // ---- receiving -------------------------------------------------------------------------------

  private onFrame(bytes: Uint8Array): void {
    const st = this.state;
    if (st.kind === "closed") return;
    let frame: Frame;
    try {
      frame = decodeFrame(bytes, this.link.maxFrame);
    } catch (err) {
      if (st.kind === "open") this.fail(err as OpenClawError);
      return;
    }
    if (st.kind === "resetting") {
      // Everything the peer sent before it saw our RESET is stale; only its answer matters.
      if (frame.kind === "reset") this.write(encodeReset(true));
      else if (frame.kind === "reset-ack") this.reopen();
      return;
    }
    try {
      switch (frame.kind) {
        case "reset":
          this.peerReset();
          return;
        case "reset-ack":
          return; // a late answer to a reset that already timed out
        case "ack":
          this.onAck(frame.seq);
          return;
        case "data":
          this.onData(frame);
          return;
      }
    } catch (err) {
      this.fail(isOpenClawError(err) ? err : protocolError("internal error handling a frame"));
    }
  }

  private onData(frame: Extract<Frame, { kind: "data" }>): void {
    const message = this.reassembler.push(frame);
    this.receivedSinceAck++;
    if (frame.start && message === null) {
      this.reassemblyTimer = this.clock.setTimeout("transport.reassembly", this.reassemblyTimeoutMs, () => {
        this.reassemblyTimer = null;
        this.fail(
          new OpenClawError("TIMEOUT", {
            what: "receiving the rest of a message from the peer",
            afterMs: this.reassemblyTimeoutMs,
          }),
        );
      });
    }
    if (message !== null || this.receivedSinceAck >= this.ackEvery) {
      this.write(encodeAck(frame.seq));
      this.receivedSinceAck = 0;
    }
    if (message !== null) {
      if (this.reassemblyTimer !== null) this.clock.clearTimeout(this.reassemblyTimer);
      this.reassemblyTimer = null;
      this.deliver(message);
    }
  }

  private deliver(message: Uint8Array): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      this.clock.clearTimeout(waiter.timer);
      waiter.resolve(message);
      return;
    }
    if (this.messageListeners.size > 0) {
      for (const l of [...this.messageListeners]) l(message);
      return;
    }
    if (this.inbox.length >= this.maxQueued) throw protocolError("too many messages left unread");
    this.inbox.push(message);
  }

  // ---- resets and closing ----------------------------------------------------------------------

  /** Drops all exchange state in both directions and rejects whatever was pending with err. */
  private clearExchange(err: OpenClawError): void {
    this.epoch++;
    for (const t of [this.ackTimer, this.reassemblyTimer]) if (t !== null) this.clock.clearTimeout(t);
    this.ackTimer = null;
    this.reassemblyTimer = null;
    this.reassembler.reset();
    this.receivedSinceAck = 0;
    this.sendSeq = 0;
    this.unacked = 0;
    const outs = [...(this.sending ? [this.sending.out] : []), ...this.outbox];
    this.sending = null;
    this.outbox = [];
    const waiters = this.waiters;
    this.waiters = [];
    this.inbox = [];
    for (const o of outs) o.reject(err);
    for (const w of waiters) {
      this.clock.clearTimeout(w.timer);
      w.reject(err);
    }
  }

  /** A local error: end the exchange and tell the peer to start over. */
  private fail(err: OpenClawError): void {
    if (this.state.kind !== "open") return;
    this.clearExchange(err);
    this.state = {
      kind: "resetting",
      timer: this.clock.setTimeout("transport.reset", this.resetTimeoutMs, () => this.reopen()),
    };
    this.write(encodeReset(false));
    this.emitError(err);
  }

  private peerReset(): void {
    const err = protocolError("the peer abandoned the exchange");
    this.clearExchange(err);
    this.write(encodeReset(true));
    this.emitError(err);
  }

  private reopen(): void {
    if (this.state.kind !== "resetting") return;
    this.clock.clearTimeout(this.state.timer);
    this.state = { kind: "open" };
    this.pump();
  }

  private closeWith(err: OpenClawError): void {
    if (this.state.kind === "closed") return;
    if (this.state.kind === "resetting") this.clock.clearTimeout(this.state.timer);
    this.clearExchange(err);
    this.state = { kind: "closed", error: err };
    for (const u of this.unsubscribe) u();
    this.emitError(err);
    for (const l of [...this.closeListeners]) l(err);
  }

  private emitError(err: OpenClawError): void {
    for (const l of [...this.errorListeners]) l(err);
  }
}
