/**
 * The host guard: sits between the controller and a stack (noble or bleno), on streams and the kernel
 * adapter alike, so that nothing a peer sends can crash the process.
 *
 * - Inbound ACL data is reassembled into whole L2CAP frames per link and checked (att.ts) before the
 *   stack sees it, as one ACL start packet. A malformed ATT request is answered as the Core spec says
 *   (Error Response, Invalid PDU, handle 0) by the guard itself; a malformed command, notification,
 *   indication, confirmation, SMP or signaling PDU is dropped; a malformed response becomes an Error
 *   Response (Unlikely Error) for the stack's pending request, so the request fails at once instead of
 *   waiting for an answer that will never come (ATT allows one outstanding request per link).
 * - Packets are handed to the stack through `deliver`, which contains anything the stack throws: it is
 *   reported typed (INTERNAL) and the link whose data caused it is disconnected, so the stack's
 *   half-updated state for it is cleaned up by its own disconnect handling.
 * - What the guard writes itself is invisible to the stack's accounting: its ACL packets are tracked per
 *   link and taken out of Number Of Completed Packets events, it waits for a free controller buffer
 *   (the LE Read Buffer Size answer) before sending, and the Command Status of its own Disconnect is
 *   swallowed.
 */
import { OpenClawError } from "../../protocol/errors.js";
import {
  ATT_ATTRIBUTE_NOT_FOUND,
  ATT_INVALID_PDU,
  ATT_UNLIKELY_ERROR,
  attErrorResponse,
  attKindOf,
  CID_ATT,
  CID_LE_SIGNALING,
  CID_SMP,
  checkAttPdu,
  checkSignalingPdu,
  checkSmpPdu,
  requestOpcodeOf,
} from "./att.js";
import {
  aclPacket,
  commandPacket,
  EVT_CMD_COMPLETE,
  EVT_CMD_STATUS,
  H4_ACL,
  H4_EVENT,
  l2capFrame,
} from "./h4.js";
import { type HciReport, reportHci } from "./reports.js";

const EVT_DISCONNECTION_COMPLETE = 0x05;
const EVT_NUMBER_OF_COMPLETED_PACKETS = 0x13;
const EVT_LE_META = 0x3e;
const LE_CONNECTION_COMPLETE = 0x01;
const LE_ENHANCED_CONNECTION_COMPLETE = 0x0a;
const OP_DISCONNECT = 0x0406;
const OP_READ_BUFFER_SIZE = 0x1005;
const OP_LE_READ_BUFFER_SIZE = 0x2002;
const REASON_REMOTE_USER_TERMINATED = 0x13;

const PB_START_NO_FLUSH = 0b00;
const PB_CONTINUATION = 0b01;
const PB_START = 0b10;

/** Completions the guard remembers per link (a controller that never reports them cannot grow this). */
const MAX_TRACKED_IN_FLIGHT = 1024;

export interface GuardIo {
  /** Writes one H4 packet to the controller (an answer or a disconnect the guard makes itself). */
  toController(packet: Buffer): void;
  /** Where reports go (default: the process-wide reportHci). */
  report?(r: HciReport): void;
}

interface LinkState {
  /** An L2CAP frame received in part: the bytes so far. */
  partial: Buffer | undefined;
  /** The same for what the stack sends (to see its ATT requests). */
  outPartial: Buffer | undefined;
  /** The stack's ATT request awaiting its response (ATT allows one per link and direction). */
  pendingRequest: Buffer | undefined;
  /** Who sent each ACL packet still in the controller, oldest first. */
  inFlight: Array<"stack" | "guard">;
  /** The stack threw on this link's data: the guard disconnected it and drops the rest. */
  dropping: boolean;
}

type Outcome =
  | { kind: "pass" }
  | { kind: "answer"; pdu: Buffer; error: OpenClawError<"PROTOCOL_ERROR"> }
  | { kind: "drop"; error: OpenClawError<"PROTOCOL_ERROR"> }
  | { kind: "replace"; pdu: Buffer; error: OpenClawError<"PROTOCOL_ERROR"> };

export class HostGuard {
  private readonly links = new Map<number, LinkState>();
  /** The controller's ACL buffer count, once the stack has asked (undefined: unknown, do not wait). */
  private capacity: number | undefined;
  /** Packets of the guard's own waiting for a free controller buffer. */
  private held: Array<{ handle: number; packet: Buffer }> = [];
  /** Disconnect commands the guard sent whose Command Status has not come back. */
  private ownDisconnects = 0;
  private readonly report: (r: HciReport) => void;

  constructor(
    private readonly io: GuardIo,
    /** Names the stack in reports ("noble", "bleno", or a generic name). */
    private readonly stackName = "the Bluetooth stack",
  ) {
    this.report = io.report ?? reportHci;
  }

