/**
 * `openclaw sim`: runs one simulated OpenClaw device (firmware-sim/device) on the virtual air or a real
 * adapter. Its screen is drawn on the terminal, or with --json-events written as JSON lines on stdout;
 * stdin lines press its button (`button`), hold it for a factory reset (`factory-reset`) or stop it (`quit`).
 */
import { existsSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { type Command, Option } from "commander";
import {
  checkWindowTtl,
  DEFAULTS,
  type DeviceOptions,
  parseDuration,
  parseFormat,
  parseIntIn,
} from "../../../firmware-sim/device/options.js";
import { isOpenClawError, OpenClawError } from "../../protocol/errors.js";

const AIR_HINT =
  "no Bluetooth adapter found. To run on the virtual radio instead: `openclaw air --socket /tmp/openclaw-air.sock`, then `openclaw sim --hci unix:/tmp/openclaw-air.sock`";

const REAL_ADAPTER_HELP = `
Examples:
  openclaw air --socket /tmp/openclaw-air.sock &
  openclaw sim --hci unix:/tmp/openclaw-air.sock?label=dev1 --state-dir /tmp/dev1
  openclaw sim --hci unix:/tmp/openclaw-air.sock --json-events     # JSON lines; stdin: button | factory-reset | quit

Controls (stdin, one per line): button (open a pairing window / fresh code), factory-reset (long press:
erase bonds and identity), status, quit.

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
    .option("--lockout <duration>", "how long pairing is refused after too many failures", "5m")
    .option("--provisional-ttl <duration>", "how long a new bond waits for its first verify", "10m")
    .option("--max-mtu <n>", "largest ATT MTU the device accepts (23..256)", String(DEFAULTS.maxMtu))
    .option(
      "--hci <spec>",
      "HCI: unix:PATH[?label=x], tcp:HOST:PORT[?label=x], hciN (default: the first real adapter)",
    )
    .option("--json-events", "write what the device shows and does as JSON lines on stdout")
    .addHelpText("after", REAL_ADAPTER_HELP)
    .action(async (flags: SimFlags) => {
      const options = simOptions(flags);
      if (options.hci === undefined && !kernelHasAdapter()) {
        throw new OpenClawError("ADAPTER_UNAVAILABLE", { detail: AIR_HINT });
      }
      const timeScale =
        flags.timeScale === undefined ? 1 : parseIntIn(flags.timeScale, "--time-scale", 1, 1000);
      await runSim(options, timeScale);
    });
}

async function runSim(options: DeviceOptions, timeScale: number): Promise<void> {
  if (options.jsonEvents) {
    // stdout is the event stream: anything else that prints (bleno's console warnings) goes to stderr.
    console.log = (...args: unknown[]) => console.error(...args);
    console.info = console.log;
  }
  let code: number;
  try {
    const { runDevice } = await import("../../../firmware-sim/device/main.js");
    code = await runDevice(options, { timeScale });
  } catch (err) {
    if (options.jsonEvents) {
      const e = isOpenClawError(err)
        ? { code: err.code, message: err.message, remedy: err.remedy }
        : { code: "INTERNAL", message: err instanceof Error ? err.message : String(err) };
      process.stdout.write(`${JSON.stringify({ type: "error", ...e })}\n`);
    }
    const { reportError } = await import("../main.js");
    code = reportError(err);
  }
  // bleno keeps timers and the HCI socket alive: a device that was told to stop stops the process.
  process.exit(code);
}
