// Translation: mesh config + one proxy → the Envoy resources it gets (proto3 JSON, built with envoy/builders).
// Pure: the same inputs always give the same resources, and nothing here does I/O.
import { hash } from "node:crypto";
import { TypeUrl, type ResourceTypeUrl } from "../api/index.ts";
import type { MeshConfig } from "../config/index.ts";
import { outboundClusterSet, type ClusterSet } from "./clusters.ts";
import { gatewayListeners, inboundListeners, outboundListeners, routeRelevantLabels } from "./listeners.ts";
import { hasAgent, istioMutualContext, trustDomainOf } from "./mtls.ts";
import { emptyResources, type EnvoyResources, type ProxyInfo, type TranslateContext, type TranslateIssue, type WorkloadInstance } from "./types.ts";

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
 * run-time context, so they are computed once per (mesh content, namespace, context content) and shared, read-only,
 * by every proxy that needs them. The context is compared by content because callers build a fresh one per push.
 * Only the newest set per (namespace, TLS) is kept: registered workloads only move forward, so a set built for an
 * older list is never asked for again, and keeping a few hundred of them (with the encodings the snapshot cache
 * keeps alongside) cost a large mesh hundreds of megabytes.
 */
type ClusterSets = Map<string, { given: readonly WorkloadInstance[]; list: WorkloadInstance[]; workloads: string; set: ClusterSet }>;

/** Kinds outbound clusters never read: routing (VirtualService, Gateway) and the filters' policies. */
const NOT_READ_BY_CLUSTERS: ReadonlySet<string> = new Set([
  "VirtualService", "Gateway", "AuthorizationPolicy", "RequestAuthentication", "WasmPlugin", "Telemetry",
]);

/**
 * The cluster sets of the newest mesh content they depend on. A mesh is a new object after every change, but a
 * VirtualService edit (a canary step) leaves every cluster as it was: the sets are kept by a hash of what they
 * read, so such a push does not rebuild and re-pack every cluster and endpoint of the mesh for each namespace.
 */
let clusterSetsByContent: { key: string; sets: ClusterSets } | undefined;

/** A hash of the mesh's options and its resources but those of the `unread` kinds, once per mesh and kind set. */
const meshContentKeys = new WeakMap<MeshConfig, Map<ReadonlySet<string>, string>>();

function meshContentKey(mesh: MeshConfig, unread: ReadonlySet<string>): string {
  let keys = meshContentKeys.get(mesh);
  if (!keys) meshContentKeys.set(mesh, keys = new Map());
  let key = keys.get(unread);
  if (key === undefined) {
    const read = mesh.resources.filter((resource) => !unread.has(resource.kind))
      .map(({ apiVersion, kind, metadata, spec }) => ({ apiVersion, kind, metadata, spec }));
    keys.set(unread, key = hash("sha256", JSON.stringify([mesh.options, read]), "base64"));
  }
  return key;
}

function clusterSetsOf(mesh: MeshConfig): ClusterSets {
  const key = meshContentKey(mesh, NOT_READ_BY_CLUSTERS);
  if (clusterSetsByContent?.key !== key) clusterSetsByContent = { key, sets: new Map() };
  return clusterSetsByContent.sets;
}

/** The same workload objects in the same order: a push hands every group one list, so this spares serializing it. */
const sameItems = <T>(a: readonly T[], b: readonly T[]): boolean => a.length === b.length && a.every((item, index) => item === b[index]);

/** The client TLS a context gives outbound clusters (with and without the proxy's agent) as JSON, once per context. */
const clientTlsKeys = new WeakMap<TranslateContext, { withAgent: string; withoutAgent: string }>();

function clientTlsKey(context: TranslateContext, agent: boolean): string {
  let keys = clientTlsKeys.get(context);
  if (!keys) {
    const given = JSON.stringify(context.meshClientTls ?? null);
    keys = { withAgent: context.meshClientTls ? given : JSON.stringify(istioMutualContext([], "")), withoutAgent: given };
    clientTlsKeys.set(context, keys);
  }
  return agent ? keys.withAgent : keys.withoutAgent;
}

