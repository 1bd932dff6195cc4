/**
 * The closed error catalogue shared by both protocol roles, the transport, the radio, the stores, the
 * daemon and the CLI.
 *
 * Every error has a stable name, a message for people and one line of remedy that the CLI prints. A
 * remedy names only commands and options the CLI has (test/unit/errors.test.ts checks).
 * Wire codes (the ones a device may send in a protocol Error) carry a one-byte wire value; local codes
 * (a typo caught on the laptop, a missing adapter, a corrupt store file, no daemon) have none and can
 * never arrive from a peer. Details are typed per code and validated when an error crosses a process
 * boundary (`fromJSON`). Messages and details never carry codes, keys or other secrets: they are built
 * only from the fields declared here.
 */

export interface ErrorDetails {
  /** The code was used up or expired; nothing else to say. */
  CODE_EXPIRED: { reason: "ttl" | "used" | "burnt" };
  /** The code did not match. */
  WRONG_CODE: { attemptsLeft: number };
  /** Too many failures: pairing refused for a while. */
  LOCKED_OUT: { retryAfterMs: number };
  /** The device has no open pairing window. */
  WINDOW_CLOSED: Record<string, never>;
  /** A typed long code whose check character does not match (caught locally, costs no attempt). */
  BAD_CHECK_CHARACTER: Record<string, never>;
  /** Input that is not a code of the expected format. */
  MALFORMED_CODE: { expected: "passkey" | "long" };
  /** Every bond slot on the device is taken. */
  BOND_TABLE_FULL: { slots: number };
  /** The device does not know this controller (it forgot us). */
  UNKNOWN_PEER: Record<string, never>;
  /** The peer's role may not do that. */
  NOT_PERMITTED: { command: string; role: string };
  /** A malformed, oversized, replayed, reordered or unexpected message. */
  PROTOCOL_ERROR: { detail: string };
  /** The two sides speak different protocol versions. */
  VERSION_MISMATCH: { ours: number; theirs: number };
  /** Another pairing exchange is already under way on the device. */
  BUSY: Record<string, never>;
  /** A step did not complete in time (says which). */
  TIMEOUT: { what: string; afterMs: number };
  /** The link was lost or the device is too far away. */
  OUT_OF_RANGE: { rssi?: number };
  /**
   * No usable Bluetooth adapter (missing, powered off, busy, no permission). `transport: "stream"`: the
   * HCI was a unix:/tcp: stream to a virtual radio, whose remedy is different.
   */
  ADAPTER_UNAVAILABLE: { detail: string; transport?: "adapter" | "stream" };
  /** A bad argument or setting given by a person (`command`: the subcommand whose help explains it). */
  INVALID_ARGUMENT: { detail: string; command?: string };
  /** A bug: something that should not happen did. The detail never carries secrets. */
  INTERNAL: { detail: string };
  /** A state file or directory could not be read or written (names the path, says what to do). */
  STORAGE: { path: string; detail: string };
  /** A stored file did not validate; it was moved aside, not deleted. */
  STORE_CORRUPT: { path: string; quarantinedAs?: string; detail: string };
  /** Another process already runs on this state directory. */
  STATE_LOCKED: { path: string; pid?: number };
  /** A state file written by a newer version of openclaw-pair. */
  STATE_TOO_NEW: { path: string; version: number; supported: number };
  /** The daemon could not be reached or started. */
  DAEMON_UNAVAILABLE: { detail: string; socket?: string };
  /** This laptop holds no bond with that device. */
  NOT_BONDED: { device: string };
  /** No device matches what was typed. */
  NO_SUCH_DEVICE: { query: string };
  /** Several devices match what was typed. */
  AMBIGUOUS_DEVICE: { query: string; candidates: string[] };
  /** No USB HID service interface of an OpenClaw device could be opened. */
  HID_UNAVAILABLE: { detail: string };
  /** The person stopped the operation (Ctrl-C, a closed prompt). */
  CANCELLED: { what: string };
}

export type ErrorCode = keyof ErrorDetails;

interface CatalogueEntry<C extends ErrorCode> {
  /** The byte sent in a protocol Error; absent for local codes, which never cross the air. */
  wire?: number;
  message: (d: ErrorDetails[C]) => string;
  /** One line of what to do; a function where the remedy depends on the details. */
  remedy: string | ((d: ErrorDetails[C]) => string);
}

type Catalogue = { [C in ErrorCode]: CatalogueEntry<C> };

function secondsText(ms: number): string {
  const s = Math.ceil(ms / 1000);
  return s >= 120 ? `${Math.ceil(s / 60)} min` : `${s} s`;
}

