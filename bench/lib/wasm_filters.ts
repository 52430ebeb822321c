// Our three Wasm filters as Envoy filter entries, configured to do the same work as their Lua baselines and native
// counterparts. A filter takes part once it exists: its README (configuration format) and build/<name>.wasm.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../../scripts/tools.ts";
import { wasmFilter, type Json } from "../../envoy/bootstrap.ts";
import { jwtAuthnStyleConfig, type JwtFixture, type ProviderOptions } from "./jwt_fixture.ts";
import { filterModuleName } from "../../tests/harness/artifacts.ts";

export type WasmFilterName = "jwt-auth" | "rate-limit" | "metrics";
export const WASM_FILTERS: readonly WasmFilterName[] = ["jwt-auth", "rate-limit", "metrics"];

/** build/<name>.wasm (or, when the tests run against the combined module, build/as-mesh.wasm: see artifacts.ts). */
export function wasmPath(name: WasmFilterName): string {
  return join(projectRoot, "build", `${filterModuleName(name)}.wasm`);
}

/** Why a filter cannot run yet (a reason to print or to skip a test with), or false when it can. */
export function wasmFilterUnavailable(name: WasmFilterName): string | false {
  if (!existsSync(join(projectRoot, "filters", name, "index.ts"))) return `filters/${name} does not exist yet`;
  if (!existsSync(join(projectRoot, "filters", name, "README.md"))) return `filters/${name}/README.md does not exist yet`;
  if (!existsSync(wasmPath(name))) return `build/${name}.wasm is missing (npm run build)`;
  return false;
}

/** The jwt-auth filter with the configuration jwt_authn and the Lua baseline get. */
export function wasmJwtAuthFilter(fixture: JwtFixture, options: ProviderOptions = {}): Json {
  return wasmFilter({ name: "jwt-auth", wasmPath: wasmPath("jwt-auth"), configuration: jwtAuthnStyleConfig(fixture, options) });
}

export function wasmRateLimitFilter(configuration: unknown): Json {
  return wasmFilter({ name: "rate-limit", wasmPath: wasmPath("rate-limit"), configuration });
}

export function wasmMetricsFilter(configuration: unknown): Json {
  return wasmFilter({ name: "metrics", wasmPath: wasmPath("metrics"), configuration });
}

/** The combined module (filters/as-mesh): every filter, and the chain root, in one module. */
export const AS_MESH_VM_ID = "as-mesh";

/**
 * One filter entry of build/as-mesh.wasm: `rootId` chooses the filter (jwt-auth, rate-limit, metrics or chain). All
 * entries share one vm_id, so Envoy runs one VM per worker for all of them.
 */
export function asMeshFilter(rootId: string, configuration: unknown): Json {
  return wasmFilter({ name: rootId, rootId, vmId: AS_MESH_VM_ID, wasmPath: join(projectRoot, "build", "as-mesh.wasm"), configuration });
}

/** Why build/as-mesh.wasm cannot run yet, or false. */
export function asMeshUnavailable(): string | false {
  if (!existsSync(join(projectRoot, "filters", "as-mesh", "index.ts"))) return "filters/as-mesh does not exist yet";
  if (!existsSync(join(projectRoot, "build", "as-mesh.wasm"))) return "build/as-mesh.wasm is missing (npm run build)";
  return false;
}
