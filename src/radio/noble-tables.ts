/**
 * noble keeps an entry for every address it has ever heard, in nine tables across lib/noble.js and its
 * HCI bindings (lib/hci-socket/bindings.js, gap.js), and never lets one go while the scan runs. Phones,
 * watches and earbuds take a new private address every few minutes, so a laptop scanning for weeks
 * gathers thousands: ≈ 1.2 kB of live heap each (`npm run bench -- radio`, "scan memory"). noble has no
 * API to forget a peripheral; this removes one from each table, for Central's pruning of advertisers
 * long gone. Only tables found with the expected shape are touched (a noble that changed its internals
 * keeps its entries, and the bench figure shows it).
 */

type Table = Record<string, unknown>;

interface NobleInternals {
  _peripherals?: unknown;
  _services?: unknown;
  _characteristics?: unknown;
  _descriptors?: unknown;
  _discoveredPeripheralUUids?: unknown;
  _bindings?: {
    _addresses?: unknown;
    _addresseTypes?: unknown;
    _connectable?: unknown;
    scannable?: unknown;
    _gap?: { _discoveries?: unknown };
  };
}

const isTable = (t: unknown): t is Table => typeof t === "object" && t !== null && !Array.isArray(t);

function drop(t: unknown, key: string): void {
  if (isTable(t)) delete t[key];
}

/**
 * Forgets peripheral `id` (noble's uuid: the address without colons) heard at `address` (as noble
 * reports it, lower case with colons). Call only for a peripheral with no link and no connect pending:
 * noble looks a connecting peripheral up in these tables.
 */
export function forgetNoblePeripheral(noble: unknown, id: string, address: string | undefined): void {
  if (typeof noble !== "object" || noble === null) return;
  const n = noble as NobleInternals;
  for (const t of [
    n._peripherals,
    n._services,
    n._characteristics,
    n._descriptors,
    n._discoveredPeripheralUUids,
  ])
    drop(t, id);
  const b = n._bindings;
  if (typeof b !== "object" || b === null) return;
  for (const t of [b._addresses, b._addresseTypes, b._connectable, b.scannable]) drop(t, id);
  if (address !== undefined) drop(b._gap?._discoveries, address);
}

/** How many peripherals noble's own table holds (for the bench and tests); undefined if not found. */
export function noblePeripheralCount(noble: unknown): number | undefined {
  const t = typeof noble === "object" && noble !== null ? (noble as NobleInternals)._peripherals : undefined;
  return isTable(t) ? Object.keys(t).length : undefined;
}
