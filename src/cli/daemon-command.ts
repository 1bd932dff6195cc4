/**
 * What every laptop-side command shares: the options that pick the daemon (`--state-dir`, `--hci`),
 * `--json`, usage errors with exit status 2 (and as a JSON error document under --json), and the run
 * loop: connect (starting a daemon when none runs), run, print the failure as cause and remedy, set
 * the exit status, hang up.
 */
import { type Command, CommanderError, Option } from "commander";
import { type Clock, systemClock } from "../clock/index.js";
import type { RpcClient } from "../daemon/rpc/client.js";
import { OpenClawError } from "../protocol/errors.js";
import { connectDaemon, type DaemonConnection } from "./client.js";
import { EXIT, Output } from "./output.js";

export interface DaemonFlags {
  stateDir?: string;
  hci?: string;
  json?: boolean;
}

/** Adds --state-dir, --hci and --json, and makes usage errors exit 2. */
export function daemonOptions(cmd: Command, o: { json?: boolean } = {}): Command {
  cmd
    .addOption(
      new Option("--state-dir <dir>", "this laptop's state directory (bonds, identity, logs)").env(
        "OPENCLAW_STATE_DIR",
      ),
    )
    .addOption(
      new Option(
        "--hci <spec>",
        "radio for a daemon this command starts: hciN, unix:PATH[?label=x] (the virtual air), tcp:HOST:PORT",
      ).env("OPENCLAW_HCI"),
    );
  if (o.json !== false) cmd.option("--json", "print one JSON document on stdout (errors too)");
  return usageExit(cmd);
}

/** Commander's usage errors exit 2 (1 is for failed operations); under --json also as a JSON document. */
export function usageExit(cmd: Command): Command {
  return cmd.exitOverride((err) => {
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.exitCode === 0)
      throw err;
    if (process.argv.includes("--json")) {
      const e = new OpenClawError("INVALID_ARGUMENT", {
        detail: err.message.replace(/^error: /, ""),
        command: cmd.name(),
      });
      process.stdout.write(
        `${JSON.stringify({ error: { code: e.code, message: e.message, remedy: e.remedy, details: e.details } }, null, 2)}\n`,
      );
    }
    throw new CommanderError(EXIT.usage, err.code, err.message);
  });
}

export interface RunContext {
  out: Output;
  clock: Clock;
  flags: DaemonFlags;
  /** Connects to (or starts) the daemon, once. */
  daemon(): Promise<DaemonConnection>;
  /** The connected client (daemon() first). */
  client(): Promise<RpcClient>;
}

/**
 * Runs a command body with an Output and a lazy daemon connection; failures are printed (cause and
 * remedy, or the JSON error) and become the exit status. Never throws.
 */
export async function runCommand(
  flags: DaemonFlags,
  body: (ctx: RunContext) => Promise<void>,
  o: { what?: string } = {},
): Promise<void> {
  const out = new Output({ json: flags.json === true });
  const interrupt = onInterrupt(o.what ?? "the command");
  const clock = systemClock;
  let conn: Promise<DaemonConnection> | undefined;
  const daemon = () => {
    conn ??= (async () => {
      const progress = out.progress(clock);
      try {
        return await connectDaemon({
          ...(flags.stateDir !== undefined ? { stateDir: flags.stateDir } : {}),
          ...(flags.hci !== undefined ? { hci: flags.hci } : {}),
          clock,
          onStarting: (paths) => progress.step(`starting the openclaw daemon for ${paths.stateDir}…`),
        });
      } finally {
        progress.stop();
      }
    })();
    return conn;
  };
  const ctx: RunContext = {
    out,
    clock,
    flags,
    daemon,
    client: async () => (await daemon()).client,
  };
  try {
    await Promise.race([body(ctx), interrupt.interrupted]);
    if (conn) {
      const c = await conn;
      if (flags.hci !== undefined && !c.started && c.hello.hci !== flags.hci)
        out.warn(
          `the running daemon uses ${c.hello.hci}; --hci ${flags.hci} applies only to a daemon this command starts (stop it with \`openclaw daemon stop\`)`,
        );
    }
  } catch (err) {
    process.exitCode = out.fail(err);
  } finally {
    interrupt.off();
    if (conn)
      await conn.then(
        (c) => c.client.close(),
        () => {},
      );
  }
}

/**
 * Ctrl-C (SIGINT) while a command waits on the daemon becomes CANCELLED: printed, exit 130, instead of a
 * silent death by the signal. Hanging up is what tells the daemon: it cancels what this connection
 * started (a prepared pairing is dropped; one past its commit is kept whole and verified later).
 * A prompt reads Ctrl-C itself (raw mode) and reports CANCELLED the same way.
 */
function onInterrupt(what: string): { interrupted: Promise<never>; off(): void } {
  let listener: (() => void) | undefined;
  const interrupted = new Promise<never>((_, reject) => {
    listener = () => reject(new OpenClawError("CANCELLED", { what }));
    process.once("SIGINT", listener);
  });
  // Never an unhandled rejection: the race above is the one that reports it.
  interrupted.catch(() => {});
  return {
    interrupted,
    off: () => {
      if (listener) process.off("SIGINT", listener);
    },
  };
}
