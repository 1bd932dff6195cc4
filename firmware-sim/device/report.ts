/**
 * What the device does about each batch of accessory events (pure): the events a tester sees
 * (`SimEvent`), which state writes they call for (`SaveCause`), whether the advertisement may have
 * changed, whether a factory reset means a reboot, and the last laptop that bonded (for the screen).
 */
import type { AccessoryEvent, Role } from "../../src/protocol/accessory/types.js";
import type { SimEvent } from "./events.js";
import type { SaveCause } from "./state.js";

export interface Report {
  events: SimEvent[];
  causes: SaveCause[];
  advert: boolean;
  reboot: boolean;
  /** Set when a laptop bonded in this batch (shown on the screen as "paired with …"). */
  bonded?: { peerName: string; role: Role };
}

export function report(batch: readonly AccessoryEvent[]): Report {
  const events: SimEvent[] = [];
  const causes = new Set<SaveCause>();
  const r: Report = { events, causes: [], advert: false, reboot: false };
  for (const ev of batch) {
    switch (ev.type) {
      case "display":
        r.advert = true;
        if (ev.codeSource === "controller") {
          events.push({ type: "window-shared", role: "user", expiresInMs: ev.expiresInMs });
        } else {
          events.push({
            type: "display",
            code: ev.display,
            format: ev.format,
            expiresInMs: ev.expiresInMs,
            expiresAt: Math.round(ev.expiresAt),
            attemptsLeft: ev.attemptsLeft,
            reason: ev.reason,
          });
        }
        break;
      case "window-closed":
        r.advert = true;
        events.push({ type: "window-closed", reason: ev.reason });
        break;
      case "wrong-code":
        events.push({ type: "wrong-code", attemptsLeft: ev.attemptsLeft });
        break;
      case "locked-out":
        r.advert = true;
        events.push({ type: "locked-out", retryAfterMs: ev.retryAfterMs });
        break;
      case "bonded":
        r.bonded = { peerName: ev.name, role: ev.role };
        events.push({
          type: "bonded",
          peerId: ev.controllerId,
          role: ev.role,
          name: ev.name,
          provisional: ev.provisional,
        });
        break;
      case "verified":
        events.push({ type: "verified", peerId: ev.controllerId, role: ev.role });
        break;
      case "bond-confirmed":
        events.push({ type: "bond-confirmed", peerId: ev.controllerId });
        break;
      case "bond-expired":
        events.push({ type: "bond-expired", peerId: ev.controllerId });
        break;
      case "removed":
        events.push({ type: "removed", peerId: ev.controllerId, by: ev.by });
        break;
      case "factory-reset":
        events.push({ type: "factory-reset" });
        causes.add("reset");
        r.reboot = true;
        break;
      case "bonds-changed":
        r.advert = true;
        causes.add("bonds");
        break;
      case "identity-changed":
        causes.add("identity");
        break;
      case "guard-changed":
        causes.add("guard");
        break;
      case "app":
        events.push({ type: "app", op: ev.op, ...(ev.detail ? { detail: ev.detail } : {}) });
        break;
    }
  }
  r.causes = [...causes];
  return r;
}
