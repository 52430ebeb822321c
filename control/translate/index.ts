// Translation: mesh config + one proxy → the Envoy resources it gets (proto3 JSON, built with envoy/builders).
// Pure: the same inputs always give the same resources, and nothing here does I/O.
import { TypeUrl, type ResourceTypeUrl } from "../api/index.ts";
import type { MeshConfig } from "../config/index.ts";
import { serviceCluster, serviceEndpoints, usesEds } from "./clusters.ts";
import { gatewayListeners, inboundListeners, outboundListeners } from "./listeners.ts";
import { emptyResources, type EnvoyResources, type ProxyInfo, type TranslateContext } from "./types.ts";

export * from "./types.ts";
export { parseNodeMetadata, proxyGroupKey, workloadInstanceOf, NodeMetadataKey, type EnvoyNode } from "./node.ts";
export { sidecarBootstrap, type SidecarBootstrapOptions } from "./bootstrap.ts";
export { outboundClusterName, inboundClusterName } from "./clusters.ts";
export { DEFAULT_RETRY_ON, DEFAULT_RETRY_ATTEMPTS } from "./routes.ts";
export { JWT_AUTH_FILTER, METRICS_FILTER_PREFIX, WASM_TYPE_URL } from "./filters.ts";

/** Every service port's cluster (and one per DestinationRule subset), with endpoints for the EDS ones. */
function outboundClusters(mesh: MeshConfig, proxy: ProxyInfo, context: TranslateContext, resources: EnvoyResources): void {
  for (const service of mesh.services()) {
    const subsets = mesh.destinationRule(service.host, proxy.namespace)?.spec.subsets ?? [];
    for (const port of service.ports) {
      for (const subset of [undefined, ...subsets]) {
        const cluster = serviceCluster(mesh, service, port, subset, proxy.namespace, resources.warnings, context.meshClientTls);
        resources.clusters.set(cluster.name!, cluster);
        if (usesEds(cluster)) resources.endpoints.set(cluster.name!, serviceEndpoints(mesh, service, port, subset, context));
      }
    }
  }
}

export function translateProxy(mesh: MeshConfig, proxy: ProxyInfo, context: TranslateContext): EnvoyResources {
  const resources = emptyResources();
  outboundClusters(mesh, proxy, context, resources);
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
