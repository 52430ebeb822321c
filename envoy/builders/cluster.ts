// Clusters and their endpoints.
import { adsConfigSource } from "./filters.ts";
import {
  MessageType, durationMs, typed,
  type AnyJson, type CircuitBreakersJson, type ClusterJson, type ClusterLoadAssignmentJson, type LbEndpointJson, type OutlierDetectionJson,
} from "./types.ts";

/** An IP address is used as is; a host name (a compose service, say) is resolved by Envoy. */
export function isIpAddress(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(":");
}

export interface EndpointSpec {
  address: string;
  port: number;
  weight?: number;
  /** Endpoint metadata under `istio` (Istio puts workload labels there for subset selection). */
  labels?: Record<string, string>;
}

export function loadAssignment(clusterName: string, endpoints: EndpointSpec[]): ClusterLoadAssignmentJson {
  const lbEndpoints = endpoints.map((endpoint): LbEndpointJson => {
    const lbEndpoint: LbEndpointJson = { endpoint: { address: { socketAddress: { address: endpoint.address, portValue: endpoint.port } } } };
    if (endpoint.weight !== undefined) lbEndpoint.loadBalancingWeight = endpoint.weight;
    return lbEndpoint;
  });
  return { clusterName, endpoints: lbEndpoints.length > 0 ? [{ lbEndpoints }] : [] };
}

export interface UpstreamHttpOptions {
  /** HTTP/2 (h2c) to the upstream, e.g. for gRPC; HTTP/1.1 otherwise. */
  http2?: boolean;
  /** Speak to the upstream in the protocol the downstream used (overrides `http2`). */
  useDownstreamProtocol?: boolean;
  /** HTTP/2 only. */
  maxConcurrentStreams?: number;
  /** HTTP/2 PING keepalive (proto3 JSON durations): finds a peer that vanished without closing the connection. */
  http2Keepalive?: { interval: string; timeout: string };
  maxRequestsPerConnection?: number;
  /** Proto3 JSON durations. */
  idleTimeout?: string;
  maxConnectionDuration?: string;
}

/** The cluster's `typedExtensionProtocolOptions` for its upstream HTTP settings. */
export function httpProtocolOptions(options: UpstreamHttpOptions): Record<string, AnyJson> {
  const common: Record<string, unknown> = {};
  if (options.maxRequestsPerConnection !== undefined) common.maxRequestsPerConnection = options.maxRequestsPerConnection;
  if (options.idleTimeout !== undefined) common.idleTimeout = options.idleTimeout;
  if (options.maxConnectionDuration !== undefined) common.maxConnectionDuration = options.maxConnectionDuration;
  const http2: Record<string, unknown> = options.maxConcurrentStreams ? { maxConcurrentStreams: options.maxConcurrentStreams } : {};
  if (options.http2Keepalive) http2.connectionKeepalive = options.http2Keepalive;
  const body: Record<string, unknown> = options.useDownstreamProtocol
    ? { useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: http2 } }
    : { explicitHttpConfig: options.http2 ? { http2ProtocolOptions: http2 } : { httpProtocolOptions: {} } };
  if (Object.keys(common).length > 0) body.commonHttpProtocolOptions = common;
  return { "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": typed(MessageType.httpProtocolOptions, body) };
}

/** Upstream protocol options that make Envoy speak HTTP/2 (h2c) to the cluster, e.g. for gRPC. */
export function http2ProtocolOptions(): Record<string, AnyJson> {
  return httpProtocolOptions({ http2: true });
}

export interface StaticClusterOptions {
  http2?: boolean;
  timeoutSeconds?: number;
}

export function staticCluster(name: string, host: string, port: number, options: StaticClusterOptions = {}): ClusterJson {
  const cluster: ClusterJson = {
    name,
    type: isIpAddress(host) ? "STATIC" : "STRICT_DNS",
    connectTimeout: durationMs((options.timeoutSeconds ?? 1) * 1000),
    loadAssignment: loadAssignment(name, [{ address: host, port }]),
  };
  if (options.http2) cluster.typedExtensionProtocolOptions = http2ProtocolOptions();
  return cluster;
}

export type LbPolicy = NonNullable<ClusterJson["lbPolicy"]>;

export interface EdsClusterOptions {
  connectTimeoutMs?: number;
  lbPolicy?: LbPolicy;
  circuitBreakers?: CircuitBreakersJson;
  outlierDetection?: OutlierDetectionJson;
  http?: UpstreamHttpOptions;
}

/** A cluster whose endpoints come over ADS as a ClusterLoadAssignment of the same name. */
export function edsCluster(name: string, options: EdsClusterOptions = {}): ClusterJson {
  const cluster: ClusterJson = {
    name,
    type: "EDS",
    edsClusterConfig: { edsConfig: adsConfigSource(), serviceName: name },
    connectTimeout: durationMs(options.connectTimeoutMs ?? 10_000),
  };
  if (options.lbPolicy && options.lbPolicy !== "ROUND_ROBIN") cluster.lbPolicy = options.lbPolicy;
  if (options.circuitBreakers) cluster.circuitBreakers = options.circuitBreakers;
  if (options.outlierDetection) cluster.outlierDetection = options.outlierDetection;
  if (options.http) cluster.typedExtensionProtocolOptions = httpProtocolOptions(options.http);
  return cluster;
}
