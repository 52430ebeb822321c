// What translation reads besides the mesh config (the proxy, the run-time registry) and what it produces.
import type {
  ClusterJson, DownstreamTlsContextJson, UpstreamTlsContextJson, ClusterLoadAssignmentJson, ListenerJson, RouteConfigurationJson, SecretJson, TypedExtensionConfigJson,
} from "../../envoy/builders/index.ts";

/** A connected (or about to connect) Envoy, from its bootstrap node (see parseNodeMetadata). */
export interface ProxyInfo {
  id: string;
  /** "sidecar": a workload's proxy (inbound + outbound); "router": a gateway selected by Gateway.selector. */
  type: "sidecar" | "router";
  namespace: string;
  labels: Record<string, string>;
  serviceAccount: string;
  /** The workload's address: inbound listeners bind here and peers reach the workload here. */
  ip: string;
  /** Workload name for telemetry (node metadata WORKLOAD_NAME). */
  workloadName: string;
  /** Service port name → the port the sidecar's inbound listener binds on `ip` (and peers connect to). */
  inboundPorts: Record<string, number>;
  /** Service port name → the port the application listens on at 127.0.0.1 (default: the inbound port). */
  appPorts: Record<string, number>;
  /** Address the outbound (and gateway) listeners bind (default 127.0.0.1 for sidecars, 0.0.0.0 for routers). */
  listenAddress: string;
  /**
   * Config port → the port a listener actually binds ("*" for every port); 0 lets the kernel choose. Lets several
   * proxies on one host (tests, a laptop) serve the same service ports.
   */
  listenPorts: Record<string, number>;
  /** The node metadata as sent, for fields translation does not interpret. */
  metadata: Record<string, unknown>;
}

/** A workload that is an endpoint: from a WorkloadEntry ("config") or a connected sidecar ("registered"). */
export interface WorkloadInstance {
  name: string;
  namespace: string;
  address: string;
  labels: Record<string, string>;
  serviceAccount: string;
  /** Port name → port; absent names use the service's targetPort or number. */
  ports?: Record<string, number>;
  source: "config" | "registered";
  /** Its sidecar has an agent (workload certificate): auto-mTLS sends it ISTIO_MUTUAL (Istio's `tlsMode: istio`). */
  mtls?: boolean;
}

export interface TranslateContext {
  /**
   * Sidecars registered while their ADS stream is up (Istio's auto-registration). Never changed in place: a new
   * list when registrations change (translation caches by the list object).
   */
  registeredWorkloads: readonly WorkloadInstance[];
  /** Modules the control service serves over HTTP, by name (`as-mesh://<name>` in a WasmPlugin url). */
  wasmModules: Record<string, { url: string; sha256: string }>;
  /** The bootstrap cluster that reaches the control service's HTTP port (default CONTROL_HTTP_CLUSTER). */
  controlHttpCluster?: string;
  /** TLS credentials the control service holds, by Gateway `credentialName` (PEM). */
  credentials?: Record<string, { certificateChain: string; privateKey: string }>;
  /**
   * TLS for the sidecar's inbound listeners (mesh mTLS, from the CA work: SDS secrets `default` and `ROOTCA`).
   * Absent: inbound listeners take plain text.
   */
  inboundTls?: DownstreamTlsContextJson;
  /**
   * The client side of mesh mTLS, for DestinationRules with `tls.mode: ISTIO_MUTUAL` (from the CA work: the
   * workload's SDS certificate and the mesh root). The SNI is filled in per cluster. Absent: such clusters warn
   * and use plain text.
   */
  meshClientTls?: UpstreamTlsContextJson;
  /** The mesh's SPIFFE trust domain when a proxy's node metadata does not name one (default cluster.local). */
  trustDomain?: string;
  /** How long a listener waits for its ECDS filter configs before it gives up (default 30 s). */
  ecdsInitialFetchTimeoutMs?: number;
}

/** A problem found while translating (the config validated, but something cannot be delivered as written). */
export interface TranslateIssue {
  path: string;
  message: string;
}

export interface EnvoyResources {
  clusters: Map<string, ClusterJson>;
  endpoints: Map<string, ClusterLoadAssignmentJson>;
  listeners: Map<string, ListenerJson>;
  routes: Map<string, RouteConfigurationJson>;
  secrets: Map<string, SecretJson>;
  extensionConfigs: Map<string, TypedExtensionConfigJson>;
  /** Not sent to Envoy: what was left out or degraded, for logs and status. */
  warnings: TranslateIssue[];
}

export function emptyResources(): EnvoyResources {
  return {
    clusters: new Map(), endpoints: new Map(), listeners: new Map(), routes: new Map(), secrets: new Map(),
    extensionConfigs: new Map(), warnings: [],
  };
}

/** The bootstrap cluster name for the control service's HTTP port (Wasm modules are fetched from it). */
export const CONTROL_HTTP_CLUSTER = "as-mesh-control-http";
