/**
 * The daemon's settings file (`$XDG_CONFIG_HOME/openclaw/config.json`, or OPENCLAW_CONFIG), validated
 * with zod. A missing file means defaults; a file that does not parse or validate stops the daemon with
 * INVALID_ARGUMENT naming the file and the field. It is the person's file: never rewritten, moved or
 * chmodded. Command-line flags win over it (`--hci`, `--log-level`).
 *
 *   { "hci": "hci0", "idleTimeoutSeconds": 600, "sessionIdleSeconds": 30, "logLevel": "info",
 *     "name": "alice's laptop" }
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { OpenClawError } from "../../protocol/errors.js";
import { describeFsError } from "../../store/index.js";
import { LOG_LEVELS, type LogLevel } from "./log.js";

export const DaemonConfigSchema = z
  .object({
    /** HCI: `hciN` (a kernel adapter), `unix:PATH[?label=x]` or `tcp:HOST:PORT` (the virtual air). */
    hci: z.string().min(1).max(1024).optional(),
    /** A daemon started on demand exits after this long without a client (60 s – 24 h). */
    idleTimeoutSeconds: z.number().int().min(60).max(86_400).optional(),
    /** An open session to a device unused for this long is closed (5 s – 1 h). */
    sessionIdleSeconds: z.number().int().min(5).max(3600).optional(),
    logLevel: z.enum(LOG_LEVELS).optional(),
    /** The name devices list this laptop by (used when the identity is first created). */
    name: z.string().min(1).max(64).optional(),
  })
  .strict();

export interface DaemonConfig {
  hci: string | undefined;
  idleTimeoutMs: number;
  sessionIdleMs: number;
  logLevel: LogLevel;
  name: string | undefined;
}

export const CONFIG_DEFAULTS = {
  idleTimeoutMs: 10 * 60_000,
  sessionIdleMs: 30_000,
  logLevel: "info",
} as const;

function invalid(file: string, detail: string): OpenClawError<"INVALID_ARGUMENT"> {
  return new OpenClawError("INVALID_ARGUMENT", {
    detail: `config file ${file}: ${detail}`,
    command: "daemon",
  });
}

/** Parses a config file's text (exported for tests). */
export function parseConfig(file: string, text: string): DaemonConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw invalid(file, "not valid JSON");
  }
  const parsed = DaemonConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join(".") : "(root)";
    throw invalid(file, `${where}: ${issue?.message ?? "invalid"}`);
  }
  const c = parsed.data;
  return {
    hci: c.hci,
    idleTimeoutMs:
      c.idleTimeoutSeconds === undefined ? CONFIG_DEFAULTS.idleTimeoutMs : c.idleTimeoutSeconds * 1000,
    sessionIdleMs:
      c.sessionIdleSeconds === undefined ? CONFIG_DEFAULTS.sessionIdleMs : c.sessionIdleSeconds * 1000,
    logLevel: c.logLevel ?? CONFIG_DEFAULTS.logLevel,
    name: c.name,
  };
}

export async function loadConfig(file: string): Promise<DaemonConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return parseConfig(file, "{}");
    throw new OpenClawError("STORAGE", { path: file, detail: describeFsError(err) }, { cause: err });
  }
  return parseConfig(file, text);
}
