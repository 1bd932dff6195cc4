/**
 * The `--json-events` stream: one JSON object per line on stdout for everything a person would see on
 * the device or that happened to it, and the stdin commands that stand in for its physical controls.
 * Tests and tools read this instead of scraping the screen. Nothing here carries keys; the only secret
 * is the pairing code in `display`, which is exactly what the device's screen shows anyway.
 */
import { createInterface, emitKeypressEvents, type Key } from "node:readline";
import type { Readable, Writable } from "node:stream";
import type { Clock } from "../../src/clock/index.js";

import type { Role, WindowCloseReason, WindowOpenReason } from "../../src/protocol/accessory/types.js";
import { isOpenClawError, OpenClawError, type OpenClawErrorJson } from "../../src/protocol/errors.js";
import type { CodeFormatName } from "../../src/protocol/messages/info.js";

export type { CodeFormatName, Role, WindowCloseReason, WindowOpenReason };

export type SimEvent =
  | {
      type: "ready";
      id: string;
      name: string;
      address: string;
      slots: number;
      bonds: number;
      format: CodeFormatName;
    }
  | { type: "advertising"; name: string; windowOpen: boolean; bytes: { adv: number; scan: number } }
  | {
      type: "display";
      /** The code as the screen shows it ("123 456" / "OCL-7K4Q-92XM-J"). */
      code: string;
      format: CodeFormatName;
      expiresInMs: number;
      /** When it expires, on the device's monotonic clock (the clock of every event's `t`). */
      expiresAt: number;
      attemptsLeft: number;
      /** Why this code is on screen. */
      reason: WindowOpenReason;
    }
  /** A window opened by an admin's `share`: its code is shown on that laptop, not on this screen. */
  | { type: "window-shared"; role: Role; expiresInMs: number }
  | { type: "wrong-code"; attemptsLeft: number }
  | { type: "window-closed"; reason: WindowCloseReason }
  | { type: "locked-out"; retryAfterMs: number }
  | { type: "connected"; peer: string }
  | { type: "mtu"; peer: string; mtu: number }
  | { type: "disconnected"; peer: string; reason: string }
  /** The device dropped an unauthenticated central (no progress in time, or a failed exchange). */
  | { type: "hang-up"; peer: string; reason: string }
  | { type: "bonded"; peerId: string; role: Role; name: string; provisional: boolean }
  | { type: "verified"; peerId: string; role: Role }
  | { type: "bond-confirmed"; peerId: string }
  | { type: "bond-expired"; peerId: string }
  | { type: "removed"; peerId: string; by: string }
  | { type: "factory-reset" }
  | { type: "app"; op: string; detail?: Readonly<Record<string, string | number | boolean>> }
  | { type: "status"; bonds: number; slots: number; windowOpen: boolean; connected: boolean }
  /** Something the device repaired or had to refuse; `error` is the catalogue error when there is one. */
  | { type: "warning"; message: string; error?: OpenClawErrorJson }
  /** Something went wrong: always a catalogue error (code, message, remedy, details). */
  | ({ type: "error" } & OpenClawErrorJson)
  /** Answer to a JSON request; carries its number as both `req` and `id` (test/helpers/proc.ts uses req). */
  | {
      type: "result";
      req: number;
      id: number;
      ok: boolean;
      value?: unknown;
      error?: OpenClawErrorJson;
    }
  | { type: "bye" };

export type SimEventType = SimEvent["type"];

/** Any failure as a catalogue error: an OpenClawError as it is, anything else (a bug) as INTERNAL. */
export function catalogueError(err: unknown): OpenClawError {
  if (isOpenClawError(err)) return err;
  return new OpenClawError("INTERNAL", { detail: err instanceof Error ? err.message : String(err) });
}

/** The `error` event for a failure. */
export function errorEvent(err: unknown): Extract<SimEvent, { type: "error" }> {
  return { type: "error", ...catalogueError(err).toJSON() };
}

export interface EventSink {
  emit(event: SimEvent): void;
}

/** Writes each event as one JSON line. A broken pipe (reader went away) silences it instead of crashing. */
export class JsonLinesSink implements EventSink {
  private broken = false;

  /** `clock`: event times `t` are its monotonic ms (the device's clock, so they match its deadlines). */
  constructor(
    private readonly out: Writable,
    private readonly clock: Pick<Clock, "now">,
  ) {
    out.on("error", () => {
      this.broken = true;
    });
  }

  emit(event: SimEvent): void {
    if (this.broken) return;
    this.out.write(`${JSON.stringify({ ...event, t: Math.round(this.clock.now()) })}\n`);
  }
}

/** Fans one event out to several sinks (JSON stream and the human display's log line, for instance). */
export class TeeSink implements EventSink {
  constructor(private readonly sinks: EventSink[]) {}
  emit(event: SimEvent): void {
    for (const s of this.sinks) s.emit(event);
  }
}

