export * from "./accessory.js";
export * from "./channel.js";
export * from "./client.js";
export * from "./commands.js";
export * from "./error-body.js";
export * from "./limits.js";
export * from "./payload.js";
