export {
  AUDIT_KEEP,
  AUDIT_MAX_BYTES,
  AuditEvent,
  type AuditEventInput,
  type AuditEventType,
  AuditLog,
  type AuditLogOptions,
  type AuditReadProblem,
  type AuditReadResult,
  readAudit,
} from "./audit-log.js";
export {
  BOND_FILE_VERSION,
  type BondFileContent,
  type BondFileJson,
  BondStore,
  type BondStoreOptions,
  type CandidateBond,
  encodeBondFile,
  type LastSeen,
  type SeenAt,
  type SkippedBondFile,
  type StoredBond,
} from "./bond-store.js";
export {
  fitName,
  IDENTITY_FORMAT_VERSION,
  type Identity,
  type IdentityOptions,
  type IdentityResult,
  loadOrCreateIdentity,
  saveIdentity,
} from "./identity.js";
export {
  type Inspected,
  type JsonFileOptions,
  JsonStateFile,
  type Quarantine,
  type WritePoint,
} from "./json-file.js";
export { MAX_SOCKET_PATH, type OpenClawPaths, type ResolvePathsOptions, resolvePaths } from "./paths.js";
export { quarantineError } from "./quarantine.js";
export { describeFsError, ensurePrivateDir, fsyncDir, lockStateDir, type StateLock } from "./state-dir.js";
