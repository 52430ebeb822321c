// Translation: mesh config + one proxy → the Envoy resources it gets (proto3 JSON, built with envoy/builders).
// Pure: the same inputs always give the same resources, and nothing here does I/O.
import { TypeUrl, type ResourceTypeUrl } from "../api/index.ts";
import type { MeshConfig } from "../config/index.ts";
import { outboundClusterSet, type ClusterSet } from "./clusters.ts";
import { gatewayListeners, inboundListeners, outboundListeners } from "./listeners.ts";
import { hasAgent, istioMutualContext, trustDomainOf } from "./mtls.ts";
import { emptyResources, type EnvoyResources, type ProxyInfo, type TranslateContext } from "./types.ts";

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
 */
const clusterSets = new WeakMap<MeshConfig, Map<string, ClusterSet>>();
const CLUSTER_SETS_PER_MESH = 256;

function outboundClusters(mesh: MeshConfig, proxy: ProxyInfo, context: TranslateContext): ClusterSet {
  // Mesh mTLS on the client side needs the proxy's agent; the SAN checks name its trust domain.
  const mtls = hasAgent(proxy) ? { trustDomain: trustDomainOf(proxy, context), auto: true } : undefined;
  if (mtls && !context.meshClientTls) context = { ...context, meshClientTls: istioMutualContext([], "") };
  const key = JSON.stringify([proxy.namespace, context.registeredWorkloads, context.meshClientTls ?? null, mtls ?? null]);
  let sets = clusterSets.get(mesh);
  if (!sets) clusterSets.set(mesh, sets = new Map());
  let set = sets.get(key);
  if (!set) {
    set = outboundClusterSet(mesh, proxy.namespace, context, mtls);
    // Registered workloads come and go; keep the most recent sets only.
    if (sets.size >= CLUSTER_SETS_PER_MESH) sets.delete(sets.keys().next().value!);
    sets.set(key, set);
  }
  return set;
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
