export * from "./policy.js";
export * from "./window.js";
