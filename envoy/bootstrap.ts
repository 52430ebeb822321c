// Builders for Envoy bootstrap configurations (v3 API, written as JSON, which Envoy reads as YAML).
// Tests, the demo and the benchmark compose their Envoys from these pieces, so every run uses the same shapes
// an operator would write by hand (see envoy/*.yaml for the hand-written equivalents).

export type Json = Record<string, unknown>;

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
  const configuration = options.configuration === undefined ? "" :
    typeof options.configuration === "string" ? options.configuration : JSON.stringify(options.configuration);
  return {
    name: "envoy.filters.http.wasm",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
      config: {
        name: options.name,
        root_id: options.rootId ?? options.name,
        configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: configuration },
        fail_open: options.failOpen ?? false,
        vm_config: {
          vm_id: options.vmId ?? options.name,
          runtime: "envoy.wasm.runtime.v8",
          code: { local: { filename: options.wasmPath } },
        },
      },
    },
  };
}

export function luaFilter(inlineCode: string): Json {
  return {
    name: "envoy.filters.http.lua",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
      default_source_code: { inline_string: inlineCode },
    },
  };
}

export const routerFilter: Json = {
  name: "envoy.filters.http.router",
  typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
};

/** A route to a cluster, or a fixed answer from Envoy itself (isolates filter cost from the upstream). */
export type RouteAction = { cluster: string; timeoutSeconds?: number } | { directResponse: { status: number; body: string } };

export interface RouteSpec {
  prefix?: string;
  path?: string;
  action: RouteAction;
  /** Per-route filter config overrides keyed by filter name. */
  typedPerFilterConfig?: Json;
}

function route(spec: RouteSpec): Json {
  const match = spec.path !== undefined ? { path: spec.path } : { prefix: spec.prefix ?? "/" };
  const result: Json = { match };
  if ("cluster" in spec.action) {
    result.route = { cluster: spec.action.cluster, timeout: `${spec.action.timeoutSeconds ?? 15}s` };
  } else {
    result.direct_response = {
      status: spec.action.directResponse.status,
      body: { inline_string: spec.action.directResponse.body },
    };
  }
  if (spec.typedPerFilterConfig) result.typed_per_filter_config = spec.typedPerFilterConfig;
  return result;
}

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
  return {
    name: options.name,
    address: { socket_address: { address: options.address ?? "127.0.0.1", port_value: options.port ?? 0 } },
    filter_chains: [{
      filters: [{
        name: "envoy.filters.network.http_connection_manager",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
          stat_prefix: options.statPrefix ?? options.name,
          codec_type: "AUTO",
          route_config: {
            name: `${options.name}_routes`,
            virtual_hosts: [{ name: "all", domains: ["*"], routes: options.routes.map(route) }],
          },
          http_filters: [...options.httpFilters, routerFilter],
        },
      }],
    }],
  };
}

export function staticCluster(name: string, host: string, port: number, options: { http2?: boolean; timeoutSeconds?: number } = {}): Json {
  // An IP address is used as is; a host name (a compose service, say) is resolved by Envoy.
  const isAddress = /^[0-9.]+$|:/.test(host);
  const cluster: Json = {
    name,
    type: isAddress ? "STATIC" : "STRICT_DNS",
    connect_timeout: `${options.timeoutSeconds ?? 1}s`,
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: port } } } }] }],
    },
  };
  if (options.http2) {
    cluster.typed_extension_protocol_options = {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        explicit_http_config: { http2_protocol_options: {} },
      },
    };
  }
  return cluster;
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
  return {
    admin: { address: { socket_address: { address: options.adminAddress ?? "127.0.0.1", port_value: options.adminPort ?? 0 } } },
    static_resources: { listeners: options.listeners, clusters: options.clusters ?? [] },
    ...options.extra,
  };
}
