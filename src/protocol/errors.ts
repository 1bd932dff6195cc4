/**
 * The closed error catalogue shared by both protocol roles, the transport, the radio and the CLI.
 *
 * Every error has a stable name, a one-byte wire code (sent in protocol Error messages), a message for
 * people and one line of remedy that the CLI prints. Details are typed per code. Messages and details
 * never carry codes, keys or other secrets: they are built only from the fields declared here.
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
  /** No usable Bluetooth adapter (missing, powered off, busy, no permission). */
  ADAPTER_UNAVAILABLE: { detail: string };
  /** A bad argument or setting given by a person. */
  INVALID_ARGUMENT: { detail: string };
}

export type ErrorCode = keyof ErrorDetails;

interface CatalogueEntry<C extends ErrorCode> {
  wire: number;
  message: (d: ErrorDetails[C]) => string;
  remedy: string;
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
      "Press the pairing button on the device (or open a window over USB with `openclaw hid open-window`), then retry.",
  },
  BAD_CHECK_CHARACTER: {
    wire: 0x05,
    message: () => "the code has a typo: its check character does not match (no attempt was used)",
    remedy: "Re-type the code exactly as shown on the device.",
  },
  MALFORMED_CODE: {
    wire: 0x06,
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
      "Remove a pairing you no longer use (`openclaw forget` from a bonded laptop, or a USB HID reset), then pair again.",
  },
  UNKNOWN_PEER: {
    wire: 0x08,
    message: () => "this device has forgotten this laptop",
    remedy: "Forget the device here (`openclaw forget`) and pair again.",
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
    remedy:
      "Move closer to the device and retry; check that it is powered and advertising (`openclaw scan`).",
  },
  OUT_OF_RANGE: {
    wire: 0x0e,
    message: (d) =>
      d.rssi === undefined ? "the device is out of range" : `the device is out of range (RSSI ${d.rssi} dBm)`,
    remedy: "Move the laptop closer to the device (within a few metres, no walls) and retry.",
  },
  ADAPTER_UNAVAILABLE: {
    wire: 0x0f,
    message: (d) => `no usable Bluetooth adapter: ${d.detail}`,
    remedy:
      "Check that an adapter is plugged in and powered, that bluetoothd is not holding it, and that this user may use it (`openclaw doctor`); or use `--hci unix:PATH` with the virtual radio.",
  },
  INVALID_ARGUMENT: {
    wire: 0x10,
    message: (d) => `invalid argument: ${d.detail}`,
    remedy: "See `openclaw --help` for the accepted values.",
  },
};

const BY_WIRE = new Map<number, ErrorCode>(
  (Object.keys(CATALOGUE) as ErrorCode[]).map((code) => [CATALOGUE[code].wire, code]),
);

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
    return CATALOGUE[this.code].remedy;
  }

  get wire(): number {
    return CATALOGUE[this.code].wire;
  }

  is<K extends ErrorCode>(code: K): this is OpenClawError<K> {
    return (this.code as ErrorCode) === code;
  }

  toJSON(): { code: C; message: string; remedy: string; details: ErrorDetails[C] } {
    return { code: this.code, message: this.message, remedy: this.remedy, details: this.details };
  }
}

export function isOpenClawError(err: unknown): err is OpenClawError {
  return err instanceof OpenClawError;
}

/** Maps a wire code back to the catalogue; unknown codes are a protocol error. */
export function errorCodeFromWire(wire: number): ErrorCode | undefined {
  return BY_WIRE.get(wire);
}

export function protocolError(detail: string): OpenClawError<"PROTOCOL_ERROR"> {
  return new OpenClawError("PROTOCOL_ERROR", { detail });
}
