export { type JsonFileOptions, JsonStateFile, type Quarantine } from "./json-file.js";
export { describeFsError, ensurePrivateDir, fsyncDir, lockStateDir, type StateLock } from "./state-dir.js";
