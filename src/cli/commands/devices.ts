/**
 * `openclaw devices`: this laptop's bonds (name, id, address, role, paired at, last verified, in range now), any
 * pairing cut short before the device confirmed it (settled at the next contact), and any bond file
 * that was damaged and moved aside. `openclaw status <device>`: verifies the bond and
 * shows what the device reports (firmware, pairing window, slots used, our role).
 */
import type { Command } from "commander";
import { type DaemonFlags, daemonOptions, runCommand } from "../daemon-command.js";
import { formatAgo, formatDuration } from "../output.js";

export function registerDevices(program: Command): void {
  daemonOptions(program.command("devices").description("List the devices this laptop is paired with")).action(
    (flags: DaemonFlags) =>
      runCommand(flags, async ({ out, clock, client }) => {
        const r = await (await client()).call("bonds.list");
        if (out.json) return out.result(r);
        const now = clock.wallNow();
        for (const q of r.quarantined)
          out.warn(
            `${q.file} was damaged (${q.reason}) and moved aside to ${q.quarantinedAs}; pair that device again`,
          );
        // An older daemon (same API version) has no `pending`.
        const pending = r.pending ?? [];
        if (r.bonds.length === 0 && pending.length === 0) {
          out.line("This laptop is not paired with any device yet. Pair one with `openclaw pair`.");
          return;
        }
        if (r.bonds.length > 0)
          out.line(
            out.table(
              ["NAME", "ID", "ADDRESS", "ROLE", "PAIRED", "LAST VERIFIED", "IN RANGE"],
              r.bonds.map((b) => [
                b.name,
                b.deviceId,
                // Heard there now, else where it last answered a verify.
                b.address ?? "—",
                b.role,
                formatAgo(b.pairedAt, now),
                formatAgo(b.lastVerifiedAt, now),
                b.inRange ? out.c.green(`yes${b.rssi !== null ? ` (${b.rssi} dBm)` : ""}`) : "no",
              ]),
            ),
          );
        for (const p of pending) {
          // Not a failure: the outcome is unknown until the device is reached again.
          out.line(
            `${out.c.yellow("…")} ${out.c.bold(p.name)} (id ${p.deviceId}): a pairing was cut short before the device confirmed it` +
              (p.replacesBond ? "; the earlier pairing stays until then" : ""),
          );
          out.line(
            `  it is settled the next time this laptop reaches the device: \`openclaw status ${p.name}\`${p.inRange ? "" : " once it is in range"} (or pair again)`,
          );
        }
      }),
  );

  daemonOptions(
    program
      .command("status")
      .description("Verify the pairing with a device and show its status")
      .argument("<device>", "device id (or prefix), name or address"),
  ).action((device: string, flags: DaemonFlags) =>
    runCommand(flags, async ({ out, clock, client }) => {
      const c = await client();
      const progress = out.progress(clock);
      progress.step(`verifying ${device}…`);
      let s: Awaited<ReturnType<typeof c.call<"device.status">>>;
      try {
        s = await c.call("device.status", { device });
      } finally {
        progress.stop();
      }
      if (out.json) return out.result(s);
      out.line(`${out.c.green("✓")} ${out.c.bold(s.name)} verified (id ${s.deviceId})`);
      out.line(`  model       ${s.model}, firmware ${s.firmware}`);
      out.line(`  our role    ${s.role}`);
      out.line(`  bond slots  ${s.bondSlots.used} of ${s.bondSlots.total} used`);
      out.line(
        `  pairing     ${s.window.state === "open" ? `window open, ${formatDuration(s.window.timeLeftMs)} left` : "window closed"}`,
      );
      if (s.rssi !== null) out.line(`  signal      ${s.rssi} dBm`);
    }),
  );
}
