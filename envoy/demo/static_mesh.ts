// Static Envoy bootstraps for the demo mesh's gateway and sidecars, computed from the topology: what both runners
// start until the control service configures the proxies over xDS (then the runners start each Envoy from
// `as-mesh bootstrap` instead). They prove the plumbing: every sidecar's inbound (:15006, metrics reporter
// `destination`) in front of its app, its outbound (:15001, reporter `source`) routing by the Host header to the
// other services' sidecars, and the gateway running metrics → jwt-auth → rate-limit in front of ride.
// Written as proto3 JSON (camelCase), which Envoy reads as its YAML too; no mTLS and no RBAC yet (that is the
// control service's job).
import { statsConfigForIstioMetrics, type MetricsFilterConfig } from "../istio_metrics.ts";
import { PORTS, serviceHost, services, spiffeId, topology, type Workload } from "./topology.ts";

type Json = Record<string, unknown>;

export interface Endpoint { address: string; port: number }

/** Where the runner put things: addresses and ports as seen from inside each workload. */
export interface StaticMeshPlacement {
  /** Address a proxy binds its listeners and admin to (0.0.0.0 in a namespace or container). */
  bindAddress: string;
  /** The workload's own ports (fixed in a namespace or container, distinct free ports on shared loopback). */
  portsOf(name: string): { app: number; inbound: number; outbound: number; admin: number };
  /** Where other proxies reach a workload's sidecar inbound (or the issuer's app). */
  inboundOf(name: string): Endpoint;
  /** Address the sidecar reaches its own app at. */
  appAddress: string;
  /** Directory holding metrics.wasm, jwt-auth.wasm, rate-limit.wasm as the proxy sees it. */
  wasmDir: string;
  /** The gateway's listener port. */
  gatewayPort: number;
}

const LISTENER_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const ROUTER = { name: "envoy.filters.http.router", typedConfig: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } };

function socket(address: string, port: number): Json {
  return { socketAddress: { address, portValue: port } };
}

function cluster(name: string, endpoints: Endpoint[], dns: boolean): Json {
  return {
    name,
    type: dns ? "STRICT_DNS" : "STATIC",
    connectTimeout: "2s",
    loadAssignment: {
      clusterName: name,
      endpoints: [{ lbEndpoints: endpoints.map((e) => ({ endpoint: { address: socket(e.address, e.port) } })) }],
    },
  };
}

function isIp(address: string): boolean {
  return /^[\d.]+$/.test(address);
}

function wasm(name: string, wasmDir: string, configuration: unknown): Json {
  return {
    name: "envoy.filters.http.wasm",
    typedConfig: {
      "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
      config: {
        name, rootId: name,
        configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: JSON.stringify(configuration) },
        vmConfig: { vmId: name, runtime: "envoy.wasm.runtime.v8", code: { local: { filename: `${wasmDir}/${name}.wasm` } } },
      },
    },
  };
}

function httpListener(name: string, address: string, port: number, filters: Json[], virtualHosts: Json[]): Json {
  return {
    name,
    address: socket(address, port),
    filterChains: [{
      filters: [{
        name: "envoy.filters.network.http_connection_manager",
        typedConfig: {
          "@type": LISTENER_TYPE,
          statPrefix: name,
          httpFilters: [...filters, ROUTER],
          routeConfig: { name, virtualHosts },
        },
      }],
    }],
  };
}

function outboundCluster(service: string): string {
  return `outbound|${PORTS.app}||${serviceHost(service)}`;
}

function workloadMetrics(w: Workload, reporter: "source" | "destination"): MetricsFilterConfig {
  return {
    reporter,
    workload: {
      name: w.name, namespace: w.namespace, principal: spiffeId(w.serviceAccount, w.namespace),
      service: serviceHost(w.service, w.namespace), service_name: w.service,
    },
    max_label_sets: 500,
  };
}

/** Clusters for every mesh service, with the sidecar inbound of each of its workloads as endpoints. */
function serviceClusters(placement: StaticMeshPlacement): Json[] {
  return services().map((service) => {
    const endpoints = topology.workloads.filter((w) => w.service === service).map((w) => placement.inboundOf(w.name));
    return cluster(outboundCluster(service), endpoints, endpoints.some((e) => !isIp(e.address)));
  });
}

