/**
 * `openclaw daemon`: runs the daemon in the foreground (for systemd: logs to stderr and its file, never
 * idles out); `openclaw daemon status` and `openclaw daemon stop` ask a running one. A CLI command that
 * needs a daemon starts one itself (`--on-demand`, hidden), which idles out.
 */
import { type Command, Option } from "commander";
import { systemClock } from "../../clock/index.js";
import { LOG_LEVELS, type LogLevel } from "../../daemon/process/log-levels.js";
import { isOpenClawError, OpenClawError } from "../../protocol/errors.js";
import { type DaemonFlags, daemonOptions, runCommand } from "../daemon-command.js";
import { EXIT, formatDuration, Output } from "../output.js";

interface RunFlags extends DaemonFlags {
  logLevel?: LogLevel;
  onDemand?: boolean;
  idleTimeoutMs?: string;
}

async function runForeground(flags: RunFlags): Promise<number> {
  // First: the heap settings hold for what the imports below allocate.
  const { keepYoungGenerationSmall } = await import("../../daemon/process/memory.js");
  keepYoungGenerationSmall();
  const { startDaemon } = await import("../../daemon/process/daemon.js");
  const { defaultParts } = await import("../../daemon/process/parts.js");
  const onDemand = flags.onDemand === true;
  let idleTimeoutMs: number | undefined;
  if (flags.idleTimeoutMs !== undefined) {
    idleTimeoutMs = Number(flags.idleTimeoutMs);
    if (!Number.isInteger(idleTimeoutMs) || idleTimeoutMs < 100)
      throw new OpenClawError("INVALID_ARGUMENT", {
        detail: "--idle-timeout-ms must be a whole number ≥ 100",
        command: "daemon",
      });
  }
  // noble and bleno print to the console; a daemon's stdout is no place for that.
  console.log = (...args: unknown[]) => console.error(...args);
  const daemon = await startDaemon(
    {
      ...(flags.stateDir !== undefined ? { stateDir: flags.stateDir } : {}),
      ...(flags.hci !== undefined ? { hci: flags.hci } : {}),
      ...(flags.logLevel !== undefined ? { logLevel: flags.logLevel } : {}),
      ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}),
      onDemand,
      ...(onDemand ? { readyFd: 3 } : {}),
    },
    defaultParts(systemClock),
  );
  if (!onDemand)
    process.stderr.write(
      `openclaw daemon ${daemon.hello.version} for ${daemon.paths.stateDir} on ${daemon.hello.hci}\n` +
        `  control socket ${daemon.paths.socketPath}, log ${daemon.paths.logFile}; Ctrl-C stops it\n`,
    );
  const onSignal = (sig: NodeJS.Signals) => void daemon.stop(`signal ${sig}`);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.once("SIGHUP", onSignal);
  return daemon.stopped;
}

export function registerDaemon(program: Command): void {
  const daemon = daemonOptions(
    program
      .command("daemon")
      .description(
        "Run the openclaw daemon in the foreground (systemd); `daemon status` / `daemon stop` ask a running one",
      )
      .addOption(new Option("--log-level <level>", "log level").choices(LOG_LEVELS).env("OPENCLAW_LOG_LEVEL"))
      .addOption(
        new Option("--on-demand", "started by a CLI command: idle out, log to the file only").hideHelp(),
      )
      .addOption(new Option("--idle-timeout-ms <ms>", "testing: idle timeout when on demand").hideHelp()),
    { json: false },
  ).action(async (flags: RunFlags) => {
    let code: number;
    try {
      code = await runForeground(flags);
    } catch (err) {
      code = new Output({}).fail(err);
      if (isOpenClawError(err) && err.is("STATE_LOCKED")) code = EXIT.failure;
    }
    // noble keeps its HCI socket and timers alive: a daemon that stopped ends the process.
    process.exit(code);
  });

  daemonOptions(
    daemon.command("status").description("Show the running daemon: pid, socket, radio, bonds, sessions"),
  ).action((_flags: DaemonFlags, cmd: Command) =>
    // The parent `daemon` has the same options: commander may have given them to it.
    runCommand(cmd.optsWithGlobals<DaemonFlags>(), async ({ out, clock, flags }) => {
      const { connectDaemon } = await import("../client.js");
      const conn = await connectDaemon({
        ...(flags.stateDir !== undefined ? { stateDir: flags.stateDir } : {}),
        clock,
        start: false,
      });
      try {
        const s = await conn.client.call("daemon.status");
        if (out.json) return out.result(s);
        out.line(
          `openclaw daemon ${s.version}, pid ${s.pid}, up ${formatDuration(s.uptimeMs)}${s.onDemand ? " (started on demand)" : ""}`,
        );
        out.line(`  state dir   ${s.stateDir}`);
        out.line(`  socket      ${s.socketPath}`);
        out.line(`  log         ${s.logFile}`);
        out.line(`  radio       ${s.hci}`);
        out.line(`  laptop      ${s.name} (controller ${s.controllerId})`);
        out.line(
          `  bonds       ${s.bonds}; devices in range ${s.discovered}; sessions open ${s.sessions.length}`,
        );
        if (s.idleTimeoutMs !== null)
          out.line(`  idles out   after ${formatDuration(s.idleTimeoutMs)} without a client`);
        for (const q of s.quarantined)
          out.line(out.c.yellow(`  quarantined ${q.file} → ${q.quarantinedAs} (${q.reason})`));
      } finally {
        conn.client.close();
      }
    }),
  );

  daemonOptions(daemon.command("stop").description("Stop the running daemon cleanly")).action(
    (_flags: DaemonFlags, cmd: Command) =>
      runCommand(cmd.optsWithGlobals<DaemonFlags>(), async ({ out, clock, flags }) => {
        const { connectDaemon } = await import("../client.js");
        let conn: Awaited<ReturnType<typeof connectDaemon>>;
        try {
          conn = await connectDaemon({
            ...(flags.stateDir !== undefined ? { stateDir: flags.stateDir } : {}),
            clock,
            start: false,
          });
        } catch (err) {
          if (isOpenClawError(err) && err.is("DAEMON_UNAVAILABLE") && /no daemon/.test(err.details.detail)) {
            if (out.json) out.result({ stopped: false, running: false });
            else out.line("no daemon is running for this state directory");
            return;
          }
          throw err;
        }
        const pid = conn.hello.pid;
        const closed = new Promise<void>((r) => conn.client.onClose(() => r()));
        await conn.client.call("daemon.shutdown");
        await closed;
        if (out.json) out.result({ stopped: true, pid });
        else out.line(`daemon ${pid} stopped`);
      }),
  );
}
