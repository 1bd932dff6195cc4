/**
 * `openclaw air`: runs the virtual LE radio (firmware-sim/air) in the foreground, and `openclaw air ctl`
 * talks to a running one over its control socket (move devices, inject faults, read counters).
 */
import { type Command, InvalidArgumentError } from "commander";
import { type ControlRequest, controlRequest, serveControl } from "../../../firmware-sim/air/control.js";
import { Air } from "../../../firmware-sim/air/index.js";
import { OpenClawError } from "../../protocol/errors.js";

const HELP = `
Each client connects to the socket and speaks HCI H4 to its own virtual LE controller (as with BlueZ
\`btvirt -s\`). Run noble/bleno programs on it with OPENCLAW_HCI=unix:PATH (see README), e.g.
  openclaw air --socket /tmp/openclaw-air.sock
  openclaw sim --hci unix:/tmp/openclaw-air.sock?label=dev1

Control socket (default PATH.ctl; JSON lines, one request and one answer per line):
  openclaw air ctl --control /tmp/openclaw-air.sock.ctl list
  openclaw air ctl --control /tmp/openclaw-air.sock.ctl counters
  openclaw air ctl --control ... move dev1 5 0             # metres; beyond ~25 m a 0 dBm device is lost
  openclaw air ctl --control ... drop dev1 --at 3          # drop dev1's link at its 3rd packet from now
  openclaw air ctl --control ... latency dev1 20 --jitter 5
  openclaw air ctl --control ... clear dev1                # remove dev1's faults
  openclaw air ctl --control ... power-cycle dev1 --off 500
  openclaw air ctl --control ... configure dev1 --tx-power -8 --sensitivity -85 --acl 27x4
A device is named by its label (?label=dev1 on the client's HCI spec), its address, or its id (c1, c2...).
`;

function int(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError("expected an integer");
  return n;
}

function num(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError("expected a number");
  return n;
}

function port(v: string): number {
  const n = int(v);
  if (n < 0 || n > 65535) throw new InvalidArgumentError("expected a TCP port (0-65535)");
  return n;
}

interface AirFlags {
  socket?: string;
  tcp?: number;
  host: string;
  control?: string;
  strictAtt?: boolean;
  seed?: number;
  quiet?: boolean;
}

