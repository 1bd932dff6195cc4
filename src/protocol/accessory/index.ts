export * from "./accessory.js";
export * from "./bonds.js";
export * from "./identity.js";
export * from "./types.js";
