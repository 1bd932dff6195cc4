export * from "./guard.js";
export * from "./policy.js";
export * from "./window.js";
