// Outbound clusters and their endpoints: one cluster per service port, plus one per DestinationRule subset, with the
// rule's traffic policy (Istio's names and defaults), and a ClusterLoadAssignment from ServiceEntry endpoints,
// WorkloadEntries and registered workloads.
import {
  MessageType, edsCluster, isIpAddress, loadAssignment, typed, type UpstreamTlsContextJson,
  type CircuitBreakersJson, type ClusterJson, type ClusterLoadAssignmentJson, type EndpointSpec, type LbPolicy, type OutlierDetectionJson,
} from "../../envoy/builders/index.ts";
import { durationToProtoJson, selectorMatches, type MeshConfig, type MeshService } from "../config/index.ts";
import type { ClientTLSSettings, ConnectionPoolSettings, OutlierDetection, ServicePort, Subset, TrafficPolicy } from "../config/index.ts";
import type { CommonTlsContextJson } from "../api/gen/envoy/extensions/transport_sockets/tls/v3/tls_pb.ts";
import type { RouteAction_HashPolicyJson } from "../api/gen/envoy/config/route/v3/route_components_pb.ts";
import { istioMutualContext, peerAuthenticationMode, spiffeId } from "./mtls.ts";
import type { TranslateContext, TranslateIssue, WorkloadInstance } from "./types.ts";

/**
 * Istio's exportTo: absent or "*" is every namespace, "." the resource's own, "~" none, else the names listed.
 */
export function visibleTo(exportTo: readonly string[] | undefined, ownNamespace: string, namespace: string): boolean {
  if (!exportTo || exportTo.length === 0) return true;
  return exportTo.some((entry) => entry === "*" || entry === namespace || (entry === "." && ownNamespace === namespace));
}

/** The services a proxy in `namespace` may reach (ServiceEntry exportTo). */
export function visibleServices(mesh: MeshConfig, namespace: string): MeshService[] {
  return mesh.services().filter((service) => visibleTo(service.serviceEntry.spec.exportTo, service.namespace, namespace));
}

/** Istio's SNI for mesh mTLS to a cluster: `outbound_.<port>_.<subset>_.<host>`. */
export function meshSni(clusterName: string): string {
  return clusterName.replaceAll("|", "_.");
}

/**
 * Client TLS from a DestinationRule: SIMPLE and MUTUAL with the files it names (system roots when no CA is
 * given), ISTIO_MUTUAL with the mesh's client context.
 */
function upstreamTls(
  settings: ClientTLSSettings, host: string, clusterName: string, meshClientTls: UpstreamTlsContextJson | undefined, path: string, warnings: TranslateIssue[],
  destinationIds?: string[],
): UpstreamTlsContextJson | undefined {
  if (settings.mode === "ISTIO_MUTUAL") {
    if (!meshClientTls) {
      warnings.push({ path, message: "ISTIO_MUTUAL needs the mesh's certificates, which are not configured; plain text is used" });
      return undefined;
    }
    if (destinationIds?.length) return istioMutualContext(destinationIds, meshSni(clusterName));
    return { ...meshClientTls, sni: meshSni(clusterName) };
  }
  if (settings.credentialName) {
    warnings.push({ path: `${path}.credentialName`, message: "client credentials by name are not supported; use clientCertificate/privateKey/caCertificates files" });
  }
  const validation: NonNullable<CommonTlsContextJson["validationContext"]> = settings.caCertificates
    ? { trustedCa: { filename: settings.caCertificates } }
    : { systemRootCerts: {} };
  if (settings.subjectAltNames?.length) {
    validation.matchTypedSubjectAltNames = settings.subjectAltNames.map((san) => ({
      sanType: san.startsWith("spiffe://") ? "URI" as const : "DNS" as const, matcher: { exact: san },
    }));
  }
  if (settings.caCrl) validation.crl = { filename: settings.caCrl };
  if (settings.insecureSkipVerify) validation.trustChainVerification = "ACCEPT_UNTRUSTED";
  const common: CommonTlsContextJson = { validationContext: validation };
  if (settings.mode === "MUTUAL") {
    if (!settings.clientCertificate || !settings.privateKey) {
      warnings.push({ path, message: "MUTUAL needs clientCertificate and privateKey; the client certificate is left out" });
    } else {
      common.tlsCertificates = [{ certificateChain: { filename: settings.clientCertificate }, privateKey: { filename: settings.privateKey } }];
    }
  }
  return { sni: settings.sni ?? host, commonTlsContext: common };
}

