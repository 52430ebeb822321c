// A fleet of simulated proxies for the control-plane benchmark and scale tests. Each proxy is its own ADS stream
// (SotW or delta) and subscribes the way Envoy does: CDS and LDS wildcard, then the EDS names of the EDS clusters
// it received, the RDS names of its HTTP connection managers and the ECDS names of their discovered filters; it
// ACKs everything. Streams share a few channels (100 streams each by default), so a thousand simulated proxies do
// not need a thousand connections, and read responses with the lean codec, so they leave the CPU to the server.
import { fromBinary } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import { ClusterSchema, Cluster_DiscoveryType } from "../api/gen/envoy/config/cluster/v3/cluster_pb.ts";
import { ListenerSchema } from "../api/gen/envoy/config/listener/v3/listener_pb.ts";
import { HttpConnectionManagerSchema } from "../api/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.ts";
import { TypeUrl } from "../api/index.ts";
import { XdsClient, type ClientNode, type DeltaClientStream, type SotwClientStream } from "./client.ts";

const HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

/** The EDS names a set of clusters needs (EDS clusters' service names, or their own names). */
export function edsNamesOf(clusters: Iterable<Any>): string[] {
  const names: string[] = [];
  for (const any of clusters) {
    const cluster = fromBinary(ClusterSchema, any.value);
    if (cluster.clusterDiscoveryType.case === "type" && cluster.clusterDiscoveryType.value === Cluster_DiscoveryType.EDS) {
      names.push(cluster.edsClusterConfig?.serviceName || cluster.name);
    }
  }
  return names.sort();
}

/** The RDS and ECDS names a set of listeners needs. */
export function listenerDependencies(listeners: Iterable<Any>): { routes: string[]; extensionConfigs: string[] } {
  const routes = new Set<string>();
  const extensionConfigs = new Set<string>();
  for (const any of listeners) {
    const listener = fromBinary(ListenerSchema, any.value);
    const chains = [...listener.filterChains, ...(listener.defaultFilterChain ? [listener.defaultFilterChain] : [])];
    for (const chain of chains) {
      for (const filter of chain.filters) {
        if (filter.configType.case !== "typedConfig" || filter.configType.value.typeUrl !== HCM_TYPE) continue;
        const hcm = fromBinary(HttpConnectionManagerSchema, filter.configType.value.value);
        if (hcm.routeSpecifier.case === "rds") routes.add(hcm.routeSpecifier.value.routeConfigName);
        for (const httpFilter of hcm.httpFilters) {
          if (httpFilter.configType.case === "configDiscovery") extensionConfigs.add(httpFilter.name);
        }
      }
    }
  }
  return { routes: [...routes].sort(), extensionConfigs: [...extensionConfigs].sort() };
}

export interface FleetOptions {
  address: string;
  count: number;
  protocol: "sotw" | "delta";
  /** The node of proxy `index` (id must be unique). */
  node(index: number): ClientNode;
  /** Streams per gRPC channel (default 100). */
  streamsPerChannel?: number;
}

export interface ConvergenceResult {
  /** Per proxy, ms from the change to the last response it received for it (proxies that got nothing excluded). */
  latenciesMs: number[];
  /** Proxies that received at least one response after the change. */
  updated: number;
  responses: number;
  bytes: number;
}

interface Member {
  /** Types received at least once. */
  seen: Set<string>;
  lastResponseAt: number;
  responsesSinceMark: number;
  bytesSinceMark: number;
}

export class SimulatedFleet {
  private readonly clients: XdsClient[] = [];
  private readonly members: Member[] = [];
  private readonly streams: (SotwClientStream | DeltaClientStream)[] = [];

  constructor(private readonly options: FleetOptions) {}

  get size(): number {
    return this.streams.length;
  }

