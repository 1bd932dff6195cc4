export * from "./channel.js";
export * from "./frame.js";
export * from "./memory-link.js";
