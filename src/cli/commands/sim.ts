/**
 * `openclaw sim`: runs one simulated OpenClaw device (firmware-sim/device) on the virtual air or a real
 * adapter. Its screen is drawn on the terminal, or with --json-events written as JSON lines on stdout;
 * stdin lines press its button (`button`), hold it for a factory reset (`factory-reset`) or stop it (`quit`).
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, unlinkSync } from "node:fs";
import { connect } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Command, Option } from "commander";
import {
  checkName,
  checkWindowTtl,
  DEFAULTS,
  type DeviceOptions,
} from "../../../firmware-sim/device/options.js";
import { systemClock } from "../../clock/index.js";
import { isOpenClawError, OpenClawError } from "../../protocol/errors.js";
import { ensurePrivateDir, lockStateDir } from "../../store/state-dir.js";
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
  /** Closes the radio this sim hosts (says who loses it); nothing for a joined one. */
  close(): Promise<void>;
}

/**
 * The radio lives in the first sim that needs one: it hosts the air (and its control socket, for
 * `openclaw air ctl`), later sims and other programs join it, and it goes when that sim quits. Both
 * sides are told so plainly (on stderr, next to the screen), and the host says who loses it on quit.
 */
async function startOrJoinLocalAir(label: string): Promise<LocalAir> {
  const path = localAirPath();
  const control = `${path}.ctl`;
  const spec = `unix:${path}?label=${encodeURIComponent(label)}`;
  if (existsSync(path) && (await socketIsLive(path))) {
    process.stderr.write(
      `no Bluetooth adapter: joining the virtual radio another sim runs at unix:${path} (on air as "${label}")\n` +
        "  this sim loses its radio (and stops) when that sim quits\n",
    );
    return { spec, close: async () => {} };
  }
  if (existsSync(path)) unlinkSync(path); // left behind by a process that was killed
  const [{ Air }, { serveControl }] = await Promise.all([
    import("../../../firmware-sim/air/index.js"),
    import("../../../firmware-sim/air/control.js"),
  ]);
  const air = new Air();
  await air.listen({ path });
  const ctl = await serveControl(air, control);
  process.stderr.write(
    `no Bluetooth adapter: this sim runs the virtual radio at unix:${path} (on air as "${label}")\n` +
      `  other programs join it with --hci unix:${path} (or OPENCLAW_HCI=unix:${path} and --require openclaw-pair/hci-register)\n` +
      `  control it with: openclaw air ctl --control ${control} list\n` +
      "  the radio lives in this sim: when it quits, every program on the radio loses it (run `openclaw air` on its own to keep one up)\n",
  );
  return {
    spec,
    close: async () => {
      const others = air.controllers().filter((c) => c.label !== label).length;
      if (others > 0) {
        process.stderr.write(
          `closing the virtual radio: ${others} other program${others === 1 ? "" : "s"} on it lose${others === 1 ? "s" : ""} the radio\n`,
        );
      }
      await ctl.close();
      await air.close();
    },
  };
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

/** The default state dir: one per --name, a file-name-safe form of it (a name is no path). */
function defaultStateDir(name: string | undefined): string {
  const base = process.env["XDG_STATE_HOME"] || join(homedir(), ".local", "state");
  const slug = name === undefined ? "default" : name.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_");
  return join(base, "openclaw-pair", "sim", slug);
}

/**
 * The device's label on the virtual air (its address derives from it): one per state directory, so two
 * sims are never one device twice on the air; the lock makes one sim per state directory.
 */
function airLabel(options: DeviceOptions): string {
  const h = createHash("sha256").update(resolve(options.stateDir)).digest("hex").slice(0, 6);
  const base = (options.name ?? "sim").replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 24);
  return `${base}-${h}`;
}

/** Turns the flags into validated device options (INVALID_ARGUMENT with the reason otherwise). */
export function simOptions(flags: SimFlags): DeviceOptions & { notes: string[] } {
  const notes: string[] = [];
  if (flags.name !== undefined) {
    const checked = checkName(flags.name);
    if (checked.note) notes.push(checked.note);
  }
  const windowTtlMs = checkWindowTtl(parseDuration(flags.ttl, "--ttl"));
  const lockoutMs = parseDuration(flags.lockout, "--lockout");
  const provisionalTtlMs = parseDuration(flags.provisionalTtl, "--provisional-ttl");
  if (lockoutMs < 1000) {
    throw new OpenClawError("INVALID_ARGUMENT", { detail: "--lockout must be at least 1 s", command: "sim" });
  }
  if (provisionalTtlMs < 1000) {
    throw new OpenClawError("INVALID_ARGUMENT", {
      detail: "--provisional-ttl must be at least 1 s",
      command: "sim",
    });
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
    notes,
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
    .option(
      "--name <name>",
      "device name, 1..64 bytes (default OpenClaw-XXXX from the device id; over 13 bytes the advertisement shortens it)",
    )
    .option(
      "--state-dir <dir>",
      "a private directory (0700, yours) for the device's state, one sim each; never chmodded (default: one per --name under XDG_STATE_HOME)",
    )
    .option(
      "--ttl <duration>",
      "pairing window length, 30s..15m (units ms, s, m, h; a bare number is seconds)",
      "120s",
    )
    .addOption(
      new Option(
        "--time-scale <n>",
        "testing only: the device's clock runs n times faster than real time (window, lockout, provisional expiry)",
      ).hideHelp(),
    )
    .option("--format <format>", "code format: passkey (123 456) or long (OCL-7K4Q-92XM-J)", "passkey")
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
      "first lockout after too many failures; each further one doubles, up to 1 h (a bare number is seconds)",
      "1m",
    )
    .option(
      "--provisional-ttl <duration>",
      "how long a new bond waits for its first verify (a bare number is seconds)",
      "5m",
    )
    .option("--max-mtu <n>", "largest ATT MTU the device accepts (23..256)", String(DEFAULTS.maxMtu))
    .option(
      "--hci <spec>",
      "HCI: unix:PATH[?label=x], tcp:HOST:PORT[?label=x], hciN (default: the first real adapter)",
    )
    .option("--json-events", "write what the device shows and does as JSON lines on stdout")
    .addHelpText("after", REAL_ADAPTER_HELP)
    .action(async (flags: SimFlags) => {
      const { notes, ...options } = simOptions(flags);
      const timeScale =
        flags.timeScale === undefined ? 1 : parseIntIn(flags.timeScale, "--time-scale", 1, 1000);
      for (const n of notes) process.stderr.write(`note: ${n}\n`);
      await runSim(options, timeScale);
    });
}

/** Lock the state directory first (a second sim on it is refused before it touches the radio), then the radio, then the device. */
async function runSim(options: DeviceOptions, timeScale: number): Promise<void> {
  if (options.jsonEvents) {
    // stdout is the event stream: anything else that prints (bleno's console warnings) goes to stderr.
    console.log = (...args: unknown[]) => console.error(...args);
    console.info = console.log;
  }
  let code: number;
  let air: LocalAir | undefined;
  try {
    await ensurePrivateDir(options.stateDir);
    const lock = await lockStateDir(options.stateDir);
    if (options.hci === undefined && !process.env["OPENCLAW_HCI"] && !kernelHasAdapter()) {
      air = await startOrJoinLocalAir(airLabel(options));
      options.hci = air.spec;
    }
    const { runDevice } = await import("../../../firmware-sim/device/main.js");
    code = await runDevice(options, { clock: systemClock, timeScale, lock });
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
  await air?.close(); // removes the socket files
  // bleno keeps timers and the HCI socket alive: a device that was told to stop stops the process.
  process.exit(code);
}
