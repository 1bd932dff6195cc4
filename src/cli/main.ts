import { Command, CommanderError } from "commander";
import pc from "picocolors";
import { isOpenClawError } from "../protocol/errors.js";
import { registerAir } from "./commands/air.js";
import { registerBattery, registerClaw } from "./commands/claw.js";
import { registerDaemon } from "./commands/daemon.js";
import { registerDevices } from "./commands/devices.js";
import { registerForget } from "./commands/forget.js";
import { registerPair } from "./commands/pair.js";
import { registerScan } from "./commands/scan.js";
import { registerSim } from "./commands/sim.js";
import { registerStart } from "./commands/start.js";
import { registerVectors } from "./commands/vectors.js";
import { VERSION } from "./version.js";

export function buildProgram(): Command {
  const program = new Command("openclaw")
    .description(
      "Pair laptops with OpenClaw devices over Bluetooth LE; simulate devices and a virtual radio.",
    )
    .version(VERSION)
    .showHelpAfterError("(run `openclaw --help` for usage)")
    .exitOverride();
  registerVectors(program);
  registerAir(program);
  registerSim(program);
  registerScan(program);
  registerPair(program);
  registerDevices(program);
  registerForget(program);
  registerClaw(program);
  registerBattery(program);
  registerDaemon(program);
  registerStart(program);
  return program;
}

/** Prints an error for people: what happened and one line of what to do. Never a stack trace. */
export function reportError(err: unknown): number {
  if (isOpenClawError(err)) {
    process.stderr.write(`${pc.red("error:")} ${err.message}\n  ${pc.dim("→")} ${err.remedy}\n`);
    return 2;
  }
  if (err instanceof CommanderError) return err.exitCode;
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${pc.red("error:")} ${message}\n`);
  if (process.env["OPENCLAW_DEBUG"] && err instanceof Error && err.stack)
    process.stderr.write(`${err.stack}\n`);
  return 1;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    return reportError(err);
  }
}
