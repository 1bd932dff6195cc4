/**
 * The controller's side of a verified session: typed methods that build request messages and
 * promises that settle when the matching response arrives. Pure: `send` is injected (the transport
 * wires it to a MessageChannel; tests wire it straight to an accessory), incoming messages are fed to
 * `receive`, and timeouts belong to the transport (it calls `close(err)` to fail pending calls).
 */

import { type CodeFormat, displayCode, generateCode } from "../codes/index.js";
import { generateKeyPair, type KeyPair } from "../crypto/noise.js";
import type { RandomBytes } from "../env.js";
import { isOpenClawError, OpenClawError, protocolError } from "../errors.js";
import { decodeMessage, peekType } from "../messages/codec.js";
import { messageToError } from "../messages/errors.js";
import type { SecureChannel } from "./channel.js";
import {
  type AppMessage,
  AppMessageCodec,
  AppResultCodec,
  type BodyCodec,
  Command,
  type CommandName,
  EmptyResultCodec,
  ListPairingsArgsCodec,
  ListPairingsResultCodec,
  type PairingSummary,
  RemovePairingArgsCodec,
  RemovePairingResultCodec,
  type Role,
  RotateArgsCodec,
  SessionEvent,
  ShareArgsCodec,
  ShareResultCodec,
  type StatusResult,
  StatusResultCodec,
} from "./commands.js";
import { decodeErrorBody } from "./error-body.js";
import { MAX_APP_PAYLOAD } from "./limits.js";
import { decodePayload, encodePayload } from "./payload.js";

interface Pending {
  command: CommandName;
  resolve(body: Uint8Array): void;
  reject(err: OpenClawError): void;
}

export interface ShareOptions {
  /** Role granted to the controller that pairs with the code (default user). */
  role?: Role;
  /** Window length, 30 s – 15 min. */
  ttlMs: number;
  format?: CodeFormat;
}

export interface SharedCode {
  /** Canonical code: show it to the person pairing the second laptop, never log it. */
  code: string;
  display: string;
  format: CodeFormat;
  role: Role;
  /** Window time left, on the device's clock, when it answered. */
  timeLeftMs: number;
}

export type ClientState = { kind: "open" } | { kind: "closed"; error: OpenClawError };

export class SessionClient {
  readonly #channel: SecureChannel;
  readonly #random: RandomBytes;
  readonly #send: (message: Uint8Array) => void;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Set<(m: AppMessage) => void>();
  #nextId = 1;
  #state: ClientState = { kind: "open" };
  /** Our role on the device, as VerifyAccept reported it. */
  readonly role: Role;

  constructor(o: {
    channel: SecureChannel;
    random: RandomBytes;
    send: (message: Uint8Array) => void;
    role: Role;
  }) {
    this.#channel = o.channel;
    this.#random = o.random;
    this.#send = o.send;
    this.role = o.role;
  }

  get state(): ClientState {
    return this.#state;
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  status(): Promise<StatusResult> {
    return this.#call("status", new Uint8Array(0), StatusResultCodec);
  }

  /** Every bond on the device (admin), fetched page by page. */
  async listPairings(): Promise<PairingSummary[]> {
    const out: PairingSummary[] = [];
    for (;;) {
      const args = ListPairingsArgsCodec.encode({ start: out.length === 0 ? undefined : out.length });
      const page = await this.#call("listPairings", args, ListPairingsResultCodec);
      out.push(...page.entries);
      // An empty page ends the walk even if bonds vanished meanwhile (another link removed one).
      if (out.length >= page.total || page.entries.length === 0 || out.length >= 0xff) return out;
    }
  }

  /** Removes our own pairing (no id, or our id: the session then ends) or, as admin, another one. */
  async removePairing(controllerId?: Uint8Array): Promise<{ removedSelf: boolean }> {
    const r = await this.#call(
      "removePairing",
      RemovePairingArgsCodec.encode({ controllerId }),
      RemovePairingResultCodec,
    );
    // Later calls hear what is now true: the device has forgotten this laptop.
    if (r.removedSelf) this.#end(new OpenClawError("UNKNOWN_PEER", {}));
    return r;
  }

