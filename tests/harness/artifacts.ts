// Paths of built .wasm modules. `npm test` builds everything first; a missing file means the build did not run.
//
// With AS_MESH_MODULE=as-mesh in the environment, the filter tests run against the combined module instead of the
// single-filter ones: buildArtifact("jwt-auth") then names build/as-mesh.wasm, whose root_id selection picks the
// filter (every test's root_id contains its filter's name). `npm test` runs the filter tests both ways.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../../scripts/tools.ts";

const FILTERS = ["jwt-auth", "rate-limit", "metrics"];

/** The module the filter tests load for `name`: its own, or the combined one (see above). */
export function filterModuleName(name: string): string {
  return process.env.AS_MESH_MODULE === "as-mesh" && FILTERS.includes(name) ? "as-mesh" : name;
}

export function buildArtifact(name: string): string {
  const path = join(projectRoot, "build", `${filterModuleName(name)}.wasm`);
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run 'npm run build' first (npm test does it for you)`);
  }
  return path;
}
