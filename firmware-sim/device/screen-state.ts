/**
 * What the device's screen shows for its current state (pure): the code and countdown while a window
 * it shows is open, the lockout, the last pairing, or idle. display.ts draws it.
 */
import type { Accessory } from "../../src/protocol/accessory/accessory.js";
import type { Role } from "../../src/protocol/accessory/types.js";
import { displayCode } from "../../src/protocol/codes/index.js";
import type { Screen } from "./display.js";

export function screenFor(
  accessory: Pick<Accessory, "window" | "bondTable">,
  o: {
    name: string;
    now: number;
    maxAttempts: number;
    lastBonded: { peerName: string; role: Role } | undefined;
  },
): Screen {
  const w = accessory.window.state;
  const table = accessory.bondTable;
  const name = o.name;
  if (w.kind === "open" && w.codeSource === "device") {
    return {
      kind: "pairing",
      name,
      code: displayCode(w.code, w.format),
      format: w.format,
      expiresAt: w.expiresAt,
      attemptsLeft: w.attemptsLeft,
      maxAttempts: o.maxAttempts,
    };
  }
  if (w.kind === "open")
    return { kind: "message", name, text: "pairing open for a laptop that was given the code" };
  if (w.kind === "locked-out" && w.until > o.now) return { kind: "locked", name, until: w.until };
  if (o.lastBonded && table.used > 0) {
    return { kind: "bonded", name, ...o.lastBonded, bonds: table.used, slots: table.slots };
  }
  return { kind: "idle", name, bonds: table.used, slots: table.slots };
}
