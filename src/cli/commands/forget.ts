/**
 * `openclaw forget <device> | --all [--local-only]`: removes the pairing on the device (through a
 * verified session) and then here, and says what happened on each side: removed; already gone (the
 * device had forgotten us); or not reachable — then the device still holds a stale pairing, and the
 * output says how to clear it.
 */
import type { Command } from "commander";
import type { ForgetOutcome } from "../../daemon/rpc/api.js";
import { OpenClawError } from "../../protocol/errors.js";
import { type DaemonFlags, daemonOptions, runCommand } from "../daemon-command.js";
import type { Output } from "../output.js";

interface ForgetFlags extends DaemonFlags {
  all?: boolean;
  localOnly?: boolean;
}

const DEVICE_TEXT: Record<ForgetOutcome["device"], string> = {
  removed: "removed",
  "already-gone": "already gone (it had forgotten this laptop)",
  unreachable: "not reachable: it still holds this laptop's pairing",
  skipped: "not contacted (--local-only): it still holds this laptop's pairing",
};
const LOCAL_TEXT: Record<ForgetOutcome["local"], string> = {
  removed: "removed",
  absent: "there was no pairing here",
};

export function printForget(out: Output, r: ForgetOutcome): void {
  const ok = r.device === "removed" || r.device === "already-gone";
  out.line(`${ok ? out.c.green("✓") : out.c.yellow("!")} ${out.c.bold(r.name)} (id ${r.deviceId})`);
  out.line(`  on the device   ${DEVICE_TEXT[r.device]}${r.error ? ` (${r.error.message})` : ""}`);
  out.line(`  on this laptop  ${LOCAL_TEXT[r.local]}`);
  if (r.staleBondRemedy) out.line(`  ${out.c.dim("→")} ${r.staleBondRemedy}`);
}

export function registerForget(program: Command): void {
  daemonOptions(
    program
      .command("forget")
      .description("Remove the pairing with a device: on the device, then on this laptop")
      .argument("[device]", "device id (or prefix), name or address")
      .option("--all", "forget every device this laptop is paired with")
      .option(
        "--local-only",
        "only on this laptop (the device keeps a stale pairing; the output says how to clear it)",
      ),
  ).action((device: string | undefined, flags: ForgetFlags) =>
    runCommand(flags, async ({ out, clock, client }) => {
      if ((device === undefined) === (flags.all !== true))
        throw new OpenClawError("INVALID_ARGUMENT", {
          detail: "name one device, or give --all",
          command: "forget",
        });
      const c = await client();
      const progress = out.progress(clock);
      progress.step(
        flags.localOnly ? "forgetting here…" : `removing the pairing on ${device ?? "every device"}…`,
      );
      let r: { results: ForgetOutcome[] };
      try {
        r = await c.call("device.forget", {
          ...(flags.all ? { all: true as const } : { device: device as string }),
          ...(flags.localOnly ? { localOnly: true } : {}),
        });
      } finally {
        progress.stop();
      }
      if (out.json) return out.result(r);
      if (r.results.length === 0) out.line("This laptop was not paired with any device.");
      for (const o of r.results) printForget(out, o);
    }),
  );
}
