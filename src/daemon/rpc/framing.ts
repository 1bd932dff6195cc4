/**
 * Line framing for the control socket: one JSON message per `\n`-terminated line, each at most
 * `maxLineBytes` long. A peer that sends a longer line is not buffered without bound: the splitter
 * reports the overflow once and refuses everything after it (the connection is then answered and
 * dropped by its owner), so a hostile client costs at most `maxLineBytes` of memory.
 */

/** The default bound on one control message (requests and responses are far smaller). */
export const MAX_LINE_BYTES = 64 * 1024;

export type LineEvent = { kind: "line"; line: string } | { kind: "overflow"; bytes: number };

export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private overflowed = false;

  constructor(private readonly maxLineBytes = MAX_LINE_BYTES) {}

  /** True once a line exceeded the bound: the stream is unusable from here on. */
  get failed(): boolean {
    return this.overflowed;
  }

  /** Bytes held for a line not yet terminated. */
  get buffered(): number {
    return this.size;
  }

  /** Feeds a chunk; returns the complete lines it finished (and at most one overflow, last). */
  push(chunk: Buffer): LineEvent[] {
    if (this.overflowed) return [];
    const out: LineEvent[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      if (this.size + piece.length > this.maxLineBytes) return this.overflow(out, this.size + piece.length);
      const line = this.parts.length === 0 ? piece : Buffer.concat([...this.parts, piece]);
      this.parts = [];
      this.size = 0;
      const text = line.toString("utf8").replace(/\r$/, "");
      if (text.trim() !== "") out.push({ kind: "line", line: text });
      start = nl + 1;
    }
    const rest = chunk.subarray(start);
    if (rest.length > 0) {
      if (this.size + rest.length > this.maxLineBytes) return this.overflow(out, this.size + rest.length);
      // Copy: the caller's chunk buffer may be reused by the stream.
      this.parts.push(Buffer.from(rest));
      this.size += rest.length;
    }
    return out;
  }

  private overflow(out: LineEvent[], bytes: number): LineEvent[] {
    this.overflowed = true;
    this.parts = [];
    this.size = 0;
    out.push({ kind: "overflow", bytes });
    return out;
  }
}

/** One message as a line (JSON.stringify never emits a raw newline). */
export function frameLine(message: unknown): string {
  return `${JSON.stringify(message)}\n`;
}
