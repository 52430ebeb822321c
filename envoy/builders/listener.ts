// Listeners, filter chains and the HTTP connection manager.
import { routerFilter } from "./filters.ts";
import { adsConfigSource } from "./filters.ts";
import { routeConfiguration, route, virtualHost, type RouteSpec } from "./route.ts";
import {
  MessageType, typed,
  type AddressJson, type DownstreamTlsContextJson, type FilterChainJson, type FilterJson, type HttpConnectionManagerJson,
  type HttpFilterJson, type ListenerJson, type RouteConfigurationJson,
} from "./types.ts";

export function socketAddress(address: string, port: number): AddressJson {
  return { socketAddress: { address, portValue: port } };
}

export interface HttpConnectionManagerOptions {
  statPrefix: string;
  /** The filters before the router, in order; the router is appended. */
  httpFilters: HttpFilterJson[];
  /** Routes inline, or by name over RDS (ADS). */
  routes: { routeConfig: RouteConfigurationJson } | { rds: string };
  /** Headers the proxy may trust from its peer (x-forwarded-*, x-envoy-*): true on sidecars, false at the edge. */
  trustDownstream?: boolean;
  /** RFC 3986 path normalisation before routing and filters see the path (Istio's default, "BASE"). */
  normalizePath?: boolean;
}

export function httpConnectionManager(options: HttpConnectionManagerOptions): FilterJson {
  const hcm: HttpConnectionManagerJson = {
    statPrefix: options.statPrefix,
    codecType: "AUTO",
    httpFilters: [...options.httpFilters, routerFilter],
  };
  if ("rds" in options.routes) hcm.rds = { routeConfigName: options.routes.rds, configSource: adsConfigSource() };
  else hcm.routeConfig = options.routes.routeConfig;
  if (options.trustDownstream === false) hcm.useRemoteAddress = true;
  if (options.normalizePath) hcm.normalizePath = true;
  return { name: "envoy.filters.network.http_connection_manager", typedConfig: typed(MessageType.httpConnectionManager, hcm) };
}

/** A TCP proxy to one cluster: for ports whose protocol is not HTTP. */
export function tcpProxy(statPrefix: string, cluster: string): FilterJson {
  return { name: "envoy.filters.network.tcp_proxy", typedConfig: typed(MessageType.tcpProxy, { statPrefix, cluster }) };
}

export interface FilterChainOptions {
  filters: FilterJson[];
  name?: string;
  /** Terminates TLS on this chain (Gateway SIMPLE, and later mesh mTLS). */
  tls?: DownstreamTlsContextJson;
  /** SNI names this chain serves (needs the TLS inspector listener filter). */
  serverNames?: string[];
}

export function filterChain(options: FilterChainOptions): FilterChainJson {
  const chain: FilterChainJson = { filters: options.filters };
  if (options.name) chain.name = options.name;
  if (options.serverNames && options.serverNames.length > 0) chain.filterChainMatch = { serverNames: options.serverNames };
  if (options.tls) {
    chain.transportSocket = { name: "envoy.transport_sockets.tls", typedConfig: typed(MessageType.downstreamTlsContext, options.tls) };
  }
  return chain;
}

export const TLS_INSPECTOR: ListenerJson["listenerFilters"] = [{
  name: "envoy.filters.listener.tls_inspector",
  typedConfig: typed("envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector", {}),
}];

export interface ListenerOptions {
  name: string;
  address: string;
  /** Port 0 lets the kernel choose; read the bound port back from the admin API. */
  port: number;
  filterChains: FilterChainJson[];
  statPrefix?: string;
}

export function listener(options: ListenerOptions): ListenerJson {
  const result: ListenerJson = {
    name: options.name,
    address: socketAddress(options.address, options.port),
    filterChains: options.filterChains,
  };
  if (options.statPrefix) result.statPrefix = options.statPrefix;
  if (options.filterChains.some((chain) => chain.filterChainMatch?.serverNames)) result.listenerFilters = TLS_INSPECTOR;
  return result;
}

export interface HttpListenerOptions {
  name: string;
  port?: number;
  address?: string;
  httpFilters: HttpFilterJson[];
  routes: RouteSpec[];
  statPrefix?: string;
}

/** A listener with inline routes on one virtual host matching every domain (hand-composed Envoys). */
export function httpListener(options: HttpListenerOptions): ListenerJson {
  const routeConfig = routeConfiguration(`${options.name}_routes`, [virtualHost("all", ["*"], options.routes.map(route))]);
  return listener({
    name: options.name,
    address: options.address ?? "127.0.0.1",
    port: options.port ?? 0,
    filterChains: [filterChain({
      filters: [httpConnectionManager({ statPrefix: options.statPrefix ?? options.name, httpFilters: options.httpFilters, routes: { routeConfig } })],
    })],
  });
}
