/**
 * The pure protocol core: both roles, no I/O. Plug points (also in hardware/PROTOCOL.md §0):
 *
 * Accessory (device, sim, firmware port):
 *   const acc = new Accessory({ identity, profile, random, bonds?, window?, session: createSessionFactory(...) });
 *   acc.openWindow({ ttlMs, role, format, codeFromController?, reason }, now)  // button / HID / share
 *   const link = acc.connect();   link.handle(bytes, now) → { replies, events, disconnect? };  link.close(now)
 *   acc.tick(now) at acc.nextDeadline();  acc.infoBytes(now) is the info characteristic's value
 *   persist acc.bondTable.toJSON() on `bonds-changed`, acc.identity on `identity-changed`
 * Verify and the session plug in through `AccessorySessionFactory(core: AccessoryCore) → AccessorySessionHandler`
 * (accessory/types.ts): VerifyStart and Session messages of a link go to its handler, and the handler
 * calls core.confirmBond / removeBond / rotateBondKey / openWindow / factoryReset.
 *
 * Controller (laptop):
 *   const ps = new Controller({ controllerId, name, random }).pairSetup(decodeInfo(infoBytes), typedCode);
 *   send(ps.firstMessage); then step = ps.handle(reply) → { replies, outcome? } until outcome
 *   outcome ok → ControllerBond (controller/bond-record.ts), which verify starts from.
 */
export * from "./accessory/index.js";
export * from "./codes/index.js";
export * from "./controller/index.js";
export * from "./errors.js";
export * from "./messages/index.js";
export * from "./pairsetup/index.js";
export * from "./random.js";
export * as session from "./session/index.js";
export * as verify from "./verify/index.js";
export * from "./window/index.js";
