// HTTP filter entries for the connection manager's chain: the as-mesh Wasm filters (code from a local file or
// fetched from the control service), ECDS placeholders that name a filter whose config arrives over ADS, the fault
// filter and the router.
import {
  MessageType, durationMs, typed,
  type AnyJson, type ConfigSourceJson, type HTTPFaultJson, type HttpFilterJson, type PluginConfigJson, type VmConfigJson, type WasmJson,
} from "./types.ts";

/** Where a Wasm module's bytes come from. */
export type WasmCode =
  | { local: string }
  /** Fetched by Envoy over `cluster` from `url` and checked against `sha256` (hex) before it is loaded. */
  | { remote: { url: string; cluster: string; sha256: string; timeoutMs?: number; retries?: number } };

export interface WasmPluginOptions {
  /** Plugin name, shown in Envoy's logs and stats. */
  name: string;
  code: WasmCode;
  /** Plugin configuration handed to onConfigure: a string as-is, anything else serialised as JSON. */
  configuration?: unknown;
  /** VMs with the same vm_id (and code) share one VM per worker and one shared-data space. */
  vmId?: string;
  rootId?: string;
  /** Whether Envoy lets requests through when the VM has failed (default: fail closed). */
  failOpen?: boolean;
}

function wasmCode(code: WasmCode): VmConfigJson["code"] {
  if ("local" in code) return { local: { filename: code.local } };
  const { url, cluster, sha256, timeoutMs, retries } = code.remote;
  return {
    remote: {
      httpUri: { uri: url, cluster, timeout: durationMs(timeoutMs ?? 10_000) },
      sha256,
      // Envoy retries a failed fetch before the listener gives up on the module.
      retryPolicy: { numRetries: retries ?? 5, retryBackOff: { baseInterval: "0.5s", maxInterval: "5s" } },
    },
  };
}

/** The `envoy.extensions.filters.http.wasm.v3.Wasm` message for a plugin (a filter's typed_config or an ECDS resource). */
export function wasmConfig(options: WasmPluginOptions): AnyJson {
  const configuration = options.configuration === undefined ? "" :
    typeof options.configuration === "string" ? options.configuration : JSON.stringify(options.configuration);
  const config: PluginConfigJson = {
    name: options.name,
    rootId: options.rootId ?? options.name,
    configuration: typed(MessageType.stringValue, { value: configuration }),
    failOpen: options.failOpen ?? false,
    vmConfig: { vmId: options.vmId ?? options.name, runtime: "envoy.wasm.runtime.v8", code: wasmCode(options.code) },
  };
  return typed<WasmJson>(MessageType.wasm, { config });
}

export function wasmPluginFilter(options: WasmPluginOptions): HttpFilterJson {
  return { name: "envoy.filters.http.wasm", typedConfig: wasmConfig(options) };
}

/** ADS as the source of a resource, with the timeout after which Envoy stops waiting for it. */
export function adsConfigSource(initialFetchTimeoutMs?: number): ConfigSourceJson {
  const source: ConfigSourceJson = { ads: {}, resourceApiVersion: "V3" };
  if (initialFetchTimeoutMs !== undefined) source.initialFetchTimeout = durationMs(initialFetchTimeoutMs);
  return source;
}

/**
 * A filter whose configuration Envoy fetches by name over ECDS. The listener does not become active until the
 * config has arrived or `initialFetchTimeoutMs` has passed; with no default config and warming required, a
 * listener never serves requests through a filter that has no configuration yet (istio#38313).
 */
export function ecdsFilter(name: string, typeUrls: string[], initialFetchTimeoutMs = 30_000): HttpFilterJson {
  return {
    name,
    configDiscovery: {
      configSource: adsConfigSource(initialFetchTimeoutMs),
      applyDefaultConfigWithoutWarming: false,
      typeUrls,
    },
  };
}

export function luaFilter(inlineCode: string, statPrefix?: string): HttpFilterJson {
  const body: Record<string, unknown> = { defaultSourceCode: { inlineString: inlineCode } };
  if (statPrefix !== undefined) body.statPrefix = statPrefix;
  return { name: "envoy.filters.http.lua", typedConfig: typed(MessageType.lua, body) };
}

/** The fault filter with no fault of its own: routes switch faults on through typed_per_filter_config. */
export const FAULT_FILTER_NAME = "envoy.filters.http.fault";
export function faultFilter(): HttpFilterJson {
  return { name: FAULT_FILTER_NAME, typedConfig: typed<HTTPFaultJson>(MessageType.fault, {}) };
}

/** A per-route fault: a fixed delay and/or an abort, each for a percentage of requests (0–100, fractions allowed). */
export interface FaultSpec {
  delay?: { fixedDelayMs: number; percent: number };
  /** An HTTP status, or a gRPC status code for gRPC requests. */
  abort?: ({ httpStatus: number } | { grpcStatus: number }) & { percent: number };
}

/** Percentages go to Envoy as parts per million, so 0.1 % stays exact. */
export function fractionalPercent(percent: number): { numerator: number; denominator: "MILLION" } {
  return { numerator: Math.round(percent * 10_000), denominator: "MILLION" };
}

export function faultConfig(spec: FaultSpec): AnyJson {
  const fault: HTTPFaultJson = {};
  if (spec.delay) fault.delay = { fixedDelay: durationMs(spec.delay.fixedDelayMs), percentage: fractionalPercent(spec.delay.percent) };
  if (spec.abort) {
    fault.abort = "httpStatus" in spec.abort
      ? { httpStatus: spec.abort.httpStatus, percentage: fractionalPercent(spec.abort.percent) }
      : { grpcStatus: spec.abort.grpcStatus, percentage: fractionalPercent(spec.abort.percent) };
  }
  return typed(MessageType.fault, fault);
}

export const routerFilter: HttpFilterJson = {
  name: "envoy.filters.http.router",
  typedConfig: typed(MessageType.router, {}),
};
