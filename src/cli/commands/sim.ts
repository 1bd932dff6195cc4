/**
 * `openclaw sim`: runs one simulated OpenClaw device (firmware-sim/device) on the virtual air or a real
 * adapter. Its screen is drawn on the terminal, or with --json-events written as JSON lines on stdout;
 * stdin lines press its button (`button`), hold it for a factory reset (`factory-reset`) or stop it (`quit`).
 */
import { existsSync, readdirSync, unlinkSync } from "node:fs";
import { connect } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { type Command, Option } from "commander";
import { checkWindowTtl, DEFAULTS, type DeviceOptions } from "../../../firmware-sim/device/options.js";
import { systemClock } from "../../clock/index.js";
import { isOpenClawError, OpenClawError } from "../../protocol/errors.js";
import { parseDuration, parseFormat, parseIntIn } from "../args.js";

/**
 * With no --hci and no kernel adapter the sim brings its own virtual radio (or joins one a previous sim
 * started): `npx openclaw sim` works on any laptop, and other noble/bleno programs can join the same air.
 */
function localAirPath(): string {
  const dir = process.env["XDG_RUNTIME_DIR"] || tmpdir();
  const uid = typeof process.getuid === "function" ? process.getuid() : 0;
  return join(dir, `openclaw-air-${uid}.sock`);
}

function socketIsLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

interface LocalAir {
  spec: string;
  close(): Promise<void>;
}

async function startOrJoinLocalAir(label: string): Promise<LocalAir> {
  const path = localAirPath();
  const spec = `unix:${path}?label=${encodeURIComponent(label)}`;
  if (existsSync(path) && (await socketIsLive(path))) {
    process.stderr.write(`no Bluetooth adapter: joining the virtual radio at unix:${path}\n`);
    return { spec, close: async () => {} };
  }
  if (existsSync(path)) unlinkSync(path); // left behind by a process that was killed
  const { Air } = await import("../../../firmware-sim/air/index.js");
  const air = new Air();
  await air.listen({ path });
  process.stderr.write(
    `no Bluetooth adapter: running on the virtual radio at unix:${path}\n` +
      `  other programs join it with --hci unix:${path} (or OPENCLAW_HCI=unix:${path} and --require openclaw-pair/hci-register)\n`,
  );
  return { spec, close: () => air.close() };
}

const REAL_ADAPTER_HELP = `
Examples:
  openclaw air --socket /tmp/openclaw-air.sock &
  openclaw sim --hci unix:/tmp/openclaw-air.sock?label=dev1 --state-dir /tmp/dev1
  openclaw sim --hci unix:/tmp/openclaw-air.sock --json-events     # JSON lines; stdin: button | factory-reset | quit

Controls on a terminal: b or space = the pairing button (a window / a fresh code), r twice within 3 s =
factory reset (erase bonds and identity), s = status, q or Ctrl-C = quit. From a program (stdin a pipe):
one command per line: button, factory-reset, status, quit.

On a real adapter (Linux; bleno drives the controller over a raw HCI socket):
  - stop BlueZ from holding the adapter: \`sudo systemctl stop bluetooth\` (or at least \`sudo hciconfig hci0 down\`
    after bluetoothd let go of it)
  - let node open raw HCI sockets without root:
      sudo setcap cap_net_raw+eip $(eval readlink -f $(which node))
  - pick the adapter: --hci hci1, or BLENO_HCI_DEVICE_ID=1
  - then: openclaw sim --name OpenClaw-TEST
`;

interface SimFlags {
  name?: string;
  stateDir?: string;
  ttl: string;
  timeScale?: string;
  format: string;
  slots: string;
  maxAttempts: string;
  lockoutAfter: string;
  lockout: string;
  provisionalTtl: string;
  maxMtu: string;
  hci?: string;
  jsonEvents?: boolean;
}

function defaultStateDir(name: string | undefined): string {
  const base = process.env["XDG_STATE_HOME"] || join(homedir(), ".local", "state");
  return join(base, "openclaw-pair", "sim", name ?? "default");
}

