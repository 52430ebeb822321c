// Bootstraps: static (every resource inline, for tests, the demo and the bench) and ADS (a mesh proxy that gets
// everything but its control-plane cluster over xDS).
import { httpProtocolOptions, isIpAddress } from "./cluster.ts";
import { socketAddress } from "./listener.ts";
import type { AdminJson, BootstrapJson, ClusterJson, ListenerJson, NodeJson, StatsConfigJson } from "./types.ts";

function admin(address: string, port: number): AdminJson {
  return { address: socketAddress(address, port) };
}

export interface StaticBootstrapOptions {
  listeners: ListenerJson[];
  clusters?: ClusterJson[];
  adminPort?: number;
  adminAddress?: string;
  /** Extra top-level fields (statsConfig, node, layeredRuntime, ...). */
  extra?: BootstrapJson;
}

export function staticBootstrap(options: StaticBootstrapOptions): BootstrapJson {
  return {
    admin: admin(options.adminAddress ?? "127.0.0.1", options.adminPort ?? 0),
    staticResources: { listeners: options.listeners, clusters: options.clusters ?? [] },
    ...options.extra,
  };
}

/** Where a proxy reaches the control service's gRPC port: host and port, or a Unix socket path. */
export type ControlAddress = { host: string; port: number } | { unixPath: string };

/** The name of the bootstrap cluster that carries ADS (Istio's name for it). */
export const XDS_CLUSTER = "xds-grpc";

export interface AdsBootstrapOptions {
  node: NodeJson;
  /** One or more control-service replicas; Envoy balances the ADS stream over them and reconnects on loss. */
  controlPlane: ControlAddress[];
  /** Incremental (delta) xDS instead of state of the world. */
  delta?: boolean;
  adminAddress?: string;
  adminPort?: number;
  statsConfig?: StatsConfigJson;
  /** Further static clusters (e.g. the control service's HTTP port, where Wasm modules are fetched). */
  staticClusters?: ClusterJson[];
}

function xdsCluster(addresses: ControlAddress[]): ClusterJson {
  if (addresses.length === 0) throw new Error("an ADS bootstrap needs at least one control-plane address");
  const dns = addresses.some((address) => "host" in address && !isIpAddress(address.host));
  return {
    name: XDS_CLUSTER,
    type: dns ? "STRICT_DNS" : "STATIC",
    connectTimeout: "1s",
    loadAssignment: {
      clusterName: XDS_CLUSTER,
      endpoints: [{
        lbEndpoints: addresses.map((address) => ({
          endpoint: { address: "unixPath" in address ? { pipe: { path: address.unixPath } } : socketAddress(address.host, address.port) },
        })),
      }],
    },
    // HTTP/2 PINGs and TCP keepalives notice a control service that vanished without closing the connection, so
    // Envoy reconnects (to another replica when there is one) instead of waiting on a dead stream.
    typedExtensionProtocolOptions: httpProtocolOptions({ http2: true, http2Keepalive: { interval: "30s", timeout: "10s" } }),
    upstreamConnectionOptions: { tcpKeepalive: { keepaliveTime: 300 } },
  };
}

export function adsBootstrap(options: AdsBootstrapOptions): BootstrapJson {
  const ads = { ads: {}, resourceApiVersion: "V3" as const };
  const result: BootstrapJson = {
    node: options.node,
    admin: admin(options.adminAddress ?? "127.0.0.1", options.adminPort ?? 0),
    dynamicResources: {
      adsConfig: {
        apiType: options.delta ? "DELTA_GRPC" : "GRPC",
        transportApiVersion: "V3",
        // Reconnect at most 4 s apart (Envoy's default grows to 30 s): a restarted control service waits 5 s for
        // sidecars to re-register before it serves anyone (ControlService startupGraceMs), so every proxy is back
        // within that window.
        grpcServices: [{ envoyGrpc: { clusterName: XDS_CLUSTER, retryPolicy: { retryBackOff: { baseInterval: "0.5s", maxInterval: "4s" } } } }],
        setNodeOnFirstMessageOnly: true,
      },
      cdsConfig: ads,
      ldsConfig: ads,
    },
    staticResources: { clusters: [xdsCluster(options.controlPlane), ...(options.staticClusters ?? [])] },
  };
  if (options.statsConfig) result.statsConfig = options.statsConfig;
  return result;
}