  /**
   * A packet from the controller (type byte first). Returns what the stack may see: the packet itself,
   * a rewritten one, or undefined when there is nothing for it.
   */
  fromController(packet: Buffer): Buffer | undefined {
    if (packet.length < 1) return undefined;
    if (packet[0] === H4_ACL) return this.aclFromController(packet);
    if (packet[0] === H4_EVENT) return this.eventFromController(packet);
    return packet;
  }

  /** A packet the stack writes to the controller (observed, never changed). */
  fromHost(data: Uint8Array): void {
    if (data.length < 5 || data[0] !== H4_ACL) return;
    const packet = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const header = packet.readUInt16LE(1);
    const link = this.link(header & 0x0fff);
    link.inFlight.push("stack");
    if (link.inFlight.length > MAX_TRACKED_IN_FLIGHT) link.inFlight.shift();
    const fragment = packet.subarray(5);
    const pb = (header >> 12) & 0x3;
    if (pb === PB_CONTINUATION) {
      if (!link.outPartial) return;
      link.outPartial = Buffer.concat([link.outPartial, fragment]);
    } else link.outPartial = Buffer.from(fragment);
    const frame = link.outPartial;
    if (frame.length < 4 || frame.length < 4 + frame.readUInt16LE(0)) return;
    link.outPartial = undefined;
    const pdu = frame.subarray(4, 4 + frame.readUInt16LE(0));
    if (frame.readUInt16LE(2) === CID_ATT && pdu.length > 0 && attKindOf(pdu[0]!) === "request")
      link.pendingRequest = Buffer.from(pdu);
  }

  /** Hands a packet to the stack; whatever the stack throws is contained, reported, and its link dropped. */
  deliver(packet: Buffer, emit: (packet: Buffer) => void): void {
    try {
      emit(packet);
    } catch (err) {
      const handle = packet[0] === H4_ACL && packet.length >= 3 ? packet.readUInt16LE(1) & 0x0fff : undefined;
      const what = describePacket(packet);
      const name = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      const error = new OpenClawError(
        "INTERNAL",
        {
          detail: `${this.stackName} threw ${name} while handling ${what}${handle === undefined ? "" : `; link 0x${handle.toString(16)} was disconnected`}`,
        },
        { cause: err },
      );
      if (handle !== undefined) this.disconnect(handle);
      this.report({ kind: "stack-threw", ...(handle === undefined ? {} : { handle }), error });
    }
  }

  /** Ends a link from the guard's side (HCI Disconnect); later data on it is dropped. */
  disconnect(handle: number): void {
    const link = this.link(handle);
    if (link.dropping) return;
    link.dropping = true;
    link.partial = undefined;
    this.ownDisconnects++;
    this.io.toController(
      commandPacket(OP_DISCONNECT, Buffer.from([handle & 0xff, handle >> 8, REASON_REMOTE_USER_TERMINATED])),
    );
  }

  /** ACL packets in the controller per link (stack's and guard's), for tests. */
  inFlight(handle: number): number {
    return this.links.get(handle)?.inFlight.length ?? 0;
  }

  // ---- inbound ACL ------------------------------------------------------------------------------------

  private aclFromController(packet: Buffer): Buffer | undefined {
    if (packet.length < 5) return undefined;
    const header = packet.readUInt16LE(1);
    const handle = header & 0x0fff;
    const pb = (header >> 12) & 0x3;
    const link = this.link(handle);
    if (link.dropping) return undefined;
    const fragment = packet.subarray(5, 5 + packet.readUInt16LE(3));

    if (pb === PB_START || pb === PB_START_NO_FLUSH) {
      if (link.partial) this.malformed(handle, "dropped", "an L2CAP frame cut short by the next one");
      link.partial = Buffer.from(fragment);
    } else if (pb === PB_CONTINUATION) {
      if (!link.partial) {
        this.malformed(handle, "dropped", "an ACL continuation without a start");
        return undefined;
      }
      link.partial = Buffer.concat([link.partial, fragment]);
    } else {
      this.malformed(handle, "dropped", "an ACL packet with the reserved boundary flag 0b11");
      return undefined;
    }

    const frame = link.partial;
    if (frame.length < 4) return undefined; // the L2CAP header continues in the next fragment
    const total = 4 + frame.readUInt16LE(0);
    if (frame.length < total) return undefined;
    link.partial = undefined;
    if (frame.length > total) {
      this.malformed(handle, "dropped", `an L2CAP frame of ${frame.length} bytes declaring ${total}`);
      return undefined;
    }
    const cid = frame.readUInt16LE(2);
    const payload = frame.subarray(4);
    const outcome = this.check(cid, payload, link);
    switch (outcome.kind) {
      case "pass":
        // One start packet with the whole frame: the stacks' own reassembly never sees a split header.
        return pb === PB_START && frame.length === fragment.length
          ? packet
          : aclPacket(handle, PB_START, frame);
      case "answer":
        this.sendOwnAcl(handle, l2capFrame(cid, outcome.pdu));
        this.report({ kind: "malformed", handle, action: "answered", error: outcome.error });
        return undefined;
      case "replace":
        this.report({ kind: "malformed", handle, action: "failed", error: outcome.error });
        return aclPacket(handle, PB_START, l2capFrame(cid, outcome.pdu));
      case "drop":
        this.report({ kind: "malformed", handle, action: "dropped", error: outcome.error });
        return undefined;
    }
  }