/** Turns the flags into validated device options (INVALID_ARGUMENT with the reason otherwise). */
export function simOptions(flags: SimFlags): DeviceOptions {
  const windowTtlMs = checkWindowTtl(parseDuration(flags.ttl, "--ttl"));
  const lockoutMs = parseDuration(flags.lockout, "--lockout");
  const provisionalTtlMs = parseDuration(flags.provisionalTtl, "--provisional-ttl");
  if (lockoutMs < 1000) {
    throw new OpenClawError("INVALID_ARGUMENT", { detail: "--lockout must be at least 1 s" });
  }
  if (provisionalTtlMs < 1000) {
    throw new OpenClawError("INVALID_ARGUMENT", { detail: "--provisional-ttl must be at least 1 s" });
  }
  return {
    ...(flags.name !== undefined ? { name: flags.name } : {}),
    stateDir: flags.stateDir ?? defaultStateDir(flags.name),
    windowTtlMs,
    format: parseFormat(flags.format),
    slots: parseIntIn(flags.slots, "--slots", 1, 32),
    maxAttempts: parseIntIn(flags.maxAttempts, "--max-attempts", 1, 20),
    lockoutThreshold: parseIntIn(flags.lockoutAfter, "--lockout-after", 1, 1000),
    lockoutWindowMs: DEFAULTS.lockoutWindowMs,
    lockoutMs,
    provisionalTtlMs,
    maxMtu: parseIntIn(flags.maxMtu, "--max-mtu", 23, 256),
    tagRotationMs: DEFAULTS.tagRotationMs,
    ...(flags.hci !== undefined ? { hci: flags.hci } : {}),
    jsonEvents: flags.jsonEvents === true,
  };
}

/** True when the kernel lists at least one Bluetooth controller. */
function kernelHasAdapter(): boolean {
  const dir = "/sys/class/bluetooth";
  if (!existsSync(dir)) return false;
  try {
    return readdirSync(dir).some((n) => /^hci\d+$/.test(n));
  } catch {
    return false;
  }
}

export function registerSim(program: Command): void {
  program
    .command("sim")
    .description(
      "Run a simulated OpenClaw device (display, button, bond table) on the virtual air or a real adapter",
    )
    .option("--name <name>", "advertised name (default OpenClaw-XXXX from the device id)")
    .option(
      "--state-dir <dir>",
      "where the device keeps its identity and bond table (default under XDG_STATE_HOME)",
    )
    .option("--ttl <duration>", "pairing window length, 30s..15m", "120s")
    .addOption(
      new Option(
        "--time-scale <n>",
        "testing only: the device's clock runs n times faster than real time (window, lockout, provisional expiry)",
      ).hideHelp(),
    )
    .option("--format <format>", "code format: passkey (123 456) or long (OCL-7K4Q-92XM-R)", "passkey")
    .option("--slots <n>", "bond table slots", String(DEFAULTS.slots))
    .option(
      "--max-attempts <n>",
      "wrong codes before the code is burnt and a fresh one shown",
      String(DEFAULTS.maxAttempts),
    )
    .option(
      "--lockout-after <n>",
      "failures within an hour before pairing is refused",
      String(DEFAULTS.lockoutThreshold),
    )
    .option(
      "--lockout <duration>",
      "first lockout after too many failures; each further one doubles, up to 1 h",
      "1m",
    )
    .option("--provisional-ttl <duration>", "how long a new bond waits for its first verify", "5m")
    .option("--max-mtu <n>", "largest ATT MTU the device accepts (23..256)", String(DEFAULTS.maxMtu))
    .option(
      "--hci <spec>",
      "HCI: unix:PATH[?label=x], tcp:HOST:PORT[?label=x], hciN (default: the first real adapter)",
    )
    .option("--json-events", "write what the device shows and does as JSON lines on stdout")
    .addHelpText("after", REAL_ADAPTER_HELP)
    .action(async (flags: SimFlags) => {
      const options = simOptions(flags);
      const timeScale =
        flags.timeScale === undefined ? 1 : parseIntIn(flags.timeScale, "--time-scale", 1, 1000);
      let air: LocalAir | undefined;
      if (options.hci === undefined && !process.env["OPENCLAW_HCI"] && !kernelHasAdapter()) {
        air = await startOrJoinLocalAir(options.name ?? "sim");
        options.hci = air.spec;
      }
      await runSim(options, timeScale, air);
    });
}

async function runSim(options: DeviceOptions, timeScale: number, air?: LocalAir): Promise<void> {
  if (options.jsonEvents) {
    // stdout is the event stream: anything else that prints (bleno's console warnings) goes to stderr.
    console.log = (...args: unknown[]) => console.error(...args);
    console.info = console.log;
  }
  let code: number;
  try {
    const { runDevice } = await import("../../../firmware-sim/device/main.js");
    code = await runDevice(options, { clock: systemClock, timeScale });
  } catch (err) {
    if (options.jsonEvents) {
      const e = isOpenClawError(err)
        ? err
        : new OpenClawError("INTERNAL", { detail: err instanceof Error ? err.message : String(err) });
      process.stdout.write(`${JSON.stringify({ type: "error", ...e.toJSON() })}\n`);
    }
    const { reportError } = await import("../report.js");
    code = reportError(err);
  }
  await air?.close(); // removes the socket file
  // bleno keeps timers and the HCI socket alive: a device that was told to stop stops the process.
  process.exit(code);
}
