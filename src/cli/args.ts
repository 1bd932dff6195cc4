/**
 * Parsers for command-line values, shared by the CLI's commands: each returns the value or throws
 * INVALID_ARGUMENT naming the option and what it accepts.
 */

import { OpenClawError } from "../protocol/errors.js";
import type { CodeFormatName } from "../protocol/messages/info.js";

function invalid(detail: string): OpenClawError<"INVALID_ARGUMENT"> {
  return new OpenClawError("INVALID_ARGUMENT", { detail });
}

/** "120s", "2m", "1m30s", "90000ms", "300" (seconds) → milliseconds. */
export function parseDuration(text: string, what: string): number {
  const t = text.trim().toLowerCase();
  // A bare number is seconds ("300" is 5 min), as people mean it; "ms" says milliseconds explicitly.
  if (/^\d+(?:\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|min|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    const n = Number(m[1]);
    const unit = m[2];
    total += unit === "ms" ? n : unit === "s" ? n * 1000 : unit === "h" ? n * 3_600_000 : n * 60_000;
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== t.length) {
    throw invalid(
      `${what} "${text}" is not a duration (use e.g. 120s, 2m, 1m30s, 90000ms; a bare number is seconds)`,
    );
  }
  return Math.round(total);
}

export function parseIntIn(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    throw invalid(`${what} must be a whole number from ${min} to ${max}`);
  return n;
}

export function parseFormat(text: string): CodeFormatName {
  if (text === "passkey" || text === "long") return text;
  throw invalid(`code format must be "passkey" or "long", not "${text}"`);
}
