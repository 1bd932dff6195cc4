/**
 * One connected device, controller side: the composition the test driver proved, moved here for the
 * daemon — a RadioLink (src/radio central or in memory) + a MessageChannel (src/transport) + the
 * controller role's pair-setup + Noise KK verify + the session client. It runs one exchange at a time
 * and knows nothing of stores or discovery (core.ts does); it is also the test driver's engine.
 *
 *   open ──pairSetup──▶ open (a bond, or a device verdict: the link stays for another attempt)
 *   open ──verify ok──▶ session (commands through `session`)
 *   any ──link lost / disconnect──▶ closed (pending exchanges fail with OUT_OF_RANGE)
 */
import { type Clock, withDeadline } from "../../clock/index.js";
import type { KeyPair } from "../../protocol/accessory/types.js";
import type { Controller, ControllerBond } from "../../protocol/controller/index.js";
import { isOpenClawError, OpenClawError, protocolError } from "../../protocol/errors.js";
import { type AccessoryInfo, decodeInfo } from "../../protocol/messages/info.js";
import type { RandomBytes } from "../../protocol/random.js";
import type { Role, SessionClient } from "../../protocol/session/index.js";
import { ControllerVerify, openClientSession } from "../../protocol/verify/index.js";
import { CHANNEL_CLOSED, MessageChannel, type MessageChannelOptions } from "../../transport/channel.js";
import type { PairStep, RadioLink } from "./api.js";

export interface ControllerLinkOptions {
  controller: Controller;
  clock: Clock;
  random: RandomBytes;
  /** Waiting for each protocol answer (default 10 s). */
  stepTimeoutMs?: number;
  channel?: Omit<MessageChannelOptions, "timers">;
  /** Shown in errors and timer names (the device's name or id). */
  label?: string;
}

/**
 * Fault injection for tests: called after each pair-setup message this side sent (and the device
 * acknowledged) or received; "stop" hangs up right there and pairSetup resolves null.
 */
export type PairSetupTap = (event: { sent: number } | { received: number }) => "continue" | "stop";

export type ControllerLinkState =
  | { kind: "open" }
  | { kind: "session"; client: SessionClient; role: Role; bond: ControllerBond; key: KeyPair }
  | { kind: "closed"; reason: string };

export class ControllerLink {
  readonly channel: MessageChannel;
  #state: ControllerLinkState = { kind: "open" };
  readonly #o: Required<Pick<ControllerLinkOptions, "stepTimeoutMs">> & ControllerLinkOptions;
  readonly #closeListeners = new Set<(reason: string) => void>();
  readonly #notificationListeners = new Set<(channel: number, payload: Uint8Array) => void>();

