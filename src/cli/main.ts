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
  registerStart(program);
  registerVectors(program);
  registerAir(program);
  registerSim(program);
  return program;
}

/**
 * `openclaw start` (what `npm start` runs): the first thing a new user does. For now it runs the
 * simulated device with its defaults (on the virtual radio when no adapter is present); it is the one
 * place to change when the first run becomes a guided pairing session.
 */
function registerStart(program: Command): void {
  program
    .command("start")
    .description("Get started: run a simulated OpenClaw device (today the same as `openclaw sim`)")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[sim-options...]", "passed on to `openclaw sim` (see `openclaw sim --help`)")
    .action(async (args: string[]) => {
      await buildProgram().parseAsync(["sim", ...args], { from: "user" });
    });
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    return reportError(err);
  }
}
