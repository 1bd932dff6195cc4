/**
 * Runs one simulated device as a program: wires the device to stdout (JSON events or the drawn screen),
 * stdin and signals, and resolves with the exit code once it has shut down cleanly. stdin carries
 * command lines (button, factory-reset, status, quit), or, when it is a terminal and the screen is
 * drawn, single keys read in raw mode (see keyCommand).
 */
import { fstatSync } from "node:fs";
import { type Clock, scaledClock, type TimerHandle } from "../../src/clock/index.js";
import { warmTables } from "../../src/protocol/crypto/spake2plus.js";
import { isOpenClawError } from "../../src/protocol/errors.js";
import type { StateLock } from "../../src/store/state-dir.js";
import { VERSION } from "../../src/version.js";
import { type DeviceDeps, SimDevice } from "./device.js";
import { TtyDisplay } from "./display.js";
import {
  catalogueError,
  type EventSink,
  errorEvent,
  JsonLinesSink,
  KEY_LEGEND,
  keyCommand,
  RESET_CONFIRM_MS,
  readCommands,
  readKeys,
  type SimCommand,
  type SimEvent,
} from "./events.js";
import type { DeviceOptions } from "./options.js";
import type { SaveCause } from "./state.js";

export interface RunOptions {
  /** The real clock (the entry point passes systemClock); the device's runs `timeScale` times faster. */
  clock: Clock;
  /** Device time runs this much faster than real time (hidden testing option). */
  timeScale?: number;
  /** The state directory's lock, when the caller took it already (before bringing up a radio). */
  lock?: StateLock;
}

/** Human mode: a few events become lines under the screen; the screen itself shows the rest. */
function humanLine(e: SimEvent): string | undefined {
  switch (e.type) {
    case "ready":
      return `${e.name} (device id ${e.id}, address ${e.address}) is up: ${e.bonds}/${e.slots} pairings`;
    case "connected":
      return `connected: ${e.peer}`;
    case "disconnected":
      return `disconnected: ${e.peer}`;
    case "hang-up":
      return `hung up on ${e.peer}: ${e.reason}`;
    case "bonded":
      return `paired with ${e.name} (${e.role}${e.provisional ? ", until it reconnects once" : ""})`;
    case "verified":
      return `verified ${e.peerId.slice(0, 8)}… (${e.role})`;
    case "removed":
      return `pairing ${e.peerId.slice(0, 8)}… removed`;
    case "bond-expired":
      return `pairing ${e.peerId.slice(0, 8)}… expired before it was ever used`;
    case "factory-reset":
      return "factory reset: bonds and identity erased";
    case "app":
      return `app: ${e.op}`;
    case "warning":
      return `warning: ${e.message}`;
    case "error":
      return `error: ${e.message}${e.remedy ? ` — ${e.remedy}` : ""}`;
    case "status":
      return `${e.bonds}/${e.slots} pairings, window ${e.windowOpen ? "open" : "closed"}, ${e.connected ? "connected" : "idle"}`;
    default:
      return undefined;
  }
}

/** A pipe or socket on stdin means a program drives us: its end is our end. A TTY or /dev/null is not. */
function stdinIsDriven(): boolean {
  try {
    const st = fstatSync(0);
    return st.isFIFO() || st.isSocket();
  } catch {
    return false;
  }
}

/**
 * Testing hook for crash-consistency tests: `OPENCLAW_SIM_CRASH_AT=<cause>:<point>` (cause: boot,
 * identity, bonds, guard or reset; point: temp-written or renamed) kills this process with SIGKILL at that
 * step of the first state write made for that cause — a power cut at a chosen instant.
 */
export function crashHook(spec: string | undefined): DeviceDeps["onWritePoint"] {
  if (!spec) return undefined;
  const [cause, point] = spec.split(":");
  return async (causes, at) => {
    if (at !== point || !causes.includes(cause as SaveCause)) return;
    process.kill(process.pid, "SIGKILL");
    await new Promise(() => {}); // SIGKILL lands before this write goes any further
  };
}

