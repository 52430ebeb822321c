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
  resolution: "NONE" | "STATIC" | "DNS" | "DNS_ROUND_ROBIN" | "DYNAMIC_DNS";
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

/** "name", "namespace/name" or the legacy "name.namespace" gateway reference → "namespace/name". */
export function gatewayKey(reference: string, namespace: string): string {
  if (reference.includes("/")) return reference;
  if (reference.includes(".")) {
    const [name, gatewayNamespace] = reference.split(".");
    return `${gatewayNamespace}/${name}`;
  }
  return `${namespace}/${reference}`;
}

/** Does a host pattern ("*.example.com", "*", or exact) cover `host`? */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === host || pattern === "*") return true;
  return pattern.startsWith("*.") && host.endsWith(pattern.slice(1));
}

const KIND_ORDER: readonly Kind[] = ["ServiceEntry", "WorkloadEntry", "DestinationRule", "VirtualService", "Gateway",
  "PeerAuthentication", "RequestAuthentication", "AuthorizationPolicy", "WasmPlugin", "Telemetry"];

/** Builds the lookups over already validated resources. */
export function buildMesh(resources: readonly AnyResource[], options: MeshOptions = DEFAULT_MESH_OPTIONS): MeshConfig {
  return new IndexedMesh(resources, options);
}

class IndexedMesh implements MeshConfig {
  readonly resources: readonly AnyResource[];
  private readonly byKind = new Map<Kind, AnyResource[]>();
  private readonly byKindNamespace = new Map<string, AnyResource[]>();
  /** Per namespace, DestinationRules without workloadSelector by their completed host. */
  private readonly rulesByHost = new Map<string, Map<string, DestinationRule>>();
  private readonly byKey = new Map<string, AnyResource>();
  private readonly serviceList: MeshService[] = [];
  private readonly servicesByHost = new Map<string, MeshService>();
  private readonly wildcardServices: MeshService[] = [];
  /** WorkloadEntries with their labels, by namespace and by "namespace\0label=value" (see selectedWorkloadEntries). */
  private workloadIndex: Map<string, { workload: WorkloadEntry; labels: Record<string, string> }[]> | undefined;