  /** Opens every stream and subscribes; resolves when each proxy has received CDS and LDS and the fleet has
   * received nothing for `quietMs` (the EDS, RDS and ECDS that follow are in). */
  async start(timeoutMs = 60_000, quietMs = 300): Promise<void> {
    const perChannel = this.options.streamsPerChannel ?? 100;
    for (let index = 0; index < this.options.count; index++) {
      if (index % perChannel === 0) this.clients.push(new XdsClient(this.options.address, { lean: true }));
      const client = this.clients[this.clients.length - 1];
      const member: Member = { seen: new Set(), lastResponseAt: 0, responsesSinceMark: 0, bytesSinceMark: 0 };
      this.members.push(member);
      const node = this.options.node(index);
      this.streams.push(this.options.protocol === "sotw" ? this.sotwProxy(client, node, member) : this.deltaProxy(client, node, member));
    }
    const deadline = Date.now() + timeoutMs;
    while (!this.members.every((member) => member.seen.has(TypeUrl.cluster) && member.seen.has(TypeUrl.listener))) {
      if (Date.now() > deadline) throw new Error("the fleet did not receive its initial config in time");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    while (performance.now() - Math.max(...this.members.map((member) => member.lastResponseAt)) < quietMs) {
      if (Date.now() > deadline) throw new Error("the fleet did not settle in time");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  private note(member: Member, typeUrl: string, bytes: number): void {
    member.seen.add(typeUrl);
    member.lastResponseAt = performance.now();
    member.responsesSinceMark += 1;
    member.bytesSinceMark += bytes;
  }

  private sotwProxy(client: XdsClient, node: ClientNode, member: Member): SotwClientStream {
    let eds = "";
    let rds = "";
    let ecds = "";
    const stream: SotwClientStream = client.sotw(node, {
      onResponse: (response) => {
        this.note(member, response.typeUrl, response.resources.reduce((sum, any) => sum + any.value.byteLength, 0));
        stream.ack(response);
        if (response.typeUrl === TypeUrl.cluster) {
          const names = edsNamesOf(response.resources);
          if (names.join() !== eds) {
            eds = names.join();
            stream.request(TypeUrl.endpoint, names);
          }
        } else if (response.typeUrl === TypeUrl.listener) {
          const { routes, extensionConfigs } = listenerDependencies(response.resources);
          if (extensionConfigs.join() !== ecds) {
            ecds = extensionConfigs.join();
            stream.request(TypeUrl.extensionConfig, extensionConfigs);
          }
          if (routes.join() !== rds) {
            rds = routes.join();
            stream.request(TypeUrl.route, routes);
          }
        }
      },
    });
    stream.request(TypeUrl.cluster);
    stream.request(TypeUrl.listener);
    return stream;
  }

  private deltaProxy(client: XdsClient, node: ClientNode, member: Member): DeltaClientStream {
    const subscribed = new Map<string, Set<string>>([[TypeUrl.endpoint, new Set()], [TypeUrl.route, new Set()], [TypeUrl.extensionConfig, new Set()]]);
    const clusters = new Map<string, Any>();
    const listeners = new Map<string, Any>();
    const follow = (typeUrl: string, wanted: string[]) => {
      const current = subscribed.get(typeUrl)!;
      const added = wanted.filter((name) => !current.has(name));
      const removed = [...current].filter((name) => !wanted.includes(name));
      subscribed.set(typeUrl, new Set(wanted));
      if (added.length) stream.subscribe(typeUrl, added);
      if (removed.length) stream.unsubscribe(typeUrl, removed);
    };
    const stream: DeltaClientStream = client.delta(node, {
      onResponse: (response) => {
        this.note(member, response.typeUrl, response.resources.reduce((sum, resource) => sum + (resource.resource?.value.byteLength ?? 0), 0));
        stream.ack(response);
        const held = response.typeUrl === TypeUrl.cluster ? clusters : response.typeUrl === TypeUrl.listener ? listeners : undefined;
        if (!held) return;
        for (const resource of response.resources) if (resource.resource) held.set(resource.name, resource.resource);
        for (const name of response.removedResources) held.delete(name);
        if (held === clusters) follow(TypeUrl.endpoint, edsNamesOf(clusters.values()));
        else {
          const { routes, extensionConfigs } = listenerDependencies(listeners.values());
          follow(TypeUrl.extensionConfig, extensionConfigs);
          follow(TypeUrl.route, routes);
        }
      },
    });
    stream.subscribe(TypeUrl.cluster);
    stream.subscribe(TypeUrl.listener);
    return stream;
  }

  /**
   * Runs `change` (e.g. setting new snapshots) and waits until no proxy has received anything for `quietMs`;
   * reports how long after the change each proxy received its last response. With `expectAll`, the wait also
   * lasts until every proxy received something (up to `timeoutMs`).
   */
  async measureConvergence(change: () => void | Promise<void>, quietMs = 300, timeoutMs = 60_000, expectAll = false): Promise<ConvergenceResult> {
    for (const member of this.members) {
      member.responsesSinceMark = 0;
      member.bytesSinceMark = 0;
    }
    const started = performance.now();
    await change();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(quietMs, 50)));
      const last = Math.max(started, ...this.members.map((member) => member.lastResponseAt));
      // A change every proxy must see: silence before the last proxy heard of it is a slow push, not the end.
      const waiting = expectAll && this.members.some((member) => member.responsesSinceMark === 0);
      if (performance.now() - last >= quietMs && !waiting) break;
      if (Date.now() > deadline) throw new Error("the fleet did not settle in time");
    }
    const updated = this.members.filter((member) => member.responsesSinceMark > 0);
    return {
      latenciesMs: updated.map((member) => member.lastResponseAt - started).sort((a, b) => a - b),
      updated: updated.length,
      responses: updated.reduce((sum, member) => sum + member.responsesSinceMark, 0),
      bytes: updated.reduce((sum, member) => sum + member.bytesSinceMark, 0),
    };
  }

  close(): void {
    for (const stream of this.streams) stream.close();
    for (const client of this.clients) client.close();
  }
}