/** Istio's cluster names: `outbound|<port>|<subset>|<host>`, `inbound|<port>||<host>`. */
export function outboundClusterName(port: number, subset: string | undefined, host: string): string {
  return `outbound|${port}|${subset ?? ""}|${host}`;
}

export function inboundClusterName(port: number, host: string): string {
  return `inbound|${port}||${host}`;
}

/** Istio leaves circuit breakers effectively off unless a DestinationRule sets them (2^32-1). */
const UNLIMITED = 4294967295;
/** Istio's default connect timeout. */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** The policy for one port and subset: subset fields over the rule's, port-level settings over both (Istio's merge). */
export function effectivePolicy(rule: TrafficPolicy | undefined, subset: Subset | undefined, port: number): TrafficPolicy {
  const layers = [rule, subset?.trafficPolicy].filter((layer): layer is TrafficPolicy => layer !== undefined);
  const merged: TrafficPolicy = {};
  for (const layer of layers) {
    Object.assign(merged, Object.fromEntries(Object.entries(layer).filter(([, value]) => value !== undefined)));
    const portLevel = layer.portLevelSettings?.find((settings) => settings.port?.number === port);
    if (portLevel) {
      const { port: _port, ...settings } = portLevel;
      Object.assign(merged, Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined)));
    }
  }
  delete merged.portLevelSettings;
  return merged;
}

function lbPolicy(policy: TrafficPolicy, path: string, warnings: TranslateIssue[]): LbPolicy {
  const balancer = policy.loadBalancer;
  if (balancer?.consistentHash) return balancer.consistentHash.maglev ? "MAGLEV" : "RING_HASH";
  switch (balancer?.simple) {
    case "ROUND_ROBIN": return "ROUND_ROBIN";
    case "RANDOM": return "RANDOM";
    case "PASSTHROUGH":
      warnings.push({ path: `${path}.loadBalancer.simple`, message: "PASSTHROUGH needs traffic capture, which this mesh does not do; LEAST_REQUEST is used" });
      return "LEAST_REQUEST";
    // LEAST_CONN is Istio's deprecated name for LEAST_REQUEST; LEAST_REQUEST is also Istio's default.
    default: return "LEAST_REQUEST";
  }
}

/** A limit of 0 means "not set" in Istio's API (proto3 cannot tell them apart), so it stays unlimited. */
const limit = (value: number | undefined): number => value !== undefined && value > 0 ? value : UNLIMITED;

export function circuitBreakers(pool: ConnectionPoolSettings | undefined): CircuitBreakersJson {
  return {
    thresholds: [{
      maxConnections: limit(pool?.tcp?.maxConnections),
      maxPendingRequests: limit(pool?.http?.http1MaxPendingRequests),
      maxRequests: limit(pool?.http?.http2MaxRequests),
      maxRetries: limit(pool?.http?.maxRetries),
      trackRemaining: true,
    }],
  };
}

