/**
 * Error messages (type 0x7F) to and from OpenClawError. The wire carries the catalogue's one-byte code
 * and only the detail fields declared for it; free text is bounded and never contains secrets (it is
 * built from the catalogue's typed details, which never hold codes or keys).
 */
import { type ErrorCode, type ErrorDetails, isWireCode, OpenClawError } from "../errors.js";
import { PROTOCOL_VERSION } from "./constants.js";
import { type ErrorMessage, MAX_ERROR_TEXT } from "./schema.js";

function clip(s: string, max: number): string {
  const enc = new TextEncoder();
  if (enc.encode(s).length <= max) return s;
  let out = s.slice(0, max);
  while (enc.encode(out).length > max) out = out.slice(0, -1);
  return out;
}

const clampU32 = (n: number) => Math.max(0, Math.min(0xffffffff, Math.round(n)));
const clampU8 = (n: number) => Math.max(0, Math.min(0xff, Math.round(n)));

/**
 * The Error message that reports `err` to the peer. A local code (a storage failure, a bug) never
 * crosses the air as itself: the peer learns only that the exchange failed (PROTOCOL_ERROR).
 */
export function errorToMessage(err: OpenClawError): ErrorMessage {
  if (!isWireCode(err.code))
    return { type: "Error", code: "PROTOCOL_ERROR", detail: "the device hit an internal error" };
  const m: ErrorMessage = { type: "Error", code: err.code };
  const d = err.details as Partial<Record<string, unknown>>;
  switch (err.code) {
    case "CODE_EXPIRED":
      m.reason = (err.details as ErrorDetails["CODE_EXPIRED"]).reason;
      break;
    case "WRONG_CODE":
      m.attemptsLeft = clampU8(d.attemptsLeft as number);
      break;
    case "LOCKED_OUT":
      m.retryAfterMs = clampU32(d.retryAfterMs as number);
      break;
    case "BOND_TABLE_FULL":
      m.slots = clampU8(d.slots as number);
      break;
    case "NOT_PERMITTED":
      m.command = clip(String(d.command), 32);
      m.role = clip(String(d.role), 16);
      break;
    case "VERSION_MISMATCH":
      m.version = PROTOCOL_VERSION;
      break;
    case "TIMEOUT":
      m.what = clip(String(d.what), MAX_ERROR_TEXT);
      m.afterMs = clampU32(d.afterMs as number);
      break;
    case "PROTOCOL_ERROR":
    case "INVALID_ARGUMENT":
      m.detail = clip(String(d.detail), MAX_ERROR_TEXT);
      break;
    default:
      break;
  }
  return m;
}

/** The OpenClawError a received Error message stands for, with defaults for absent details. */
export function messageToError(m: ErrorMessage): OpenClawError {
  const make = <C extends ErrorCode>(code: C, details: ErrorDetails[C]) => new OpenClawError(code, details);
  switch (m.code) {
    case "CODE_EXPIRED":
      return make("CODE_EXPIRED", { reason: m.reason ?? "ttl" });
    case "WRONG_CODE":
      return make("WRONG_CODE", { attemptsLeft: m.attemptsLeft ?? 0 });
    case "LOCKED_OUT":
      return make("LOCKED_OUT", { retryAfterMs: m.retryAfterMs ?? 0 });
    case "BOND_TABLE_FULL":
      return make("BOND_TABLE_FULL", { slots: m.slots ?? 0 });
    case "NOT_PERMITTED":
      return make("NOT_PERMITTED", { command: m.command ?? "do that", role: m.role ?? "this" });
    case "VERSION_MISMATCH":
      return make("VERSION_MISMATCH", { ours: PROTOCOL_VERSION, theirs: m.version ?? 0 });
    case "TIMEOUT":
      return make("TIMEOUT", { what: m.what ?? "the device", afterMs: m.afterMs ?? 0 });
    case "PROTOCOL_ERROR":
      return make("PROTOCOL_ERROR", { detail: `the device reported: ${m.detail ?? "unspecified"}` });
    case "INVALID_ARGUMENT":
      return make("INVALID_ARGUMENT", { detail: m.detail ?? "unspecified" });
    case "WINDOW_CLOSED":
    case "UNKNOWN_PEER":
    case "BUSY":
      return make(m.code, {} as Record<string, never>);
    default:
      // The schema admits wire codes only; a local code here means a decoder bug, not a peer's choice.
      return make("PROTOCOL_ERROR", { detail: `the device sent a local-only error code (${m.code})` });
  }
}