function outboundClusters(mesh: MeshConfig, proxy: ProxyInfo, context: TranslateContext): ClusterSet {
  // Mesh mTLS on the client side needs the proxy's agent; the SAN checks name its trust domain.
  const mtls = hasAgent(proxy) ? { trustDomain: trustDomainOf(proxy, context), auto: true } : undefined;
  const key = `${JSON.stringify([proxy.namespace, mtls ?? null])}\u0000${clientTlsKey(context, mtls !== undefined)}`;
  if (mtls && !context.meshClientTls) context = { ...context, meshClientTls: istioMutualContext([], "") };
  const sets = clusterSetsOf(mesh);
  let entry = sets.get(key);
  // A push hands every group the same list object: comparing it item by item for each of thousands of groups
  // made a push quadratic in the number of registered workloads.
  if (entry && entry.given === context.registeredWorkloads) return entry.set;
  if (entry && sameItems(entry.list, context.registeredWorkloads)) {
    entry.given = context.registeredWorkloads;
    return entry.set;
  }
  const list = [...context.registeredWorkloads];
  const workloads = JSON.stringify(list);
  if (entry?.workloads === workloads) {
    entry.list = list;
    entry.given = context.registeredWorkloads;
    return entry.set;
  }
  entry = { given: context.registeredWorkloads, list, workloads, set: outboundClusterSet(mesh, proxy.namespace, context, mtls) };
  sets.set(key, entry);
  return entry.set;
}

/** The context fields outbound listeners read (the modules their filters fetch), as a key; once per context object. */
const outboundContextKeys = new WeakMap<TranslateContext, string>();

function outboundContextKey(context: TranslateContext): string {
  let key = outboundContextKeys.get(context);
  if (key === undefined) {
    key = JSON.stringify([context.wasmModules, context.controlHttpCluster ?? null, context.ecdsInitialFetchTimeoutMs ?? null]);
    outboundContextKeys.set(context, key);
  }
  return key;
}

/**
 * A sidecar's outbound listeners, route tables and their filter configs depend on the mesh, the proxy's namespace
 * and some of its labels (WasmPlugin selectors, sourceLabels), where its listeners bind, and the modules in the context — not on its own
 * address or on the registered workloads. So the sidecars of one deployment get the very same objects, which the
 * snapshot cache then encodes, hashes and walks once instead of once per proxy (the bulk of a push's cost).
 */
const outboundParts = new WeakMap<MeshConfig, Map<string, EnvoyResources>>();

/**
 * The ProxyInfo fields the outbound part's key is computed from, as a string, once per proxy object: proxies equal in
 * these get the same key under any mesh, so a push computes the key (selectors, labels) once per deployment.
 */
const outboundIdentities = new WeakMap<ProxyInfo, string>();
const partsByIdentity = new WeakMap<MeshConfig, WeakMap<TranslateContext, Map<string, EnvoyResources>>>();

function outboundIdentity(proxy: ProxyInfo): string {
  let identity = outboundIdentities.get(proxy);
  if (identity === undefined) {
    identity = JSON.stringify([proxy.namespace, Object.entries(proxy.labels).sort(), proxy.listenAddress, Object.entries(proxy.listenPorts).sort()]);
    outboundIdentities.set(proxy, identity);
  }
  return identity;
}

function outboundPart(mesh: MeshConfig, proxy: ProxyInfo, context: TranslateContext): EnvoyResources {
  let byContext = partsByIdentity.get(mesh);
  if (!byContext) partsByIdentity.set(mesh, byContext = new WeakMap());
  let byIdentity = byContext.get(context);
  if (!byIdentity) byContext.set(context, byIdentity = new Map());
  const identity = outboundIdentity(proxy);
  let part = byIdentity.get(identity);
  if (!part) byIdentity.set(identity, part = keyedOutboundPart(mesh, proxy, context));
  return part;
}

function keyedOutboundPart(mesh: MeshConfig, proxy: ProxyInfo, context: TranslateContext): EnvoyResources {
  // The labels matter only through sourceLabels matches and the WasmPlugins that select the proxy.
  const plugins = mesh.policiesFor("WasmPlugin", proxy).map((plugin) => `${plugin.metadata.namespace}/${plugin.metadata.name}`);
  const key = JSON.stringify([
    proxy.namespace, routeRelevantLabels(mesh, proxy), plugins, proxy.listenAddress, Object.entries(proxy.listenPorts).sort(),
    outboundContextKey(context),
  ]);
  let parts = outboundParts.get(mesh);
  if (!parts) outboundParts.set(mesh, parts = new Map());
  let part = parts.get(key);
  if (!part) {
    part = emptyResources();
    outboundListeners(mesh, proxy, context, part);
    if (parts.size >= 1024) parts.delete(parts.keys().next().value!);
    parts.set(key, part);
  }
  return part;
}