  constructor(
    readonly conn: RadioLink,
    o: ControllerLinkOptions,
  ) {
    this.#o = { stepTimeoutMs: 10_000, ...o };
    this.channel = new MessageChannel(conn, {
      ...o.channel,
      clock: o.clock,
    });
    conn.onClose((reason) => this.#closed(reason));
  }

  get state(): ControllerLinkState {
    return this.#state;
  }

  get open(): boolean {
    return this.#state.kind !== "closed";
  }

  get label(): string {
    return this.#o.label ?? this.conn.id;
  }

  /** The verified session, or null. */
  get session(): SessionClient | null {
    return this.#state.kind === "session" ? this.#state.client : null;
  }

  onClose(l: (reason: string) => void): () => void {
    if (this.#state.kind === "closed") {
      const reason = this.#state.reason;
      queueMicrotask(() => l(reason));
      return () => {};
    }
    this.#closeListeners.add(l);
    return () => this.#closeListeners.delete(l);
  }

  /** Application notifications from the device on the verified session. */
  onNotification(l: (channel: number, payload: Uint8Array) => void): () => void {
    this.#notificationListeners.add(l);
    return () => this.#notificationListeners.delete(l);
  }

  async readInfo(): Promise<AccessoryInfo> {
    this.#need();
    return decodeInfo(await this.conn.readInfo(this.#o.stepTimeoutMs));
  }

  readRssi(): Promise<number> {
    this.#need();
    return this.conn.readRssi();
  }

  /**
   * Pair-setup with a typed code against the info just read. Resolves with the bond, or null when `tap`
   * stopped it. Rejects with the device's verdict (WRONG_CODE{attemptsLeft}, CODE_EXPIRED, LOCKED_OUT,
   * BOND_TABLE_FULL, ...: the link stays up), a local one (MALFORMED_CODE, BAD_CHECK_CHARACTER,
   * WINDOW_CLOSED: nothing sent), TIMEOUT or OUT_OF_RANGE.
   */
  async pairSetup(
    info: AccessoryInfo,
    code: string,
    o: { onStep?: (step: PairStep) => void; tap?: PairSetupTap } = {},
  ): Promise<ControllerBond | null> {
    this.#need();
    if (this.#state.kind === "session") throw protocolError("pair-setup on a verified session");
    const ps = this.#o.controller.pairSetup(info, code);
    let sent = 0;
    let received = 0;
    const sendChecked = async (m: Uint8Array): Promise<boolean> => {
      await linkIo(this.channel.send(m));
      sent++;
      if (o.tap?.({ sent }) === "stop") {
        await this.disconnect();
        return true;
      }
      return false;
    };
    o.onStep?.("exchanging-keys");
    if (await sendChecked(ps.firstMessage)) return null;
    for (;;) {
      const what = received === 0 ? "the device's pair-setup challenge" : "the device's pair-setup answer";
      const msg = await linkIo(this.channel.receive(this.#o.stepTimeoutMs, what));
      received++;
      if (o.tap?.({ received }) === "stop") {
        await this.disconnect();
        return null;
      }
      const step = ps.handle(msg);
      const failed = step.outcome?.kind === "failed";
      if (!failed && step.replies.length > 0 && ps.state === "awaiting-done") o.onStep?.("confirming");
      for (const r of step.replies) {
        // A failure's Error is a courtesy: the verdict stands whether or not it arrives.
        if (failed) await this.channel.send(r).catch(() => {});
        else if (await sendChecked(r)) return null;
      }
      if (step.outcome?.kind === "ok") return step.outcome.value;
      if (step.outcome?.kind === "failed") throw step.outcome.error;
    }
  }

  /**
   * Noise KK verify with `bond` (and `key`, default the bond's current static key); afterwards session
   * commands go through `session`. Rejects with UNKNOWN_PEER when the device does not know this key
   * (the link stays up, so another key may be tried), PROTOCOL_ERROR, TIMEOUT, OUT_OF_RANGE.
   */
  async verify(bond: ControllerBond, key: KeyPair = bond.controllerStaticKey): Promise<{ role: Role }> {
    this.#need();
    if (this.#state.kind === "session") throw protocolError("verify on a verified session");
    const v = new ControllerVerify({
      deviceId: bond.deviceId,
      identity: key,
      accessoryPublicKey: bond.accessoryStaticPublicKey,
      random: this.#o.random,
    });
    await linkIo(this.channel.send(v.start()));
    const answer = await linkIo(this.channel.receive(this.#o.stepTimeoutMs, "the device's verify answer"));
    const { client, role } = openClientSession(v, answer, {
      clock: this.#o.clock,
      random: this.#o.random,
      send: (m) => {
        this.channel.send(m).catch((err: unknown) => {
          client.close(isOpenClawError(err) ? err : protocolError("session send failed"));
        });
      },
    });
    if (this.#state.kind === "closed") {
      client.close(new OpenClawError("OUT_OF_RANGE", {}));
      throw new OpenClawError("OUT_OF_RANGE", {});
    }
    this.#state = { kind: "session", client, role, bond, key };
    // A message the client rejects ends the session (its pending calls hear why) and, thrown here,
    // resets the channel; the core opens a new session when it next needs one.
    this.channel.onMessage((m) => {
      if (client.state.kind === "open") client.receive(m);
    });
    this.channel.onError((err) => client.close(asLinkLoss(err)));
    client.onNotification((m) => {
      for (const l of [...this.#notificationListeners]) l(m.channel, m.payload);
    });
    return { role };
  }

  /** A session call bounded by the step timeout, named in the TIMEOUT (`what`: "status", ...). */
  call<T>(what: string, fn: (s: SessionClient) => Promise<T>): Promise<T> {
    const s = this.session;
    if (!s) {
      return Promise.reject(
        this.#state.kind === "closed"
          ? new OpenClawError("OUT_OF_RANGE", {})
          : new OpenClawError("INTERNAL", { detail: `${what} before verify` }),
      );
    }
    if (s.state.kind === "closed") return Promise.reject(s.state.error);
    const ms = this.#o.stepTimeoutMs;
    return withDeadline(
      this.#o.clock,
      fn(s),
      ms,
      `session call ${this.label}`,
      () => new OpenClawError("TIMEOUT", { what: `the device's answer to ${what}`, afterMs: ms }),
    );
  }

  /** Raw access for fault tests: one protocol message through the channel, or one frame around it. */
  sendMessage(m: Uint8Array): Promise<void> {
    this.#need();
    return this.channel.send(m);
  }

  receiveMessage(timeoutMs: number): Promise<Uint8Array> {
    this.#need();
    return this.channel.receive(timeoutMs, "a message from the device");
  }

  sendFrame(frame: Uint8Array): Promise<void> {
    this.#need();
    return this.conn.sendFrame(frame);
  }

  /** Hangs up (idempotent); resolves once the link is closed. */
  async disconnect(): Promise<void> {
    if (this.#state.kind === "closed") return;
    this.channel.close();
    await this.conn.disconnect().catch(() => {});
    this.#closed("disconnected by this laptop");
  }

  #need(): void {
    if (this.#state.kind === "closed") throw new OpenClawError("OUT_OF_RANGE", {});
  }

  #closed(reason: string): void {
    const st = this.#state;
    if (st.kind === "closed") return;
    this.#state = { kind: "closed", reason };
    this.channel.close();
    if (st.kind === "session") st.client.close(new OpenClawError("OUT_OF_RANGE", {}));
    for (const l of [...this.#closeListeners]) l(reason);
    this.#closeListeners.clear();
  }
}

/**
 * The channel is closed only when the link goes (ours: a cancel, a hang-up; or the device's). An
 * exchange cut short that way got no answer — the device's verdict is unknown — so it fails with
 * OUT_OF_RANGE, as the states above say, not as a PROTOCOL_ERROR (which would read as a refusal and
 * drop a pairing candidate the device may have confirmed).
 */
function asLinkLoss(err: OpenClawError): OpenClawError {
  return err.is("PROTOCOL_ERROR") && err.details.detail === CHANNEL_CLOSED
    ? new OpenClawError("OUT_OF_RANGE", {})
    : err;
}

async function linkIo<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw isOpenClawError(err) ? asLinkLoss(err) : err;
  }
}
