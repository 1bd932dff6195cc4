/**
 * The info characteristic payload (GATT read, no pairing needed): what a controller must know before
 * pair-setup (device id, window nonce = PBKDF2 salt, iterations, code format) and what people want to
 * see in a scan (window state, time and attempts left, lockout, bond slots). A plain TLV container,
 * NOT a protocol message: no [version][type] header; the protocol version is field 0x01.
 *
 * src/protocol/info.ts re-exports this module; this is the one definition.
 */
import { z } from "zod";
import { encodeTlv } from "../codec/tlv.js";
import { OpenClawError, protocolError } from "../errors.js";
import {
  DEVICE_ID_LEN,
  MAX_PBKDF2_ITERATIONS,
  MAX_TEXT,
  MIN_PBKDF2_ITERATIONS,
  PROTOCOL_VERSION,
  WINDOW_NONCE_LEN,
} from "./constants.js";
import { decodeTlvOf, type FieldSpec, readFields, writeFields } from "./fields.js";
import { bytes, uint } from "./schema.js";

export const MAX_INFO = 512;

export type CodeFormatName = "passkey" | "long";
/** Who shows the code: the device's display/HID, or the admin controller that shared the window. */
export type CodeSource = "device" | "controller";

export type InfoWindow =
  | { state: "closed" }
  | {
      state: "open";
      format: CodeFormatName;
      codeSource: CodeSource;
      /** PBKDF2 salt and part of the SPAKE2+ context; fresh for every code. */
      nonce: Uint8Array;
      iterations: number;
      timeLeftMs: number;
      attemptsLeft: number;
    }
  | { state: "locked-out"; retryAfterMs: number };

export interface AccessoryInfo {
  protocolVersion: number;
  deviceId: Uint8Array;
  name: string;
  model: string;
  firmware: string;
  window: InfoWindow;
  bondSlots: { used: number; total: number };
}

const f = (tag: number, key: string, kind: FieldSpec["kind"]): FieldSpec => ({ tag, key, kind });
export const INFO_LAYOUT: readonly FieldSpec[] = [
  f(0x01, "protocolVersion", "u8"),
  f(0x02, "deviceId", "bytes"),
  f(0x03, "name", "utf8"),
  f(0x04, "model", "utf8"),
  f(0x05, "firmware", "utf8"),
  f(0x06, "windowState", "u8"),
  f(0x07, "codeFormat", "u8"),
  f(0x08, "codeSource", "u8"),
  f(0x09, "nonce", "bytes"),
  f(0x0a, "iterations", "u32"),
  f(0x0b, "timeLeftMs", "u32"),
  f(0x0c, "attemptsLeft", "u8"),
  f(0x0d, "retryAfterMs", "u32"),
  f(0x0e, "bondSlotsUsed", "u8"),
  f(0x0f, "bondSlotsTotal", "u8"),
];

const WINDOW_STATE = ["closed", "open", "locked-out"] as const;
const FORMAT = ["passkey", "long"] as const;
const SOURCE = ["device", "controller"] as const;

const text = z
  .string()
  .refine((s) => new TextEncoder().encode(s).length <= MAX_TEXT, { message: "too long" });

