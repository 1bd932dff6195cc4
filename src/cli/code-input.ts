/**
 * A typed code, checked before anything is sent (src/protocol/codes), and `--code -`'s line from stdin:
 * apart from the interactive prompts (./prompt.ts) so a non-interactive `openclaw pair` does not load
 * the prompt library.
 */
import type { CodeFormat } from "../daemon/rpc/api.js";
import { normaliseCode } from "../protocol/codes/index.js";
import { isOpenClawError, OpenClawError } from "../protocol/errors.js";

/** Checks what was typed; the error message when it is not a code of this format. */
export function checkTyped(
  typed: string,
  format: CodeFormat,
): { ok: true; code: string } | { ok: false; error: OpenClawError } {
  try {
    return { ok: true, code: normaliseCode(typed, format) };
  } catch (err) {
    if (isOpenClawError(err)) return { ok: false, error: err };
    throw err;
  }
}

/** Reads one line from stdin (for `--code -`); CANCELLED when stdin ends first. */
export async function readCodeLine(input: NodeJS.ReadableStream = process.stdin): Promise<string> {
  let text = "";
  input.setEncoding?.("utf8");
  for await (const chunk of input as AsyncIterable<string>) {
    text += chunk;
    const nl = text.indexOf("\n");
    if (nl >= 0) {
      (input as { pause?: () => void }).pause?.();
      return text.slice(0, nl).trim();
    }
    if (text.length > 256) break;
  }
  if (text.trim() !== "") return text.trim();
  throw new OpenClawError("INVALID_ARGUMENT", {
    detail: "--code - needs the code on stdin",
    command: "pair",
  });
}
