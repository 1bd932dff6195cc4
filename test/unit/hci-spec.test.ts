import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isOpenClawError } from "../../src/protocol/errors.js";
import { formatHciSpec, parseHciSpec } from "../../src/radio/hci/spec.js";

function invalidDetail(text: string): string {
  try {
    parseHciSpec(text);
  } catch (err) {
    if (isOpenClawError(err) && err.is("INVALID_ARGUMENT")) return err.details.detail;
    throw err;
  }
  throw new Error(`${text} was accepted`);
}

describe("parseHciSpec", () => {
  it("defaults to the real adapter", () => {
    expect(parseHciSpec(undefined)).toEqual({ kind: "adapter" });
    expect(parseHciSpec("")).toEqual({ kind: "adapter" });
    expect(parseHciSpec("hci0")).toEqual({ kind: "adapter", devId: 0 });
    expect(parseHciSpec("hci1")).toEqual({ kind: "adapter", devId: 1 });
  });

  it("reads unix and tcp streams with an optional label", () => {
    expect(parseHciSpec("unix:/tmp/air.sock")).toEqual({ kind: "unix", path: "/tmp/air.sock" });
    expect(parseHciSpec("unix:/tmp/air.sock?label=dev1")).toEqual({
      kind: "unix",
      path: "/tmp/air.sock",
      label: "dev1",
    });
    expect(parseHciSpec("tcp:127.0.0.1:4500?label=laptop")).toEqual({
      kind: "tcp",
      host: "127.0.0.1",
      port: 4500,
      label: "laptop",
    });
    expect(parseHciSpec("tcp:[::1]:9")).toEqual({ kind: "tcp", host: "::1", port: 9 });
    expect(parseHciSpec("tcp:localhost:65535")).toEqual({ kind: "tcp", host: "localhost", port: 65535 });
  });

  it("decodes percent-encoded labels and resolves relative socket paths", () => {
    expect(parseHciSpec("unix:/a?label=my%20claw")).toMatchObject({ label: "my claw" });
    expect(parseHciSpec("unix:air.sock")).toMatchObject({ path: `${process.cwd()}/air.sock` });
    expect(parseHciSpec("unix:///tmp//air.sock")).toMatchObject({ path: "/tmp/air.sock" });
  });

  it("rejects bad specs with INVALID_ARGUMENT saying what is wrong", () => {
    expect(invalidDetail("bluetooth")).toMatch(/not understood.*unix:/);
    expect(invalidDetail("unix:")).toMatch(/missing socket path/);
    expect(invalidDetail("tcp:localhost")).toMatch(/tcp:host:port/);
    expect(invalidDetail("tcp:localhost:0")).toMatch(/port out of range/);
    expect(invalidDetail("tcp:localhost:70000")).toMatch(/port out of range/);
    expect(invalidDetail("unix:/a?label=")).toMatch(/empty label/);
    expect(invalidDetail(`unix:/a?label=${"x".repeat(33)}`)).toMatch(/33 bytes, at most 32/);
    expect(invalidDetail("unix:/a?lable=x")).toMatch(/unknown option "lable"/);
    expect(invalidDetail("unix:/a?label=x&label=y")).toMatch(/twice/);
    expect(invalidDetail(`unix:/${"d".repeat(120)}`)).toMatch(/longer than 107 bytes/);
  });

  it("formats stream specs so they parse back to the same thing", () => {
    const label = fc.option(
      fc.string({ minLength: 1, maxLength: 10 }).filter((s) => Buffer.byteLength(s) <= 32),
      {
        nil: undefined,
      },
    );
    fc.assert(
      fc.property(fc.stringMatching(/^(\/[a-z0-9_-][a-z0-9._-]{0,8}){1,4}$/), label, (path, l) => {
        const spec =
          l === undefined ? { kind: "unix" as const, path } : { kind: "unix" as const, path, label: l };
        expect(parseHciSpec(formatHciSpec(spec))).toEqual(spec);
      }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom("127.0.0.1", "::1", "air.local"),
        fc.integer({ min: 1, max: 65535 }),
        label,
        (host, port, l) => {
          const spec =
            l === undefined
              ? { kind: "tcp" as const, host, port }
              : { kind: "tcp" as const, host, port, label: l };
          expect(parseHciSpec(formatHciSpec(spec))).toEqual(spec);
        },
      ),
    );
  });
});