/** Istio's mapping: each consecutive-error kind is enforced at 100 % when set above zero; success rate never. */
export function outlierDetection(settings: OutlierDetection): OutlierDetectionJson {
  const result: OutlierDetectionJson = { enforcingSuccessRate: 0 };
  const consecutive5xx = settings.consecutive5xxErrors ?? settings.consecutiveErrors;
  if (consecutive5xx !== undefined) {
    result.consecutive5xx = consecutive5xx;
    result.enforcingConsecutive5xx = consecutive5xx > 0 ? 100 : 0;
  }
  if (settings.consecutiveGatewayErrors !== undefined) {
    result.consecutiveGatewayFailure = settings.consecutiveGatewayErrors;
    result.enforcingConsecutiveGatewayFailure = settings.consecutiveGatewayErrors > 0 ? 100 : 0;
  }
  if (settings.interval) result.interval = durationToProtoJson(settings.interval);
  if (settings.baseEjectionTime) result.baseEjectionTime = durationToProtoJson(settings.baseEjectionTime);
  if (settings.maxEjectionPercent !== undefined && settings.maxEjectionPercent > 0) result.maxEjectionPercent = settings.maxEjectionPercent;
  if (settings.splitExternalLocalOriginErrors) {
    result.splitExternalLocalOriginErrors = true;
    if (settings.consecutiveLocalOriginFailures !== undefined && settings.consecutiveLocalOriginFailures > 0) {
      result.consecutiveLocalOriginFailure = settings.consecutiveLocalOriginFailures;
      result.enforcingConsecutiveLocalOriginFailure = 100;
    }
    result.enforcingLocalOriginSuccessRate = 0;
  }
  return result;
}

function isHttp2(port: ServicePort): boolean {
  const protocol = (port.protocol ?? "").toUpperCase();
  return protocol === "HTTP2" || protocol === "GRPC" || protocol === "GRPC-WEB";
}

