/** The info characteristic payload. One definition, PAIRSETUP's src/protocol/messages/info.ts: re-exported. */
export * from "./messages/info.js";