  /**
   * Opens a pairing window on the device for another controller. The code is generated here (this
   * laptop shows it) and sent to the device inside the encrypted session.
   */
  async share(o: ShareOptions): Promise<SharedCode> {
    const format = o.format ?? "passkey";
    const role = o.role ?? "user";
    const code = generateCode(format, this.#random);
    const args = ShareArgsCodec.encode({ role, ttlMs: o.ttlMs, format, code });
    const r = await this.#call("share", args, ShareResultCodec);
    return { code, display: displayCode(code, format), format, role, timeLeftMs: r.timeLeftMs };
  }

  /**
   * Replaces this controller's static key in its bond. Pass the new key pair after persisting it as
   * pending (the store's beginRotation): if the response is lost the device may hold either key, and
   * only a key saved before sending can be tried later. Keep the old key until a verify with the new
   * one succeeds. Without `keyPair` one is generated (tests).
   */
  async rotate(keyPair: KeyPair = generateKeyPair(this.#random)): Promise<{ keyPair: KeyPair }> {
    await this.#call("rotate", RotateArgsCodec.encode({ publicKey: keyPair.publicKey }), EmptyResultCodec);
    return { keyPair };
  }

  /** Wipes the device (admin). The session ends with it. */
  async factoryReset(): Promise<void> {
    await this.#call("factoryReset", new Uint8Array(0), EmptyResultCodec);
    this.#end(new OpenClawError("UNKNOWN_PEER", {}));
  }

  /** An application request (the device's own functions); resolves with its response payload. */
  async appRequest(channel: number, payload: Uint8Array): Promise<Uint8Array> {
    if (payload.length > MAX_APP_PAYLOAD) throw new RangeError("application payload too large");
    const r = await this.#call("app", AppMessageCodec.encode({ channel, payload }), AppResultCodec);
    return r.payload;
  }

  /** A one-way application notification to the device. */
  appNotify(channel: number, payload: Uint8Array): void {
    if (payload.length > MAX_APP_PAYLOAD) throw new RangeError("application payload too large");
    this.#requireOpen();
    const body = AppMessageCodec.encode({ channel, payload });
    this.#send(this.#channel.seal(encodePayload({ kind: "notification", event: SessionEvent.app, body })));
  }

  /** Application notifications from the device. Returns an unsubscribe function. */
  onNotification(listener: (m: AppMessage) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Feeds one message from the accessory. A session failure (bad message, cleartext Error) ends the
   * session, rejects every pending call with it and is thrown too. Messages arriving after the session
   * ended are ignored (the link is going away; the pending calls already carry the reason).
   */
  receive(message: Uint8Array): void {
    if (this.#state.kind === "closed") return;
    try {
      if (peekType(message) === "Error") {
        const m = decodeMessage(message);
        throw m.type === "Error" ? messageToError(m) : protocolError("undecodable error message");
      }
      const p = decodePayload(this.#channel.open(message));
      if (p.kind === "notification") {
        if (p.event !== SessionEvent.app) throw protocolError("unknown notification from the device");
        const m = AppMessageCodec.decode(p.body);
        for (const l of this.#listeners) l(m);
        return;
      }
      if (p.kind === "request") throw protocolError("the device sent a request");
      const pending = this.#pending.get(p.id);
      if (!pending) throw protocolError("response to no pending request");
      this.#pending.delete(p.id);
      if (p.kind === "ok") pending.resolve(p.body);
      else pending.reject(decodeErrorBody(p.body));
    } catch (err) {
      const e = isOpenClawError(err) ? err : protocolError("undecodable session message");
      this.#end(e);
      throw e;
    }
  }

  /** Ends the session (link lost, timeout): pending calls fail with `err`. */
  close(err: OpenClawError): void {
    this.#end(err);
  }

  #end(err: OpenClawError): void {
    if (this.#state.kind === "closed") return;
    this.#state = { kind: "closed", error: err };
    this.#channel.close(err.message);
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
  }

  #requireOpen(): void {
    if (this.#state.kind === "closed") throw this.#state.error;
  }

  #allocateId(): number {
    for (let i = 0; i < 0x10000; i++) {
      const id = this.#nextId;
      this.#nextId = (this.#nextId + 1) & 0xffff;
      if (!this.#pending.has(id)) return id;
    }
    throw new RangeError("too many requests in flight");
  }

  #call<T>(command: CommandName, args: Uint8Array, result: BodyCodec<T>): Promise<T> {
    if (this.#state.kind === "closed") return Promise.reject(this.#state.error);
    const id = this.#allocateId();
    const message = this.#channel.seal(
      encodePayload({ kind: "request", id, command: Command[command], body: args }),
    );
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, {
        command,
        resolve: (body) => {
          try {
            resolve(result.decode(body));
          } catch (err) {
            const e = isOpenClawError(err) ? err : protocolError("undecodable response");
            this.#end(e);
            reject(e);
          }
        },
        reject,
      });
      // Registered before sending: a synchronous transport may deliver the response inside send().
      try {
        this.#send(message);
      } catch (err) {
        this.#pending.delete(id);
        reject(err);
      }
    });
  }
}
