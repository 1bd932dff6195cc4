import { checkCodesVectors } from "./codes.js";
import { checkNoiseVectors, isNoiseFile } from "./noise.js";
import { VectorFileError, type VectorResult } from "./report.js";
import { checkSpake2PlusVectors, isSpake2PlusFile } from "./spake2plus.js";
import { checkTranscriptVectors } from "./transcripts.js";

/**
 * One entry point for every vector file `openclaw vectors check` reads. The file's shape decides:
 * - `{ "format": "openclaw-vectors/1", "kind": "codes" | "transcripts", ... }` — the project's own;
 * - `{ "vectors": [{ "protocol_name": ... }] }` — cacophony Noise vectors;
 * - `{ "vectors": [{ "suite": ... }] }` — SPAKE2+ vectors (RFC 9383 values).
 * Anything else is a VectorFileError saying what was expected.
 */

export type { VectorResult, VectorStatus, VectorTotals } from "./report.js";
export { tally, totalsLine, VectorFileError } from "./report.js";

export const OPENCLAW_VECTORS_FORMAT = "openclaw-vectors/1";

export type VectorFileKind = "codes" | "transcripts" | "noise" | "spake2plus";

export function vectorFileKind(json: unknown): VectorFileKind {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new VectorFileError("not a vector file: the JSON is not an object");
  }
  const o = json as Record<string, unknown>;
  if (o["format"] !== undefined) {
    if (o["format"] !== OPENCLAW_VECTORS_FORMAT) {
      throw new VectorFileError(
        `unknown vector format ${JSON.stringify(o["format"])} (expected ${OPENCLAW_VECTORS_FORMAT})`,
      );
    }
    if (o["kind"] === "codes" || o["kind"] === "transcripts") return o["kind"];
    throw new VectorFileError(
      `unknown ${OPENCLAW_VECTORS_FORMAT} kind ${JSON.stringify(o["kind"])} (expected codes or transcripts)`,
    );
  }
  if (Array.isArray(o["vectors"])) {
    if (o["vectors"].length === 0) return "noise"; // nothing to run either way: an empty pass
    if (isNoiseFile(json)) return "noise";
    if (isSpake2PlusFile(json)) return "spake2plus";
  }
  throw new VectorFileError(
    'not a vector file: expected SPAKE2+ vectors ({"vectors":[{"suite":…}]}), cacophony Noise vectors ({"vectors":[{"protocol_name":…}]}) or an openclaw-vectors/1 file',
  );
}

/** Runs every vector in a parsed file. Throws VectorFileError (or the checker's error) for a file it cannot read. */
export function checkVectorFile(json: unknown): VectorResult[] {
  switch (vectorFileKind(json)) {
    case "codes":
      return checkCodesVectors(json);
    case "transcripts":
      return checkTranscriptVectors(json);
    case "noise":
      return checkNoiseVectors(json);
    case "spake2plus":
      return checkSpake2PlusVectors(json);
  }
}
