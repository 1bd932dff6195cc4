/**
 * Session commands: wire codes, the role table, and the TLV + zod codec of every command's arguments
 * and result. Field tables use the message codec's FieldSpec, so widths and UTF-8 checks are shared;
 * zod then checks lengths, ranges and required fields. Unknown fields are a protocol error.
 */
import { z } from "zod";
import { decodeTlv, encodeTlv } from "../codec/tlv.js";
import { protocolError } from "../errors.js";
import { CONTROLLER_ID_LEN, MAX_TEXT, X25519_KEY_LEN } from "../messages/constants.js";
import { type FieldSpec, readFields, writeFields } from "../messages/fields.js";
import { bytes, bytesBetween, uint } from "../messages/schema.js";
import { MAX_APP_PAYLOAD, MAX_SESSION_PLAINTEXT } from "./limits.js";

export type Role = "admin" | "user";
export const ROLE_WIRE = { admin: 0x01, user: 0x02 } as const satisfies Record<Role, number>;
const ROLE_BY_WIRE: Record<number, Role> = { 1: "admin", 2: "user" };

export const Command = {
  status: 0x01,
  listPairings: 0x02,
  removePairing: 0x03,
  share: 0x04,
  rotate: 0x05,
  factoryReset: 0x06,
  app: 0x40,
} as const;
export type CommandName = keyof typeof Command;
const COMMAND_BY_WIRE = new Map<number, CommandName>(
  (Object.keys(Command) as CommandName[]).map((n) => [Command[n], n]),
);
export function commandFromWire(code: number): CommandName | undefined {
  return COMMAND_BY_WIRE.get(code);
}

/** Notification events (accessory → controller, and app notifications both ways). */
export const SessionEvent = { app: 0x40 } as const;

/**
 * What each role may do. `removePairing` splits into removing one's own bond and removing another's.
 * The names are what NOT_PERMITTED{command} carries, for people ("a user pairing may not share").
 */
export type Action =
  | "status"
  | "list pairings"
  | "remove own pairing"
  | "remove another pairing"
  | "share"
  | "rotate keys"
  | "factory reset"
  | "app";
export const ROLE_TABLE: Record<Role, ReadonlySet<Action>> = {
  admin: new Set<Action>([
    "status",
    "list pairings",
    "remove own pairing",
    "remove another pairing",
    "share",
    "rotate keys",
    "factory reset",
    "app",
  ]),
  user: new Set<Action>(["status", "remove own pairing", "rotate keys", "app"]),
};

export function mayDo(role: Role, action: Action): boolean {
  return ROLE_TABLE[role].has(action);
}

// ---- codec helpers ----

const f = (tag: number, key: string, kind: FieldSpec["kind"]): FieldSpec => ({ tag, key, kind });

const role = uint(0xff)
  .refine((n) => ROLE_BY_WIRE[n] !== undefined, { message: "unknown role" })
  .transform((n) => ROLE_BY_WIRE[n]!);
const flag = uint(1).transform((n) => n === 1);
const controllerId = bytes(CONTROLLER_ID_LEN);

/** A body codec: value → TLV bytes → value, strict both ways. */
export interface BodyCodec<T> {
  encode(value: T): Uint8Array;
  decode(body: Uint8Array): T;
}

/** zod types bytes as Uint8Array<ArrayBuffer>; callers hold plain Uint8Array views. */
type Widen<T> = {
  [K in keyof T]: T[K] extends Uint8Array | undefined ? Uint8Array | Exclude<T[K], Uint8Array> : T[K];
};

function bodyCodec<S extends z.ZodType<Record<string, unknown>>>(
  what: string,
  layout: readonly FieldSpec[],
  schema: S,
  toWire: (v: Widen<z.output<S>>) => Record<string, unknown>,
): BodyCodec<Widen<z.output<S>>> {
  return {
    encode(value) {
      return encodeTlv(writeFields(toWire(value), layout));
    },
    decode(body) {
      const record = readFields(body, layout, what, MAX_SESSION_PLAINTEXT);
      const parsed = schema.safeParse(record);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw protocolError(`${what}: invalid ${issue?.path.join(".") || "body"}`);
      }
      return parsed.data as Widen<z.output<S>>;
    },
  };
}

const EMPTY_LAYOUT: readonly FieldSpec[] = [];
const emptyCodec = (what: string) =>
  bodyCodec(what, EMPTY_LAYOUT, z.strictObject({}), () => ({})) as BodyCodec<Record<string, never>>;

// ---- status ----

