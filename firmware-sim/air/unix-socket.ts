/**
 * The air's unix sockets (the radio's and the control socket): private to the user who started the air
 * unless asked otherwise, whatever the umask, and never left behind or stolen from a live air.
 *
 * The socket file gets `mode` (default 0600) from the moment it exists: it is bound with a umask that
 * leaves nothing for group and others, then set to exactly `mode`. A missing directory is created 0700;
 * an existing one is left as it is (what a person named is never chmod-ed).
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from "node:fs";
import { createConnection, type Server } from "node:net";
import { dirname } from "node:path";
import { OpenClawError } from "../../src/protocol/errors.js";

/** sockaddr_un.sun_path is 108 bytes on Linux, including the terminating NUL. */
export const MAX_UNIX_PATH_BYTES = 107;
export const DEFAULT_SOCKET_MODE = 0o600;

function invalid(detail: string, cause?: unknown): OpenClawError<"INVALID_ARGUMENT"> {
  return new OpenClawError("INVALID_ARGUMENT", { detail, command: "air" }, { cause });
}

/** Listens on a unix socket at `path` with exactly `mode`. */
export async function listenUnix(server: Server, path: string, mode = DEFAULT_SOCKET_MODE): Promise<void> {
  // Linux silently truncates longer sun_path names, which would leave a stray socket file elsewhere.
  if (Buffer.byteLength(path) > MAX_UNIX_PATH_BYTES) {
    throw invalid(`unix socket path is longer than ${MAX_UNIX_PATH_BYTES} bytes: ${path}`);
  }
  const dir = dirname(path);
  if (!existsSync(dir)) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw invalid(`cannot create ${dir} for the socket (${(err as NodeJS.ErrnoException).code})`, err);
    }
  }
  await clearStaleSocket(path);
  await new Promise<void>((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException): void => {
      const why = err.code === "EADDRINUSE" ? "address in use" : (err.code ?? err.message);
      reject(invalid(`cannot listen on ${path} (${why})`, err));
    };
    server.once("error", fail);
    const done = (): void => {
      server.off("error", fail);
      resolve();
    };
    // The bind happens inside listen(), synchronously: a umask of 077 around it means the file never
    // exists with more than owner access. (Workers may not change the umask: there the chmod below
    // follows at once.)
    let previous: number | undefined;
    try {
      previous = process.umask(0o077);
    } catch {
      previous = undefined;
    }
    try {
      server.listen(path, done);
    } catch (err) {
      fail(err as NodeJS.ErrnoException);
    } finally {
      if (previous !== undefined) process.umask(previous);
    }
  });
  chmodSync(path, mode);
}

/** A unix socket file left by a crashed air is removed; one with a live server behind it is an error. */
export async function clearStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  if (!lstatSync(path).isSocket()) throw invalid(`${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const s = createConnection(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
  if (alive) throw invalid(`${path} is in use by another running air`);
  unlinkSync(path);
}

/** Removes a socket file this air created (already gone is fine). */
export function removeSocket(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Parses a mode given as octal text ("600", "0660"); only read/write bits for user, group, others. */
export function parseSocketMode(text: string): number {
  if (!/^0?[0-7]{3}$/.test(text)) throw invalid(`socket mode "${text}" is not an octal mode like 600 or 660`);
  const mode = Number.parseInt(text, 8);
  if ((mode & 0o111) !== 0)
    throw invalid(`socket mode ${text}: sockets take read/write bits only (6, 4, 2, 0)`);
  if ((mode & 0o200) === 0) throw invalid(`socket mode ${text}: the owner must be able to write (6xx)`);
  return mode;
}
