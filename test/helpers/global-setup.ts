import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** Compile src/firmware-sim/test fixtures to dist/ so child processes run the same JS a user runs. */
export default function setup(): void {
  try {
    execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], {
      cwd: root,
      stdio: "pipe",
    });
  } catch (err) {
    // Type errors still emit JS; `npm run typecheck` is what gates on them.
    const out = (err as { stdout?: Buffer }).stdout?.toString() ?? "";
    if (!out.includes("error TS")) throw err;
  }
}
