export { ControllerPairSetup, type ControllerPairSetupOptions } from "../pairsetup/controller.js";
export * from "./bond-record.js";
export * from "./controller.js";
