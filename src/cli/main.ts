import { Command } from "commander";
import { VERSION } from "../version.js";
import { EXIT_OK, inCommand, reportError } from "./report.js";

type Register = (program: Command) => void;

/**
 * Every top-level command, in the order `openclaw --help` lists them, with the module that defines it.
 * A run imports only the module of the command it names (a CLI start is mostly imports: `daemon status`
 * should not load the simulator, the crypto or the prompts); the root help, `help`, an option or an
 * unknown word first load them all, so commander's listing and "did you mean" see every command.
 */
const COMMANDS: ReadonlyArray<readonly [name: string, load: () => Promise<Register>]> = [
  ["vectors", async () => (await import("./commands/vectors.js")).registerVectors],
  ["air", async () => (await import("./commands/air.js")).registerAir],
  ["sim", async () => (await import("./commands/sim.js")).registerSim],
  ["scan", async () => (await import("./commands/scan.js")).registerScan],
  ["pair", async () => (await import("./commands/pair.js")).registerPair],
  ["devices", async () => (await import("./commands/devices.js")).registerDevices],
  ["forget", async () => (await import("./commands/forget.js")).registerForget],
  ["claw", async () => (await import("./commands/claw.js")).registerClaw],
  ["battery", async () => (await import("./commands/claw.js")).registerBattery],
  ["daemon", async () => (await import("./commands/daemon.js")).registerDaemon],
  ["start", async () => (await import("./commands/start.js")).registerStart],
];

/** What a run of the program learned while parsing: the subcommand that ran (for error remedies). */
export interface RunContext {
  /** e.g. "sim", "air ctl". */
  command?: string;
}

/**
 * The program for `argv` (node, script, words…): only the command argv names when it names one, else
 * every command. Without argv, every command (for tests and docs that walk the whole tree).
 */
export async function buildProgram(run: RunContext = {}, argv?: readonly string[]): Promise<Command> {
  const word = argv?.[2];
  const named = COMMANDS.filter(([name]) => name === word);
  const registers = await Promise.all((named.length > 0 ? named : COMMANDS).map(([, load]) => load()));
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
  for (const register of registers) register(program);
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
    await (await buildProgram(run, argv)).parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT_OK;
  } catch (err) {
    return reportError(inCommand(err, run.command));
  }
}
