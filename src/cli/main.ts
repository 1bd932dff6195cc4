import { Command } from "commander";
import { VERSION } from "../version.js";
import { registerAir } from "./commands/air.js";
import { registerSim } from "./commands/sim.js";
import { registerVectors } from "./commands/vectors.js";
import { reportError } from "./report.js";

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
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    return reportError(err);
  }
}