export interface StatusResult {
  /** The caller's own bond. */
  role: Role;
  controllerId: Uint8Array;
  bondSlots: { used: number; total: number };
  window: { state: "closed" } | { state: "open"; timeLeftMs: number };
}
export const StatusResultCodec: BodyCodec<StatusResult> = (() => {
  const inner = bodyCodec(
    "status result",
    [
      f(0x01, "role", "u8"),
      f(0x02, "controllerId", "bytes"),
      f(0x03, "used", "u8"),
      f(0x04, "total", "u8"),
      f(0x05, "window", "u8"),
      f(0x06, "timeLeftMs", "u32"),
    ],
    z
      .strictObject({
        role,
        controllerId,
        used: uint(0xff),
        total: uint(0xff),
        window: flag,
        timeLeftMs: uint(0xffffffff).optional(),
      })
      .refine((v) => v.window === (v.timeLeftMs !== undefined), { message: "timeLeftMs iff open" }),
    (v) => ({ ...v, role: ROLE_WIRE[v.role], window: v.window ? 1 : 0 }),
  );
  return {
    encode: (v) =>
      inner.encode({
        role: v.role,
        controllerId: v.controllerId,
        used: v.bondSlots.used,
        total: v.bondSlots.total,
        window: v.window.state === "open",
        timeLeftMs: v.window.state === "open" ? Math.max(0, Math.ceil(v.window.timeLeftMs)) : undefined,
      } as never),
    decode: (b) => {
      const v = inner.decode(b);
      return {
        role: v.role,
        controllerId: v.controllerId,
        bondSlots: { used: v.used, total: v.total },
        window:
          v.timeLeftMs === undefined ? { state: "closed" } : { state: "open", timeLeftMs: v.timeLeftMs },
      };
    },
  };
})();

// ---- list pairings ----

export interface PairingSummary {
  controllerId: Uint8Array;
  name: string;
  role: Role;
  state: "provisional" | "permanent";
  /** True for the caller's own bond. */
  self: boolean;
}
/** Entries sit at tags 0x10, 0x11, …; a page holds at most this many, and at most PAGE_BYTES of them. */
export const MAX_LISTED_PAIRINGS = 16;
/** Budget for the entries of one page, leaving room for the payload's own fields within 2023 bytes. */
export const PAIRINGS_PAGE_BYTES = 1800;
const ENTRY_TAG = 0x10;
const STATE_WIRE = { provisional: 1, permanent: 2 } as const;
const utf8Bytes = (s: string) => new TextEncoder().encode(s).length;
const entryCodec = bodyCodec(
  "pairing entry",
  [
    f(0x01, "controllerId", "bytes"),
    f(0x02, "name", "utf8"),
    f(0x03, "role", "u8"),
    f(0x04, "state", "u8"),
    f(0x05, "self", "u8"),
  ],
  z.strictObject({
    controllerId,
    name: z.string().refine((n) => utf8Bytes(n) <= MAX_TEXT, { message: "name too long" }),
    role,
    state: z.union([z.literal(1), z.literal(2)]).transform((n) => (n === 1 ? "provisional" : "permanent")),
    self: flag,
  }),
  (v) => ({ ...v, role: ROLE_WIRE[v.role], state: STATE_WIRE[v.state], self: v.self ? 1 : 0 }),
);

/** One page of the bond list: `total` bonds on the device, `entries` from the requested start. */
export interface PairingsPage {
  total: number;
  entries: PairingSummary[];
}

export const ListPairingsArgsCodec = bodyCodec(
  "list pairings",
  [f(0x01, "start", "u8")],
  z.strictObject({ start: uint(0xff).optional() }),
  (v) => v,
);

/** The page starting at `start`: as many entries as fit (always at least one while any remain). */
export function pairingsPage(
  all: readonly PairingSummary[],
  start: number,
): { total: number; encoded: Uint8Array } {
  const items: Array<readonly [number, Uint8Array]> = [];
  let bytes = 0;
  for (const e of all.slice(start)) {
    const enc = entryCodec.encode(e);
    if (
      items.length >= MAX_LISTED_PAIRINGS ||
      (items.length > 0 && bytes + 3 + enc.length > PAIRINGS_PAGE_BYTES)
    ) {
      break;
    }
    items.push([ENTRY_TAG + items.length, enc]);
    bytes += 3 + enc.length;
  }
  return {
    total: all.length,
    encoded: encodeTlv([[0x01, Uint8Array.of(Math.min(0xff, all.length))], ...items]),
  };
}

export const ListPairingsResultCodec: BodyCodec<PairingsPage> = {
  encode(page) {
    if (page.entries.length > MAX_LISTED_PAIRINGS) throw new RangeError("too many pairings for one page");
    return encodeTlv([
      [0x01, Uint8Array.of(page.total)],
      ...page.entries.map((e, i) => [ENTRY_TAG + i, entryCodec.encode(e)] as const),
    ]);
  },
  decode(body) {
    const items = decodeTlv(body, { maxBytes: MAX_SESSION_PLAINTEXT });
    const total = items.get(0x01);
    if (total === undefined || total.length !== 1) throw protocolError("pairing list: missing total");
    const entries: PairingSummary[] = [];
    for (const [tag, value] of items) {
      if (tag === 0x01) continue;
      // Tags ascend and are unique (TLV rule), so contiguity from 0x10 is checked by position.
      if (tag !== ENTRY_TAG + entries.length || entries.length >= MAX_LISTED_PAIRINGS) {
        throw protocolError("pairing list: unexpected field");
      }
      entries.push(entryCodec.decode(value));
    }
    if (entries.length > total[0]!) throw protocolError("pairing list: more entries than bonds");
    return { total: total[0]!, entries };
  },
};

