// Translation: mesh config + one proxy → the Envoy resources it gets (proto3 JSON, built with envoy/builders).
// Pure: the same inputs always give the same resources, and nothing here does I/O.
import { TypeUrl, type ResourceTypeUrl } from "../api/index.ts";
import type { MeshConfig } from "../config/index.ts";
import { outboundClusterSet, type ClusterSet } from "./clusters.ts";
import { gatewayListeners, inboundListeners, outboundListeners } from "./listeners.ts";
import { hasAgent, istioMutualContext, trustDomainOf } from "./mtls.ts";
import { emptyResources, type EnvoyResources, type ProxyInfo, type TranslateContext, type WorkloadInstance } from "./types.ts";

export * from "./types.ts";
export { parseNodeMetadata, proxyGroupKey, workloadInstanceOf, NodeMetadataKey, type EnvoyNode } from "./node.ts";
export { sidecarBootstrap, type SidecarBootstrapOptions } from "./bootstrap.ts";
export { outboundClusterName, inboundClusterName } from "./clusters.ts";
export { DEFAULT_RETRY_ON, DEFAULT_RETRY_ATTEMPTS } from "./routes.ts";
export {
  hasAgent, peerAuthenticationMode, spiffeId, trustDomainOf, DEFAULT_TRUST_DOMAIN, SDS_SOCKET_KEY, TRUST_DOMAIN_KEY, type MtlsMode,
} from "./mtls.ts";
export { authorizationFilters, JWT_ISSUER_HEADER, JWT_SUBJECT_HEADER, jwtClaimHeader } from "./rbac.ts";
export { JWT_AUTH_FILTER, METRICS_FILTER_PREFIX, WASM_TYPE_URL } from "./filters.ts";

/**
 * The outbound clusters are the bulk of a proxy's resources and depend only on the mesh, the namespace and the
 * run-time context, so they are computed once per (mesh, namespace, context content) and shared, read-only, by
 * every proxy that needs them. The context is compared by content because callers build a fresh one per push.
 * Only the newest set per (namespace, TLS) is kept: registered workloads only move forward, so a set built for an
 * older list is never asked for again, and keeping a few hundred of them (with the encodings the snapshot cache
 * keeps alongside) cost a large mesh hundreds of megabytes.
 */
const clusterSets = new WeakMap<MeshConfig, Map<string, { list: WorkloadInstance[]; workloads: string; set: ClusterSet }>>();

/** The same workload objects in the same order: a push hands every group one list, so this spares serializing it. */
const sameItems = <T>(a: readonly T[], b: readonly T[]): boolean => a.length === b.length && a.every((item, index) => item === b[index]);

function outboundClusters(mesh: MeshConfig, proxy: ProxyInfo, context: TranslateContext): ClusterSet {
  // Mesh mTLS on the client side needs the proxy's agent; the SAN checks name its trust domain.
  const mtls = hasAgent(proxy) ? { trustDomain: trustDomainOf(proxy, context), auto: true } : undefined;
  if (mtls && !context.meshClientTls) context = { ...context, meshClientTls: istioMutualContext([], "") };
  const key = JSON.stringify([proxy.namespace, context.meshClientTls ?? null, mtls ?? null]);
  let sets = clusterSets.get(mesh);
  if (!sets) clusterSets.set(mesh, sets = new Map());
  let entry = sets.get(key);
  if (entry && sameItems(entry.list, context.registeredWorkloads)) return entry.set;
  const list = [...context.registeredWorkloads];
  const workloads = JSON.stringify(list);
  if (entry?.workloads === workloads) {
    entry.list = list;
    return entry.set;
  }
  entry = { list, workloads, set: outboundClusterSet(mesh, proxy.namespace, context, mtls) };
  sets.set(key, entry);
  return entry.set;
}

export function translateProxy(mesh: MeshConfig, proxy: ProxyInfo, context: TranslateContext): EnvoyResources {
  const resources = emptyResources();
  const clusters = outboundClusters(mesh, proxy, context);
  for (const [name, cluster] of clusters.clusters) resources.clusters.set(name, cluster);
  for (const [name, endpoints] of clusters.endpoints) resources.endpoints.set(name, endpoints);
  resources.warnings.push(...clusters.warnings);
  if (proxy.type === "sidecar") {
    outboundListeners(mesh, proxy, context, resources);
    inboundListeners(mesh, proxy, context, resources);
  } else {
    gatewayListeners(mesh, proxy, context, resources);
  }
  // A plugin or route shared by several listeners reports its problem once.
  const seen = new Set<string>();
  resources.warnings = resources.warnings.filter((warning) => {
    const key = `${warning.path}\n${warning.message}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
  return resources;
}

/** The resources keyed by xDS type URL, the shape a cache Snapshot takes. */
export function resourcesByTypeUrl(resources: EnvoyResources): Record<ResourceTypeUrl, Map<string, object>> {
  return {
    [TypeUrl.cluster]: resources.clusters,
    [TypeUrl.endpoint]: resources.endpoints,
    [TypeUrl.listener]: resources.listeners,
    [TypeUrl.route]: resources.routes,
    [TypeUrl.secret]: resources.secrets,
    [TypeUrl.extensionConfig]: resources.extensionConfigs,
  };
}
