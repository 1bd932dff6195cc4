/**
 * The layering of DESIGN §2, enforced by walking the imports of every TypeScript file rather than by
 * convention: the protocol stays pure (no I/O, no transport, no radio), only src/radio touches noble or
 * bleno, the simulator does not lean on the CLI, the library does not lean on the simulator, the bench
 * does not lean on the tests, node-hid loads only on demand, and no two files import each other.
 */
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SCANNED = ["src", "firmware-sim", "bench", "test", "rig"];

interface Import {
  /** What the file names: a relative path resolved to a repo path (`src/x.ts`), or a bare specifier. */
  target: string;
  relative: boolean;
  /** Erased at compile time (`import type`, or every named binding is `type`). */
  typeOnly: boolean;
  /** `import("x")`, `require("x")` or `createRequire(…)("x")`: loaded when the code runs, not at start. */
  dynamic: boolean;
}

/** Every module a source file refers to, from its syntax tree (comments and strings are not imports). */
function importsOf(file: string, text: string): Import[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out: Import[] = [];
  const add = (raw: string, typeOnly: boolean, dynamic: boolean) => {
    const rel = raw.startsWith(".");
    // `fs` and `node:fs` are the same module
    const spec = !rel && builtinModules.includes(raw) ? `node:${raw}` : raw;
    out.push({ target: rel ? resolveRelative(file, spec) : spec, relative: rel, typeOnly, dynamic });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const c = node.importClause;
      const named =
        c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : undefined;
      const typeOnly =
        c !== undefined &&
        (c.isTypeOnly ||
          (!c.name && named !== undefined && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier.text, typeOnly, false);
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      const named =
        node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : undefined;
      const typeOnly =
        node.isTypeOnly || (named !== undefined && named.length > 0 && named.every((e) => e.isTypeOnly));
      add(node.moduleSpecifier.text, typeOnly, false);
    } else if (ts.isCallExpression(node) && node.arguments.length >= 1) {
      const arg = node.arguments[0]!;
      const callee = node.expression;
      const isImport = callee.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire =
        (ts.isIdentifier(callee) && /^(require|req)$/.test(callee.text)) ||
        (ts.isCallExpression(callee) &&
          ts.isIdentifier(callee.expression) &&
          callee.expression.text === "createRequire");
      if ((isImport || isRequire) && ts.isStringLiteralLike(arg)) add(arg.text, false, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** `./x.js` from `src/a/b.ts` → `src/a/x.ts` (NodeNext: the .js names the .ts source). */
function resolveRelative(file: string, spec: string): string {
  const abs = resolve(ROOT, dirname(file), spec);
  return relative(ROOT, abs).replace(/\.js$/, ".ts");
}

function sourceFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(join(ROOT, dir));
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const path = join(dir, name);
    if (name === "node_modules" || name === "dist") return [];
    if (name.endsWith(".ts") && !name.endsWith(".d.ts")) return [path];
    return name.includes(".") ? [] : sourceFiles(path);
  });
}

type Graph = Map<string, Import[]>;

const under = (file: string, ...dirs: string[]) => dirs.some((d) => file === d || file.startsWith(`${d}/`));
const packageOf = (spec: string) =>
  (spec.startsWith("@") ? spec.split("/").slice(0, 2) : spec.split("/").slice(0, 1)).join("/");

/** node: modules the pure protocol may use: hashing and randomness primitives, nothing that does I/O. */
const PROTOCOL_NODE_ALLOWED = new Set(["node:crypto"]);
/** Pure libraries the protocol may use (validation, curve arithmetic). */
const PROTOCOL_PACKAGES_ALLOWED = new Set(["zod", "@noble/curves", "@noble/hashes"]);
const BLUETOOTH_STACKS = new Set([
  "@abandonware/noble",
  "@abandonware/bleno",
  "@abandonware/bluetooth-hci-socket",
]);
/**
 * Programs that stand for a user's own, unmodified noble/bleno app (they check the HCI preload and the
 * virtual air work for code that is not ours), so they load the stacks directly, as such an app would.
 */
// Programs that are a stack on purpose, the guard's test, which feeds the stacks' own GATT parsers, and
// and rig/programs/scan-path.ts, which counts noble's raw discover events beside the registry's.
const STACK_FIXTURES = ["test/fixtures", "rig/programs", "test/unit/hci-guard.test.ts"];

/** Every rule broken in `graph`, one line each. */
function violations(graph: Graph): string[] {
  const out: string[] = [];
  for (const [file, imports] of graph) {
    for (const imp of imports) {
      const t = imp.target;
      const say = (why: string) => out.push(`${file} → ${t}: ${why}`);
      if (under(file, "src/protocol")) {
        if (imp.relative && !under(t, "src/protocol", "src/clock"))
          say("src/protocol imports only src/protocol and src/clock");
        if (imp.relative && t === "src/clock/system.ts")
          say("src/protocol takes a clock; it never reads the real one");
        if (!imp.relative && t.startsWith("node:") && !PROTOCOL_NODE_ALLOWED.has(t))
          say("src/protocol does no I/O");
        if (!imp.relative && !t.startsWith("node:") && !PROTOCOL_PACKAGES_ALLOWED.has(packageOf(t)))
          say("src/protocol uses only pure libraries");
      }
      if (!imp.relative && BLUETOOTH_STACKS.has(packageOf(t)) && !under(file, "src/radio", ...STACK_FIXTURES))
        say("only src/radio loads noble or bleno");
      if (!imp.relative && packageOf(t) === "node-hid" && (!under(file, "src/hid") || !imp.dynamic))
        say("node-hid loads on demand (a dynamic import in src/hid), never at start-up");
      if (under(file, "firmware-sim") && under(t, "src/cli")) say("the simulator does not import the CLI");
      if (under(file, "src") && !under(file, "src/cli") && under(t, "firmware-sim"))
        say("only src/cli (which launches the sim and the air) imports firmware-sim");
      if (under(file, "src", "firmware-sim", "bench", "rig") && under(t, "test"))
        say("only tests import test/");
      if (under(file, "src", "firmware-sim") && under(t, "bench", "rig"))
        say("shipped code does not import the bench or the rig");
    }
  }
  return out;
}

/** Import cycles among files (edges that exist at run time: not `import type`), each listed once. */
function cycles(graph: Graph): string[][] {
  // Tarjan's strongly connected components.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const edges = (f: string) =>
    (graph.get(f) ?? []).filter((i) => i.relative && !i.typeOnly && graph.has(i.target)).map((i) => i.target);
  const strong = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges(v)) {
      if (!index.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || edges(v).includes(v)) found.push(scc.sort());
    }
  };
  for (const f of [...graph.keys()].sort()) if (!index.has(f)) strong(f);
  return found;
}