// ---- remove pairing ----

export const RemovePairingArgsCodec = bodyCodec(
  "remove pairing",
  [f(0x01, "controllerId", "bytes")],
  z.strictObject({ controllerId: controllerId.optional() }),
  (v) => v,
);
export type RemovePairingArgs = { controllerId?: Uint8Array };
export const RemovePairingResultCodec = bodyCodec(
  "remove pairing result",
  [f(0x01, "removedSelf", "u8")],
  z.strictObject({ removedSelf: flag }),
  (v) => ({ removedSelf: v.removedSelf ? 1 : 0 }),
);

// ---- share ----

export type CodeFormatName = "passkey" | "long";
const FORMAT_WIRE = { passkey: 1, long: 2 } as const;
/** Window TTL bounds (DESIGN §3: 30 s – 15 min). */
export const MIN_SHARE_TTL_MS = 30_000;
export const MAX_SHARE_TTL_MS = 15 * 60_000;

export interface ShareArgs {
  /** Role granted to the controller that pairs in this window (absent on the wire = user). */
  role: Role;
  ttlMs: number;
  format: CodeFormatName;
  /**
   * The canonical code the admin generated and shows. It travels only inside the encrypted session;
   * the device derives w0/L with its own fresh window nonce, exactly as for a code it shows itself.
   */
  code: string;
}
/** Longest canonical code (long format: 8 data symbols + check symbol). */
const MAX_CODE_LEN = 16;
export const ShareArgsCodec: BodyCodec<ShareArgs> = bodyCodec(
  "share",
  [f(0x01, "role", "u8"), f(0x02, "ttlMs", "u32"), f(0x03, "format", "u8"), f(0x04, "code", "utf8")],
  z.strictObject({
    role: role.optional().transform((r) => r ?? "user"),
    ttlMs: uint(0xffffffff),
    format: z.union([z.literal(1), z.literal(2)]).transform((n) => (n === 1 ? "passkey" : "long")),
    code: z.string().min(1).max(MAX_CODE_LEN),
  }),
  (v) => ({ ...v, role: ROLE_WIRE[v.role], format: FORMAT_WIRE[v.format] }),
) as BodyCodec<ShareArgs>;
export const ShareResultCodec = bodyCodec(
  "share result",
  [f(0x01, "timeLeftMs", "u32")],
  z.strictObject({ timeLeftMs: uint(0xffffffff) }),
  (v) => v,
);

// ---- rotate ----

export const RotateArgsCodec = bodyCodec(
  "rotate",
  [f(0x01, "publicKey", "bytes")],
  z.strictObject({ publicKey: bytes(X25519_KEY_LEN) }),
  (v) => v,
);

// ---- empty bodies ----

export const StatusArgsCodec = emptyCodec("status");
export const EmptyResultCodec = emptyCodec("result");
export const FactoryResetArgsCodec = emptyCodec("factory reset");

// ---- application messages ----

export interface AppMessage {
  /** Application channel (e.g. 1 = battery, 2 = claw: the device's own numbering). */
  channel: number;
  payload: Uint8Array;
}
export const AppMessageCodec: BodyCodec<AppMessage> = bodyCodec(
  "app message",
  [f(0x01, "channel", "u16"), f(0x02, "payload", "bytes")],
  z.strictObject({
    channel: uint(0xffff),
    payload: bytesBetween(0, MAX_APP_PAYLOAD)
      .optional()
      .transform((p) => p ?? new Uint8Array(0)),
  }),
  (v) => ({ channel: v.channel, payload: v.payload.length > 0 ? v.payload : undefined }),
) as BodyCodec<AppMessage>;
export const AppResultCodec: BodyCodec<{ payload: Uint8Array }> = bodyCodec(
  "app result",
  [f(0x01, "payload", "bytes")],
  z.strictObject({
    payload: bytesBetween(0, MAX_APP_PAYLOAD)
      .optional()
      .transform((p) => p ?? new Uint8Array(0)),
  }),
  (v) => ({ payload: v.payload.length > 0 ? v.payload : undefined }),
) as BodyCodec<{ payload: Uint8Array }>;

/** Reads a u8 role code (e.g. from bond metadata); undefined when unknown. */
export function roleFromWire(n: number): Role | undefined {
  return ROLE_BY_WIRE[n];
}
