/**
 * `openclaw air`: runs the virtual LE radio (firmware-sim/air) in the foreground, and `openclaw air ctl`
 * talks to a running one over its control socket (move devices, inject faults, read counters).
 *
 * Exit codes: 0 ok, 1 failure, 2 usage (a bad argument: INVALID_ARGUMENT, or commander's own usage
 * errors, which this subtree raises to 2).
 */
import { statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type Command, CommanderError } from "commander";
import { type ControlRequest, controlRequest, serveControl } from "../../../firmware-sim/air/control.js";
import { Air } from "../../../firmware-sim/air/index.js";
import { DEFAULT_SOCKET_MODE, parseSocketMode } from "../../../firmware-sim/air/unix-socket.js";
import { systemClock } from "../../clock/system.js";
import { OpenClawError } from "../../protocol/errors.js";

const EXIT_USAGE = 2;

/** Where `openclaw air` listens without --socket: a private directory of this user's. */
export function defaultAirSocket(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env["XDG_RUNTIME_DIR"];
  const uid = typeof process.getuid === "function" ? process.getuid() : "user";
  return runtime ? join(runtime, "openclaw", "air.sock") : join(tmpdir(), `openclaw-${uid}`, "air.sock");
}

const HELP = `
Each client connects to the socket and speaks HCI H4 to its own virtual LE controller (as with BlueZ
\`btvirt -s\`). Run noble/bleno programs on it with OPENCLAW_HCI=unix:PATH (see README), e.g.
  openclaw air                                     # listens on ${defaultAirSocket()}
  openclaw air --socket /tmp/openclaw-air.sock
  openclaw sim --hci unix:/tmp/openclaw-air.sock?label=dev1

Sockets are private to you (mode 0600, whatever the umask; --socket-mode 660 shares with your group).
Without --socket the radio listens in a private directory (created 0700; one that is not private is
refused). A client that leaves more than 1 MiB unread is dropped, and one label is one client: a second
client asking for a label in use is refused.

Control socket (default: the socket's path + .ctl; JSON lines, one request and one answer per line):
  openclaw air ctl list                                   # the default air's control socket
  openclaw air ctl --control /tmp/openclaw-air.sock.ctl counters
  openclaw air ctl --control ... move dev1 5 0             # metres; beyond ~25 m a 0 dBm device is lost
  openclaw air ctl --control ... drop dev1 --at 3          # drop dev1's link at its 3rd packet from now
  openclaw air ctl --control ... latency dev1 20 --jitter 5
  openclaw air ctl --control ... clear dev1                # remove dev1's faults
  openclaw air ctl --control ... power-cycle dev1 --off 500
  openclaw air ctl --control ... configure dev1 --tx-power -8 --sensitivity -85 --acl 27x4
A device is named by its label (?label=dev1 on the client's HCI spec), its address, or its id (c1, c2...).

Exit codes: 0 ok, 1 failure, 2 usage (a bad argument).
`;

const CTL_HELP = `
Which air: --control PATH (default: --socket PATH + ".ctl", else $OPENCLAW_AIR_CONTROL, else the default
air's ${defaultAirSocket()}.ctl).
Exit codes: 0 ok, 1 failure, 2 usage (a bad argument).
`;

function usage(detail: string, command: string): OpenClawError<"INVALID_ARGUMENT"> {
  return new OpenClawError("INVALID_ARGUMENT", { detail, command });
}

/** A number argument, or INVALID_ARGUMENT naming it and the subcommand whose help explains it. */
function num(v: string, what: string, command: string): number {
  const n = v.trim() === "" ? Number.NaN : Number(v);
  if (!Number.isFinite(n)) throw usage(`${what} must be a number, not "${v}"`, command);
  return n;
}

function int(v: string, what: string, command: string, min = Number.MIN_SAFE_INTEGER): number {
  const n = num(v, what, command);
  if (!Number.isInteger(n) || n < min) {
    throw usage(`${what} must be a whole number${min > 0 ? ` of at least ${min}` : ""}, not "${v}"`, command);
  }
  return n;
}

interface AirFlags {
  socket?: string;
  tcp?: string;
  host: string;
  control?: string;
  socketMode?: string;
  strictAtt?: boolean;
  seed?: string;
  quiet?: boolean;
}

/**
 * Refuses a directory for the default socket that others could reach into (as ssh refuses a
 * world-writable ~/.ssh): it must be ours and private. A missing one is created 0700 by the listener.
 */
function checkPrivateDir(dir: string): void {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(dir);
  } catch {
    return;
  }
  const uid = typeof process.getuid === "function" ? process.getuid() : st.uid;
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
    throw usage(
      `${dir} is not a private directory of yours (${st.isDirectory() ? `mode ${mode}, owner uid ${st.uid}` : "not a directory"}): remove it, or give --socket PATH`,
      "air",
    );
  }
}

