export { H4Parser, type HciFilter, passesHciFilter } from "./h4.js";
export { hciTargets, useHci } from "./install.js";
export {
  type HciDeviceInfo,
  HciStreamSocket,
  type HciStreamSocketOptions,
  hciSocketClassFor,
} from "./socket.js";
export { formatHciSpec, type HciSpec, type HciStreamSpec, isStreamSpec, parseHciSpec } from "./spec.js";
