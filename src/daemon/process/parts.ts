/**
 * The real radio and core for the daemon process: noble (src/radio/central.ts) on the HCI the daemon
 * was given, adapted to the core's RadioPort, and the core itself.
 */
import type { Clock } from "../../clock/index.js";
import { Central } from "../../radio/central.js";
import { centralPort } from "../core/central-port.js";
import { createDaemonCore } from "../core/core.js";
import type { DaemonParts } from "./daemon.js";

export function defaultParts(clock: Clock): DaemonParts {
  return {
    clock,
    openRadio: async ({ hci, log }) => {
      const central = await Central.open({
        ...(hci !== undefined ? { hci } : {}),
        onWarning: (message) => log.debug({ message }, "noble warning"),
      });
      return centralPort(central);
    },
    createCore: (deps) => createDaemonCore(deps),
  };
}