async function runAir(flags: AirFlags): Promise<void> {
  if (!flags.socket && flags.tcp === undefined) {
    throw new OpenClawError("INVALID_ARGUMENT", { detail: "give --socket PATH and/or --tcp PORT" });
  }
  const air = new Air({
    strictAtt: flags.strictAtt ?? false,
    ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
    log: flags.quiet ? () => {} : (line) => process.stderr.write(`${line}\n`),
  });
  const where: string[] = [];
  let control: Awaited<ReturnType<typeof serveControl>> | undefined;
  try {
    if (flags.socket) {
      await air.listen({ path: flags.socket });
      where.push(`unix:${flags.socket}`);
    }
    if (flags.tcp !== undefined) {
      await air.listen({ port: flags.tcp, host: flags.host });
      where.push(`tcp:${flags.host}:${air.tcpPort()}`);
    }
    const controlPath = flags.control ?? (flags.socket ? `${flags.socket}.ctl` : undefined);
    if (controlPath) control = await serveControl(air, controlPath);
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

async function ctl(control: string, req: ControlRequest): Promise<void> {
  const res = await controlRequest(control, req);
  if (!res.ok) {
    throw new OpenClawError("INVALID_ARGUMENT", { detail: res.error.detail ?? res.error.message });
  }
  const { ok: _ok, ...rest } = res;
  if (Array.isArray(rest["controllers"])) {
    for (const c of rest["controllers"]) process.stdout.write(`${JSON.stringify(c)}\n`);
  } else if (Array.isArray(rest["counters"])) {
    for (const c of rest["counters"]) process.stdout.write(`${JSON.stringify(c)}\n`);
  } else {
    process.stdout.write(`${JSON.stringify({ ok: true, ...rest })}\n`);
  }
}

function parseAcl(v: string): { length: number; count: number } {
  const m = /^(\d+)x(\d+)$/.exec(v);
  if (!m) throw new InvalidArgumentError("expected LENGTHxCOUNT, e.g. 27x8");
  return { length: Number(m[1]), count: Number(m[2]) };
}

export function registerAir(program: Command): void {
  const air = program
    .command("air")
    .description("Run the virtual Bluetooth LE radio: one HCI H4 controller per client (unix socket or TCP)")
    .option("--socket <path>", "unix socket to listen on")
    .option("--tcp <port>", "TCP port to listen on (0 picks one)", port)
    .option("--host <host>", "TCP address to bind", "127.0.0.1")
    .option("--control <path>", "control socket for `openclaw air ctl` (default: <socket>.ctl)")
    .option("--strict-att", "flag ATT PDUs longer than the link's ATT MTU (logged as violations)")
    .option("--seed <n>", "seed for RSSI jitter and advertising delays", int)
    .option("--quiet", "do not log connections, drops and violations to stderr")
    .addHelpText("after", HELP)
    .action(async (flags: AirFlags) => {
      await runAir(flags);
    });

  // `--control`/`--socket` are air's own options (commander lets them appear after `ctl` too).
  const c = air
    .command("ctl")
    .description("control a running air: move devices, inject faults, read counters");
  const controlOf = (): string => {
    const o = air.opts() as AirFlags;
    const path = o.control ?? (o.socket ? `${o.socket}.ctl` : process.env["OPENCLAW_AIR_CONTROL"]);
    if (!path) {
      throw new OpenClawError("INVALID_ARGUMENT", {
        detail:
          "say which air: --control PATH (or --socket PATH of the running air, or OPENCLAW_AIR_CONTROL)",
      });
    }
    return path;
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
      ctl(controlOf(), { op: "move", who, x: num(x), y: num(y) }),
    );
  c.command("drop <who>")
    .description("drop the device's link at its Nth packet from now")
    .requiredOption("--at <n>", "packet number", int)
    .action(async (who: string, o: { at: number }) =>
      ctl(controlOf(), { op: "fault", who, dropAtPacket: o.at }),
    );
  c.command("latency <who> <ms>")
    .description("delay every packet to or from the device")
    .option("--jitter <ms>", "extra random delay up to this many ms (order is kept)", num)
    .action(async (who: string, ms: string, o: { jitter?: number }) =>
      ctl(controlOf(), {
        op: "fault",
        who,
        latencyMs: num(ms),
        ...(o.jitter !== undefined ? { jitterMs: o.jitter } : {}),
      }),
    );
  c.command("clear <who>")
    .description("remove the device's faults")
    .action(async (who: string) => ctl(controlOf(), { op: "fault", who }));
  c.command("power-cycle <who>")
    .description("power the device's controller off and on (its links drop; it comes back reset)")
    .option("--off <ms>", "how long it stays off", int, 500)
    .action(async (who: string, o: { off: number }) =>
      ctl(controlOf(), { op: "power-cycle", who, offMs: o.off }),
    );
  c.command("configure <who>")
    .description('change radio settings ("*" for every device and the defaults)')
    .option("--tx-power <dBm>", "transmit power", num)
    .option("--sensitivity <dBm>", "receiver sensitivity floor", num)
    .option("--acl <LxN>", "ACL buffers: fragment length x count (LE Read Buffer Size)", parseAcl)
    .option("--ll-payload <bytes>", "LL data PDU payload (27, or up to 251 with data length extension)", int)
    .option("--packets-per-event <n>", "LL PDUs per direction per connection event", int)
    .option("--jitter <dB>", "RSSI jitter, +/- dB", num)
    .action(
      async (
        who: string,
        o: {
          txPower?: number;
          sensitivity?: number;
          acl?: { length: number; count: number };
          llPayload?: number;
          packetsPerEvent?: number;
          jitter?: number;
        },
      ) => {
        const config: Extract<ControlRequest, { op: "configure" }>["config"] = {};
        if (o.txPower !== undefined) config.txPowerDbm = o.txPower;
        if (o.sensitivity !== undefined) config.sensitivityDbm = o.sensitivity;
        if (o.acl) config.aclBuffers = o.acl;
        if (o.llPayload !== undefined) config.llPayloadBytes = o.llPayload;
        if (o.packetsPerEvent !== undefined) config.packetsPerEvent = o.packetsPerEvent;
        if (o.jitter !== undefined) config.rssiJitterDb = o.jitter;
        await ctl(controlOf(), { op: "configure", who, config });
      },
    );
}
