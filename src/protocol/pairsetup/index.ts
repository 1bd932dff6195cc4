export * from "./accessory.js";
export * from "./controller.js";
export * from "./keys.js";