/** The cluster for one service port and (optional) subset, with the DestinationRule's policy applied. */
export function serviceCluster(
  mesh: MeshConfig, service: MeshService, port: ServicePort, subset: Subset | undefined, fromNamespace: string, warnings: TranslateIssue[],
  meshClientTls?: UpstreamTlsContextJson, meshMtls?: ClusterMtls,
): ClusterJson {
  const name = outboundClusterName(port.number, subset?.name, service.host);
  const rule = mesh.destinationRule(service.host, fromNamespace);
  const policy = effectivePolicy(rule?.spec.trafficPolicy, subset, port.number);
  const path = rule ? `DestinationRule/${rule.metadata.namespace}/${rule.metadata.name}.trafficPolicy` : `cluster ${name}`;
  const pool = policy.connectionPool;
  const cluster = edsCluster(name, {
    connectTimeoutMs: pool?.tcp?.connectTimeout ? undefined : DEFAULT_CONNECT_TIMEOUT_MS,
    lbPolicy: lbPolicy(policy, path, warnings),
    circuitBreakers: circuitBreakers(pool),
    outlierDetection: policy.outlierDetection ? outlierDetection(policy.outlierDetection) : undefined,
    http: {
      http2: pool?.http?.h2UpgradePolicy === "UPGRADE" || (isHttp2(port) && pool?.http?.h2UpgradePolicy !== "DO_NOT_UPGRADE"),
      useDownstreamProtocol: pool?.http?.useClientProtocol,
      maxConcurrentStreams: pool?.http?.maxConcurrentStreams || undefined,
      maxRequestsPerConnection: pool?.http?.maxRequestsPerConnection || undefined,
      idleTimeout: (pool?.http?.idleTimeout ?? pool?.tcp?.idleTimeout) ? durationToProtoJson((pool?.http?.idleTimeout ?? pool?.tcp?.idleTimeout)!) : undefined,
      maxConnectionDuration: pool?.tcp?.maxConnectionDuration ? durationToProtoJson(pool.tcp.maxConnectionDuration) : undefined,
    },
  });
  if (pool?.tcp?.connectTimeout) cluster.connectTimeout = durationToProtoJson(pool.tcp.connectTimeout);
  const hash = policy.loadBalancer?.consistentHash;
  if (hash?.maglev?.tableSize) cluster.maglevLbConfig = { tableSize: String(hash.maglev.tableSize) };
  // Istio's default ring: 1024 entries unless ringHash (or the deprecated minimumRingSize) says otherwise.
  const ringSize = hash?.ringHash ? hash.ringHash.minimumRingSize : hash && !hash.maglev ? (hash.minimumRingSize || 1024) : undefined;
  if (ringSize) cluster.ringHashLbConfig = { minimumRingSize: String(ringSize) };
  if (policy.outlierDetection) {
    // Istio turns Envoy's panic mode off (threshold 0) unless minHealthPercent asks for it: with few endpoints per
    // service, panic would send traffic to the very hosts that were ejected.
    cluster.commonLbConfig = { healthyPanicThreshold: { value: policy.outlierDetection.minHealthPercent ?? 0 } };
  }
  const warmup = policy.loadBalancer?.warmup?.duration ?? policy.loadBalancer?.warmupDurationSecs;
  if (warmup && (cluster.lbPolicy === "LEAST_REQUEST" || cluster.lbPolicy === undefined)) {
    const slowStartConfig = { slowStartWindow: durationToProtoJson(warmup) };
    if (cluster.lbPolicy === "LEAST_REQUEST") cluster.leastRequestLbConfig = { slowStartConfig };
    else cluster.roundRobinLbConfig = { slowStartConfig };
  }
  if (policy.tls && policy.tls.mode !== undefined && policy.tls.mode !== "DISABLE") {
    const tls = upstreamTls(policy.tls, service.host, name, meshClientTls, `${path}.tls`, warnings, meshMtls?.destinationIds);
    if (tls) cluster.transportSocket = { name: "envoy.transport_sockets.tls", typedConfig: typed(MessageType.upstreamTlsContext, tls) };
  } else if (!policy.tls?.mode && meshMtls?.auto && service.resolution !== "DNS" && service.resolution !== "DNS_ROUND_ROBIN") {
    // Istio's auto-mTLS: endpoints whose sidecar has a certificate (metadata tlsMode: istio) get ISTIO_MUTUAL, the
    // others keep the cluster's plain text; a DestinationRule tls setting, or DISABLE at the destination, wins.
    cluster.transportSocketMatches = [{
      name: "tlsMode-istio",
      match: { [TLS_MODE_KEY]: "istio" },
      transportSocket: { name: "envoy.transport_sockets.tls", typedConfig: typed(MessageType.upstreamTlsContext, istioMutualContext(meshMtls.destinationIds, meshSni(name))) },
    }];
  }
  // DNS services resolve their host (or their endpoints' host names) in Envoy instead of getting EDS.
  if (service.resolution === "DNS" || service.resolution === "DNS_ROUND_ROBIN") {
    const endpoints: Array<{ address: string; ports: Record<string, number>; labels: Record<string, string> }> =
      service.endpoints.length > 0 ? service.endpoints : [{ address: service.host, ports: {}, labels: {} }];
    delete cluster.edsClusterConfig;
    cluster.type = service.resolution === "DNS" ? "STRICT_DNS" : "LOGICAL_DNS";
    cluster.loadAssignment = loadAssignment(name, endpoints
      .filter((endpoint) => !subset || selectorMatches(subset.labels, endpoint.labels))
      .map((endpoint) => ({ address: endpoint.address, port: endpoint.ports[port.name] ?? port.targetPort ?? port.number })));
  }
  return cluster;
}

/** Istio's endpoint metadata for auto-mTLS: the transport socket match key and the WorkloadEntry label. */
const TRANSPORT_SOCKET_MATCH = "envoy.transport_socket_match";
const TLS_MODE_KEY = "tlsMode";
const ISTIO_TLS_MODE_LABEL = "security.istio.io/tlsMode";

/** What mesh mTLS needs to know about a destination: its identities, and whether auto-mTLS applies. */
export interface ClusterMtls {
  /** SPIFFE IDs the destination's workloads present (the SAN check); empty: any certificate of the mesh CA. */
  destinationIds: string[];
  /** Auto-mTLS: the client has a certificate and the destination's PeerAuthentication is not DISABLE. */
  auto: boolean;
}

/**
 * The destination's identities: the ServiceEntry's subjectAltNames if given, else the SPIFFE IDs of the service
 * accounts of its endpoints (WorkloadEntries, registered sidecars).
 */
