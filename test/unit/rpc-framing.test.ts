import { describe, expect, it } from "vitest";
import { frameLine, LineSplitter } from "../../src/daemon/rpc/framing.js";

const b = (s: string) => Buffer.from(s, "utf8");

describe("control socket line framing", () => {
  it("splits lines across and within chunks, drops blank lines and a trailing CR", () => {
    const s = new LineSplitter(100);
    expect(s.push(b('{"a":1}\n{"b"'))).toEqual([{ kind: "line", line: '{"a":1}' }]);
    expect(s.push(b(':2}\r\n\n  \n{"c":3}\n'))).toEqual([
      { kind: "line", line: '{"b":2}' },
      { kind: "line", line: '{"c":3}' },
    ]);
    expect(s.buffered).toBe(0);
  });

  it("keeps multi-byte characters split across chunks intact", () => {
    const s = new LineSplitter(100);
    const bytes = b('"é€"\n');
    expect(s.push(bytes.subarray(0, 2))).toEqual([]);
    expect(s.push(bytes.subarray(2))).toEqual([{ kind: "line", line: '"é€"' }]);
  });

  it("reports a line over the bound once and buffers nothing more, whether or not it ever ends", () => {
    const s = new LineSplitter(10);
    expect(s.push(b("12345"))).toEqual([]);
    expect(s.push(b("678901"))).toEqual([{ kind: "overflow", bytes: 11 }]);
    expect(s.failed).toBe(true);
    expect(s.buffered).toBe(0);
    expect(s.push(b("x".repeat(1000)))).toEqual([]);
    expect(s.push(b("\n{}\n"))).toEqual([]);
    expect(s.buffered).toBe(0);
  });

  it("passes the lines before an overlong one, then the overflow", () => {
    const s = new LineSplitter(10);
    expect(s.push(b(`ok\n${"y".repeat(11)}\n`))).toEqual([
      { kind: "line", line: "ok" },
      { kind: "overflow", bytes: 11 },
    ]);
  });

  it("accepts a line of exactly the bound", () => {
    const s = new LineSplitter(10);
    expect(s.push(b(`${"z".repeat(10)}\n`))).toEqual([{ kind: "line", line: "z".repeat(10) }]);
  });

  it("frames one message per line", () => {
    expect(frameLine({ s: "a\nb" })).toBe('{"s":"a\\nb"}\n');
  });
});
