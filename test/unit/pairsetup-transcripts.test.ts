import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { generateTranscripts } from "../../src/vectors/generate-transcripts.js";
import { checkTranscriptVectors } from "../../src/vectors/transcripts.js";

const file = JSON.parse(
  readFileSync(new URL("../../hardware/vectors/transcripts.json", import.meta.url), "utf8"),
) as {
  vectors: Array<Record<string, unknown>>;
};

describe("pair-setup transcript vectors", () => {
  it("the shipped file replays byte for byte", () => {
    const results = checkTranscriptVectors(file);
    expect(results.length).toBeGreaterThanOrEqual(3);
    for (const r of results) expect(r, r.detail).toMatchObject({ status: "passed" });
  });

  it("the generator reproduces the shipped file exactly", () => {
    expect(JSON.parse(JSON.stringify(generateTranscripts()))).toEqual(file);
  });

  it("a changed byte anywhere is reported as a failure that names the field", () => {
    const tampered = structuredClone(file);
    const v = tampered.vectors[0] as {
      attempts: Array<{ messages: Array<{ hex: string }>; values: Record<string, string> }>;
    };
    const msg = v.attempts[0]!.messages[1]!;
    msg.hex = `${msg.hex.slice(0, -2)}${msg.hex.endsWith("00") ? "01" : "00"}`;
    v.attempts[0]!.values.K_shared = "00".repeat(32);
    const [r] = checkTranscriptVectors(tampered);
    expect(r?.status).toBe("failed");
    expect(r?.detail).toMatch(/message 2 \(accessory PairSetupChallenge\)/);
    expect(r?.detail).toMatch(/K_shared differs/);
  });

  it("a malformed vector fails alone; a file of another kind is refused", () => {
    const broken = structuredClone(file);
    (broken.vectors[1] as Record<string, unknown>).inputs = { nope: 1 };
    const results = checkTranscriptVectors(broken);
    expect(results.map((r) => r.status)).toEqual(["passed", "failed", "passed", "passed"]);
    expect(() =>
      checkTranscriptVectors({ format: "openclaw-vectors/1", kind: "codes", vectors: [] }),
    ).toThrow();
  });
});
