/**
 * The error catalogue: what a person reads when anything fails, and what crosses process boundaries
 * (daemon → CLI, sim → test rig) and the air (wire codes).
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/main.js";
import {
  CATALOGUE,
  ERROR_CODES,
  type ErrorCode,
  type ErrorDetails,
  errorCodeFromWire,
  isWireCode,
  OpenClawError,
} from "../../src/protocol/errors.js";
import { errorToMessage } from "../../src/protocol/messages/errors.js";

/** One realistic instance of every code (typed: a new code without a sample does not compile). */
const SAMPLES: { [C in ErrorCode]: ErrorDetails[C] } = {
  CODE_EXPIRED: { reason: "burnt" },
  WRONG_CODE: { attemptsLeft: 3 },
  LOCKED_OUT: { retryAfterMs: 90_000 },
  WINDOW_CLOSED: {},
  BAD_CHECK_CHARACTER: {},
  MALFORMED_CODE: { expected: "long" },
  BOND_TABLE_FULL: { slots: 8 },
  UNKNOWN_PEER: {},
  NOT_PERMITTED: { command: "remove another pairing", role: "user" },
  PROTOCOL_ERROR: { detail: "PairSetupStart: invalid shareP" },
  VERSION_MISMATCH: { ours: 1, theirs: 2 },
  BUSY: {},
  TIMEOUT: { what: "the device's pair-setup challenge", afterMs: 30_000 },
  OUT_OF_RANGE: { rssi: -97 },
  ADAPTER_UNAVAILABLE: { detail: "hci0 is held by bluetoothd" },
  INVALID_ARGUMENT: { detail: "--slots must be a whole number from 1 to 32", command: "sim" },
  INTERNAL: { detail: "window state out of step" },
  STORAGE: { path: "/home/a/.local/state/openclaw-pair", detail: "permission denied" },
  STORE_CORRUPT: {
    path: "/s/bonds/ab.json",
    quarantinedAs: "/s/bonds/ab.json.corrupt-1",
    detail: "not JSON",
  },
  STATE_LOCKED: { path: "/s", pid: 4242 },
  STATE_TOO_NEW: { path: "/s/bonds.json", version: 3, supported: 1 },
  DAEMON_UNAVAILABLE: { detail: "it exited at start-up", socket: "/run/user/1000/openclaw.sock" },
  NOT_BONDED: { device: "OpenClaw-7K4Q" },
  NO_SUCH_DEVICE: { query: "kitchen" },
  AMBIGUOUS_DEVICE: { query: "Open", candidates: ["OpenClaw-7K4Q", "OpenClaw-92XM"] },
  HID_UNAVAILABLE: { detail: "no hidraw device with the OpenClaw usage page" },
  CANCELLED: { what: "pairing" },
};

const all = () => ERROR_CODES.map((code) => new OpenClawError(code, SAMPLES[code] as never));

describe("crossing a process boundary (fromJSON)", () => {
  it.each(ERROR_CODES)("%s round-trips with code, details, message and remedy intact", (code) => {
    const err = new OpenClawError(code, SAMPLES[code] as never);
    const back = OpenClawError.fromJSON(JSON.parse(JSON.stringify(err)));
    expect(back).toBeInstanceOf(OpenClawError);
    expect(back.toJSON()).toEqual(err.toJSON());
  });

  it("turns an unknown code, a non-object or a missing code into INTERNAL", () => {
    const junkList = [{ code: "TEAPOT", details: {} }, "WRONG_CODE", null, 42, { details: {} }, []];
    for (const junk of [...junkList, { code: "toString", details: {} }, { code: 7 }]) {
      const e = OpenClawError.fromJSON(junk);
      expect(e.code).toBe("INTERNAL");
      expect(e.message).not.toContain("TEAPOT");
    }
  });

  it("turns malformed details into INTERNAL naming the code, never trusting them", () => {
    const bad: Array<[ErrorCode, unknown]> = [
      ["WRONG_CODE", { attemptsLeft: -1 }],
      ["WRONG_CODE", { attemptsLeft: "3" }],
      ["LOCKED_OUT", {}],
      ["WINDOW_CLOSED", { extra: "field" }],
      ["STORAGE", { path: "/x" }],
      ["AMBIGUOUS_DEVICE", { query: "a", candidates: "b" }],
      ["TIMEOUT", { what: "x".repeat(5000), afterMs: 1 }],
      ["WRONG_CODE", { attemptsLeft: 1.5 }],
      ["WRONG_CODE", [3]],
      ["CODE_EXPIRED", { reason: "later" }],
      ["OUT_OF_RANGE", { rssi: "-90" }],
      ["STATE_LOCKED", { path: "/s", pid: -1 }],
      ["AMBIGUOUS_DEVICE", { query: "a", candidates: Array.from({ length: 65 }, () => "x") }],
      ["AMBIGUOUS_DEVICE", { query: "a", candidates: ["x", 1] }],
    ];
    for (const [code, details] of bad) {
      const e = OpenClawError.fromJSON({ code, details, message: "forged text", remedy: "rm -rf ~" });
      expect(e.code).toBe("INTERNAL");
      expect(e.message).toContain(code);
      expect(`${e.message} ${e.remedy}`).not.toMatch(/forged|rm -rf/);
    }
  });

  it("keeps only the details the code defines, optional ones when given", () => {
    expect(
      OpenClawError.fromJSON({ code: "WRONG_CODE", details: { attemptsLeft: 2, tag: "x" } }).details,
    ).toEqual({
      attemptsLeft: 2,
    });
    expect(OpenClawError.fromJSON({ code: "OUT_OF_RANGE" }).details).toEqual({});
    expect(OpenClawError.fromJSON({ code: "STATE_LOCKED", details: { path: "/s", pid: 7 } }).details).toEqual(
      {
        path: "/s",
        pid: 7,
      },
    );
  });

  it("rebuilds message and remedy from the catalogue, ignoring the text that came along", () => {
    const e = OpenClawError.fromJSON({ code: "BUSY", details: {}, message: "forged", remedy: "forged" });
    expect(e.message).toBe(new OpenClawError("BUSY", {}).message);
    expect(e.remedy).toBe(CATALOGUE.BUSY.remedy);
  });
});

