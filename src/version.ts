/**
 * The package's version, read once from package.json: the CLI's --version and the simulated device's
 * firmware string both take it from here (the simulator must not import the CLI).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { OpenClawError } from "./protocol/errors.js";

/** The package root, found by walking up from this file (it runs from src/ under tests, dist/src/ when built). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, "utf8")) as { name?: string };
      if (pkg.name === "openclaw-pair") return dir;
    }
    const up = dirname(dir);
    if (up === dir)
      throw new OpenClawError("INTERNAL", {
        detail: "openclaw-pair's package.json is missing from its install",
      });
    dir = up;
  }
}

export const VERSION: string = (
  JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string }
).version;