export function destinationMtls(
  mesh: MeshConfig, service: MeshService, port: ServicePort, registered: readonly WorkloadInstance[], trustDomain: string, clientHasAgent: boolean,
): ClusterMtls {
  const listed = service.serviceEntry.spec.subjectAltNames ?? [];
  const accounts = [
    ...mesh.endpoints(service).filter((endpoint) => endpoint.serviceAccount).map((endpoint) => spiffeId(trustDomain, service.namespace, endpoint.serviceAccount!)),
    ...registered.map((workload) => spiffeId(trustDomain, workload.namespace, workload.serviceAccount)),
  ];
  const destinationIds = [...new Set(listed.length > 0 ? listed : accounts)].sort();
  const destinationMode = peerAuthenticationMode(mesh, { namespace: service.namespace, labels: service.workloadSelector ?? {} }, [port.targetPort ?? port.number]);
  return { destinationIds, auto: clientHasAgent && destinationMode !== "DISABLE" };
}

/** Whether a cluster gets its endpoints over EDS (and so needs a ClusterLoadAssignment). */
export function usesEds(cluster: ClusterJson): boolean {
  return cluster.type === "EDS";
}

/**
 * Endpoints of one service port (and subset): static ones from the mesh, plus registered workloads in the
 * service's namespace that its workloadSelector picks. Workloads listed twice (a WorkloadEntry and the same
 * workload registered) count once.
 */
export function serviceEndpoints(
  mesh: MeshConfig, service: MeshService, port: ServicePort, subset: Subset | undefined, registered: readonly WorkloadInstance[],
): ClusterLoadAssignmentJson {
  const name = outboundClusterName(port.number, subset?.name, service.host);
  const endpoints: EndpointSpec[] = [];
  const seen = new Set<string>();
  const add = (address: string, portNumber: number, weight?: number): void => {
    const key = `${address}:${portNumber}`;
    if (seen.has(key)) return;
    seen.add(key);
    endpoints.push(weight !== undefined && weight > 0 ? { address, port: portNumber, weight } : { address, port: portNumber });
  };
  const withCertificates = new Set<string>();
  for (const endpoint of mesh.endpoints(service, subset)) {
    if (!isIpAddress(endpoint.address)) continue; // host-name endpoints belong to DNS clusters
    const endpointPort = endpoint.ports[port.name] ?? port.targetPort ?? port.number;
    add(endpoint.address, endpointPort, endpoint.weight);
    if (endpoint.labels[ISTIO_TLS_MODE_LABEL] === "istio") withCertificates.add(`${endpoint.address}:${endpointPort}`);
  }
  for (const workload of registered) {
    if (subset && !selectorMatches(subset.labels, workload.labels)) continue;
    const workloadPort = workload.ports?.[port.name] ?? port.targetPort ?? port.number;
    add(workload.address, workloadPort);
    if (workload.mtls) withCertificates.add(`${workload.address}:${workloadPort}`);
  }
  const assignment = loadAssignment(name, endpoints);
  if (withCertificates.size > 0) {
    for (const lbEndpoint of assignment.endpoints?.[0]?.lbEndpoints ?? []) {
      const address = lbEndpoint.endpoint?.address?.socketAddress;
      if (address && withCertificates.has(`${address.address}:${address.portValue}`)) {
        lbEndpoint.metadata = { filterMetadata: { [TRANSPORT_SOCKET_MATCH]: { [TLS_MODE_KEY]: "istio" } } };
      }
    }
  }
  return assignment;
}

/**
 * Registered workloads by namespace and by each of their labels (`ns\0key=value`), once per list: the list is
 * replaced, never changed, when a workload registers or leaves, and looking every service's selector up here
 * instead of scanning the list keeps a push over thousands of workloads from costing services × workloads.
 */
const workloadIndexes = new WeakMap<readonly WorkloadInstance[], Map<string, WorkloadInstance[]>>();

