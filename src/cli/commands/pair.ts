/**
 * `openclaw pair [device] [--code C]`: pairs this laptop with a device in pairing mode.
 *
 * Without a device, the one device with an open window is used, or a picker offers the several. The
 * daemon connects and reads the device's info (time left, attempts left, code format); the code prompt
 * counts down from there. What is typed is normalised and checked locally (a long code's check
 * character) before anything is sent; after WRONG_CODE or an expired code the prompt comes back with
 * the device's new numbers. Every failure is printed as its cause and its remedy.
 *
 * Scripts: `--code -` reads the code from stdin (preferred to `--code C`, which other local users can
 * see in the process list); `--json` prints the result or the error as one JSON document.
 */
import type { Command } from "commander";
import type { Clock } from "../../clock/index.js";
import type { PairResult, PairStep, PairTarget } from "../../daemon/rpc/api.js";
import type { RpcClient } from "../../daemon/rpc/client.js";
import { isOpenClawError, OpenClawError } from "../../protocol/errors.js";
import { checkTyped, readCodeLine } from "../code-input.js";
import { type DaemonFlags, daemonOptions, type RunContext, runCommand } from "../daemon-command.js";
import { formatDuration, type Output } from "../output.js";
import { scanDevices } from "./scan.js";

interface PairFlags extends DaemonFlags {
  code?: string;
}

const STEP_TEXT: Record<PairStep, string> = {
  connecting: "connecting",
  "reading-info": "reading the device's pairing window",
  "exchanging-keys": "exchanging keys",
  confirming: "confirming the code",
  storing: "storing the bond",
  verifying: "verifying the new bond",
};

/** Errors after which the same prepared pairing takes another code. */
const RETRYABLE = new Set(["WRONG_CODE", "CODE_EXPIRED", "MALFORMED_CODE", "BAD_CHECK_CHARACTER"]);

/** Picks the device to pair when none was named: the picker when several have an open window. */
async function chooseDevice(ctx: RunContext, c: RpcClient): Promise<string | undefined> {
  let devices = (await c.call("discovery.list")).devices.filter((d) => d.windowOpen);
  if (devices.length === 0) {
    const progress = ctx.out.progress(ctx.clock);
    progress.step("looking for a device in pairing mode…");
    try {
      devices = (await scanDevices(c, 3000)).filter((d) => d.windowOpen);
    } finally {
      progress.stop();
    }
  }
  if (devices.length > 1 && ctx.out.interactive) {
    const { pickDevice } = await import("../prompt.js");
    const d = await pickDevice(devices);
    return d.radioId;
  }
  return devices.length === 1 ? devices[0]!.radioId : undefined;
}

function describeTarget(out: Output, t: PairTarget): void {
  if (t.window.state !== "open") return;
  out.note(
    `${out.e.bold(t.name)} (${t.model}, firmware ${t.firmware}, id ${t.deviceId}) is in pairing mode: ` +
      `${formatDuration(t.window.timeLeftMs)} left, ${t.window.attemptsLeft} attempt${t.window.attemptsLeft === 1 ? "" : "s"} left` +
      (t.alreadyBonded
        ? "; this laptop is already paired with it (the old pairing is replaced once the new one works)"
        : ""),
  );
}

/** Where codes come from: the flag, stdin, or the prompt. */
export type CodeSource = { kind: "flag"; code: string } | { kind: "stdin" } | { kind: "prompt" };

