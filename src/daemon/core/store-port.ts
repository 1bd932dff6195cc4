/**
 * src/store as the core sees it: the BondStore narrowed to CoreBondStore, and the core's audit events
 * mapped onto the store's closed AuditLog schema (an interrupted pairing's dropped candidate is a
 * pair-failed with the device's code). The daemon process and the tests both wire the core this way.
 */

import { ERROR_CODES, type ErrorCode } from "../../protocol/errors.js";
import type { AuditLog } from "../../store/audit-log.js";
import type { BondStore } from "../../store/bond-store.js";
import type { CoreAuditEvent, CoreAuditLog, CoreBondStore } from "./api.js";

export function coreStore(store: BondStore): CoreBondStore {
  return {
    list: () => store.list(),
    get: (id) => store.get(id),
    candidates: () => store.candidates(),
    candidate: (id) => store.candidate(id),
    putCandidate: (r) => store.putCandidate(r),
    commitCandidate: (id, seen) => store.commitCandidate(id, seen),
    dropCandidate: (id) => store.dropCandidate(id),
    markVerified: (id, key, seen) => store.markVerified(id, key, seen),
    remove: (id) => store.remove(id),
  };
}

const asCode = (code: string): ErrorCode =>
  (ERROR_CODES as readonly string[]).includes(code) ? (code as ErrorCode) : "INTERNAL";

export function coreAudit(audit: AuditLog): CoreAuditLog {
  return {
    append(e: CoreAuditEvent) {
      switch (e.type) {
        case "paired":
          return audit.append({ type: "paired", deviceId: e.deviceId, role: e.role });
        case "candidate-dropped":
          return audit.append({ type: "pair-failed", deviceId: e.deviceId, code: asCode(e.code) });
        case "pair-failed":
        case "verify-failed":
          return audit.append({ type: e.type, deviceId: e.deviceId, code: asCode(e.code) });
        case "removed":
          return audit.append({ type: "removed", deviceId: e.deviceId, where: e.where, outcome: e.outcome });
        case "pair-attempt":
        case "verified":
          return audit.append({ type: e.type, deviceId: e.deviceId });
      }
    },
  };
}