function copyInto(target: EnvoyResources, source: EnvoyResources): void {
  for (const [name, value] of source.listeners) target.listeners.set(name, value);
  for (const [name, value] of source.routes) target.routes.set(name, value);
  for (const [name, value] of source.clusters) target.clusters.set(name, value);
  for (const [name, value] of source.endpoints) target.endpoints.set(name, value);
  for (const [name, value] of source.secrets) target.secrets.set(name, value);
  for (const [name, value] of source.extensionConfigs) target.extensionConfigs.set(name, value);
}

/** The outbound clusters and endpoints as resources, once per cluster set (so they stay one shared object). */
const clusterSetResources = new WeakMap<ClusterSet, EnvoyResources>();

function clusterResources(set: ClusterSet): EnvoyResources {
  let resources = clusterSetResources.get(set);
  if (!resources) {
    resources = { ...emptyResources(), clusters: set.clusters, endpoints: set.endpoints, warnings: [...set.warnings] };
    clusterSetResources.set(set, resources);
  }
  return resources;
}

/**
 * A proxy's resources in parts: `shared` are objects other proxies get too (read-only; the outbound clusters of
 * its namespace, the outbound listeners and routes of its deployment), `own` what is built for it alone (inbound
 * listeners and clusters, or a gateway's listeners; read-only too, kept across pushes that do not change it).
 * Merged in that order they are translateProxy's result; the control service keeps them apart so the snapshot
 * cache packs each part once.
 */
export interface ProxyResourceParts {
  shared: EnvoyResources[];
  own: EnvoyResources;
}

/** Kinds a sidecar's inbound side never reads: the routing kinds, which only shape its outbound side. */
const NOT_READ_INBOUND: ReadonlySet<string> = new Set(["VirtualService", "DestinationRule", "Gateway"]);

/** What a sidecar's inbound side can depend on, as a hash, once per mesh and context object. */
const inboundContextKeys = new WeakMap<TranslateContext, string>();

function inboundKey(mesh: MeshConfig, context: TranslateContext): string {
  const meshKey = meshContentKey(mesh, NOT_READ_INBOUND);
  let contextKey = inboundContextKeys.get(context);
  if (contextKey === undefined) {
    contextKey = JSON.stringify([
      context.wasmModules, context.controlHttpCluster ?? null, context.ecdsInitialFetchTimeoutMs ?? null,
      context.inboundTls ?? null, context.trustDomain ?? null,
    ]);
    inboundContextKeys.set(context, contextKey);
  }
  return `${meshKey}\u0000${contextKey}`;
}

/**
 * A sidecar's inbound listeners and clusters, by the proxy object: the control service keeps one per group, and a
 * change that touches only routing (a canary edit of a VirtualService) leaves them as they were, so they are
 * neither translated nor packed again.
 */
const inboundParts = new WeakMap<ProxyInfo, { key: string; part: EnvoyResources }>();

function inboundPart(mesh: MeshConfig, proxy: ProxyInfo, context: TranslateContext): EnvoyResources {
  const key = inboundKey(mesh, context);
  const known = inboundParts.get(proxy);
  if (known?.key === key) return known.part;
  const part = emptyResources();
  inboundListeners(mesh, proxy, context, part);
  inboundParts.set(proxy, { key, part });
  return part;
}

export function translateProxyParts(mesh: MeshConfig, proxy: ProxyInfo, context: TranslateContext): ProxyResourceParts {
  const shared = [clusterResources(outboundClusters(mesh, proxy, context))];
  if (proxy.type === "sidecar") {
    shared.push(outboundPart(mesh, proxy, context));
    return { shared, own: inboundPart(mesh, proxy, context) };
  }
  const own = emptyResources();
  gatewayListeners(mesh, proxy, context, own);
  return { shared, own };
}

/** The warnings of all parts, each once (a plugin or route shared by several listeners reports its problem once). */
export function partWarnings(parts: ProxyResourceParts): TranslateIssue[] {
  const seen = new Set<string>();
  return [...parts.shared, parts.own].flatMap((part) => part.warnings).filter((warning) => {
    const key = `${warning.path}\n${warning.message}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

export function translateProxy(mesh: MeshConfig, proxy: ProxyInfo, context: TranslateContext): EnvoyResources {
  const parts = translateProxyParts(mesh, proxy, context);
  const resources = emptyResources();
  for (const part of [...parts.shared, parts.own]) copyInto(resources, part);
  resources.warnings = partWarnings(parts);
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
