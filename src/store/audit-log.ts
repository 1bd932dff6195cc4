/**
 * The audit log (DESIGN §6): what happened to this laptop's pairings, for people and `doctor` —
 * append-only JSON lines in `audit.jsonl` (0600), each line fsync'd before `append` resolves, bounded by
 * rotation (`audit.jsonl.1` … `.N`, oldest dropped).
 *
 * Never a code, key or tag: an event is one of a closed set of strict zod shapes (device id, name,
 * catalogue error code, enums), so there is no field a secret could travel in; anything else is refused.
 *
 * A kill -9 mid-append can leave a torn last line. Opening the log seals it with a newline so the next
 * event is whole; `readAudit` skips and reports such lines.
 */
import { constants as fsConstants } from "node:fs";
import { type FileHandle, open, readFile, rename } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import type { Clock } from "../clock/index.js";
import { ERROR_CODES, type ErrorCode, OpenClawError } from "../protocol/errors.js";
import { DEVICE_ID_LEN, MAX_TEXT } from "../protocol/messages/constants.js";
import type { OpenClawPaths } from "./paths.js";
import { describeFsError, ensurePrivateDir, fsyncDir } from "./state-dir.js";

const deviceId = z.string().regex(new RegExp(`^[0-9a-f]{${DEVICE_ID_LEN * 2}}$`));
const base = {
  /** Wall time, ISO 8601 (for people). */
  at: z.iso.datetime(),
  deviceId,
  deviceName: z.string().max(MAX_TEXT).optional(),
};
const code = z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]);
const role = z.enum(["admin", "user"]);

export const AuditEvent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("pair-attempt"), ...base }).strict(),
  z.object({ type: z.literal("paired"), ...base, role: role.optional() }).strict(),
  z.object({ type: z.literal("pair-failed"), ...base, code }).strict(),
  z.object({ type: z.literal("verified"), ...base }).strict(),
  z.object({ type: z.literal("verify-failed"), ...base, code }).strict(),
  z
    .object({
      type: z.literal("removed"),
      ...base,
      where: z.enum(["device", "local", "both"]),
      outcome: z.enum(["removed", "already-gone", "unreachable", "failed"]),
    })
    .strict(),
  /** A share window was opened on the device for another controller (the code is never logged). */
  z.object({ type: z.literal("shared"), ...base, role: role.optional() }).strict(),
  z
    .object({
      type: z.literal("rotated"),
      ...base,
      phase: z.enum(["begun", "completed", "abandoned"]).optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal("quarantined"),
      ...base,
      deviceId: deviceId.optional(),
      file: z.string().max(4096),
      reason: z.string().max(512),
    })
    .strict(),
]);
export type AuditEvent = z.infer<typeof AuditEvent>;
export type AuditEventType = AuditEvent["type"];
/** What a caller appends: the log stamps `at`. */
export type AuditEventInput = AuditEvent extends infer E
  ? E extends AuditEvent
    ? Omit<E, "at">
    : never
  : never;

export interface AuditLogOptions {
  clock: Clock;
  /** Rotate before a line would take the file past this size (default 1 MiB). */
  maxBytes?: number;
  /** Rotated files kept (default 3). */
  keep?: number;
}

export const AUDIT_MAX_BYTES = 1024 * 1024;
export const AUDIT_KEEP = 3;

function storage(path: string, err: unknown): OpenClawError<"STORAGE"> {
  return new OpenClawError("STORAGE", { path, detail: describeFsError(err) }, { cause: err });
}

async function openAppend(path: string): Promise<FileHandle> {
  try {
    return await open(path, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT, 0o600);
  } catch (err) {
    throw storage(path, err);
  }
}

export class AuditLog {
  readonly path: string;
  readonly #clock: Clock;
  readonly #maxBytes: number;
  readonly #keep: number;
  #fh: FileHandle | undefined;
  #size: number;
  #chain: Promise<void> = Promise.resolve();

  private constructor(path: string, fh: FileHandle, size: number, opts: AuditLogOptions) {
    this.path = path;
    this.#fh = fh;
    this.#size = size;
    this.#clock = opts.clock;
    this.#maxBytes = opts.maxBytes ?? AUDIT_MAX_BYTES;
    this.#keep = Math.max(1, opts.keep ?? AUDIT_KEEP);
  }

