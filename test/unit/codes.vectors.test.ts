import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkCodesVectors } from "../../src/vectors/codes.js";
import { buildCodesVectors } from "../../src/vectors/generate-codes.js";
import { VectorFileError } from "../../src/vectors/report.js";

const FILE = new URL("../../hardware/vectors/codes.json", import.meta.url);

interface RawVector {
  name: string;
  type: string;
  [field: string]: unknown;
}
interface RawFile {
  vectors: RawVector[];
  [field: string]: unknown;
}

function load(): RawFile {
  return JSON.parse(readFileSync(FILE, "utf8")) as RawFile;
}

/** The file with one field of the first vector matching `pick` replaced. */
function altered(
  pick: (v: RawVector) => boolean,
  field: string,
  value: unknown,
): { file: RawFile; name: string } {
  const file = load();
  const v = file.vectors.find(pick);
  if (!v) throw new Error("no such vector in the file");
  v[field] = value;
  return { file, name: v.name };
}

function statusOf(file: RawFile, name: string): string | undefined {
  return checkCodesVectors(file).find((r) => r.name === name)?.status;
}

describe("hardware/vectors/codes.json", () => {
  it("passes every vector, and covers every vector type", () => {
    const file = load();
    const results = checkCodesVectors(file);
    expect(results.filter((r) => r.status !== "passed")).toEqual([]);
    expect(results).toHaveLength(file.vectors.length);
    expect(new Set(file.vectors.map((v) => v.type))).toEqual(
      new Set(["normalise", "generate", "display", "password", "trivial", "w0w1"]),
    );
  });

  it("is what src/vectors/generate-codes.ts produces (regenerate it when the implementation changes)", () => {
    expect(JSON.parse(JSON.stringify(buildCodesVectors()))).toEqual(load());
  });

  it.each([
    [
      "a normalised result",
      (v: RawVector) => v.type === "normalise" && v["canonical"] === "7K4Q92XMJ",
      "canonical",
      "7K4Q92XMK",
    ],
    ["an expected error", (v: RawVector) => v["error"] === "BAD_CHECK_CHARACTER", "error", "MALFORMED_CODE"],
    [
      "an input that should fail",
      (v: RawVector) => v["error"] === "BAD_CHECK_CHARACTER",
      "input",
      "OCL-7K4Q-92XM-J",
    ],
    ["a generated code", (v: RawVector) => v.type === "generate", "canonical", "771605"],
    [
      "the bytes a generation uses",
      (v: RawVector) => v.type === "generate" && v["bytesUsed"] === 9,
      "bytesUsed",
      6,
    ],
    [
      "a random stream cut short",
      (v: RawVector) => v.type === "generate" && v["bytesUsed"] === 9,
      "random",
      "f42400",
    ],
    [
      "a display form",
      (v: RawVector) => v.type === "display" && v["format"] === "long",
      "display",
      "OCL-7K4Q92XM-J",
    ],
    ["password bytes", (v: RawVector) => v.type === "password", "password", "373731363035"],
    [
      "the trivial passkey set",
      (v: RawVector) => v.type === "trivial" && v["format"] === "passkey",
      "codes",
      ["123456"],
    ],
    [
      "w0",
      (v: RawVector) => v.type === "w0w1",
      "w0",
      // The real w0 with its last byte changed.
      "f6c7233a95ebf8fbe26fc18dda126c5996d305ae0b6157122ac6af2db467e4e8",
    ],
    ["L", (v: RawVector) => v.type === "w0w1", "L", `04${"00".repeat(64)}`],
    ["the iterations", (v: RawVector) => v.type === "w0w1", "iterations", 1001],
  ])("fails when %s is altered", (_what, pick, field, value) => {
    const { file, name } = altered(pick, field, value);
    expect(statusOf(file, name)).toBe("failed");
    // Only the altered vector fails.
    expect(checkCodesVectors(file).filter((r) => r.status === "failed")).toHaveLength(1);
  });

  it("fails a vector that is malformed, and a normalise vector with both or neither outcome", () => {
    expect(
      statusOf(altered((v) => v.type === "w0w1", "w1", "not hex").file, "w0/w1 for passkey 771604"),
    ).toBe("failed");
    const both = altered(
      (v) => v["canonical"] === "123456" && v.type === "normalise",
      "error",
      "MALFORMED_CODE",
    );
    expect(statusOf(both.file, both.name)).toBe("failed");
    const unknownField = altered((v) => v.type === "display", "extra", 1);
    expect(statusOf(unknownField.file, unknownField.name)).toBe("failed");
  });

  it("skips vector types it does not know", () => {
    const file = load();
    file.vectors.push({ name: "from the future", type: "qr-code" });
    expect(checkCodesVectors(file).at(-1)).toMatchObject({ name: "from the future", status: "skipped" });
  });

  it("refuses a file that is not a codes vector file", () => {
    expect(() => checkCodesVectors({ vectors: [] })).toThrow(VectorFileError);
    expect(() => checkCodesVectors({ ...load(), kind: "transcripts" })).toThrow(VectorFileError);
    expect(() => checkCodesVectors(null)).toThrow(VectorFileError);
  });
});
