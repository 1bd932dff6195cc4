/**
 * The daemon's pino logger: JSON lines to a 0600 file in the state directory and, when it runs in the
 * foreground, to stderr. Secrets never reach either, by two independent guards:
 *
 * - `scrubSecrets` (pino's log formatter, run on every merged object before it is serialised) walks the
 *   object and replaces any field whose name says code, key, tag, nonce, secret or password, and every
 *   byte array, with "[redacted]". A field named `code` survives only when its value is a catalogue
 *   error code name (WRONG_CODE...), which is what an error's `code` is.
 * - pino's `redact` paths, the library's own mechanism, for the well-known places (params.code...).
 *
 * Messages (the `msg` string) are written by us and never interpolate a secret; the e2e suite runs at
 * debug level and greps every log for the codes, keys and tags it saw.
 */
import { pino } from "pino";
import { ERROR_CODES } from "../../protocol/errors.js";
import type { LogLevel } from "./log-levels.js";

export { LOG_LEVELS, type LogLevel } from "./log-levels.js";

export const REDACTED = "[redacted]";

const ERROR_CODE_NAMES = new Set<string>(ERROR_CODES);

/** Field names that may carry a pairing code, a key, a rotating tag or other secret material. */
const SECRET_SUFFIX = /(code|passkey|passcode|tag|seed|w0|w1)s?$/i;
const SECRET_PART = /key|secret|password|nonce/i;

function isSecretName(name: string): boolean {
  return SECRET_SUFFIX.test(name) || SECRET_PART.test(name);
}

/**
 * A copy of `value` safe to log: secret-named fields and raw bytes replaced, depth and size bounded.
 * `code` is kept only when it is a catalogue error name (an error's code, not a pairing code).
 */
export function scrubSecrets(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== "object") return value;
  if (depth > 8) return "[deep]";
  if (value instanceof Uint8Array || ArrayBuffer.isView(value) || value instanceof ArrayBuffer)
    return REDACTED;
  if (Array.isArray(value)) return value.slice(0, 100).map((v) => scrubSecrets(v, depth + 1));
  if (value instanceof Error) {
    const e = value as Error & { code?: unknown; details?: unknown };
    return scrubSecrets(
      {
        type: e.name,
        message: e.message,
        ...(e.code !== undefined ? { code: e.code } : {}),
        ...(e.details !== undefined ? { details: e.details } : {}),
        ...(e.stack ? { stack: e.stack } : {}),
      },
      depth,
    );
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (/code$/i.test(k) && typeof v === "string" && ERROR_CODE_NAMES.has(v)) out[k] = v;
    else if (isSecretName(k)) out[k] = REDACTED;
    else out[k] = scrubSecrets(v, depth + 1);
  }
  return out;
}

export interface DaemonLoggerOptions {
  level: LogLevel;
  /** The log file (created 0600); omitted: no file. */
  file?: string;
  /** Also write to stderr (foreground daemons). */
  stderr: boolean;
}

export type DaemonLogger = pino.Logger;

/** pino `redact` paths: belt and braces for the places a secret is known to travel. */
export const REDACT_PATHS = [
  "params.code",
  "*.params.code",
  "passkey",
  "*.passkey",
  "key",
  "*.key",
  "privateKey",
  "*.privateKey",
  "tag",
  "*.tag",
  "advert.tag",
  "*.advert.tag",
  "nonce",
  "*.nonce",
];

export function createDaemonLogger(o: DaemonLoggerOptions): DaemonLogger {
  const streams: pino.StreamEntry[] = [];
  if (o.file)
    streams.push({ level: "trace", stream: pino.destination({ dest: o.file, mode: 0o600, sync: true }) });
  if (o.stderr) streams.push({ level: "trace", stream: pino.destination({ dest: 2, sync: true }) });
  return pino(
    {
      level: o.level,
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      formatters: {
        log: (obj) => scrubSecrets(obj) as Record<string, unknown>,
      },
      // Errors go through scrubSecrets too (as "err"), not pino's default serializer that copies every field.
      serializers: { err: (e: unknown) => scrubSecrets(e) },
    },
    streams.length > 0 ? pino.multistream(streams) : pino.destination("/dev/null"),
  );
}