describe("wire codes and local codes", () => {
  it("every wire byte maps back to exactly its code, and only wire codes have one", () => {
    const seen = new Map<number, ErrorCode>();
    for (let w = 0; w <= 0xff; w++) {
      const code = errorCodeFromWire(w);
      if (code === undefined) continue;
      expect(isWireCode(code)).toBe(true);
      expect(CATALOGUE[code].wire).toBe(w);
      seen.set(w, code);
    }
    expect([...seen.values()].sort()).toEqual(ERROR_CODES.filter(isWireCode).sort());
  });

  it("the retired wire values 0x05 0x06 0x0e 0x0f stay unassigned (an old peer's byte is not misread)", () => {
    for (const w of [0x05, 0x06, 0x0e, 0x0f]) expect(errorCodeFromWire(w)).toBeUndefined();
  });

  it("local codes have no wire byte and never cross the air as themselves", () => {
    const local = ERROR_CODES.filter((c) => !isWireCode(c));
    expect(local).toEqual(
      expect.arrayContaining([
        "BAD_CHECK_CHARACTER",
        "MALFORMED_CODE",
        "OUT_OF_RANGE",
        "ADAPTER_UNAVAILABLE",
      ]),
    );
    for (const code of local) {
      const err = new OpenClawError(code, SAMPLES[code] as never);
      expect(() => err.wire).toThrow(TypeError);
      // the peer learns only that the exchange failed: no local detail (paths, adapter names) leaks
      expect(errorToMessage(err)).toEqual({
        type: "Error",
        code: "PROTOCOL_ERROR",
        detail: "the device hit an internal error",
      });
    }
  });
});

/** `openclaw X Y …` → the command path the CLI has for it ([] when X is not a command). */
function commandPath(program: Command, words: string[]): string[] {
  const path: string[] = [];
  let cmd: Command = program;
  for (const w of words) {
    const sub = cmd.commands.find((c) => c.name() === w || c.aliases().includes(w));
    if (!sub) break;
    path.push(w);
    cmd = sub;
  }
  return path;
}

function allOptions(cmd: Command): string[] {
  return [...cmd.options.map((o) => o.long ?? ""), ...cmd.commands.flatMap(allOptions)];
}

// Every command (no argv): the whole tree the remedies may name.
const program = await buildProgram();

describe("remedies", () => {
  it("every code has a one-line remedy that reads as an instruction", () => {
    for (const err of all()) {
      expect(err.remedy.trim().length, err.code).toBeGreaterThan(10);
      expect(err.remedy, err.code).not.toContain("\n");
      expect(err.remedy, err.code).toMatch(/^[A-Z`]/);
      expect(err.message.length, err.code).toBeGreaterThan(5);
    }
  });

  it("names only commands and options the CLI has", () => {
    const options = new Set(allOptions(program));
    const wrong: string[] = [];
    for (const err of all()) {
      for (const m of err.remedy.matchAll(/\bopenclaw((?: [a-z][a-z-]*)+)/g)) {
        const words = m[1]!.trim().split(" ");
        const path = commandPath(program, words);
        const cmd = path.reduce<Command>((c, w) => c.commands.find((s) => s.name() === w)!, program);
        // `openclaw air ctl` names a subcommand that exists; `openclaw air frobnicate` does not
        const unknownSub = words[path.length] !== undefined && cmd.commands.length > 0;
        if (path.length === 0 || unknownSub) wrong.push(`${err.code}: openclaw ${words.join(" ")}`);
      }
      for (const m of err.remedy.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)) {
        if (m[0] !== "--help" && !options.has(m[0])) wrong.push(`${err.code}: ${m[0]}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("INVALID_ARGUMENT points at the subcommand's help when it knows the subcommand", () => {
    expect(new OpenClawError("INVALID_ARGUMENT", { detail: "x", command: "air ctl" }).remedy).toContain(
      "`openclaw air ctl --help`",
    );
    expect(new OpenClawError("INVALID_ARGUMENT", { detail: "x" }).remedy).toContain("`openclaw --help`");
  });
});

describe("hardware/PROTOCOL.md §8", () => {
  const doc = readFileSync(new URL("../../hardware/PROTOCOL.md", import.meta.url), "utf8");
  const section = doc.slice(doc.indexOf("## 8. Error catalogue"), doc.indexOf("## 9."));
  const rows = [...section.matchAll(/^\| (0x[0-9a-f]{2}|—) +\| ([A-Z_]+) +\| (.*?) +\|$/gm)];

  it("lists every code with its wire byte (or none) and its remedy, as the catalogue has them", () => {
    const listed = new Map(rows.map((r) => [r[2]!, { wire: r[1]!, remedy: r[3]! }]));
    for (const code of ERROR_CODES) {
      const row = listed.get(code);
      expect(row, code).toBeDefined();
      const wire = CATALOGUE[code].wire;
      expect(row!.wire, code).toBe(wire === undefined ? "—" : `0x${wire.toString(16).padStart(2, "0")}`);
      const remedy = CATALOGUE[code].remedy;
      if (typeof remedy === "string") expect(row!.remedy.replaceAll("\\|", "|"), code).toBe(remedy);
    }
  });
});
