/** The info characteristic payload. One definition, src/protocol/messages/info.ts, re-exported. */
export * from "./messages/info.js";
