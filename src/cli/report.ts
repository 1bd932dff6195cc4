/**
 * How the CLI reports a failure to a person: what happened and one line of what to do, never a stack
 * trace (unless OPENCLAW_DEBUG is set). Its own module so that commands which run long (sim, air) can
 * report from inside without importing the program that registered them.
 */
import { CommanderError } from "commander";
import pc from "picocolors";
import { isOpenClawError } from "../protocol/errors.js";

/** Prints an error for people and returns the exit code. */
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