  private check(cid: number, payload: Buffer, link: LinkState): Outcome {
    if (cid === CID_ATT) {
      const v = checkAttPdu(payload);
      if (v.ok) return this.checkAgainstRequest(payload, link);
      const error = peerError(`the peer sent ${v.detail}`);
      if (v.kind === "response") link.pendingRequest = undefined;
      if (v.kind === "request" && v.opcode !== undefined) {
        return { kind: "answer", pdu: attErrorResponse(v.opcode, 0x0000, ATT_INVALID_PDU), error };
      }
      if (v.kind === "response" && v.opcode !== undefined) {
        // Not Invalid PDU: noble ignores that code and would wait for its answer for ever.
        const request = requestOpcodeOf(v.opcode) ?? payload[1];
        if (request !== undefined)
          return { kind: "replace", pdu: attErrorResponse(request, 0x0000, ATT_UNLIKELY_ERROR), error };
      }
      return { kind: "drop", error };
    }
    const detail =
      cid === CID_SMP
        ? checkSmpPdu(payload)
        : cid === CID_LE_SIGNALING
          ? checkSignalingPdu(payload)
          : undefined;
    return detail === undefined
      ? { kind: "pass" }
      : { kind: "drop", error: peerError(`the peer sent ${detail}`) };
  }

  /**
   * A well-formed PDU can still be wrong for its context: a response whose entries do not fit the
   * request it answers (noble parses a characteristic declaration without checking its size), or a
   * request bleno cannot parse though the spec allows it. Those get the spec's answer here.
   */
  private checkAgainstRequest(pdu: Buffer, link: LinkState): Outcome {
    const opcode = pdu[0]!;
    if (opcode === 0x06 && pdu.length === 7) {
      // Find By Type Value with an empty value: no service has one (bleno throws parsing it).
      return {
        kind: "answer",
        pdu: attErrorResponse(opcode, pdu.readUInt16LE(1), ATT_ATTRIBUTE_NOT_FOUND),
        error: peerError("the peer sent an ATT Find By Type Value Request with an empty value"),
      };
    }
    const kind = attKindOf(opcode);
    if (kind !== "response") return { kind: "pass" };
    const request = link.pendingRequest;
    link.pendingRequest = undefined;
    if (!request || opcode !== 0x09 || request[0] !== 0x08) return { kind: "pass" };
    // Read By Type: declarations have fixed sizes (Vol 3 Part G §3.2, §3.3.1).
    const type = request.length === 7 ? request.readUInt16LE(5) : undefined;
    const sizes = type === 0x2803 ? [7, 21] : type === 0x2802 ? [6, 8] : undefined;
    if (!sizes || sizes.includes(pdu[1]!)) return { kind: "pass" };
    return {
      kind: "replace",
      pdu: attErrorResponse(0x08, 0x0000, ATT_UNLIKELY_ERROR),
      error: peerError(
        `the peer answered a ${type === 0x2803 ? "characteristic" : "include"} discovery with ${pdu[1]}-byte entries (expected ${sizes.join(" or ")})`,
      ),
    };
  }

  private malformed(handle: number, action: "dropped", detail: string): void {
    this.report({ kind: "malformed", handle, action, error: peerError(`the peer sent ${detail}`) });
  }

  // ---- events -----------------------------------------------------------------------------------------

