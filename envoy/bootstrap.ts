// Builders for static Envoy bootstrap configurations, as tests, the demo and the benchmark compose them. They are
// thin entry points over envoy/builders/ (the builders the control service uses for xDS too), kept with their
// original signatures. The output is proto3 JSON (camelCase), which Envoy reads as YAML; hand-written pieces
// passed in (`Json`) may use either spelling, as Envoy's loader accepts both.
import {
  httpListener as typedHttpListener, luaFilter as typedLuaFilter, routerFilter as typedRouterFilter, staticBootstrap,
  staticCluster as typedStaticCluster, wasmPluginFilter,
  type BootstrapJson, type ClusterJson, type HttpFilterJson, type ListenerJson, type RouteSpec as TypedRouteSpec,
} from "./builders/index.ts";

export type Json = Record<string, unknown>;
export type { RouteAction } from "./builders/index.ts";

export interface WasmFilterOptions {
  /** Plugin name, shown in Envoy's logs and stats. */
  name: string;
  /** Absolute path of the .wasm file. */
  wasmPath: string;
  /** Plugin configuration handed to onConfigure: a string as-is, anything else serialised as JSON. */
  configuration?: unknown;
  /** VMs with the same vm_id (and code) share one VM per worker and one shared-data space. */
  vmId?: string;
  rootId?: string;
  /** Whether Envoy lets requests through when the VM has failed (default: fail closed). */
  failOpen?: boolean;
}

export function wasmFilter(options: WasmFilterOptions): Json {
  const { wasmPath, ...rest } = options;
  return wasmPluginFilter({ ...rest, code: { local: wasmPath } });
}

export function luaFilter(inlineCode: string, statPrefix?: string): Json {
  return typedLuaFilter(inlineCode, statPrefix);
}

export const routerFilter: Json = typedRouterFilter;

export type RouteSpec = Omit<TypedRouteSpec, "typedPerFilterConfig"> & { typedPerFilterConfig?: Json };

export interface HttpListenerOptions {
  name: string;
  /** Port 0 lets the kernel choose; read the bound port back from the admin API. */
  port?: number;
  address?: string;
  httpFilters: Json[];
  routes: RouteSpec[];
  statPrefix?: string;
}

export function httpListener(options: HttpListenerOptions): Json {
  // Hand-written filter entries and per-route configs are passed through unchecked; Envoy validates them.
  return typedHttpListener({ ...options, httpFilters: options.httpFilters as HttpFilterJson[], routes: options.routes as TypedRouteSpec[] });
}

export function staticCluster(name: string, host: string, port: number, options: { http2?: boolean; timeoutSeconds?: number } = {}): Json {
  return typedStaticCluster(name, host, port, options);
}

export interface BootstrapOptions {
  listeners: Json[];
  clusters?: Json[];
  adminPort?: number;
  adminAddress?: string;
  /** Extra top-level fields (stats_config, node, layered_runtime, ...). */
  extra?: Json;
}

export function bootstrap(options: BootstrapOptions): Json {
  return staticBootstrap({
    ...options,
    listeners: options.listeners as ListenerJson[],
    clusters: options.clusters as ClusterJson[] | undefined,
    extra: options.extra as BootstrapJson | undefined,
  });
}
