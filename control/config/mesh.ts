// The validated mesh: every resource typed and defaulted, plus the lookups translation needs, with Istio's rules
// for short host names, DestinationRule precedence and policy selection by namespace and workload labels.
import type {
  AnyResource, DestinationRule, Gateway, Kind, Resource, ServiceEntry, ServicePort, Subset, VirtualService,
  WorkloadEntry,
} from "./schema.ts";

export interface MeshOptions {
  /** Policies in this namespace without a selector apply mesh-wide (Istio's root namespace). */
  rootNamespace: string;
  /** Namespace for documents that name none. */
  defaultNamespace: string;
  /** Suffix short host names are completed with: `reviews` in `default` is `reviews.default.svc.cluster.local`. */
  domainSuffix: string;
}

export const DEFAULT_MESH_OPTIONS: MeshOptions = { rootNamespace: "istio-system", defaultNamespace: "default", domainSuffix: "cluster.local" };

/** One endpoint of a service: from a ServiceEntry's `endpoints` or a WorkloadEntry its `workloadSelector` picks. */
export interface ServiceEndpoint {
  address: string;
  /** Port name → workload port (defaults to the service port number when absent). */
  ports: Record<string, number>;
  labels: Record<string, string>;
  serviceAccount?: string;
  locality?: string;
  network?: string;
  weight?: number;
  /** "ServiceEntry/ns/name" or "WorkloadEntry/ns/name". */
  origin: string;
}

/** One host of a ServiceEntry, as the mesh sees it. */
export interface MeshService {
  /** Fully qualified: short ServiceEntry hosts are completed with the entry's namespace and the domain suffix. */
  host: string;
  namespace: string;
  ports: ServicePort[];
  location: "MESH_EXTERNAL" | "MESH_INTERNAL";
  resolution: "NONE" | "STATIC" | "DNS" | "DNS_ROUND_ROBIN";
  addresses: string[];
  /** Static endpoints; workloads that register at run time are added by the caller. */
  endpoints: ServiceEndpoint[];
  /** The labels a workload must carry to be an endpoint (ServiceEntry.workloadSelector), if any. */
  workloadSelector?: Record<string, string>;
  serviceEntry: ServiceEntry;
}

/** Any workload the selection helpers can judge: a proxy, a registered workload, a WorkloadEntry. */
export interface WorkloadRef {
  namespace: string;
  labels: Record<string, string>;
}

export type PolicyKind = "RequestAuthentication" | "PeerAuthentication" | "AuthorizationPolicy" | "WasmPlugin" | "Telemetry";

export interface MeshConfig {
  readonly options: MeshOptions;
  /** Every resource, in a stable order (kind, namespace, name). */
  readonly resources: readonly AnyResource[];
  list<K extends Kind>(kind: K, namespace?: string): readonly Resource<K>[];
  get<K extends Kind>(kind: K, namespace: string, name: string): Resource<K> | undefined;
  /** Completes a short host name relative to `namespace` ("reviews" → "reviews.default.svc.cluster.local"). */
  resolveHost(host: string, namespace: string): string;
  services(): readonly MeshService[];
  /** The service for a host as written in `namespace` (short names resolved there); exact match, then wildcard. */
  serviceByHost(host: string, namespace: string): MeshService | undefined;
  /** The DestinationRule for a host seen from `namespace`: the caller's namespace, then the service's, then root. */
  destinationRule(host: string, namespace: string): DestinationRule | undefined;
  subset(host: string, subsetName: string, namespace: string): Subset | undefined;
  /** Endpoints of a service, narrowed to a subset's labels when one is named. */
  endpoints(service: MeshService, subset?: Subset): ServiceEndpoint[];
  /** Policies of a kind that apply to a workload: root-namespace ones without selector, then its namespace's. */
  policiesFor<K extends PolicyKind>(kind: K, workload: WorkloadRef): readonly Resource<K>[];
  /** Gateways whose selector matches the workload's labels. */
  gatewaysFor(workload: WorkloadRef): readonly Gateway[];
  /** VirtualServices bound to a gateway ("namespace/name"), or to sidecars when `gateway` is "mesh". */
  virtualServicesFor(gateway: string): readonly VirtualService[];
  workloadEntries(): readonly WorkloadEntry[];
}

/** Istio's label selector: every selector label present with the same value; an empty selector matches all. */
export function selectorMatches(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [key, value] of Object.entries(selector)) {
    if (labels[key] !== value) return false;
  }
  return true;
}
