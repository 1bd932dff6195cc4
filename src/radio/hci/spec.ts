/**
 * Which HCI controller a process talks to: the real adapter (the default) or an H4 stream to a virtual
 * controller (`firmware-sim/air`, or BlueZ's `btvirt -s`).
 *
 *   undefined | "" | "hci0" | "hci1"   the real adapter (kernel HCI socket), optionally by index
 *   unix:/tmp/air.sock?label=dev1      H4 over a unix stream socket
 *   tcp:127.0.0.1:4500?label=dev1      H4 over TCP (IPv6 hosts in brackets: tcp:[::1]:4500)
 *
 * `label` (optional, ≤ 32 UTF-8 bytes) names this client to the virtual radio, which derives a stable
 * BD_ADDR from it; it is sent as vendor command 0xFC01 before anything else.
 */
import { resolve } from "node:path";
import { OpenClawError } from "../../protocol/errors.js";

export type HciSpec =
  | { kind: "adapter"; devId?: number }
  | { kind: "unix"; path: string; label?: string }
  | { kind: "tcp"; host: string; port: number; label?: string };

export type HciStreamSpec = Extract<HciSpec, { kind: "unix" | "tcp" }>;

export const MAX_LABEL_BYTES = 32;
/** sockaddr_un.sun_path is 108 bytes on Linux, including the terminating NUL. */
const MAX_UNIX_PATH_BYTES = 107;

const EXAMPLES = "expected hci0, unix:/path/to/air.sock[?label=name] or tcp:host:port[?label=name]";

function invalid(detail: string): OpenClawError<"INVALID_ARGUMENT"> {
  return new OpenClawError("INVALID_ARGUMENT", { detail });
}

function parseQuery(query: string, text: string): { label?: string } {
  if (query === "") return {};
  const params = new URLSearchParams(query);
  let label: string | undefined;
  for (const [key, value] of params) {
    if (key !== "label")
      throw invalid(`HCI spec ${JSON.stringify(text)}: unknown option "${key}" (only label=)`);
    if (label !== undefined) throw invalid(`HCI spec ${JSON.stringify(text)}: label given twice`);
    label = value;
  }
  if (label === undefined) return {};
  const bytes = Buffer.byteLength(label, "utf8");
  if (bytes === 0) throw invalid(`HCI spec ${JSON.stringify(text)}: empty label`);
  if (bytes > MAX_LABEL_BYTES) {
    throw invalid(`HCI spec ${JSON.stringify(text)}: label is ${bytes} bytes, at most ${MAX_LABEL_BYTES}`);
  }
  return { label };
}

function splitQuery(rest: string): [string, string] {
  const q = rest.indexOf("?");
  return q < 0 ? [rest, ""] : [rest.slice(0, q), rest.slice(q + 1)];
}

/** Parses an `--hci` / `OPENCLAW_HCI` value; throws OpenClawError INVALID_ARGUMENT with what was wrong. */
export function parseHciSpec(text: string | undefined): HciSpec {
  if (text === undefined) return { kind: "adapter" };
  const trimmed = text.trim();
  if (trimmed === "") return { kind: "adapter" };

  const adapter = /^hci(\d{1,3})$/.exec(trimmed);
  if (adapter) return { kind: "adapter", devId: Number(adapter[1]) };

  if (trimmed.startsWith("unix:")) {
    const [rawPath, query] = splitQuery(trimmed.slice("unix:".length));
    const path = rawPath.startsWith("///") ? rawPath.slice(2) : rawPath; // tolerate unix:///tmp/x
    if (path === "") throw invalid(`HCI spec ${JSON.stringify(text)}: missing socket path (${EXAMPLES})`);
    const abs = resolve(path);
    if (Buffer.byteLength(abs, "utf8") > MAX_UNIX_PATH_BYTES) {
      throw invalid(`HCI spec ${JSON.stringify(text)}: socket path longer than ${MAX_UNIX_PATH_BYTES} bytes`);
    }
    return { kind: "unix", path: abs, ...parseQuery(query, text) };
  }

  if (trimmed.startsWith("tcp:")) {
    const [hostPort, query] = splitQuery(trimmed.slice("tcp:".length).replace(/^\/\//, ""));
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(hostPort);
    if (!m) throw invalid(`HCI spec ${JSON.stringify(text)}: expected tcp:host:port (${EXAMPLES})`);
    const host = (m[1] ?? m[2])!;
    const port = Number(m[3]);
    if (port < 1 || port > 65535)
      throw invalid(`HCI spec ${JSON.stringify(text)}: port out of range 1-65535`);
    return { kind: "tcp", host, port, ...parseQuery(query, text) };
  }

  throw invalid(`HCI spec ${JSON.stringify(text)} not understood (${EXAMPLES})`);
}

/** The canonical text of a spec (round-trips through parseHciSpec). */
export function formatHciSpec(spec: HciSpec): string {
  const q =
    spec.kind !== "adapter" && spec.label !== undefined
      ? `?${new URLSearchParams({ label: spec.label })}`
      : "";
  switch (spec.kind) {
    case "adapter":
      return `hci${spec.devId ?? 0}`;
    case "unix":
      return `unix:${spec.path}${q}`;
    case "tcp":
      return `tcp:${spec.host.includes(":") ? `[${spec.host}]` : spec.host}:${spec.port}${q}`;
  }
}

export function isStreamSpec(spec: HciSpec): spec is HciStreamSpec {
  return spec.kind !== "adapter";
}