export const CATALOGUE: Catalogue = {
  CODE_EXPIRED: {
    wire: 0x01,
    message: (d) =>
      d.reason === "used"
        ? "this code was already used"
        : d.reason === "burnt"
          ? "this code was withdrawn after too many wrong attempts"
          : "the pairing code expired before it was entered",
    remedy: "Press the pairing button on the device for a new code, then enter the code it shows.",
  },
  WRONG_CODE: {
    wire: 0x02,
    message: (d) =>
      d.attemptsLeft > 0
        ? `wrong code (${d.attemptsLeft} attempt${d.attemptsLeft === 1 ? "" : "s"} left for this code)`
        : "wrong code; that was the last attempt for this code",
    remedy:
      "Check the code on the device's display (0/O and 1/I/L are the same) and try again; a fresh code is shown after the last attempt.",
  },
  LOCKED_OUT: {
    wire: 0x03,
    message: (d) => `too many failed attempts: the device refuses pairing for ${secondsText(d.retryAfterMs)}`,
    remedy: "Wait until the lockout ends, then press the pairing button for a new code.",
  },
  WINDOW_CLOSED: {
    wire: 0x04,
    message: () => "the device is not in pairing mode",
    remedy:
      "Press the pairing button on the device (it opens a pairing window and shows a code), then retry.",
  },
  BAD_CHECK_CHARACTER: {
    // local only (wire value retired, never sent)
    message: () => "the code has a typo: its check character does not match (no attempt was used)",
    remedy: "Re-type the code exactly as shown on the device.",
  },
  MALFORMED_CODE: {
    // local only (wire value retired, never sent)
    message: (d) =>
      d.expected === "passkey"
        ? "that is not a 6-digit passkey"
        : "that is not a long code like OCL-7K4Q-92XM-J",
    remedy: "Enter the code exactly as the device shows it; spaces and dashes do not matter.",
  },
  BOND_TABLE_FULL: {
    wire: 0x07,
    message: (d) => `the device's bond table is full (${d.slots} slots)`,
    remedy:
      "Remove a pairing you no longer use (from a bonded admin laptop, by clearing the device's bonds over USB, or with a factory reset), then pair again.",
  },
  UNKNOWN_PEER: {
    wire: 0x08,
    message: () => "this device has forgotten this laptop",
    remedy: "Forget the device here (`openclaw forget DEVICE`) and pair again (`openclaw pair`).",
  },
  NOT_PERMITTED: {
    wire: 0x09,
    message: (d) => `a ${d.role} pairing may not ${d.command}`,
    remedy: "Ask the owner of an admin pairing to do this, or to share a pairing with the role you need.",
  },
  PROTOCOL_ERROR: {
    wire: 0x0a,
    message: (d) => `protocol error: ${d.detail}`,
    remedy: "Retry; if it persists, update both the laptop software and the device firmware.",
  },
  VERSION_MISMATCH: {
    wire: 0x0b,
    message: (d) => `protocol version mismatch (this laptop speaks v${d.ours}, the device v${d.theirs})`,
    remedy: "Update openclaw-pair or the device firmware so both speak the same protocol version.",
  },
  BUSY: {
    wire: 0x0c,
    message: () => "the device is already pairing with another controller",
    remedy: "Wait a few seconds for the other exchange to finish or time out, then retry.",
  },
  TIMEOUT: {
    wire: 0x0d,
    message: (d) => `${d.what} did not complete within ${secondsText(d.afterMs)}`,
    remedy: "Move closer to the device and retry; check that it is powered on and advertising.",
  },
  OUT_OF_RANGE: {
    // local only (wire value retired, never sent)
    message: (d) =>
      d.rssi === undefined ? "the device is out of range" : `the device is out of range (RSSI ${d.rssi} dBm)`,
    remedy: "Move the laptop closer to the device (within a few metres, no walls) and retry.",
  },
  ADAPTER_UNAVAILABLE: {
    // local only (wire value retired, never sent)
    message: (d) => `no usable Bluetooth adapter: ${d.detail}`,
    remedy: (d) =>
      d.transport === "stream"
        ? "Start the virtual radio first (`openclaw air --socket PATH`) and pass the socket it prints (`--hci unix:PATH`); `openclaw air --help` explains."
        : "Check that an adapter is plugged in and powered, that bluetoothd is not holding it (`sudo systemctl stop bluetooth`) and that node may open raw HCI sockets (`sudo setcap cap_net_raw+eip $(readlink -f $(which node))`); or run without hardware on the virtual radio (`openclaw air`, then `--hci unix:PATH`).",
  },
  INVALID_ARGUMENT: {
    wire: 0x10,
    message: (d) => `invalid argument: ${d.detail}`,
    remedy: (d) => `See \`openclaw ${d.command ? `${d.command} ` : ""}--help\` for the accepted values.`,
  },
  INTERNAL: {
    message: (d) => `internal error: ${d.detail}`,
    remedy:
      "This is a bug in openclaw-pair: please report it with the output of the command run with OPENCLAW_DEBUG=1.",
  },
  STORAGE: {
    message: (d) => `cannot use ${d.path}: ${d.detail}`,
    remedy:
      "Check that the path exists, is a directory you own and has free space, or choose another with `--state-dir`.",
  },
  STORE_CORRUPT: {
    message: (d) =>
      d.quarantinedAs
        ? `${d.path} is damaged (${d.detail}); it was moved aside to ${d.quarantinedAs}`
        : `${d.path} is damaged (${d.detail})`,
    remedy:
      "Nothing else was affected; the moved-aside file is kept for inspection. Pair that device again if it is missing from the list.",
  },
  STATE_LOCKED: {
    message: (d) =>
      `another openclaw process${d.pid === undefined ? "" : ` (pid ${d.pid})`} is already using ${d.path}`,
    remedy: "Stop the other process, or give this one its own `--state-dir`.",
  },
  STATE_TOO_NEW: {
    message: (d) =>
      `${d.path} was written by a newer openclaw-pair (format ${d.version}; this one reads up to ${d.supported})`,
    remedy: "Update openclaw-pair, or use another `--state-dir`; the file was left untouched.",
  },
  DAEMON_UNAVAILABLE: {
    message: (d) => `the openclaw daemon is not reachable: ${d.detail}`,
    remedy: "Check the daemon's log in the state directory, or run the command again with OPENCLAW_DEBUG=1.",
  },
  NOT_BONDED: {
    message: (d) => `this laptop is not paired with ${d.device}`,
    remedy: "Pair with the device first (it shows the code when its pairing button is pressed).",
  },
  NO_SUCH_DEVICE: {
    message: (d) => `no device matches "${d.query}"`,
    remedy: "Name a device by its id (or an id prefix), its name or its address, as a scan lists them.",
  },
  AMBIGUOUS_DEVICE: {
    message: (d) => `"${d.query}" matches ${d.candidates.length} devices: ${d.candidates.join(", ")}`,
    remedy: "Name the device by a longer id prefix or its address.",
  },
  HID_UNAVAILABLE: {
    message: (d) => `no OpenClaw USB service interface could be opened: ${d.detail}`,
    remedy:
      "Plug the device in over USB and install the udev rule from hardware/ (or run as a user who may open hidraw devices).",
  },
  CANCELLED: {
    message: (d) => `${d.what} was cancelled`,
    remedy:
      "Nothing half-done is kept: a pairing cut off mid-exchange is completed or undone the next time this laptop reaches the device. Run the command again when ready.",
  },
};

