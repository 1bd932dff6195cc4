import { Command } from "commander";
import { VERSION } from "../version.js";
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
import { EXIT_OK, inCommand, reportError } from "./report.js";

/** What a run of the program learned while parsing: the subcommand that ran (for error remedies). */
export interface RunContext {
  /** e.g. "sim", "air ctl". */
  command?: string;
}

export function buildProgram(run: RunContext = {}): Command {
  const program = new Command("openclaw")
    .description(
      "Pair laptops with OpenClaw devices over Bluetooth LE; simulate devices and a virtual radio.",
    )
    .version(VERSION)
    .showHelpAfterError("(run `openclaw --help` for usage)")
    .exitOverride()
    .addHelpText(
      "after",
      "\nExit status: 0 ok, 1 the command failed, 2 a usage error (unknown option, bad or missing value).",
    );
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
  // A usage error names the help of the subcommand it happened in, not the top level's.
  for (const [path, cmd] of subcommands(program))
    cmd.showHelpAfterError(`(run \`openclaw ${path} --help\` for usage)`);
  program.hook("preAction", (_program, action) => {
    run.command = commandPath(action);
  });
  return program;
}

/** Every subcommand with its path under the program ("sim", "air ctl"). */
function subcommands(cmd: Command, prefix = ""): Array<[string, Command]> {
  return cmd.commands.flatMap((c): Array<[string, Command]> => {
    const path = prefix ? `${prefix} ${c.name()}` : c.name();
    return [[path, c], ...subcommands(c, path)];
  });
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

export async function main(argv: string[]): Promise<number> {
  const run: RunContext = {};
  try {
    await buildProgram(run).parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT_OK;
  } catch (err) {
    return reportError(inCommand(err, run.command));
  }
}