const FlatInfo = z
  .object({
    protocolVersion: z.literal(PROTOCOL_VERSION),
    deviceId: bytes(DEVICE_ID_LEN),
    name: text,
    model: text,
    firmware: text,
    windowState: uint(2),
    codeFormat: z.number().int().min(1).max(2).optional(),
    codeSource: z.number().int().min(1).max(2).optional(),
    nonce: bytes(WINDOW_NONCE_LEN).optional(),
    iterations: z.number().int().min(MIN_PBKDF2_ITERATIONS).max(MAX_PBKDF2_ITERATIONS).optional(),
    timeLeftMs: uint(0xffffffff).optional(),
    attemptsLeft: uint(0xff).optional(),
    retryAfterMs: uint(0xffffffff).optional(),
    bondSlotsUsed: uint(0xff),
    bondSlotsTotal: z.number().int().min(1).max(0xff),
  })
  .strict()
  .superRefine((v, ctx) => {
    const open = ["codeFormat", "codeSource", "nonce", "iterations", "timeLeftMs", "attemptsLeft"] as const;
    const state = WINDOW_STATE[v.windowState];
    for (const k of open) {
      if ((state === "open") !== (v[k] !== undefined))
        ctx.addIssue({ code: "custom", path: [k], message: "" });
    }
    if ((state === "locked-out") !== (v.retryAfterMs !== undefined)) {
      ctx.addIssue({ code: "custom", path: ["retryAfterMs"], message: "" });
    }
    if (v.bondSlotsUsed > v.bondSlotsTotal)
      ctx.addIssue({ code: "custom", path: ["bondSlotsUsed"], message: "" });
  });

export function encodeInfo(info: AccessoryInfo): Uint8Array {
  const w = info.window;
  const flat: Record<string, unknown> = {
    protocolVersion: info.protocolVersion,
    deviceId: info.deviceId,
    name: info.name,
    model: info.model,
    firmware: info.firmware,
    windowState: WINDOW_STATE.indexOf(w.state),
    bondSlotsUsed: info.bondSlots.used,
    bondSlotsTotal: info.bondSlots.total,
  };
  if (w.state === "open") {
    flat.codeFormat = FORMAT.indexOf(w.format) + 1;
    flat.codeSource = SOURCE.indexOf(w.codeSource) + 1;
    flat.nonce = w.nonce;
    flat.iterations = w.iterations;
    flat.timeLeftMs = Math.max(0, Math.min(0xffffffff, Math.floor(w.timeLeftMs)));
    flat.attemptsLeft = w.attemptsLeft;
  } else if (w.state === "locked-out") {
    flat.retryAfterMs = Math.max(0, Math.min(0xffffffff, Math.ceil(w.retryAfterMs)));
  }
  const check = FlatInfo.safeParse(flat);
  if (!check.success) throw new RangeError(`invalid info: ${check.error.issues[0]?.path.join(".") ?? ""}`);
  const out = encodeTlv(writeFields(flat, INFO_LAYOUT));
  if (out.length > MAX_INFO) throw new RangeError("info payload too large");
  return out;
}

/** Decodes the info payload. PROTOCOL_ERROR when malformed; VERSION_MISMATCH for another version. */
export function decodeInfo(input: Uint8Array): AccessoryInfo {
  if (!(input instanceof Uint8Array)) throw protocolError("info is not bytes");
  const items = decodeTlvOf(input, "info", MAX_INFO);
  const version = items.get(0x01);
  if (version?.length === 1 && version[0] !== PROTOCOL_VERSION) {
    throw new OpenClawError("VERSION_MISMATCH", { ours: PROTOCOL_VERSION, theirs: version[0]! });
  }
  const parsed = FlatInfo.safeParse(readFields(input, INFO_LAYOUT, "info", MAX_INFO));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw protocolError(`info: invalid ${issue?.path.join(".") || "payload"}`);
  }
  const v = parsed.data;
  const state = WINDOW_STATE[v.windowState]!;
  let window: InfoWindow;
  if (state === "open") {
    window = {
      state,
      format: FORMAT[v.codeFormat! - 1]!,
      codeSource: SOURCE[v.codeSource! - 1]!,
      nonce: v.nonce!,
      iterations: v.iterations!,
      timeLeftMs: v.timeLeftMs!,
      attemptsLeft: v.attemptsLeft!,
    };
  } else if (state === "locked-out") {
    window = { state, retryAfterMs: v.retryAfterMs! };
  } else {
    window = { state };
  }
  return {
    protocolVersion: v.protocolVersion,
    deviceId: v.deviceId,
    name: v.name,
    model: v.model,
    firmware: v.firmware,
    window,
    bondSlots: { used: v.bondSlotsUsed, total: v.bondSlotsTotal },
  };
}
