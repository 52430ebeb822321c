// Paths of built .wasm modules. `npm test` builds everything first; a missing file means the build did not run.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../../scripts/tools.ts";

export function buildArtifact(name: string): string {
  const path = join(projectRoot, "build", `${name}.wasm`);
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run 'npm run build' first (npm test does it for you)`);
  }
  return path;
}