function repoGraph(): Graph {
  const graph: Graph = new Map();
  for (const file of SCANNED.flatMap(sourceFiles)) {
    graph.set(file, importsOf(file, readFileSync(join(ROOT, file), "utf8")));
  }
  return graph;
}

describe("layering (DESIGN §2)", () => {
  const graph = repoGraph();

  it("scans the whole tree", () => {
    expect(graph.size).toBeGreaterThan(100);
    for (const f of [
      "src/protocol/errors.ts",
      "src/radio/central.ts",
      "firmware-sim/air/index.ts",
      "bench/run.ts",
    ])
      expect(graph.has(f), f).toBe(true);
  });

  it("every relative import names a file that exists", () => {
    const missing = [...graph].flatMap(([file, imports]) =>
      imports.filter((i) => i.relative && !graph.has(i.target)).map((i) => `${file} → ${i.target}`),
    );
    expect(missing).toEqual([]);
  });

  it("no module crosses a layer it must not", () => {
    expect(violations(graph)).toEqual([]);
  });

  it("no import cycles", () => {
    expect(cycles(graph)).toEqual([]);
  });
});

describe("the checker itself", () => {
  const g = (files: Record<string, string>): Graph =>
    new Map(Object.entries(files).map(([f, text]) => [f, importsOf(f, text)]));

  it("finds each kind of violation", () => {
    const v = violations(
      g({
        "src/protocol/a.ts": `import { readFileSync } from "node:fs"; import "../transport/channel.js"; import { systemClock } from "../clock/system.js";`,
        "src/protocol/b.ts": `import { createHash } from "node:crypto"; import { z } from "zod"; import type { Clock } from "../clock/clock.js";`,
        "src/store/x.ts": `const n = createRequire(import.meta.url)("@abandonware/noble");`,
        "src/daemon/y.ts": `import hid from "node-hid";`,
        "src/hid/z.ts": `const hid = await import("node-hid");`,
        "firmware-sim/device/main.ts": `import { VERSION } from "../../src/cli/version.js";`,
        "src/daemon/z.ts": `export { Air } from "../../firmware-sim/air/index.js";`,
        "src/cli/commands/sim.ts": `const { Air } = await import("../../../firmware-sim/air/index.js");`,
        "bench/radio.ts": `import { killAll } from "../test/helpers/proc.js";`,
        "test/fixtures/central.ts": `const noble = createRequire(import.meta.url)("@abandonware/noble");`,
        "src/radio/central.ts": `// import "@abandonware/bleno" in a comment is not an import\nconst s = "import 'node-hid'";`,
      }),
    );
    expect(v).toEqual([
      "src/protocol/a.ts → node:fs: src/protocol does no I/O",
      "src/protocol/a.ts → src/transport/channel.ts: src/protocol imports only src/protocol and src/clock",
      "src/protocol/a.ts → src/clock/system.ts: src/protocol takes a clock; it never reads the real one",
      "src/store/x.ts → @abandonware/noble: only src/radio loads noble or bleno",
      "src/daemon/y.ts → node-hid: node-hid loads on demand (a dynamic import in src/hid), never at start-up",
      "firmware-sim/device/main.ts → src/cli/version.ts: the simulator does not import the CLI",
      "src/daemon/z.ts → firmware-sim/air/index.ts: only src/cli (which launches the sim and the air) imports firmware-sim",
      "bench/radio.ts → test/helpers/proc.ts: only tests import test/",
    ]);
  });

  it("finds cycles through dynamic imports, and ignores type-only ones", () => {
    const c = cycles(
      g({
        "src/cli/main.ts": `import { registerSim } from "./commands/sim.js";`,
        "src/cli/commands/sim.ts": `const { reportError } = await import("../main.js");`,
        "src/a.ts": `import type { B } from "./b.js"; export type A = 1;`,
        "src/b.ts": `import type { A } from "./a.js"; export type B = 2;`,
        "src/c.ts": `export { x } from "./c.js";`,
      }),
    );
    expect(c).toEqual([["src/c.ts"], ["src/cli/commands/sim.ts", "src/cli/main.ts"]]);
  });
});