export const ERROR_CODES = Object.keys(CATALOGUE) as ErrorCode[];

const BY_WIRE = new Map<number, ErrorCode>(
  ERROR_CODES.flatMap((code) => {
    const wire = CATALOGUE[code].wire;
    return wire === undefined ? [] : [[wire, code] as const];
  }),
);

/** True for codes a peer may send in a protocol Error. */
export function isWireCode(code: ErrorCode): boolean {
  return CATALOGUE[code].wire !== undefined;
}

function remedyOf<C extends ErrorCode>(code: C, details: ErrorDetails[C]): string {
  const r = CATALOGUE[code].remedy as string | ((d: ErrorDetails[C]) => string);
  return typeof r === "string" ? r : r(details);
}

/** The one error type everything in openclaw-pair throws for expected failures. */
export class OpenClawError<C extends ErrorCode = ErrorCode> extends Error {
  override readonly name = "OpenClawError";
  readonly code: C;
  readonly details: ErrorDetails[C];

  constructor(code: C, details: ErrorDetails[C], options?: { cause?: unknown }) {
    super((CATALOGUE[code].message as (d: ErrorDetails[C]) => string)(details), options);
    this.code = code;
    this.details = details;
  }

  /** One line telling a person what to do. */
  get remedy(): string {
    return remedyOf(this.code, this.details);
  }

  /** The wire byte; throws for a local code (a bug: local codes are never sent). */
  get wire(): number {
    const wire = CATALOGUE[this.code].wire;
    if (wire === undefined) throw new TypeError(`${this.code} is a local error code with no wire value`);
    return wire;
  }

  is<K extends ErrorCode>(code: K): this is OpenClawError<K> {
    return (this.code as ErrorCode) === code;
  }

  toJSON(): OpenClawErrorJson {
    return { code: this.code, message: this.message, remedy: this.remedy, details: this.details };
  }

