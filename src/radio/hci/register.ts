/**
 * `openclaw-pair/hci-register`: a preload that makes any unmodified noble or bleno program use the H4
 * stream named by OPENCLAW_HCI instead of the kernel's Bluetooth socket:
 *
 *   OPENCLAW_HCI=unix:/tmp/air.sock?label=me node --require openclaw-pair/hci-register app.js
 *   OPENCLAW_HCI=tcp:127.0.0.1:4500 node --import openclaw-pair/hci-register app.mjs
 *
 * Unset or `hci0`: nothing changes (the real adapter). Worker threads inherit the preload through their
 * default execArgv; a Worker given its own `execArgv` must list it again. From code, call `useHci(spec)`
 * (exported here and from ./install.js) before the first import of noble or bleno.
 */
import { systemClock } from "../../clock/system.js";
import { isOpenClawError } from "../../protocol/errors.js";
import { useHci } from "./install.js";

export { hciTargets, useHci } from "./install.js";
export { type HciSpec, parseHciSpec } from "./spec.js";

const spec = process.env.OPENCLAW_HCI;
if (spec !== undefined && spec.trim() !== "") {
  try {
    useHci(spec, { clock: systemClock });
  } catch (err) {
    // A bad OPENCLAW_HCI must not silently fall back to the real adapter, nor end in a stack trace.
    if (!isOpenClawError(err)) throw err;
    process.stderr.write(`openclaw-pair/hci-register: OPENCLAW_HCI: ${err.message}\n  ${err.remedy}\n`);
    process.exit(2);
  }
}