async function runAir(flags: AirFlags): Promise<void> {
  const mode = flags.socketMode === undefined ? DEFAULT_SOCKET_MODE : parseSocketMode(flags.socketMode);
  const tcp = flags.tcp === undefined ? undefined : int(flags.tcp, "--tcp", "air", 0);
  if (tcp !== undefined && tcp > 65535) throw usage(`--tcp must be a TCP port (0-65535), not ${tcp}`, "air");
  const seed = flags.seed === undefined ? undefined : int(flags.seed, "--seed", "air");
  let socket = flags.socket;
  if (socket === undefined && tcp === undefined) {
    socket = defaultAirSocket();
    checkPrivateDir(dirname(socket));
  }
  const air = new Air({
    strictAtt: flags.strictAtt ?? false,
    clock: systemClock,
    ...(seed !== undefined ? { seed } : {}),
    log: flags.quiet ? () => {} : (line) => process.stderr.write(`${line}\n`),
  });
  const where: string[] = [];
  let control: Awaited<ReturnType<typeof serveControl>> | undefined;
  try {
    if (socket) {
      await air.listen({ path: socket, mode });
      where.push(`unix:${socket}`);
    }
    if (tcp !== undefined) {
      await air.listen({ port: tcp, host: flags.host });
      where.push(`tcp:${flags.host}:${air.tcpPort()}`);
    }
    const controlPath = flags.control ?? (socket ? `${socket}.ctl` : undefined);
    if (controlPath) control = await serveControl(air, controlPath, mode);
    process.stdout.write(
      `air listening on ${where.join(" ")}${controlPath ? ` (control ${controlPath})` : ""}\n`,
    );
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        resolve();
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
  } finally {
    await control?.close();
    await air.close();
  }
}

/** Sends one request; the air's own error (rebuilt from the catalogue) is what the CLI prints. */
async function ctl(control: string, req: ControlRequest): Promise<void> {
  const rest = await controlRequest(control, req, { clock: systemClock });
  if (Array.isArray(rest["controllers"])) {
    for (const c of rest["controllers"]) process.stdout.write(`${JSON.stringify(c)}\n`);
  } else if (Array.isArray(rest["counters"])) {
    for (const c of rest["counters"]) process.stdout.write(`${JSON.stringify(c)}\n`);
  } else {
    process.stdout.write(`${JSON.stringify({ ok: true, ...rest })}\n`);
  }
}

function parseAcl(v: string, command: string): { length: number; count: number } {
  const m = /^(\d+)x(\d+)$/.exec(v);
  if (!m) throw usage(`--acl must be LENGTHxCOUNT, e.g. 27x8, not "${v}"`, command);
  return { length: Number(m[1]), count: Number(m[2]) };
}

/** Commander's own usage errors (missing argument, unknown option) exit 2 like ours; help stays 0. */
function usageExit(err: CommanderError): never {
  if (err.exitCode !== 0 && err.code !== "commander.executeSubCommandAsync")
    throw new CommanderError(EXIT_USAGE, err.code, err.message);
  throw err;
}

