export {
  type Inspected,
  type JsonFileOptions,
  JsonStateFile,
  type Quarantine,
  type WritePoint,
} from "./json-file.js";
export { describeFsError, ensurePrivateDir, fsyncDir, lockStateDir, type StateLock } from "./state-dir.js";
