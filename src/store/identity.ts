/**
 * This laptop's identity towards devices: the controller id every device bonds to, and the name it shows
 * in their bond lists. Made once, kept in `identity.json` (0600).
 *
 * Every bond is bound to the controller id, so losing the identity strands every bond. A corrupt file is
 * quarantined and, where the bonds agree on one controller id, that id is recovered from them; only
 * when nothing can be recovered is a new one minted, and the result says so (`created` with
 * `quarantined`) so the caller can tell the person that existing bonds no longer verify.
 */
import { basename, dirname } from "node:path";
import { z } from "zod";
import type { Clock } from "../clock/index.js";
import { toHex as bytesToHex, fromHex as hexToBytes } from "../protocol/bytes.js";
import type { ControllerBond } from "../protocol/controller/bond-record.js";
import { OpenClawError } from "../protocol/errors.js";
import { CONTROLLER_ID_LEN, MAX_TEXT } from "../protocol/messages/constants.js";
import type { RandomBytes } from "../protocol/random.js";
import { JsonStateFile, type Quarantine } from "./json-file.js";
import type { OpenClawPaths } from "./paths.js";
import { quarantineError } from "./quarantine.js";
import { ensurePrivateDir } from "./state-dir.js";

export interface Identity {
  /** 16 bytes. */
  controllerId: Uint8Array;
  /** Shown on the device ("alice's laptop"); at most 64 UTF-8 bytes. */
  name: string;
  /** Wall-clock ms, for people. */
  createdAt: number;
}

export interface IdentityResult {
  identity: Identity;
  /** A new controller id was minted now (first run, or nothing could be recovered). */
  created: boolean;
  /** The identity file was corrupt and moved aside (STORE_CORRUPT was reported). */
  quarantined?: Quarantine;
  /** The identity file was missing or corrupt and the controller id was taken from the stored bonds. */
  recoveredFromBonds?: boolean;
}

export interface IdentityOptions {
  random: RandomBytes;
  clock: Clock;
  /** The name for a new identity (e.g. "alice's laptop"); cut to 64 UTF-8 bytes. */
  defaultName: string;
  /** The stored bonds, to recover the controller id from when the identity file is missing or corrupt. */
  bonds?: readonly ControllerBond[];
  /** Told about a quarantined identity file, as a STORE_CORRUPT error (for the log and `doctor`). */
  onCorrupt?: (err: OpenClawError<"STORE_CORRUPT">) => void;
}

export const IDENTITY_FORMAT_VERSION = 1;

const IdentityFile = z
  .object({
    version: z.literal(IDENTITY_FORMAT_VERSION),
    controllerId: z
      .string()
      .length(CONTROLLER_ID_LEN * 2)
      .regex(/^[0-9a-f]+$/),
    name: z.string().min(1).max(MAX_TEXT),
    createdAt: z.number().int().nonnegative(),
  })
  .strict()
  .refine((v) => Buffer.byteLength(v.name) <= MAX_TEXT, { path: ["name"], message: "too long" });

/** Cuts `name` to at most MAX_TEXT UTF-8 bytes without splitting a character. */
export function fitName(name: string): string {
  let out = "";
  for (const ch of name) {
    if (Buffer.byteLength(out + ch) > MAX_TEXT) break;
    out += ch;
  }
  return out;
}

function identityFile(paths: OpenClawPaths, clock: Clock, onQuarantine?: (q: Quarantine) => void) {
  return new JsonStateFile(dirname(paths.identityFile), basename(paths.identityFile), IdentityFile, {
    formatVersion: IDENTITY_FORMAT_VERSION,
    wallClock: () => clock.wallNow(),
    ...(onQuarantine ? { onQuarantine } : {}),
  });
}

/** The one controller id all bonds share, if they agree (they always do unless state dirs were mixed). */
function idFromBonds(bonds: readonly ControllerBond[]): { id: Uint8Array; name: string } | undefined {
  const ids = new Set(bonds.map((b) => bytesToHex(b.controllerId)));
  const first = bonds[0];
  if (ids.size !== 1 || !first) return undefined;
  return { id: first.controllerId.slice(), name: first.controllerName };
}

/**
 * Loads this laptop's identity, or makes and persists one. The caller holds the state directory's lock.
 * Throws STATE_TOO_NEW (file left untouched) and STORAGE; never for a corrupt file.
 */
export async function loadOrCreateIdentity(
  paths: OpenClawPaths,
  opts: IdentityOptions,
): Promise<IdentityResult> {
  await ensurePrivateDir(dirname(paths.identityFile));
  let quarantined: Quarantine | undefined;
  const file = identityFile(paths, opts.clock, (q) => {
    quarantined = q;
  });
  const stored = await file.load();
  if (stored)
    return {
      identity: {
        controllerId: hexToBytes(stored.controllerId),
        name: stored.name,
        createdAt: stored.createdAt,
      },
      created: false,
    };
  if (quarantined) opts.onCorrupt?.(quarantineError(quarantined));

  const recovered = idFromBonds(opts.bonds ?? []);
  const name = fitName(recovered?.name || opts.defaultName) || "openclaw laptop";
  const identity: Identity = {
    controllerId: recovered?.id ?? opts.random(CONTROLLER_ID_LEN),
    name,
    createdAt: opts.clock.wallNow(),
  };
  if (identity.controllerId.length !== CONTROLLER_ID_LEN)
    throw new OpenClawError("INTERNAL", { detail: "the random source returned the wrong length" });
  await file.save({
    version: IDENTITY_FORMAT_VERSION,
    controllerId: bytesToHex(identity.controllerId),
    name: identity.name,
    createdAt: identity.createdAt,
  });
  return {
    identity,
    created: !recovered,
    ...(quarantined ? { quarantined } : {}),
    ...(recovered ? { recoveredFromBonds: true } : {}),
  };
}

/** Renames this laptop (the name new pairings show on devices). */
export async function saveIdentity(paths: OpenClawPaths, clock: Clock, identity: Identity): Promise<void> {
  await ensurePrivateDir(dirname(paths.identityFile));
  await identityFile(paths, clock).save({
    version: IDENTITY_FORMAT_VERSION,
    controllerId: bytesToHex(identity.controllerId),
    name: fitName(identity.name),
    createdAt: identity.createdAt,
  });
}