export function registerAir(program: Command): void {
  const air = program
    .command("air")
    .description("Run the virtual Bluetooth LE radio: one HCI H4 controller per client (unix socket or TCP)")
    .exitOverride(usageExit)
    .showHelpAfterError("(run `openclaw air --help` for usage)")
    .option("--socket <path>", `unix socket to listen on (default without --tcp: ${defaultAirSocket()})`)
    .option("--socket-mode <octal>", "mode of the unix sockets (default 600: only you)")
    .option("--tcp <port>", "TCP port to listen on (0 picks one)")
    .option("--host <host>", "TCP address to bind", "127.0.0.1")
    .option("--control <path>", "control socket for `openclaw air ctl` (default: <socket>.ctl)")
    .option("--strict-att", "flag ATT PDUs longer than the link's ATT MTU (logged as violations)")
    .option("--seed <n>", "seed for RSSI jitter and advertising delays")
    .option("--quiet", "do not log connections, drops and violations to stderr")
    .addHelpText("after", HELP)
    .action(async (flags: AirFlags) => {
      await runAir(flags);
    });

  // `--control`/`--socket` are air's own options; ctl accepts them too (after `ctl` or before it).
  const c = air
    .command("ctl")
    .description("control a running air: move devices, inject faults, read counters")
    .showHelpAfterError("(run `openclaw air ctl --help` for usage)")
    .option("--control <path>", "the air's control socket (default: <socket>.ctl, see below)")
    .option("--socket <path>", "the running air's socket: its control socket is <path>.ctl")
    .addHelpText("after", CTL_HELP);
  const controlOf = (): string => {
    const own = c.opts() as { control?: string; socket?: string };
    const o = air.opts() as AirFlags;
    const control = own.control ?? o.control;
    const socket = own.socket ?? o.socket;
    return (
      control ??
      (socket ? `${socket}.ctl` : undefined) ??
      process.env["OPENCLAW_AIR_CONTROL"] ??
      `${defaultAirSocket()}.ctl`
    );
  };

  c.command("list")
    .description("list controllers (one JSON object per line)")
    .action(async () => ctl(controlOf(), { op: "list" }));
  c.command("counters")
    .description("per central/peripheral pair: adverts, connection events, packets each way (JSON lines)")
    .action(async () => ctl(controlOf(), { op: "counters" }));
  c.command("violations")
    .description("how many host misbehaviours (oversized ATT PDUs, ACL overruns) the air has flagged")
    .action(async () => ctl(controlOf(), { op: "violations" }));
  c.command("move <who> <x> <y>")
    .description("move a device to (x, y) metres")
    .action(async (who: string, x: string, y: string) =>
      ctl(controlOf(), {
        op: "move",
        who,
        x: num(x, "x (metres)", "air ctl move"),
        y: num(y, "y (metres)", "air ctl move"),
      }),
    );
  c.command("drop <who>")
    .description("drop the device's link at its Nth packet from now")
    .requiredOption("--at <n>", "packet number (1 = the next one)")
    .action(async (who: string, o: { at: string }) =>
      ctl(controlOf(), { op: "fault", who, dropAtPacket: int(o.at, "--at", "air ctl drop", 1) }),
    );
  c.command("latency <who> <ms>")
    .description("delay every packet to or from the device")
    .option("--jitter <ms>", "extra random delay up to this many ms (order is kept)")
    .action(async (who: string, ms: string, o: { jitter?: string }) => {
      const latencyMs = num(ms, "the latency (ms)", "air ctl latency");
      const jitterMs = o.jitter === undefined ? undefined : num(o.jitter, "--jitter (ms)", "air ctl latency");
      if (latencyMs < 0 || (jitterMs ?? 0) < 0)
        throw usage("latency and jitter are 0 ms or more", "air ctl latency");
      await ctl(controlOf(), {
        op: "fault",
        who,
        latencyMs,
        ...(jitterMs !== undefined ? { jitterMs } : {}),
      });
    });
  c.command("clear <who>")
    .description("remove the device's faults")
    .action(async (who: string) => ctl(controlOf(), { op: "fault", who }));
  c.command("power-cycle <who>")
    .description("power the device's controller off and on (its links drop; it comes back reset)")
    .option("--off <ms>", "how long it stays off", "500")
    .action(async (who: string, o: { off: string }) =>
      ctl(controlOf(), { op: "power-cycle", who, offMs: int(o.off, "--off (ms)", "air ctl power-cycle", 0) }),
    );
  c.command("configure <who>")
    .description('change radio settings ("*" for every device and the defaults)')
    .option("--tx-power <dBm>", "transmit power")
    .option("--sensitivity <dBm>", "receiver sensitivity floor")
    .option("--acl <LxN>", "ACL buffers: fragment length x count (LE Read Buffer Size)")
    .option("--ll-payload <bytes>", "LL data PDU payload (27, or up to 251 with data length extension)")
    .option("--packets-per-event <n>", "LL PDUs per direction per connection event")
    .option("--jitter <dB>", "RSSI jitter, +/- dB")
    .action(
      async (
        who: string,
        o: {
          txPower?: string;
          sensitivity?: string;
          acl?: string;
          llPayload?: string;
          packetsPerEvent?: string;
          jitter?: string;
        },
      ) => {
        const cmd = "air ctl configure";
        const config: Extract<ControlRequest, { op: "configure" }>["config"] = {};
        if (o.txPower !== undefined) config.txPowerDbm = num(o.txPower, "--tx-power (dBm)", cmd);
        if (o.sensitivity !== undefined)
          config.sensitivityDbm = num(o.sensitivity, "--sensitivity (dBm)", cmd);
        if (o.acl !== undefined) config.aclBuffers = parseAcl(o.acl, cmd);
        if (o.llPayload !== undefined) config.llPayloadBytes = int(o.llPayload, "--ll-payload", cmd, 1);
        if (o.packetsPerEvent !== undefined)
          config.packetsPerEvent = int(o.packetsPerEvent, "--packets-per-event", cmd, 1);
        if (o.jitter !== undefined) config.rssiJitterDb = num(o.jitter, "--jitter (dB)", cmd);
        await ctl(controlOf(), { op: "configure", who, config });
      },
    );
}
