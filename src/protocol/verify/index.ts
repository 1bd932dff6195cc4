export * from "./accessory.js";
export * from "./controller.js";
export * from "./exchange.js";
export * from "./handler.js";
export * from "./payload.js";
export * from "./prologue.js";
