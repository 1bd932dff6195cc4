/**
 * openclaw-pair as a library: the pure protocol (both roles, codes, errors, crypto-backed pair-setup,
 * verify and sessions), the clock everything that waits takes, the transport framing, and the HCI stream support that lets noble and bleno run
 * on the virtual air. The radio wrappers load noble/bleno lazily, so importing this module touches no
 * Bluetooth stack.
 */
export * from "./clock/index.js";
export * from "./protocol/index.js";
export * as hci from "./radio/hci/index.js";
export * as transport from "./transport/index.js";