function workloadIndex(registered: readonly WorkloadInstance[]): Map<string, WorkloadInstance[]> {
  let index = workloadIndexes.get(registered);
  if (!index) {
    index = new Map();
    const add = (key: string, workload: WorkloadInstance) => {
      const list = index!.get(key);
      if (list) list.push(workload);
      else index!.set(key, [workload]);
    };
    for (const workload of registered) {
      add(workload.namespace, workload);
      for (const [key, value] of Object.entries(workload.labels)) add(`${workload.namespace}\0${key}=${value}`, workload);
    }
    workloadIndexes.set(registered, index);
  }
  return index;
}

/** Registered workloads in the service's namespace that its workloadSelector picks, in registration order. */
export function registeredEndpoints(service: MeshService, registered: readonly WorkloadInstance[]): WorkloadInstance[] {
  const selector = service.workloadSelector;
  if (!selector) return [];
  const index = workloadIndex(registered);
  // The candidates carrying the selector's first label (or, for an empty selector, the whole namespace).
  const first = Object.entries(selector)[0];
  const candidates = index.get(first ? `${service.namespace}\0${first[0]}=${first[1]}` : service.namespace) ?? [];
  return candidates.filter((workload) => selectorMatches(selector, workload.labels));
}

export interface ClusterSet {
  clusters: Map<string, ClusterJson>;
  endpoints: Map<string, ClusterLoadAssignmentJson>;
  warnings: TranslateIssue[];
}

/**
 * Every service port's cluster (and one per DestinationRule subset), with endpoints for the EDS ones, as seen from
 * a namespace (DestinationRules are looked up from there). Nothing else about the proxy matters, so proxies of one
 * namespace share the result.
 */
export function outboundClusterSet(
  mesh: MeshConfig, namespace: string, context: TranslateContext, mtls?: { trustDomain: string; auto: boolean },
): ClusterSet {
  const result: ClusterSet = { clusters: new Map(), endpoints: new Map(), warnings: [] };
  for (const service of visibleServices(mesh, namespace)) {
    const subsets = mesh.destinationRule(service.host, namespace)?.spec.subsets ?? [];
    const registered = registeredEndpoints(service, context.registeredWorkloads);
    for (const port of service.ports) {
      const clusterMtls = mtls ? destinationMtls(mesh, service, port, registered, mtls.trustDomain, mtls.auto) : undefined;
      for (const subset of [undefined, ...subsets]) {
        const cluster = serviceCluster(mesh, service, port, subset, namespace, result.warnings, context.meshClientTls, clusterMtls);
        result.clusters.set(cluster.name!, cluster);
        if (usesEds(cluster)) result.endpoints.set(cluster.name!, serviceEndpoints(mesh, service, port, subset, registered));
      }
    }
  }
  return result;
}

/**
 * The route hash policy a consistent-hash DestinationRule asks for (the cluster's ring or Maglev table hashes on
 * it); undefined when the destination's policy does not hash.
 */
export function hashPolicy(mesh: MeshConfig, host: string, subsetName: string | undefined, port: number, fromNamespace: string): RouteAction_HashPolicyJson[] | undefined {
  const rule = mesh.destinationRule(host, fromNamespace);
  if (!rule) return undefined;
  const subset = subsetName === undefined ? undefined : rule.spec.subsets?.find((candidate) => candidate.name === subsetName);
  const hash = effectivePolicy(rule.spec.trafficPolicy, subset, port).loadBalancer?.consistentHash;
  if (!hash) return undefined;
  if (hash.httpHeaderName) return [{ header: { headerName: hash.httpHeaderName } }];
  if (hash.httpQueryParameterName) return [{ queryParameter: { name: hash.httpQueryParameterName } }];
  if (hash.useSourceIp) return [{ connectionProperties: { sourceIp: true } }];
  if (hash.httpCookie) {
    const cookie: NonNullable<RouteAction_HashPolicyJson["cookie"]> = { name: hash.httpCookie.name };
    if (hash.httpCookie.path) cookie.path = hash.httpCookie.path;
    if (hash.httpCookie.ttl) cookie.ttl = durationToProtoJson(hash.httpCookie.ttl);
    return [{ cookie }];
  }
  return undefined;
}
