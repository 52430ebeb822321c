// The chain's floor module (bench/floor/chain_calls.ts): the chain root's proxy-wasm calls per request with no work
// around them, built to build/bench-floor.wasm with the stub runtime. Measured next to the chain, it shows how much
// of the chain's cost the calls themselves are.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../../scripts/tools.ts";
import { runAsc } from "../../scripts/build.ts";

const FLOOR_DIR = join(projectRoot, "bench", "floor");
export const FLOOR_WASM = join(projectRoot, "build", "bench-floor.wasm");

export async function buildFloorModule(): Promise<string> {
  mkdirSync(join(projectRoot, "build"), { recursive: true });
  // Compiled from its own folder, so the project's asconfig.json (the SDK's abort handler) does not apply.
  await runAsc(FLOOR_DIR, [
    "chain_calls.ts", "--runtime", "stub", "--optimizeLevel", "3", "--noAssert", "--use", "abort=", "--outFile", FLOOR_WASM,
  ]);
  return FLOOR_WASM;
}

export function floorUnavailable(): string | false {
  return existsSync(FLOOR_WASM) ? false : "build/bench-floor.wasm is missing (npm run bench builds it)";
}
