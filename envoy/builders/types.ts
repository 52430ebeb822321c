// The generated proto3-JSON types the builders produce, in one place, plus `typed()` for the contents of an Any.
// Envoy's YAML/JSON loader and packResource() both read this camelCase JSON, so one builder serves a static
// bootstrap file and an xDS response alike.
import type { AnyJson } from "@bufbuild/protobuf/wkt";

export type { AnyJson };
export type { BootstrapJson, AdminJson } from "../../control/api/gen/envoy/config/bootstrap/v3/bootstrap_pb.ts";
export type { ClusterJson } from "../../control/api/gen/envoy/config/cluster/v3/cluster_pb.ts";
export type { CircuitBreakersJson, CircuitBreakers_ThresholdsJson } from "../../control/api/gen/envoy/config/cluster/v3/circuit_breaker_pb.ts";
export type { OutlierDetectionJson } from "../../control/api/gen/envoy/config/cluster/v3/outlier_detection_pb.ts";
export type { ClusterLoadAssignmentJson } from "../../control/api/gen/envoy/config/endpoint/v3/endpoint_pb.ts";
export type { LbEndpointJson, LocalityLbEndpointsJson } from "../../control/api/gen/envoy/config/endpoint/v3/endpoint_components_pb.ts";
export type { ListenerJson } from "../../control/api/gen/envoy/config/listener/v3/listener_pb.ts";
export type { FilterChainJson, FilterJson } from "../../control/api/gen/envoy/config/listener/v3/listener_components_pb.ts";
export type { RouteConfigurationJson } from "../../control/api/gen/envoy/config/route/v3/route_pb.ts";
export type {
  VirtualHostJson, RouteJson, RouteMatchJson, RouteActionJson, WeightedClusterJson, WeightedCluster_ClusterWeightJson,
  RetryPolicyJson, HeaderMatcherJson, RedirectActionJson, DirectResponseActionJson, RouteAction_RequestMirrorPolicyJson,
} from "../../control/api/gen/envoy/config/route/v3/route_components_pb.ts";
export type { TypedExtensionConfigJson } from "../../control/api/gen/envoy/config/core/v3/extension_pb.ts";
export type { ConfigSourceJson, ExtensionConfigSourceJson } from "../../control/api/gen/envoy/config/core/v3/config_source_pb.ts";
export type { AddressJson } from "../../control/api/gen/envoy/config/core/v3/address_pb.ts";
export type { HeaderValueOptionJson, NodeJson, TransportSocketJson, DataSourceJson } from "../../control/api/gen/envoy/config/core/v3/base_pb.ts";
export type { HttpConnectionManagerJson, HttpFilterJson } from "../../control/api/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.ts";
export type { WasmJson } from "../../control/api/gen/envoy/extensions/filters/http/wasm/v3/wasm_pb.ts";
export type { PluginConfigJson, VmConfigJson } from "../../control/api/gen/envoy/extensions/wasm/v3/wasm_pb.ts";
export type { HTTPFaultJson } from "../../control/api/gen/envoy/extensions/filters/http/fault/v3/fault_pb.ts";
export type { FractionalPercentJson } from "../../control/api/gen/envoy/type/v3/percent_pb.ts";
export type { DownstreamTlsContextJson, UpstreamTlsContextJson } from "../../control/api/gen/envoy/extensions/transport_sockets/tls/v3/tls_pb.ts";
export type { SecretJson, SdsSecretConfigJson } from "../../control/api/gen/envoy/extensions/transport_sockets/tls/v3/secret_pb.ts";
export type { StatsConfigJson } from "../../control/api/gen/envoy/config/metrics/v3/stats_pb.ts";

/** Full names of the messages the builders put inside an Any. */
export const MessageType = {
  httpConnectionManager: "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
  tcpProxy: "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
  router: "envoy.extensions.filters.http.router.v3.Router",
  wasm: "envoy.extensions.filters.http.wasm.v3.Wasm",
  lua: "envoy.extensions.filters.http.lua.v3.Lua",
  fault: "envoy.extensions.filters.http.fault.v3.HTTPFault",
  stringValue: "google.protobuf.StringValue",
  httpProtocolOptions: "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
  downstreamTlsContext: "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
  upstreamTlsContext: "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
} as const;

/**
 * An Any holding `body` as the message `messageName`. The generated AnyJson type only knows "@type", so the body's
 * own type is checked by the caller's annotation (`typed<RouterJson>(...)`) and the field names by packResource().
 */
export function typed<T extends object>(messageName: string, body: T): AnyJson {
  return { "@type": `type.googleapis.com/${messageName}`, ...body } as AnyJson;
}

/** A protobuf JSON duration ("1.5s") from milliseconds. */
export function durationMs(milliseconds: number): string {
  const seconds = milliseconds / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(3).replace(/0+$/, "")}s`;
}
