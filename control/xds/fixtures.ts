// Small, valid Envoy resources for the xDS tests: an EDS cluster with its endpoints, an HTTP listener whose
// connection manager takes its routes over RDS, and the route configuration, all as proto3 JSON.
import type { ClusterJson } from "../api/gen/envoy/config/cluster/v3/cluster_pb.ts";
import type { ClusterLoadAssignmentJson } from "../api/gen/envoy/config/endpoint/v3/endpoint_pb.ts";
import type { ListenerJson } from "../api/gen/envoy/config/listener/v3/listener_pb.ts";
import type { RouteConfigurationJson } from "../api/gen/envoy/config/route/v3/route_pb.ts";
import type { TypedExtensionConfigJson } from "../api/gen/envoy/config/core/v3/extension_pb.ts";
import type { HttpConnectionManagerJson } from "../api/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.ts";
import type { HTTPFaultJson } from "../api/gen/envoy/extensions/filters/http/fault/v3/fault_pb.ts";
import type { AnyJson } from "@bufbuild/protobuf/wkt";
import { TypeUrl } from "../api/index.ts";
import { SnapshotCache, type SnapshotResources } from "../cache/index.ts";
import type { Registry } from "prom-client";
import { pino } from "pino";
import { XdsClient } from "./client.ts";
import { XdsServer } from "./server.ts";
import type { ConnectedProxy } from "./status.ts";

const ads = { ads: {}, resourceApiVersion: "V3" as const };

/** An Any in proto3 JSON: the type URL plus the message's own (typed) fields. */
function typed<T extends object>(typeUrl: string, message: T): AnyJson {
  return { "@type": typeUrl, ...message };
}

export function edsCluster(name: string): ClusterJson {
  return { name, type: "EDS", connectTimeout: "1s", edsClusterConfig: { edsConfig: ads } };
}

export function endpoints(cluster: string, port: number, address = "127.0.0.1"): ClusterLoadAssignmentJson {
  return {
    clusterName: cluster,
    endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address, portValue: port } } } }] }],
  };
}

export interface ListenerOptions {
  port?: number;
  address?: string;
  /** Names of ECDS filters (delivered over ADS) to put before the router. */
  discoveredFilters?: string[];
}

export function httpListener(name: string, routeName: string, options: ListenerOptions = {}): ListenerJson {
  return {
    name,
    address: { socketAddress: { address: options.address ?? "127.0.0.1", portValue: options.port ?? 0 } },
    filterChains: [{
      filters: [{
        name: "envoy.filters.network.http_connection_manager",
        typedConfig: typed<HttpConnectionManagerJson>("type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager", {
          statPrefix: name,
          rds: { routeConfigName: routeName, configSource: ads },
          httpFilters: [
            ...(options.discoveredFilters ?? []).map((filter) => ({
              name: filter,
              configDiscovery: { configSource: ads, typeUrls: ["type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"] },
            })),
            { name: "envoy.filters.http.router", typedConfig: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } },
          ],
        }),
      }],
    }],
  };
}

export function routeTo(name: string, cluster: string, options: { prefix?: string; regex?: string; header?: [string, string] } = {}): RouteConfigurationJson {
  return {
    name,
    virtualHosts: [{
      name: "all",
      domains: ["*"],
      routes: [{
        match: options.regex !== undefined ? { safeRegex: { regex: options.regex } } : { prefix: options.prefix ?? "/" },
        route: { cluster },
        ...(options.header ? { responseHeadersToAdd: [{ header: { key: options.header[0], value: options.header[1] } }] } : {}),
      }],
    }],
  };
}

/** An HTTP fault filter config (ECDS) that aborts `percent` % of requests with `status`. */
export function abortFilter(name: string, status: number, percent: number): TypedExtensionConfigJson {
  return {
    name,
    typedConfig: typed<HTTPFaultJson>("type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault", {
      abort: { httpStatus: status, percentage: { numerator: percent, denominator: "HUNDRED" } },
    }),
  };
}

export interface MeshOptions {
  clusters?: string[];
  upstreamPort?: number;
  listenerPort?: number;
  listenerAddress?: string;
  /** Which cluster the route sends to (the first cluster by default). */
  routeCluster?: string;
  responseHeader?: [string, string];
  regex?: string;
  filters?: TypedExtensionConfigJson[];
}

/** A consistent listener → route → cluster → endpoints set. */
export function meshResources(options: MeshOptions = {}): SnapshotResources {
  const clusters = options.clusters ?? ["backend"];
  const filters = options.filters ?? [];
  return {
    [TypeUrl.cluster]: new Map(clusters.map((name) => [name, edsCluster(name)])),
    [TypeUrl.endpoint]: new Map(clusters.map((name) => [name, endpoints(name, options.upstreamPort ?? 8080)])),
    [TypeUrl.listener]: new Map([["ingress", httpListener("ingress", "routes", {
      port: options.listenerPort ?? 0,
      ...(options.listenerAddress ? { address: options.listenerAddress } : {}),
      discoveredFilters: filters.map((filter) => filter.name!),
    })]]),
    [TypeUrl.route]: new Map([["routes", routeTo("routes", options.routeCluster ?? clusters[0], {
      ...(options.responseHeader ? { header: options.responseHeader } : {}),
      ...(options.regex !== undefined ? { regex: options.regex } : {}),
    })]]),
    [TypeUrl.extensionConfig]: new Map(filters.map((filter) => [filter.name!, filter])),
  };
}

/** A running xDS server on a loopback port with a client channel to it; `close()` stops both. */
export interface XdsFixture {
  cache: SnapshotCache;
  server: XdsServer;
  client: XdsClient;
  address: string;
  port: number;
  connects: ConnectedProxy[];
  disconnects: ConnectedProxy[];
  close(): Promise<void>;
}

export async function startXds(options: { groupOf?: (proxy: ConnectedProxy) => string | Promise<string>; address?: string; clientWindow?: number } = {}): Promise<XdsFixture> {
  const cache = new SnapshotCache();
  const connects: ConnectedProxy[] = [];
  const disconnects: ConnectedProxy[] = [];
  const server = new XdsServer({
    cache,
    groupOf: options.groupOf ?? (() => "default"),
    onConnect: (proxy) => connects.push(proxy),
    onDisconnect: (proxy) => disconnects.push(proxy),
    logger: pino({ level: process.env.XDS_TEST_LOG_LEVEL ?? "silent" }),
  });
  const port = await server.listen(options.address ?? "127.0.0.1:0");
  const address = `127.0.0.1:${port}`;
  const client = new XdsClient(address, { flowControlWindow: options.clientWindow });
  return {
    cache, server, client, address, port, connects, disconnects,
    async close() {
      client.close();
      await server.close();
    },
  };
}

/** The value of a counter or gauge sample (summed over samples matching `labels`). */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values
    .filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    .reduce((sum, sample) => sum + sample.value, 0);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` until it holds; throws with `what` after timeoutMs. */
export async function eventually(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** How many observations a histogram has over all its labels (its `_count` samples in the exposition format). */
export async function histogramCount(registry: Registry, name: string): Promise<number> {
  const text = await registry.getSingleMetricAsString(name);
  const counts = text.matchAll(new RegExp(`^${name}_count(?:\\{[^}]*\\})? (\\d+)$`, "gm"));
  return [...counts].reduce((sum, match) => sum + Number(match[1]), 0);
}