/** What the physical controls (and the test harness) can do. */
export type SimCommandKind =
  /** Short press: open a pairing window (or show a fresh code). */
  | "button"
  /** Long press (held 10 s on hardware): erase bonds and identity. */
  | "factory-reset"
  | "status"
  | "quit";

/** `id` is set for JSON requests `{"req":n,"cmd":"button"}` (or `id`), which get a `result` event back. */
export interface SimCommand {
  kind: SimCommandKind;
  id?: number;
}

const COMMAND_WORDS = new Map<string, SimCommandKind>([
  ["button", "button"],
  ["press", "button"],
  ["factory-reset", "factory-reset"],
  ["long-press", "factory-reset"],
  ["status", "status"],
  ["quit", "quit"],
  ["exit", "quit"],
]);

/**
 * Parses one stdin line: a bare word (`button`, `factory-reset` / `long-press`, `status`, `quit`) or a
 * JSON object `{"cmd":"button"}`. Returns undefined for anything else (reported, not fatal).
 */
export function parseCommand(line: string): SimCommand | undefined {
  let word = line.trim();
  let id: number | undefined;
  if (word.startsWith("{")) {
    try {
      const obj = JSON.parse(word) as { cmd?: unknown; id?: unknown; req?: unknown };
      word = typeof obj.cmd === "string" ? obj.cmd : "";
      const n = obj.req ?? obj.id;
      if (typeof n === "number" && Number.isInteger(n)) id = n;
    } catch {
      return undefined;
    }
  }
  const kind = COMMAND_WORDS.get(word.toLowerCase());
  if (!kind) return undefined;
  return id === undefined ? { kind } : { kind, id };
}

/** Reads commands line by line; returns a function that stops reading. */
export function readCommands(
  input: Readable,
  onCommand: (cmd: SimCommand) => void,
  onUnknown: (line: string) => void,
  onEnd?: () => void,
): () => void {
  const rl = createInterface({ input, terminal: false });
  rl.on("line", (line) => {
    if (line.trim() === "") return;
    const cmd = parseCommand(line);
    if (cmd) onCommand(cmd);
    else onUnknown(line);
  });
  if (onEnd) rl.on("close", onEnd);
  return () => rl.close();
}

/** What the keys do, shown under the screen when stdin is a terminal. */
export const KEY_LEGEND = "b button · r factory reset (twice) · s status · q quit";

/** A first `r` waits this long for the second that confirms it (the real device wants a 10 s hold). */
export const RESET_CONFIRM_MS = 3000;

export type KeyOutcome =
  /** Run this command. */
  | { kind: "command"; command: SimCommandKind }
  /** First `r`: a second `r` before `until` (the clock passed in as `now`) confirms the factory reset. */
  | { kind: "confirm-reset"; until: number }
  /** Not a control key. */
  | { kind: "ignored" };

/**
 * Maps one key (as readline's `keypress` reports it) to what it does: `b` or space presses the button,
 * `r` twice within RESET_CONFIRM_MS is a factory reset, `s` status, `q` or Ctrl-C quit. Pure: the
 * caller keeps `resetArmedUntil` from the last `confirm-reset` and drops it on any other outcome, so
 * any other key cancels a pending reset.
 */
export function keyCommand(key: Key, now: number, resetArmedUntil?: number): KeyOutcome {
  const name = key.name?.toLowerCase();
  if (key.ctrl) return name === "c" ? { kind: "command", command: "quit" } : { kind: "ignored" };
  if (key.meta) return { kind: "ignored" };
  switch (name) {
    case "b":
    case "space":
      return { kind: "command", command: "button" };
    case "r":
      return resetArmedUntil !== undefined && now < resetArmedUntil
        ? { kind: "command", command: "factory-reset" }
        : { kind: "confirm-reset", until: now + RESET_CONFIRM_MS };
    case "s":
      return { kind: "command", command: "status" };
    case "q":
      return { kind: "command", command: "quit" };
    default:
      return { kind: "ignored" };
  }
}

/**
 * Reads single keys from a terminal in raw mode (no echo, no line editing, Ctrl-C arrives as a key).
 * Returns a function that stops reading and restores the terminal's mode; it also runs on process
 * exit, so an error or `process.exit` elsewhere never leaves the terminal raw.
 */
export function readKeys(input: NodeJS.ReadStream, onKey: (key: Key) => void): () => void {
  emitKeypressEvents(input);
  const wasRaw = input.isRaw;
  const listener = (_text: string | undefined, key: Key | undefined) => {
    if (key) onKey(key);
  };
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    process.off("exit", stop);
    input.off("keypress", listener);
    try {
      input.setRawMode(wasRaw);
    } catch {
      // the terminal is gone (hung up): nothing to restore
    }
    input.pause();
  };
  process.on("exit", stop);
  input.setRawMode(true);
  input.on("keypress", listener);
  input.resume();
  return stop;
}