  /**
   * Rebuilds an error that crossed a process boundary (JSON-RPC `error.data`, a child's JSON line).
   * The code must be in the catalogue and the details must match its schema; anything else is INTERNAL
   * (never trusted text: message and remedy are rebuilt from the catalogue).
   */
  static fromJSON(value: unknown): OpenClawError {
    const v = value as { code?: unknown; details?: unknown } | null;
    const code = typeof v === "object" && v !== null ? v.code : undefined;
    if (typeof code !== "string" || !Object.hasOwn(CATALOGUE, code))
      return new OpenClawError("INTERNAL", { detail: "an unreadable error crossed a process boundary" });
    const known = code as ErrorCode;
    const d = checkDetails(known, v?.details ?? {});
    if (d === undefined)
      return new OpenClawError("INTERNAL", { detail: `a ${known} error arrived with malformed details` });
    return new OpenClawError(known, d as ErrorDetails[typeof known]);
  }
}

export interface OpenClawErrorJson {
  code: ErrorCode;
  message: string;
  remedy: string;
  details: ErrorDetails[ErrorCode];
}

/**
 * The shape of each code's details, checked by `fromJSON`: a field spec per key (`opt(…)`: may be
 * absent). Hand-checked rather than zod so that loading the catalogue (every CLI start does) does not
 * load a schema library for the rare error that crosses a boundary.
 */
type FieldSpec = "text" | "count" | "int" | "text[]" | readonly string[];
type DetailSpec = Readonly<Record<string, FieldSpec | { readonly optional: FieldSpec }>>;

const opt = (f: FieldSpec) => ({ optional: f });

const DETAIL_SPECS: { [C in ErrorCode]: DetailSpec } = {
  CODE_EXPIRED: { reason: ["ttl", "used", "burnt"] },
  WRONG_CODE: { attemptsLeft: "count" },
  LOCKED_OUT: { retryAfterMs: "count" },
  WINDOW_CLOSED: {},
  BAD_CHECK_CHARACTER: {},
  MALFORMED_CODE: { expected: ["passkey", "long"] },
  BOND_TABLE_FULL: { slots: "count" },
  UNKNOWN_PEER: {},
  NOT_PERMITTED: { command: "text", role: "text" },
  PROTOCOL_ERROR: { detail: "text" },
  VERSION_MISMATCH: { ours: "count", theirs: "count" },
  BUSY: {},
  TIMEOUT: { what: "text", afterMs: "count" },
  OUT_OF_RANGE: { rssi: opt("int") },
  ADAPTER_UNAVAILABLE: { detail: "text", transport: opt(["adapter", "stream"]) },
  INVALID_ARGUMENT: { detail: "text", command: opt("text") },
  INTERNAL: { detail: "text" },
  STORAGE: { path: "text", detail: "text" },
  STORE_CORRUPT: { path: "text", quarantinedAs: opt("text"), detail: "text" },
  STATE_LOCKED: { path: "text", pid: opt("count") },
  STATE_TOO_NEW: { path: "text", version: "count", supported: "count" },
  DAEMON_UNAVAILABLE: { detail: "text", socket: opt("text") },
  NOT_BONDED: { device: "text" },
  NO_SUCH_DEVICE: { query: "text" },
  AMBIGUOUS_DEVICE: { query: "text", candidates: "text[]" },
  HID_UNAVAILABLE: { detail: "text" },
  CANCELLED: { what: "text" },
};

const MAX_TEXT_DETAIL = 4096;
const MAX_CANDIDATES = 64;

function fieldOk(spec: FieldSpec, v: unknown): boolean {
  const isText = (x: unknown) => typeof x === "string" && x.length <= MAX_TEXT_DETAIL;
  if (spec === "text") return isText(v);
  if (spec === "int") return Number.isSafeInteger(v);
  if (spec === "count") return Number.isSafeInteger(v) && (v as number) >= 0;
  if (spec === "text[]") return Array.isArray(v) && v.length <= MAX_CANDIDATES && v.every(isText);
  return typeof v === "string" && spec.includes(v);
}

/**
 * The details as the code's spec has them (only its keys), or undefined when they do not match. A code
 * without details takes none: an unexpected key is refused there, ignored elsewhere.
 */
function checkDetails(code: ErrorCode, value: unknown): Record<string, unknown> | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const given = value as Record<string, unknown>;
  const spec = DETAIL_SPECS[code];
  const keys = Object.keys(spec);
  if (keys.length === 0) return Object.keys(given).length === 0 ? {} : undefined;
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const f = spec[key]!;
    const [field, optional] = typeof f === "object" && "optional" in f ? [f.optional, true] : [f, false];
    const v = given[key];
    if (v === undefined && optional) continue;
    if (!fieldOk(field, v)) return undefined;
    out[key] = v;
  }
  return out;
}

export function isOpenClawError(err: unknown): err is OpenClawError {
  return err instanceof OpenClawError;
}

/** Maps a wire code back to the catalogue; unknown (and local-only) values give undefined. */
export function errorCodeFromWire(wire: number): ErrorCode | undefined {
  return BY_WIRE.get(wire);
}

export function protocolError(detail: string): OpenClawError<"PROTOCOL_ERROR"> {
  return new OpenClawError("PROTOCOL_ERROR", { detail });
}
