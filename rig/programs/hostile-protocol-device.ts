/**
 * A hostile OpenClaw device as a child program: real bleno with the real OpenClaw GATT table
 * (src/protocol/gatt.ts) and a pairing-mode advert, so a laptop's discovery and GATT setup succeed;
 * what it then says is wrong in the way its mode picks:
 *
 *   garbage-info      the info characteristic holds bytes that are no info payload
 *   bad-length        answers pair-setup with a one-frame message shorter than its declared length
 *   bad-continuation  answers with a continuation frame outside any message
 *   oversized         answers with a first frame declaring a message far over the 2048-byte limit
 *   undecodable       answers with a well-framed message whose TLV body does not parse
 *   wrong-state       answers PairSetupStart with a well-formed PairSetupDone (no challenge first)
 *
 * Below its answer it speaks the framing correctly (acks every data frame, answers a RESET), so each
 * mode breaks exactly one layer. Run with the HCI preload and OPENCLAW_HCI (spawnProgram's `hci`).
 * Arguments: <advertised name> <mode>. Requests: setMode {mode}.
 * Events: state, advertising, connected, disconnected, subscribe, infoRead, hostile {mode}.
 */
import { randomBytes } from "node:crypto";
import { buildAdvertising } from "../../src/protocol/advert.js";
import { INFO_CHAR_UUID, RX_CHAR_UUID, SERVICE_UUID, TX_CHAR_UUID } from "../../src/protocol/gatt.js";
import { encodeMessage } from "../../src/protocol/messages/codec.js";
import { PROTOCOL_VERSION } from "../../src/protocol/messages/constants.js";
import { encodeInfo } from "../../src/protocol/messages/info.js";
import {
  encodeAck,
  encodeReset,
  FLAG_ACK,
  FLAG_END,
  FLAG_RESET,
  FLAG_START,
  MIN_FRAME,
  segmentMessage,
} from "../../src/transport/frame.js";
import { loadBleno } from "./bleno.js";
import { emit, serve, str, within } from "./lines.js";

export const HOSTILE_MODES = [
  "garbage-info",
  "bad-length",
  "bad-continuation",
  "oversized",
  "undecodable",
  "wrong-state",
] as const;
export type HostileMode = (typeof HOSTILE_MODES)[number];

function asMode(v: string): HostileMode {
  if (!(HOSTILE_MODES as readonly string[]).includes(v)) throw new Error(`unknown mode ${v}`);
  return v as HostileMode;
}

const bleno = loadBleno();
const name = process.argv[2] ?? "OpenClaw-EVIL";
let mode = asMode(process.argv[3] ?? "bad-length");
const { Characteristic, PrimaryService } = bleno;

const nonce = new Uint8Array(randomBytes(16));
const validInfo = Buffer.from(
  encodeInfo({
    protocolVersion: PROTOCOL_VERSION,
    deviceId: new Uint8Array(randomBytes(8)),
    name,
    model: "hostile protocol device",
    firmware: "6.6.6",
    window: {
      state: "open",
      format: "passkey",
      codeSource: "device",
      nonce,
      iterations: 1000,
      timeLeftMs: 120_000,
      attemptsLeft: 5,
    },
    bondSlots: { used: 0, total: 8 },
  }),
);
// A TLV item claiming 0xffff bytes, then noise: no info payload parses as this.
const garbageInfo = Buffer.concat([Buffer.from([0x01, 0xff, 0xff]), Buffer.alloc(29, 0xa5)]);

/** The one exchange of a link: our data sequence number and whether our answer went out. */
let link: { notify: ((data: Buffer) => void) | undefined; seq: number; answered: boolean } | undefined;

function sendFrames(frames: Uint8Array[]): void {
  const l = link;
  if (!l?.notify) return;
  for (const f of frames) {
    l.notify(Buffer.from(f));
    l.seq = (l.seq + 1) & 0xff;
  }
}

