export * from "./codec.js";
export * from "./constants.js";
export * from "./errors.js";
export * from "./info.js";
export * from "./schema.js";
