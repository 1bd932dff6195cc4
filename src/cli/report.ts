/**
 * How the CLI ends: what happened and one line of what to do, never a stack trace (unless
 * OPENCLAW_DEBUG is set), and an exit status a script can act on. Its own module so that commands which
 * run long (sim, air) can report from inside without importing the program that registered them.
 *
 * Exit status: 0 ok; 1 the command failed (any catalogue error but INVALID_ARGUMENT, or a bug);
 * 2 usage: commander's errors (unknown option or command, missing or bad value) and INVALID_ARGUMENT.
 */
import { CommanderError } from "commander";
import { createColors } from "picocolors";
import { isOpenClawError, OpenClawError } from "../protocol/errors.js";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/**
 * The error as the person should read it: an INVALID_ARGUMENT that does not say which subcommand it
 * belongs to gets `command` (e.g. "air ctl"), so its remedy points at that subcommand's help.
 */
export function inCommand(err: unknown, command: string | undefined): unknown {
  if (!command || !isOpenClawError(err) || !err.is("INVALID_ARGUMENT") || err.details.command) return err;
  return new OpenClawError("INVALID_ARGUMENT", { ...err.details, command }, { cause: err });
}

// Colour only for a person at a terminal: picocolors alone also colours when CI is set, which a log or a
// script reading stderr would then see as escape codes.
const pc = createColors(Boolean(process.stderr.isTTY) && !("NO_COLOR" in process.env));

/** Prints an error for people and returns the exit status. */
export function reportError(err: unknown): number {
  if (isOpenClawError(err)) {
    process.stderr.write(`${pc.red("error:")} ${err.message}\n  ${pc.dim("→")} ${err.remedy}\n`);
    if (process.env["OPENCLAW_DEBUG"] && err.stack) process.stderr.write(`${err.stack}\n`);
    return err.is("INVALID_ARGUMENT") ? EXIT_USAGE : EXIT_FAILURE;
  }
  // commander already printed its message (and the help hint); help and --version end with 0
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${pc.red("error:")} ${message}\n`);
  if (process.env["OPENCLAW_DEBUG"] && err instanceof Error && err.stack)
    process.stderr.write(`${err.stack}\n`);
  return EXIT_FAILURE;
}