  /** Opens (creating 0600) the log; seals a torn last line left by a killed writer. */
  static async open(paths: Pick<OpenClawPaths, "auditFile">, opts: AuditLogOptions): Promise<AuditLog> {
    const path = paths.auditFile;
    await ensurePrivateDir(dirname(path));
    const fh = await openAppend(path);
    try {
      let size = (await fh.stat()).size;
      if (size > 0) {
        const last = Buffer.alloc(1);
        const r = await open(path, "r");
        try {
          await r.read(last, 0, 1, size - 1);
        } finally {
          await r.close();
        }
        if (last[0] !== 0x0a) {
          await fh.write("\n");
          await fh.datasync();
          size += 1;
        }
      }
      return new AuditLog(path, fh, size, opts);
    } catch (err) {
      await fh.close().catch(() => {});
      throw err instanceof OpenClawError ? err : storage(path, err);
    }
  }

  /**
   * Appends one event, durable (fsync'd) before the promise resolves. An event that is not one of the
   * closed shapes is refused with INTERNAL naming the field, never its value.
   */
  append(event: AuditEventInput): Promise<void> {
    const parsed = AuditEvent.safeParse({ ...event, at: new Date(this.#clock.wallNow()).toISOString() });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? issue.path.join(".") : "(event)";
      return Promise.reject(new OpenClawError("INTERNAL", { detail: `audit event refused at ${where}` }));
    }
    const line = `${JSON.stringify(parsed.data)}\n`;
    const run = async () => {
      const bytes = Buffer.byteLength(line);
      if (this.#size > 0 && this.#size + bytes > this.#maxBytes) await this.#rotate();
      const fh = this.#fh;
      if (!fh) throw new OpenClawError("INTERNAL", { detail: "the audit log is closed" });
      try {
        await fh.write(line);
        await fh.datasync();
      } catch (err) {
        throw storage(this.path, err);
      }
      this.#size += bytes;
    };
    const result = this.#chain.then(run);
    this.#chain = result.catch(() => {});
    return result;
  }

  /** `audit.jsonl` → `.1` → `.2` … → `.keep` (the oldest is replaced); then a fresh file. */
  async #rotate(): Promise<void> {
    await this.#fh?.close().catch(() => {});
    this.#fh = undefined;
    for (let i = this.#keep - 1; i >= 1; i--) {
      try {
        await rename(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw storage(`${this.path}.${i}`, err);
      }
    }
    try {
      await rename(this.path, `${this.path}.1`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw storage(this.path, err);
    }
    this.#fh = await openAppend(this.path);
    this.#size = 0;
    await fsyncDir(dirname(this.path));
  }

  /** Waits for pending appends and closes the file. */
  async close(): Promise<void> {
    await this.#chain;
    const fh = this.#fh;
    this.#fh = undefined;
    await fh?.close();
  }
}

export interface AuditReadProblem {
  file: string;
  /** 1-based line number in that file. */
  line: number;
  reason: "not valid JSON" | "not an audit event";
}

export interface AuditReadResult {
  /** Oldest first, across the rotated files. */
  events: AuditEvent[];
  /** Lines skipped (a torn last line after a kill -9, or damage). */
  problems: AuditReadProblem[];
}

/** Reads the log and its rotated files, oldest first; damaged lines are skipped and reported. */
export async function readAudit(
  paths: Pick<OpenClawPaths, "auditFile">,
  opts: { keep?: number } = {},
): Promise<AuditReadResult> {
  const keep = Math.max(1, opts.keep ?? AUDIT_KEEP);
  const files = [
    ...Array.from({ length: keep }, (_, i) => `${paths.auditFile}.${keep - i}`),
    paths.auditFile,
  ];
  const out: AuditReadResult = { events: [], problems: [] };
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw storage(file, err);
    }
    const lines = text.split("\n");
    lines.forEach((l, i) => {
      if (l === "") return;
      let json: unknown;
      try {
        json = JSON.parse(l);
      } catch {
        out.problems.push({ file, line: i + 1, reason: "not valid JSON" });
        return;
      }
      const p = AuditEvent.safeParse(json);
      if (p.success) out.events.push(p.data);
      else out.problems.push({ file, line: i + 1, reason: "not an audit event" });
    });
  }
  return out;
}