  private eventFromController(packet: Buffer): Buffer | undefined {
    if (packet.length < 3) return packet;
    const code = packet[1]!;
    if (code === EVT_CMD_COMPLETE && packet.length >= 7) {
      this.learnCapacity(packet.readUInt16LE(4), packet);
    } else if (code === EVT_CMD_STATUS && packet.length >= 7) {
      if (packet.readUInt16LE(5) === OP_DISCONNECT && this.ownDisconnects > 0) {
        this.ownDisconnects--;
        return undefined; // the stack never sent this Disconnect
      }
    } else if (code === EVT_NUMBER_OF_COMPLETED_PACKETS) {
      return this.completed(packet);
    } else if (code === EVT_DISCONNECTION_COMPLETE && packet.length >= 7 && packet[3] === 0) {
      this.forget(packet.readUInt16LE(4) & 0x0fff);
    } else if (code === EVT_LE_META && packet.length >= 7) {
      const sub = packet[3];
      if ((sub === LE_CONNECTION_COMPLETE || sub === LE_ENHANCED_CONNECTION_COMPLETE) && packet[4] === 0) {
        this.forget(packet.readUInt16LE(5) & 0x0fff); // a new link on a reused handle starts clean
      }
    }
    return packet;
  }

  private learnCapacity(opcode: number, p: Buffer): void {
    // Command Complete: [04][0e][len][ncmd][op lo][op hi][status][return parameters...]
    if (p[6] !== 0) return;
    if (opcode === OP_LE_READ_BUFFER_SIZE && p.length >= 10 && p[9]! > 0 && p.readUInt16LE(7) > 0) {
      this.capacity = p[9];
    } else if (opcode === OP_READ_BUFFER_SIZE && p.length >= 12 && this.capacity === undefined) {
      const n = p.readUInt16LE(10);
      if (n > 0) this.capacity = n;
    }
  }

  /** Number Of Completed Packets: takes the guard's own packets out before the stack counts them. */
  private completed(packet: Buffer): Buffer | undefined {
    const n = packet[3] ?? 0;
    if (packet.length < 4 + 4 * n) return packet;
    const forStack: Array<[number, number]> = [];
    let ours = 0;
    for (let i = 0; i < n; i++) {
      const handle = packet.readUInt16LE(4 + 4 * i) & 0x0fff;
      const count = packet.readUInt16LE(6 + 4 * i);
      const link = this.links.get(handle);
      let stack = 0;
      for (let k = 0; k < count; k++) {
        const who = link?.inFlight.shift() ?? "stack";
        if (who === "guard") ours++;
        else stack++;
      }
      if (stack > 0) forStack.push([handle, stack]);
    }
    this.flushHeld();
    if (ours === 0) return packet;
    if (forStack.length === 0) return undefined;
    const params = Buffer.alloc(1 + 4 * forStack.length);
    params.writeUInt8(forStack.length, 0);
    forStack.forEach(([handle, count], i) => {
      params.writeUInt16LE(handle, 1 + 4 * i);
      params.writeUInt16LE(count, 3 + 4 * i);
    });
    return Buffer.concat([Buffer.from([H4_EVENT, EVT_NUMBER_OF_COMPLETED_PACKETS, params.length]), params]);
  }

  // ---- the guard's own packets ------------------------------------------------------------------------

  private sendOwnAcl(handle: number, frame: Buffer): void {
    const packet = aclPacket(handle, PB_START_NO_FLUSH, frame);
    this.held.push({ handle, packet });
    this.flushHeld();
  }

  private flushHeld(): void {
    while (this.held.length > 0) {
      if (this.capacity !== undefined && this.totalInFlight() >= this.capacity) return;
      const { handle, packet } = this.held.shift()!;
      const link = this.links.get(handle);
      if (!link || link.dropping) continue; // the link ended while the answer waited
      link.inFlight.push("guard");
      this.io.toController(packet);
    }
  }

  private totalInFlight(): number {
    let n = 0;
    for (const l of this.links.values()) n += l.inFlight.length;
    return n;
  }

  private link(handle: number): LinkState {
    let l = this.links.get(handle);
    if (!l) {
      l = {
        partial: undefined,
        outPartial: undefined,
        pendingRequest: undefined,
        inFlight: [],
        dropping: false,
      };
      this.links.set(handle, l);
    }
    return l;
  }

  private forget(handle: number): void {
    this.links.delete(handle);
    this.held = this.held.filter((h) => h.handle !== handle);
    this.flushHeld();
  }
}

function peerError(detail: string): OpenClawError<"PROTOCOL_ERROR"> {
  return new OpenClawError("PROTOCOL_ERROR", { detail });
}

/** What a packet was, without its payload (which may carry protocol data). */
function describePacket(p: Buffer): string {
  if (p[0] === H4_ACL && p.length >= 9) {
    return `an ACL packet on link 0x${(p.readUInt16LE(1) & 0x0fff).toString(16)} (L2CAP CID ${p.readUInt16LE(7)}, ${p.length - 9} bytes)`;
  }
  if (p[0] === H4_EVENT && p.length >= 2) return `HCI event 0x${p[1]!.toString(16).padStart(2, "0")}`;
  return `an H4 packet of type ${p[0]}`;
}