  constructor(resources: readonly AnyResource[], readonly options: MeshOptions) {
    const sorted = [...resources].sort((a, b) =>
      KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) ||
      a.metadata.namespace.localeCompare(b.metadata.namespace) ||
      a.metadata.name.localeCompare(b.metadata.name));
    this.resources = sorted;
    for (const resource of sorted) {
      const list = this.byKind.get(resource.kind) ?? [];
      list.push(resource);
      this.byKind.set(resource.kind, list);
      this.byKey.set(`${resource.kind}/${resource.metadata.namespace}/${resource.metadata.name}`, resource);
      const namespaced = `${resource.kind}/${resource.metadata.namespace}`;
      const inNamespace = this.byKindNamespace.get(namespaced) ?? [];
      inNamespace.push(resource);
      this.byKindNamespace.set(namespaced, inNamespace);
    }
    for (const rule of this.list("DestinationRule")) {
      if (rule.spec.workloadSelector) continue;
      const hosts = this.rulesByHost.get(rule.metadata.namespace) ?? new Map<string, DestinationRule>();
      const host = this.resolveHost(rule.spec.host, rule.metadata.namespace);
      // Two rules for one host in one namespace: the first (by name) wins, as validation warns.
      if (!hosts.has(host)) hosts.set(host, rule);
      this.rulesByHost.set(rule.metadata.namespace, hosts);
    }
    for (const entry of this.list("ServiceEntry")) this.addService(entry);
  }

  private addService(entry: ServiceEntry): void {
    const spec = entry.spec;
    const namespace = entry.metadata.namespace;
    const workloadSelector = spec.workloadSelector?.labels;
    const endpoints: ServiceEndpoint[] = (spec.endpoints ?? []).map((endpoint) => ({
      address: endpoint.address ?? "",
      ports: { ...endpoint.ports },
      labels: { ...endpoint.labels },
      serviceAccount: endpoint.serviceAccount,
      locality: endpoint.locality,
      network: endpoint.network,
      weight: endpoint.weight,
      origin: `ServiceEntry/${namespace}/${entry.metadata.name}`,
    }));
    if (spec.workloadSelector) {
      for (const { workload, labels } of this.selectedWorkloadEntries(namespace, workloadSelector ?? {})) {
        endpoints.push({
          address: workload.spec.address ?? "",
          ports: { ...workload.spec.ports },
          labels,
          serviceAccount: workload.spec.serviceAccount,
          locality: workload.spec.locality,
          network: workload.spec.network,
          weight: workload.spec.weight,
          origin: `WorkloadEntry/${namespace}/${workload.metadata.name}`,
        });
      }
    }
    for (const host of spec.hosts) {
      const fqdn = this.resolveHost(host, namespace);
      if (this.servicesByHost.has(fqdn)) continue;
      const service: MeshService = {
        host: fqdn,
        namespace,
        ports: spec.ports ?? [],
        location: spec.location ?? "MESH_EXTERNAL",
        resolution: spec.resolution ?? "NONE",
        addresses: spec.addresses ?? [],
        endpoints,
        workloadSelector,
        serviceEntry: entry,
      };
      this.serviceList.push(service);
      this.servicesByHost.set(fqdn, service);
      if (fqdn.startsWith("*")) this.wildcardServices.push(service);
    }
  }

  /**
   * The WorkloadEntries of a namespace a selector picks, in order, with their labels (metadata's, then spec's).
   * Looked up by the selector's first label: a mesh of a hundred services and their workloads checked every
   * entry against every selector, which made building the mesh (on every config change) quadratic.
   */
  private selectedWorkloadEntries(namespace: string, selector: Record<string, string>): { workload: WorkloadEntry; labels: Record<string, string> }[] {
    if (!this.workloadIndex) {
      this.workloadIndex = new Map();
      for (const workload of this.list("WorkloadEntry")) {
        const entry = { workload, labels: { ...workload.metadata.labels, ...workload.spec.labels } };
        const keys = [workload.metadata.namespace, ...Object.entries(entry.labels).map(([key, value]) => `${workload.metadata.namespace}\0${key}=${value}`)];
        for (const key of keys) {
          const list = this.workloadIndex.get(key) ?? [];
          list.push(entry);
          this.workloadIndex.set(key, list);
        }
      }
    }
    const first = Object.entries(selector)[0];
    const candidates = this.workloadIndex.get(first ? `${namespace}\0${first[0]}=${first[1]}` : namespace) ?? [];
    return candidates.filter((candidate) => selectorMatches(selector, candidate.labels));
  }

  list<K extends Kind>(kind: K, namespace?: string): readonly Resource<K>[] {
    const found = namespace === undefined ? this.byKind.get(kind) : this.byKindNamespace.get(`${kind}/${namespace}`);
    return (found ?? []) as unknown as Resource<K>[];
  }

  get<K extends Kind>(kind: K, namespace: string, name: string): Resource<K> | undefined {
    return this.byKey.get(`${kind}/${namespace}/${name}`) as Resource<K> | undefined;
  }

  resolveHost(host: string, namespace: string): string {
    if (host.includes(".") || host.startsWith("*")) return host;
    return `${host}.${namespace}.svc.${this.options.domainSuffix}`;
  }

  services(): readonly MeshService[] {
    return this.serviceList;
  }

  serviceByHost(host: string, namespace: string): MeshService | undefined {
    const fqdn = this.resolveHost(host, namespace);
    const exact = this.servicesByHost.get(fqdn);
    if (exact) return exact;
    // The most specific wildcard wins, as Envoy picks virtual hosts.
    let best: MeshService | undefined;
    for (const service of this.wildcardServices) {
      if (hostMatches(service.host, fqdn) && (!best || service.host.length > best.host.length)) best = service;
    }
    return best;
  }

  destinationRule(host: string, namespace: string): DestinationRule | undefined {
    const fqdn = this.resolveHost(host, namespace);
    const serviceNamespace = this.serviceByHost(host, namespace)?.namespace;
    const namespaces = [namespace, serviceNamespace, this.options.rootNamespace].filter((value): value is string => value !== undefined);
    for (const candidateNamespace of new Set(namespaces)) {
      const hosts = this.rulesByHost.get(candidateNamespace);
      if (!hosts) continue;
      const exact = hosts.get(fqdn);
      if (exact && isVisible(exact.spec.exportTo, candidateNamespace, namespace)) return exact;
      // Otherwise the most specific wildcard rule.
      let best: DestinationRule | undefined;
      let bestLength = -1;
      for (const [ruleHost, rule] of hosts) {
        if (!ruleHost.startsWith("*") || ruleHost.length <= bestLength || !hostMatches(ruleHost, fqdn)) continue;
        if (!isVisible(rule.spec.exportTo, candidateNamespace, namespace)) continue;
        best = rule;
        bestLength = ruleHost.length;
      }
      if (best) return best;
    }
    return undefined;
  }

  subset(host: string, subsetName: string, namespace: string): Subset | undefined {
    return this.destinationRule(host, namespace)?.spec.subsets?.find((subset) => subset.name === subsetName);
  }

  endpoints(service: MeshService, subset?: Subset): ServiceEndpoint[] {
    if (!subset) return [...service.endpoints];
    return service.endpoints.filter((endpoint) => selectorMatches(subset.labels, endpoint.labels));
  }

  policiesFor<K extends PolicyKind>(kind: K, workload: WorkloadRef): readonly Resource<K>[] {
    const root = this.options.rootNamespace;
    const applies = (resource: Resource<K>) => {
      const spec = resource.spec as { selector?: { matchLabels?: Record<string, string> }; targetRef?: unknown; targetRefs?: unknown[] };
      if (spec.targetRef !== undefined || (spec.targetRefs?.length ?? 0) > 0) return false;
      return selectorMatches(spec.selector?.matchLabels, workload.labels);
    };
    const rootPolicies = workload.namespace === root ? [] : this.list(kind, root).filter(applies);
    return [...rootPolicies, ...this.list(kind, workload.namespace).filter(applies)];
  }

  gatewaysFor(workload: WorkloadRef): readonly Gateway[] {
    return this.list("Gateway").filter((gateway) => selectorMatches(gateway.spec.selector, workload.labels));
  }

  virtualServicesFor(gateway: string): readonly VirtualService[] {
    return this.list("VirtualService").filter((vs) => {
      if (!vs.spec.hosts?.length) return false;
      const gateways = vs.spec.gateways ?? [];
      if (gateway === "mesh") return gateways.length === 0 || gateways.includes("mesh");
      return gateways.some((reference) => reference !== "mesh" && gatewayKey(reference, vs.metadata.namespace) === gateway);
    });
  }

  workloadEntries(): readonly WorkloadEntry[] {
    return this.list("WorkloadEntry");
  }
}

/** Istio's exportTo: absent or "*" is everywhere, "." is the own namespace, "~" is nowhere. */
function isVisible(exportTo: readonly string[] | undefined, ownNamespace: string, fromNamespace: string): boolean {
  if (!exportTo || exportTo.length === 0) return true;
  return exportTo.some((entry) => entry === "*" || (entry === "." ? ownNamespace === fromNamespace : entry === fromNamespace));
}
