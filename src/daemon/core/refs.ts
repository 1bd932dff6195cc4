/**
 * Device references: what a person types to name a device — its id, an id prefix, its name or its
 * address — resolved against the bonds and the discovery registry. Exact matches (id, address or radio
 * id, name; case-insensitive) win over id prefixes; more than one match at the winning level is
 * AMBIGUOUS_DEVICE with the candidates listed, none at all NO_SUCH_DEVICE. Pure.
 */
import { OpenClawError } from "../../protocol/errors.js";
import type { BondInfo, DiscoveredDevice, ResolvedDevice } from "./api.js";

/** Bonds and discovered devices merged into one list, a bonded device once (with its sighting). */
export function deviceCandidates(
  bonds: readonly BondInfo[],
  discovered: readonly DiscoveredDevice[],
): ResolvedDevice[] {
  const out: ResolvedDevice[] = [];
  const bonded = new Set<string>();
  for (const b of bonds) {
    const d = discovered.find((x) => x.deviceId === b.deviceId) ?? null;
    bonded.add(b.deviceId);
    out.push({
      deviceId: b.deviceId,
      radioId: d?.radioId ?? null,
      name: b.name,
      address: d?.address ?? null,
      bond: b,
      discovered: d,
    });
  }
  for (const d of discovered) {
    if (d.deviceId !== null && bonded.has(d.deviceId)) continue;
    out.push({
      deviceId: d.deviceId,
      radioId: d.radioId,
      name: d.name,
      address: d.address,
      bond: null,
      discovered: d,
    });
  }
  return out;
}

const compactAddress = (s: string) => s.replace(/[:-]/g, "").toLowerCase();

/** How a candidate is listed in AMBIGUOUS_DEVICE: name and the longest handle we have. */
export function describeCandidate(c: ResolvedDevice): string {
  const handle = c.deviceId ?? c.address ?? c.radioId ?? "?";
  return c.name ? `${c.name} (${handle})` : handle;
}

export function matchDevice(ref: string, candidates: readonly ResolvedDevice[]): ResolvedDevice {
  const q = ref.trim().toLowerCase();
  if (q.length === 0) throw new OpenClawError("NO_SUCH_DEVICE", { query: ref });
  const exact = candidates.filter(
    (c) =>
      c.deviceId === q ||
      c.radioId?.toLowerCase() === q ||
      (c.address !== null && compactAddress(c.address) === compactAddress(q)) ||
      c.name?.toLowerCase() === q,
  );
  const pick = (list: ResolvedDevice[]): ResolvedDevice => {
    if (list.length === 1) return list[0]!;
    throw new OpenClawError("AMBIGUOUS_DEVICE", {
      query: ref,
      candidates: list.slice(0, 64).map(describeCandidate),
    });
  };
  if (exact.length > 0) return pick(exact);
  if (/^[0-9a-f]+$/.test(q)) {
    const prefixed = candidates.filter((c) => c.deviceId?.startsWith(q));
    if (prefixed.length > 0) return pick(prefixed);
  }
  throw new OpenClawError("NO_SUCH_DEVICE", { query: ref });
}
