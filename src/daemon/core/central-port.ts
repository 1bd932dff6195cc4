/**
 * The RadioPort over src/radio/central.ts (noble): its continuous scan and its connections already
 * have the shape the core needs, so this only narrows the type. The daemon opens one Central per
 * process (noble is a singleton) and hands the port to the core.
 */
import type { Central } from "../../radio/central.js";
import type { RadioPort } from "./radio-port.js";

export function centralPort(central: Central): RadioPort {
  return {
    get address() {
      return central.address;
    },
    startScan: (onAdvert) => central.startScan(onAdvert),
    connect: (id, opts) => central.connect(id, opts),
    close: () => central.close(),
  };
}
