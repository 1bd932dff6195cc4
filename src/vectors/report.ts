/**
 * What every vector checker returns, and the helpers they share to say precisely what differed.
 * Vector values are published test data, never live secrets, so details may show them (shortened).
 */
import type { z } from "zod";
import { toHex } from "../protocol/bytes.js";

export type VectorStatus = "passed" | "failed" | "skipped";

export interface VectorResult {
  /** Which vector, as a person finds it in the file (its name, or its index and suite). */
  name: string;
  status: VectorStatus;
  /**
   * Why it failed or was skipped (what differed, expected vs got), one problem per line; for a pass,
   * what was checked.
   */
  detail?: string;
}

export interface VectorTotals {
  passed: number;
  failed: number;
  skipped: number;
}

/** A file that is not a vector file of any format this command knows. */
export class VectorFileError extends Error {
  override readonly name = "VectorFileError";
}

export function tally(results: readonly VectorResult[]): VectorTotals {
  const t: VectorTotals = { passed: 0, failed: 0, skipped: 0 };
  for (const r of results) t[r.status] += 1;
  return t;
}

export function totalsLine(t: VectorTotals): string {
  return `${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`;
}

const SHOWN_HEX = 32;

/** Hex around a byte offset, shortened with ellipses to keep a report line readable. */
function window(h: string, byteOffset: number): string {
  const start = Math.max(0, byteOffset * 2 - 8);
  const slice = h.slice(start, start + SHOWN_HEX * 2);
  return `${start > 0 ? "…" : ""}${slice}${start + SHOWN_HEX * 2 < h.length ? "…" : ""}`;
}

/** "K_main differs at byte 3: expected …, got …", or null when equal. */
export function describeDifference(field: string, expected: Uint8Array, actual: Uint8Array): string | null {
  let i = 0;
  while (i < expected.length && i < actual.length && expected[i] === actual[i]) i++;
  if (i === expected.length && i === actual.length) return null;
  const where =
    expected.length !== actual.length ? `length ${actual.length} instead of ${expected.length}` : `byte ${i}`;
  return `${field} differs (${where}): expected ${window(toHex(expected), i)}, got ${window(toHex(actual), i)}`;
}

/** Collects field comparisons for one vector and turns them into a result. */
export class VectorCheck {
  readonly #checked = new Set<string>();
  readonly #problems = new Set<string>();

  constructor(readonly name: string) {}

  /** Compares when the file has the field; `expected` undefined means the file does not give it. */
  compare(field: string, expected: Uint8Array | undefined, actual: Uint8Array): void {
    if (expected === undefined) return;
    this.#checked.add(field);
    const d = describeDifference(field, expected, actual);
    if (d !== null) this.#problems.add(d);
  }

  /** A check that has no byte value (an exchange refused, a step that threw). */
  fail(problem: string): void {
    this.#problems.add(problem);
  }

  get failed(): boolean {
    return this.#problems.size > 0;
  }

  result(): VectorResult {
    if (this.#problems.size > 0) {
      return { name: this.name, status: "failed", detail: [...this.#problems].join("\n") };
    }
    if (this.#checked.size === 0) {
      return {
        name: this.name,
        status: "failed",
        detail: "the vector gives no value this checker can compare",
      };
    }
    return { name: this.name, status: "passed", detail: `checked ${[...this.#checked].join(", ")}` };
  }
}

/** Why a step threw, without a stack (OpenClawError messages are already safe for people). */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The result for a vector its schema refuses: failed, naming the first issue and where it is. */
export function malformedVector(name: string, error: z.ZodError): VectorResult {
  const issue = error.issues[0];
  return {
    name,
    status: "failed",
    detail: `malformed vector: ${issue ? `${issue.path.join(".")} ${issue.message}` : "invalid"}`,
  };
}

/** Runs one vector's comparisons; a step that throws fails the vector, worded by `threw`. */
export function runVectorCheck(
  name: string,
  run: (check: VectorCheck) => void,
  threw: (err: unknown) => string = (err) => `threw: ${errorText(err)}`,
): VectorResult {
  const check = new VectorCheck(name);
  try {
    run(check);
  } catch (err) {
    check.fail(threw(err));
  }
  return check.result();
}