export function registerPair(program: Command): void {
  daemonOptions(
    program
      .command("pair")
      .description("Pair this laptop with a device in pairing mode (type the code the device shows)")
      .argument("[device]", "device id (or prefix), name or address; default: the device in pairing mode")
      .option("--code <code>", "the code, or - to read it from stdin (safer: other users can see arguments)")
      .addHelpText(
        "after",
        "\nThe code is asked for on the terminal, with the device's countdown and attempts left.\n" +
          "Scripts: echo 123456 | openclaw pair OpenClaw-1A2B --code - --json\n",
      ),
  ).action((device: string | undefined, flags: PairFlags) =>
    runCommand(
      flags,
      async (ctx) => {
        const { out, clock } = ctx;
        const source: CodeSource =
          flags.code === undefined
            ? { kind: "prompt" }
            : flags.code === "-"
              ? { kind: "stdin" }
              : { kind: "flag", code: flags.code };
        if (source.kind === "flag")
          out.warn(
            "a code on the command line can be seen by other users of this machine; prefer the prompt or --code -",
          );
        if (source.kind === "prompt" && !out.interactive)
          throw new OpenClawError("INVALID_ARGUMENT", {
            detail: "no terminal to ask for the code: pass it on stdin with --code -",
            command: "pair",
          });

        const c = await ctx.client();
        const progress = out.progress(clock);
        const offStep = c.on("pair.step", (s) => progress.step(`${STEP_TEXT[s.step]}…`));
        let target: PairTarget | undefined;
        try {
          const ref = device ?? (await chooseDevice(ctx, c));
          progress.step(`connecting to ${device ?? "the device in pairing mode"}…`);
          target = await c.call("pair.prepare", ref === undefined ? {} : { device: ref });
          progress.stop();
          describeTarget(out, target);
          const result = await pairWithCodes(ctx, c, target, source);
          printResult(out, result);
        } catch (err) {
          progress.stop();
          if (target && !c.closed)
            await c.call("pair.cancel", { pairingId: target.pairingId }).catch(() => {});
          throw err;
        } finally {
          offStep();
        }
      },
      { what: "pairing" },
    ),
  );
}

/**
 * Asks for codes (prompt, stdin or flag) and attempts them on a prepared pairing until it pairs; with
 * the prompt, a retryable failure is shown above the next prompt, with the device's new numbers.
 */
export async function pairWithCodes(
  { out, clock }: { out: Output; clock: Clock },
  c: RpcClient,
  first: PairTarget,
  source: CodeSource,
): Promise<PairResult> {
  let target = first;
  let readAt = clock.now();
  let notice: string | undefined;
  for (;;) {
    if (target.window.state === "closed") throw new OpenClawError("WINDOW_CLOSED", {});
    if (target.window.state === "locked-out")
      throw new OpenClawError("LOCKED_OUT", { retryAfterMs: target.window.retryAfterMs });
    const w = target.window;
    let code: string;
    if (source.kind === "prompt") {
      const { promptCode } = await import("../prompt.js");
      const answer = await promptCode({
        deviceName: target.name,
        format: w.format,
        timeLeftMs: w.timeLeftMs,
        readAt,
        attemptsLeft: w.attemptsLeft,
        clock,
        ...(notice ? { notice } : {}),
      });
      if (answer.kind === "refresh") {
        target = await c.call("pair.refresh", { pairingId: target.pairingId });
        readAt = clock.now();
        notice = undefined;
        continue;
      }
      code = answer.code;
    } else {
      const typed = source.kind === "flag" ? source.code : await readCodeLine();
      const checked = checkTyped(typed, w.format);
      if (!checked.ok) throw checked.error;
      code = checked.code;
    }
    try {
      return await c.call("pair.attempt", { pairingId: target.pairingId, code });
    } catch (err) {
      if (source.kind !== "prompt" || !isOpenClawError(err) || !RETRYABLE.has(err.code)) throw err;
      notice = `${out.e.red("✗")} ${err.message}\n  ${out.e.dim("→")} ${err.remedy}`;
      target = await c.call("pair.refresh", { pairingId: target.pairingId });
      readAt = clock.now();
    }
  }
}

function printResult(out: Output, r: PairResult): void {
  if (out.json) {
    out.result(r);
    return;
  }
  const b = r.bond;
  out.line(
    `${out.c.green("✓")} Paired with ${out.c.bold(b.name)} (id ${b.deviceId}) as ${b.role}${r.replaced ? ", replacing the old pairing" : ""}.`,
  );
  out.line(`  Next: openclaw status ${b.name} · openclaw claw ${b.name} open · openclaw forget ${b.name}`);
}
