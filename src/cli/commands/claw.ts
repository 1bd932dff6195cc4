/**
 * `openclaw claw <device> open|close|status` and `openclaw battery <device>`: the simulated device's own
 * functions (src/app/claw.ts), over the verified, encrypted session — what a paired device is for.
 */
import { Argument, type Command } from "commander";
import { type DaemonFlags, daemonOptions, runCommand } from "../daemon-command.js";

export function registerClaw(program: Command): void {
  daemonOptions(
    program
      .command("claw")
      .description("Open or close a paired device's claw, or ask its state")
      .argument("<device>", "device id (or prefix), name or address")
      .addArgument(new Argument("<action>", "open, close or status").choices(["open", "close", "status"])),
  ).action((device: string, action: "open" | "close" | "status", flags: DaemonFlags) =>
    runCommand(flags, async ({ out, clock, client }) => {
      const c = await client();
      const progress = out.progress(clock);
      progress.step(
        action === "status"
          ? `asking ${device}…`
          : `${action === "open" ? "opening" : "closing"} the claw of ${device}…`,
      );
      let r: { claw: "open" | "closed" };
      try {
        r = await c.call("device.claw", { device, op: action });
      } finally {
        progress.stop();
      }
      if (out.json) return out.result({ device, ...r });
      out.line(`The claw of ${device} is ${out.c.bold(r.claw)}.`);
    }),
  );
}

export function registerBattery(program: Command): void {
  daemonOptions(
    program
      .command("battery")
      .description("Read a paired device's battery level")
      .argument("<device>", "device id (or prefix), name or address"),
  ).action((device: string, flags: DaemonFlags) =>
    runCommand(flags, async ({ out, clock, client }) => {
      const c = await client();
      const progress = out.progress(clock);
      progress.step(`asking ${device}…`);
      let r: { percent: number };
      try {
        r = await c.call("device.battery", { device });
      } finally {
        progress.stop();
      }
      if (out.json) return out.result({ device, ...r });
      out.line(`Battery of ${device}: ${out.c.bold(`${r.percent} %`)}`);
    }),
  );
}