export async function runDevice(options: DeviceOptions, run: RunOptions): Promise<number> {
  const timeScale = run.timeScale ?? 1;
  // Curve tables before the window opens, so the first pair-setup costs what a warm one does.
  warmTables();
  // The device's own time (window, lockout, provisional expiry); people's time stays run.clock.
  const clock = scaledClock(run.clock, timeScale);
  let sink: EventSink;
  let screen: TtyDisplay | undefined;
  if (options.jsonEvents) {
    sink = new JsonLinesSink(process.stdout, clock);
  } else {
    const display = new TtyDisplay(process.stdout, clock, 1000 * timeScale);
    screen = display;
    sink = {
      emit: (e) => {
        const line = humanLine(e);
        if (line) display.log(line);
      },
    };
  }

  let fatal: ((code: number) => void) | undefined;
  const device = await SimDevice.boot(options, {
    onFatal: () => fatal?.(1), // an operational failure (docs/cli.md: exit status), not usage
    sink,
    ...(screen ? { showScreen: (s) => screen.show(s) } : {}),
    clock,
    firmware: VERSION,
    timeScale,
    ...(run.lock ? { lock: run.lock } : {}),
    ...(process.env["OPENCLAW_SIM_CRASH_AT"]
      ? { onWritePoint: crashHook(process.env["OPENCLAW_SIM_CRASH_AT"]) }
      : {}),
  });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (code: number) => {
      if (stopping) return;
      stopping = true;
      stopReading();
      await device.stop();
      screen?.close();
      sink.emit({ type: "bye" });
      resolve(code);
    };

    const reply = (cmd: SimCommand, ok: boolean, value?: unknown, err?: unknown) => {
      if (cmd.id === undefined || !options.jsonEvents) return;
      const n = cmd.id;
      if (ok) sink.emit({ type: "result", req: n, id: n, ok, ...(value !== undefined ? { value } : {}) });
      else sink.emit({ type: "result", req: n, id: n, ok, error: catalogueError(err).toJSON() });
    };

    const onCommand = async (cmd: SimCommand) => {
      try {
        switch (cmd.kind) {
          case "button":
            reply(cmd, true, device.pressButton());
            break;
          case "factory-reset":
            await device.factoryReset();
            reply(cmd, true);
            break;
          case "status": {
            const status = device.status();
            sink.emit(status);
            reply(cmd, true, status);
            break;
          }
          case "quit":
            reply(cmd, true);
            await stop(0);
            break;
        }
      } catch (err) {
        // LOCKED_OUT from the button is shown on the screen (and as a locked-out event) already.
        if (!(isOpenClawError(err) && err.is("LOCKED_OUT"))) sink.emit(errorEvent(err));
        reply(cmd, false, undefined, err);
      }
    };

    const readLines = () => {
      const driven = stdinIsDriven();
      return readCommands(
        process.stdin,
        (cmd) => void onCommand(cmd),
        (line) =>
          sink.emit({
            type: "warning",
            message: `unknown command ${JSON.stringify(line.slice(0, 40))}: use button, factory-reset, status or quit`,
          }),
        () => {
          if (driven) void stop(0);
        },
      );
    };

    /** A person at a terminal: keys are the device's controls; a factory reset wants `r` twice. */
    const readKeyControls = (display: TtyDisplay) => {
      const keyClock = run.clock; // the person's time, not the device's (--time-scale)
      let resetArmedUntil: number | undefined;
      let disarm: TimerHandle | undefined;
      const arm = (until: number | undefined) => {
        resetArmedUntil = until;
        keyClock.clearTimeout(disarm);
        disarm =
          until === undefined
            ? undefined
            : keyClock.setTimeout("sim.reset-confirm", until - keyClock.now(), () => arm(undefined));
        const seconds = Math.round(RESET_CONFIRM_MS / 1000);
        display.setFooter({
          prompt:
            until === undefined
              ? undefined
              : `press r again within ${seconds} s to erase all pairings (factory reset)`,
          legend: KEY_LEGEND,
        });
      };
      arm(undefined);
      const stopKeys = readKeys(process.stdin, (key) => {
        const outcome = keyCommand(key, keyClock.now(), resetArmedUntil);
        arm(outcome.kind === "confirm-reset" ? outcome.until : undefined);
        if (outcome.kind === "command") void onCommand({ kind: outcome.command });
      });
      return () => {
        keyClock.clearTimeout(disarm);
        disarm = undefined;
        stopKeys();
      };
    };

    const stopReading = screen && process.stdin.isTTY === true ? readKeyControls(screen) : readLines();
    fatal = (code) => void stop(code);
    // Registered after bleno's own SIGINT handler, so ours runs last and bleno does not exit(1) first.
    process.on("SIGINT", () => void stop(0));
    process.on("SIGTERM", () => void stop(0));
  });
}
