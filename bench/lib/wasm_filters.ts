// Our three Wasm filters as Envoy filter entries, configured to do the same work as their Lua baselines and native
// counterparts. A filter takes part once it exists: its README (configuration format) and build/<name>.wasm.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../../scripts/tools.ts";
import { wasmFilter, type Json } from "../../envoy/bootstrap.ts";
import { jwtAuthnStyleConfig, type JwtFixture, type ProviderOptions } from "./jwt_fixture.ts";

export type WasmFilterName = "jwt-auth" | "rate-limit" | "metrics";
export const WASM_FILTERS: readonly WasmFilterName[] = ["jwt-auth", "rate-limit", "metrics"];

export function wasmPath(name: WasmFilterName): string {
  return join(projectRoot, "build", `${name}.wasm`);
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
