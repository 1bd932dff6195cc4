/**
 * The pairing prompts, on stderr (stdout stays for results): a picker when several devices have an
 * open window, and the code prompt with a live countdown and the attempts left, both as the device
 * reported them. What is typed is normalised and a long code's check character checked here, before
 * anything is sent (src/protocol/codes), so a typo costs no attempt; the countdown is the device's
 * time left counted down on this machine's clock, for display only (the device decides).
 *
 * Non-interactive use: `--code -` reads one line from stdin (./code-input.ts, which does not load the
 * prompt library).
 */
import {
  createPrompt,
  ExitPromptError,
  isEnterKey,
  makeTheme,
  useEffect,
  useKeypress,
  usePrefix,
  useState,
} from "@inquirer/core";
import select from "@inquirer/select";
import type { Clock } from "../clock/index.js";
import type { CodeFormat, DiscoveredDevice } from "../daemon/rpc/api.js";
import { OpenClawError } from "../protocol/errors.js";
import { checkTyped } from "./code-input.js";
import { formatDuration } from "./output.js";

export { checkTyped, readCodeLine } from "./code-input.js";

export type CodeAnswer = { kind: "code"; code: string } | { kind: "refresh" };

export interface CodePromptConfig {
  deviceName: string;
  format: CodeFormat;
  /** Time left on the device's clock when it answered, and the local monotonic time of that answer. */
  timeLeftMs: number;
  readAt: number;
  attemptsLeft: number;
  clock: Clock;
  /** A line shown above the prompt (the last failure). */
  notice?: string;
}

const EXAMPLE: Record<CodeFormat, string> = {
  passkey: "6 digits, e.g. 123 456",
  long: "e.g. OCL-7K4Q-92XM-J",
};

const codePromptView = createPrompt<CodeAnswer, CodePromptConfig>((config, done) => {
  const theme = makeTheme({});
  const [status, setStatus] = useState<"idle" | "done">("idle");
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | undefined>(undefined);
  const [, setTick] = useState(0);
  const prefix = usePrefix({ status, theme });

  useEffect(() => {
    let live = true;
    let handle: ReturnType<Clock["setTimeout"]> | undefined;
    const tick = (n: number) => {
      handle = config.clock.setTimeout("cli.countdown", 1000, () => {
        if (!live) return;
        setTick(n);
        tick(n + 1);
      });
    };
    tick(1);
    return () => {
      live = false;
      config.clock.clearTimeout(handle);
    };
  }, []);

  useKeypress((key, rl) => {
    if (status !== "idle") return;
    if (!isEnterKey(key)) {
      setValue(rl.line);
      setError(undefined);
      return;
    }
    const typed = value.trim();
    if (typed === "") {
      setStatus("done");
      done({ kind: "refresh" });
      return;
    }
    const checked = checkTyped(typed, config.format);
    if (!checked.ok) {
      setError(`${checked.error.message} — ${checked.error.remedy}`);
      rl.write(value);
      return;
    }
    setValue(typed);
    setStatus("done");
    done({ kind: "code", code: checked.code });
  });

  const left = config.timeLeftMs - (config.clock.now() - config.readAt);
  const clockText =
    left > 0
      ? `${formatDuration(left)} left`
      : "time is up on the device: press its pairing button, then Enter here for the new code's window";
  const attempts = `${config.attemptsLeft} attempt${config.attemptsLeft === 1 ? "" : "s"} left`;
  const message = `Code shown on ${config.deviceName} (${EXAMPLE[config.format]}):`;
  if (status === "done")
    return `${prefix} ${theme.style.message(message, "done")} ${theme.style.answer("•".repeat(value.length))}`;
  const lines = [
    `${prefix} ${theme.style.message(message, "idle")} ${value}`,
    [
      theme.style.help(`  ${clockText} · ${attempts} · Enter on an empty line re-reads the device`),
      error ? theme.style.error(error) : undefined,
    ]
      .filter((l) => l !== undefined)
      .join("\n"),
  ];
  return config.notice ? [`${config.notice}\n${lines[0]}`, lines[1]] : [lines[0]!, lines[1]];
});

function cancelled(what: string): OpenClawError<"CANCELLED"> {
  return new OpenClawError("CANCELLED", { what });
}

/** Asks for the code on the terminal (stderr); Ctrl-C is CANCELLED. */
export async function promptCode(config: CodePromptConfig): Promise<CodeAnswer> {
  try {
    return await codePromptView(config, { output: process.stderr });
  } catch (err) {
    if (err instanceof ExitPromptError) throw cancelled("pairing");
    throw err;
  }
}

/** Picks one of several devices with an open window; Ctrl-C is CANCELLED. */
export async function pickDevice(devices: DiscoveredDevice[]): Promise<DiscoveredDevice> {
  try {
    return await select(
      {
        message: "Several devices are in pairing mode. Which one?",
        choices: devices.map((d) => ({
          name: `${d.name ?? "(no name)"}  ${d.address}  ${d.rssi} dBm${d.window?.state === "open" ? `  ${formatDuration(d.window.timeLeftMs)} left` : ""}`,
          value: d,
        })),
      },
      { output: process.stderr },
    );
  } catch (err) {
    if (err instanceof ExitPromptError) throw cancelled("pairing");
    throw err;
  }
}