/** What this mode answers to the laptop's first message (PairSetupStart). */
function hostileAnswer(seq: number): Uint8Array[] {
  switch (mode) {
    case "bad-length": // declares 16 bytes, ends after 3
      return [Uint8Array.of(FLAG_START | FLAG_END, seq, 0x00, 0x10, 1, 2, 3)];
    case "bad-continuation":
      return [Uint8Array.of(0x00, seq, 0xaa, 0xbb)];
    case "oversized": // 65535 bytes declared, the limit is 2048
      return [Uint8Array.of(FLAG_START, seq, 0xff, 0xff, 0, 0, 0, 0)];
    case "undecodable": {
      // Version and type of a PairSetupChallenge, then a TLV item longer than the message.
      const message = Uint8Array.of(PROTOCOL_VERSION, 0x02, 0x01, 0xff, 0xff, 0x00);
      return segmentMessage(message, MIN_FRAME, seq);
    }
    case "wrong-state": {
      const message = encodeMessage({ type: "PairSetupDone", sealed: new Uint8Array(randomBytes(48)) });
      return segmentMessage(message, MIN_FRAME, seq);
    }
    case "garbage-info":
      return [];
  }
}

function onFrame(data: Buffer): void {
  const l = link;
  if (!l || data.length < 2) return;
  const flags = data[0]!;
  const seq = data[1]!;
  if (flags & FLAG_RESET) {
    // The laptop gave up on the exchange: answer as the framing asks, and start again from 0.
    if (!(flags & FLAG_ACK)) l.notify?.(Buffer.from(encodeReset(true)));
    l.seq = 0;
    return;
  }
  if (flags & FLAG_ACK) return;
  l.notify?.(Buffer.from(encodeAck(seq)));
  if (!(flags & FLAG_END) || l.answered) return;
  l.answered = true;
  const frames = hostileAnswer(l.seq);
  sendFrames(frames);
  emit({ type: "hostile", mode, frames: frames.length });
}

const service = new PrimaryService({
  uuid: SERVICE_UUID,
  characteristics: [
    new Characteristic({
      uuid: INFO_CHAR_UUID,
      properties: ["read"],
      onReadRequest: (offset, cb) => {
        const v = mode === "garbage-info" ? garbageInfo : validInfo;
        if (offset === 0) emit({ type: "infoRead", mode });
        if (offset > v.length) cb(Characteristic.RESULT_INVALID_OFFSET);
        else cb(Characteristic.RESULT_SUCCESS, v.subarray(offset));
      },
    }),
    new Characteristic({
      uuid: RX_CHAR_UUID,
      properties: ["write", "writeWithoutResponse"],
      onWriteRequest: (data, _offset, _withoutResponse, cb) => {
        cb(Characteristic.RESULT_SUCCESS);
        onFrame(data);
      },
    }),
    new Characteristic({
      uuid: TX_CHAR_UUID,
      properties: ["notify"],
      onSubscribe: (_max, update) => {
        if (link) link.notify = update;
        emit({ type: "subscribe" });
      },
      onUnsubscribe: () => {
        if (link) link.notify = undefined;
      },
    }),
  ],
});

bleno.on("stateChange", (state: string) => emit({ type: "state", state }));
bleno.on("accept", (address: string) => {
  link = { notify: undefined, seq: 0, answered: false };
  emit({ type: "connected", address });
});
bleno.on("disconnect", (address: string) => {
  link = undefined;
  // bleno itself advertises again with the data it had.
  emit({ type: "disconnected", address });
});

const { advertisement, scanResponse } = buildAdvertising({
  name,
  version: PROTOCOL_VERSION,
  windowOpen: true,
  hasBonds: false,
  nonce,
});

serve({
  advertise: async () => {
    await within(
      new Promise<void>((resolve, reject) =>
        bleno.startAdvertisingWithEIRData(Buffer.from(advertisement), Buffer.from(scanResponse), (err) =>
          err ? reject(err) : resolve(),
        ),
      ),
      5000,
      "start advertising",
    );
    await within(
      new Promise<void>((resolve, reject) =>
        bleno.setServices([service], (e) => (e ? reject(e) : resolve())),
      ),
      5000,
      "set services",
    );
    emit({ type: "advertising", name, mode });
  },
  setMode: (a) => {
    mode = asMode(str(a, "mode"));
  },
  exit: () => {
    setImmediate(() => process.exit(0));
  },
});
