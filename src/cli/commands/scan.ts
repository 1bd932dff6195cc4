/**
 * `openclaw scan`: the OpenClaw devices in range — name, id, RSSI, pairing window (open and time left),
 * attempts left, bonded here or not. On a terminal the table is live (redrawn as adverts arrive) for
 * `--timeout`; otherwise it is printed once at the end. Devices with an open window are probed (a short
 * connection that reads their info) so time left and attempts left come from the device itself.
 */
import type { Command } from "commander";
import type { DiscoveredDevice } from "../../daemon/rpc/api.js";
import type { RpcClient } from "../../daemon/rpc/client.js";
import { OpenClawError } from "../../protocol/errors.js";
import { type DaemonFlags, daemonOptions, runCommand } from "../daemon-command.js";
import { formatDuration, type Output } from "../output.js";

interface ScanFlags extends DaemonFlags {
  timeout: string;
  probe: boolean;
}

/** A device plus the local time its window times were read at (for the countdown). */
export interface ScanRow {
  d: DiscoveredDevice;
  at: number;
}

export function shortId(d: { deviceId: string | null; radioId: string }): string {
  return d.deviceId ?? `radio:${d.radioId}`;
}

export function windowText(d: DiscoveredDevice, elapsedMs: number): { window: string; attempts: string } {
  const w = d.window;
  if (w?.state === "locked-out")
    return { window: `locked out, ${formatDuration(w.retryAfterMs - elapsedMs)}`, attempts: "-" };
  if (w?.state === "open") {
    const left = w.timeLeftMs - elapsedMs;
    return {
      window: left > 0 ? `open, ${formatDuration(left)} left` : "open (time is up)",
      attempts: String(w.attemptsLeft),
    };
  }
  return { window: d.windowOpen ? "open" : "closed", attempts: "-" };
}

/**
 * The scan table (also `openclaw start`'s): name, id, RSSI, window with time left, attempts left,
 * bonded; strongest first. `now` is the local clock the rows' `at` were taken on.
 */
export function scanTable(out: Output, rows: readonly ScanRow[], now: number): string {
  if (rows.length === 0) return out.c.dim("no OpenClaw device heard yet…");
  const sorted = [...rows].sort((a, b) => b.d.rssi - a.d.rssi);
  return out.table(
    ["NAME", "ID", "RSSI", "WINDOW", "ATTEMPTS", "BONDED"],
    sorted.map(({ d, at }) => {
      const w = windowText(d, now - at);
      return [
        d.name ?? "(no name)",
        shortId(d),
        `${d.rssi} dBm`,
        d.windowOpen ? out.c.green(w.window) : w.window,
        w.attempts,
        d.bonded ? out.c.cyan("yes") : "no",
      ];
    }),
  );
}

export function parseTimeout(text: string, command: string): number {
  const s = Number(text);
  if (!Number.isFinite(s) || s < 0 || s > 60)
    throw new OpenClawError("INVALID_ARGUMENT", { detail: "--timeout is seconds, 0 to 60", command });
  return Math.round(s * 1000);
}

/**
 * Reads the window (time and attempts left) of each device whose advert says it is open, by a short
 * connection (device.probe); `onProbe` before each. What could not be read keeps its advert row.
 */
export async function probeWindows(
  client: RpcClient,
  devices: readonly DiscoveredDevice[],
  at: () => number,
  onProbe?: (d: DiscoveredDevice) => void,
): Promise<Map<string, ScanRow>> {
  const read = new Map<string, ScanRow>();
  for (const d of devices) {
    if (!d.windowOpen || d.window !== null) continue;
    onProbe?.(d);
    try {
      const p = await client.call("device.probe", { device: d.radioId });
      read.set(p.radioId, { d: p, at: at() });
    } catch {
      // out of range or busy pairing with someone else: its advert row stays
    }
  }
  return read;
}

/** Scans for `ms`, calling `onDevice` for each report; resolves with the final list. */
export async function scanDevices(
  client: RpcClient,
  ms: number,
  onDevice?: (d: DiscoveredDevice) => void,
): Promise<DiscoveredDevice[]> {
  const off = onDevice ? client.on("discovery.device", onDevice) : () => {};
  try {
    return (await client.call("discovery.scan", { durationMs: ms })).devices;
  } finally {
    off();
  }
}

export function registerScan(program: Command): void {
  daemonOptions(
    program
      .command("scan")
      .description("List the OpenClaw devices in range: window open and time left, attempts left, bonded")
      .option("--timeout <seconds>", "how long to listen", "5")
      .option("--no-probe", "do not connect to devices with an open window to read time and attempts left"),
  ).action((flags: ScanFlags) =>
    runCommand(flags, async ({ out, clock, client }) => {
      const ms = parseTimeout(flags.timeout, "scan");
      const c = await client();
      const rows = new Map<string, ScanRow>();
      const live = !out.json && out.stdout.isTTY === true;
      let drawnLines = 0;
      const draw = () => {
        if (!live) return;
        const text = `${scanTable(out, [...rows.values()], clock.now())}\n${out.c.dim(`listening… (Ctrl-C stops)`)}`;
        if (drawnLines > 0) out.stdout.write(`\x1b[${drawnLines}A\x1b[0J`);
        out.stdout.write(`${text}\n`);
        drawnLines = text.split("\n").length;
      };
      const progress = out.progress(clock);
      if (!live) progress.step(`listening for OpenClaw devices for ${formatDuration(ms)}…`);
      let ticker: ReturnType<typeof clock.setTimeout> | undefined;
      const tick = () => {
        ticker = clock.setTimeout("cli.scan-redraw", 1000, () => {
          draw();
          tick();
        });
      };
      if (live) {
        draw();
        tick();
      }
      let devices: DiscoveredDevice[];
      try {
        devices = await scanDevices(c, ms, (d) => {
          const old = rows.get(d.radioId);
          // Keep the window read by a probe when an advert (which carries no times) updates the row.
          const merged =
            d.window === null && old?.d.window && d.windowOpen ? { ...d, window: old.d.window } : d;
          rows.set(d.radioId, { d: merged, at: merged === d ? clock.now() : old!.at });
          draw();
        });
        if (flags.probe) {
          const read = await probeWindows(
            c,
            devices,
            () => clock.now(),
            (d) => {
              if (!live) progress.step(`reading the pairing window of ${d.name ?? d.address}…`);
            },
          );
          for (const [id, row] of read) rows.set(id, row);
          draw();
        }
      } finally {
        clock.clearTimeout(ticker);
        progress.stop();
      }
      for (const d of devices) if (!rows.has(d.radioId)) rows.set(d.radioId, { d, at: clock.now() });
      const final = [...rows.values()];
      if (out.json) {
        const now = clock.now();
        return out.result({
          devices: final.map(({ d, at }) => ({
            ...d,
            window:
              d.window?.state === "open"
                ? { ...d.window, timeLeftMs: Math.max(0, Math.round(d.window.timeLeftMs - (now - at))) }
                : d.window,
          })),
        });
      }
      if (live) {
        out.stdout.write(`\x1b[${drawnLines}A\x1b[0J`);
      }
      out.line(scanTable(out, final, clock.now()));
      if (final.length === 0)
        out.note("No OpenClaw device heard. Is it powered and near? A device advertises while it is on.");
    }),
  );
}