function admin(placement: StaticMeshPlacement, name: string): Json {
  return { address: socket(placement.bindAddress, placement.portsOf(name).admin) };
}

export function staticSidecar(w: Workload, placement: StaticMeshPlacement): Json {
  const ports = placement.portsOf(w.name);
  const inbound = workloadMetrics(w, "destination");
  const outbound = workloadMetrics(w, "source");
  const inboundCluster = `inbound|${PORTS.app}||`;
  const virtualHosts = services().map((service) => ({
    name: serviceHost(service),
    domains: [serviceHost(service), `${serviceHost(service)}:${PORTS.app}`, service],
    routes: [{ match: { prefix: "/" }, route: { cluster: outboundCluster(service) } }],
  }));
  return {
    node: { id: `sidecar~${w.name}.${w.namespace}`, cluster: `${w.service}.${w.namespace}` },
    admin: admin(placement, w.name),
    staticResources: {
      listeners: [
        httpListener("inbound", placement.bindAddress, ports.inbound, [wasm("metrics", placement.wasmDir, inbound)], [{
          name: "inbound", domains: ["*"],
          routes: [{ match: { prefix: "/" }, route: { cluster: inboundCluster } }],
        }]),
        // The outbound listener is the app's only way out, so it binds loopback where the app shares a network.
        httpListener("outbound", placement.bindAddress === "0.0.0.0" ? "127.0.0.1" : placement.bindAddress, ports.outbound,
          [wasm("metrics", placement.wasmDir, outbound)], virtualHosts),
      ],
      clusters: [cluster(inboundCluster, [{ address: placement.appAddress, port: ports.app }], !isIp(placement.appAddress)), ...serviceClusters(placement)],
    },
    statsConfig: statsConfigForIstioMetrics(inbound, outbound),
  };
}

/** The issuer's demo tokens (envoy/demo/backend.mjs): same issuer and audience as the RequestAuthentication. */
export const EDGE_ISSUER = "https://issuer.demo.as-mesh";
export const EDGE_AUDIENCE = "demo-api";

export function staticGateway(placement: StaticMeshPlacement): Json {
  const g = topology.gateway;
  const metrics: MetricsFilterConfig = {
    reporter: "source",
    workload: { name: g.name, namespace: g.namespace, principal: spiffeId(g.serviceAccount, g.namespace) },
    max_label_sets: 500,
  };
  const issuerHost = serviceHost(topology.issuer.name, topology.issuer.namespace);
  const jwt = {
    providers: {
      "edge-jwt": {
        issuer: EDGE_ISSUER,
        audiences: [EDGE_AUDIENCE],
        remote_jwks: { http_uri: { uri: `http://${issuerHost}:${PORTS.app}/.well-known/jwks.json`, cluster: "issuer", timeout: "2s" }, cache_duration: "300s" },
        forward: true,
        claim_to_headers: [{ header_name: "x-jwt-claim-sub", claim_name: "sub" }],
      },
    },
    rules: [{ match: { prefix: "/" }, requires: { provider_name: "edge-jwt" } }],
  };
  const rateLimit = {
    stat_prefix: "edge",
    enable_x_ratelimit_headers: "DRAFT_VERSION_03",
    rules: [{
      name: "bookings_per_user", match: { path_prefix: "/book" },
      descriptors: [{ jwt_claim: { header_name: "x-jwt-claim-sub" } }],
      token_bucket: { max_tokens: 5, tokens_per_fill: 5, fill_interval: "10s" },
    }],
  };
  const issuer = placement.inboundOf(topology.issuer.name);
  return {
    node: { id: `router~${g.name}.${g.namespace}`, cluster: `${g.name}.${g.namespace}` },
    admin: admin(placement, g.name),
    staticResources: {
      listeners: [httpListener("edge", placement.bindAddress, placement.gatewayPort, [
        wasm("metrics", placement.wasmDir, metrics),
        wasm("jwt-auth", placement.wasmDir, jwt),
        wasm("rate-limit", placement.wasmDir, rateLimit),
      ], [{ name: "edge", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: outboundCluster("ride") } }] }])],
      clusters: [cluster("issuer", [issuer], !isIp(issuer.address)), ...serviceClusters(placement)],
    },
    statsConfig: statsConfigForIstioMetrics(metrics),
  };
}
