/** What the laptop commands print: the JSON error document, exit statuses, colour rules, durations. */
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { colorEnabled, EXIT, exitCodeFor, formatDuration, Output } from "../../src/cli/output.js";
import { checkTyped } from "../../src/cli/prompt.js";
import { OpenClawError } from "../../src/protocol/errors.js";

function streams(tty: boolean) {
  const out = Object.assign(new PassThrough(), { isTTY: tty }) as unknown as NodeJS.WriteStream;
  const err = Object.assign(new PassThrough(), { isTTY: tty }) as unknown as NodeJS.WriteStream;
  const read = (s: NodeJS.WriteStream) =>
    ((s as unknown as PassThrough).read() as Buffer | null)?.toString() ?? "";
  return { out, err, read };
}

describe("CLI output", () => {
  it("--json: one JSON error document on stdout, nothing on stderr, exit 1", () => {
    const s = streams(false);
    const o = new Output({ json: true }, s.out, s.err, {});
    const code = o.fail(new OpenClawError("WRONG_CODE", { attemptsLeft: 2 }));
    expect(code).toBe(EXIT.failure);
    expect(JSON.parse(s.read(s.out))).toEqual({
      error: {
        code: "WRONG_CODE",
        message: "wrong code (2 attempts left for this code)",
        remedy: new OpenClawError("WRONG_CODE", { attemptsLeft: 2 }).remedy,
        details: { attemptsLeft: 2 },
      },
    });
    expect(s.read(s.err)).toBe("");
  });

  it("for people: cause and remedy on stderr, no colour when piped or with NO_COLOR", () => {
    const s = streams(false);
    const o = new Output({}, s.out, s.err, {});
    o.fail(new OpenClawError("UNKNOWN_PEER", {}));
    expect(s.read(s.err)).toBe(
      "error: this device has forgotten this laptop\n  → Forget the device here (`openclaw forget DEVICE`) and pair again (`openclaw pair`).\n",
    );
    const tty = streams(true);
    expect(colorEnabled(tty.out, {})).toBe(true);
    expect(colorEnabled(tty.out, { NO_COLOR: "1" })).toBe(false);
    expect(colorEnabled(tty.out, { TERM: "dumb" })).toBe(false);
    expect(colorEnabled(s.out, {})).toBe(false);
  });

  it("maps errors to exit statuses: usage 2, cancelled 130, anything else 1; a plain Error is INTERNAL", () => {
    expect(exitCodeFor(new OpenClawError("INVALID_ARGUMENT", { detail: "x" }))).toBe(2);
    expect(exitCodeFor(new OpenClawError("CANCELLED", { what: "pairing" }))).toBe(130);
    expect(exitCodeFor(new OpenClawError("OUT_OF_RANGE", {}))).toBe(1);
    const s = streams(false);
    expect(new Output({ json: true }, s.out, s.err, {}).fail(new Error("boom"))).toBe(1);
    expect(JSON.parse(s.read(s.out)).error.code).toBe("INTERNAL");
  });

  it("formats durations for people", () => {
    expect(formatDuration(0)).toBe("0 s");
    expect(formatDuration(41_200)).toBe("42 s");
    expect(formatDuration(60_000)).toBe("1 min");
    expect(formatDuration(65_000)).toBe("1 min 05 s");
  });

  it("checks a typed code locally: normalised, and a long code's typo caught before sending", () => {
    expect(checkTyped(" 123-456 ", "passkey")).toEqual({ ok: true, code: "123456" });
    const bad = checkTyped("12345", "passkey");
    expect(bad.ok === false && bad.error.code).toBe("MALFORMED_CODE");
    expect(checkTyped("ocl-7k4q-92xm-j", "long").ok).toBe(true);
    const typo = checkTyped("OCL-7K4Q-92XM-K", "long");
    expect(typo.ok === false && typo.error.code).toBe("BAD_CHECK_CHARACTER");
  });
});
