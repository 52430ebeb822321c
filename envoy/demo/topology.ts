// The demo mesh, described once. Both runners are generated from this module: the local runner (scripts/demo/,
// one network namespace per workload when run as root) and docker-compose.yml (scripts/demo/compose.ts). The
// mesh's Istio-shaped configuration lives beside it in envoy/demo/mesh/*.yaml and names the same services,
// service accounts and labels; a test checks the two agree.
//
//                 ┌──────────── control (xDS + CA + .wasm) ────────────┐
//   client ─TLS─▶ gateway ─▶ ride v1 (90%) ─▶ driver ─▶ payment
//                        └─▶ ride v2 (10%) ─┘
//   every workload: app ◀─▶ sidecar Envoy (inbound :15006, outbound :15001, admin :15000)
//   issuer: the demo's identity provider (JWKS + tokens), outside the mesh like a real IdP
//   prometheus: scrapes every Envoy's /stats/prometheus and the control service's /metrics

/** The mesh's namespace (Kubernetes-style); every workload lives in it. */
export const MESH_NAMESPACE = "demo";
/** SPIFFE trust domain of the mesh CA, as istiod's default. */
export const TRUST_DOMAIN = "cluster.local";
/**
 * The edge's DNS name: the Gateway's HTTPS server lists it as its host, so the mesh CA issues the gateway's
 * certificate for it, and clients send it as SNI (the gateway's filter chain matches on it).
 */
export const EDGE_HOST = "rides.demo.as-mesh";

/** Ports inside each workload's network namespace (or container); the numbers Istio uses where it has one. */
export const PORTS = {
  app: 8080,
  sidecarInbound: 15006,
  sidecarOutbound: 15001,
  envoyAdmin: 15000,
  /** The edge gateway's HTTPS server (the Gateway's port in envoy/demo/mesh/gateway.yaml). */
  gatewayHttps: 8443,
  controlXds: 15010,
  /** The mesh CA's issuance API (istiod's port for it). */
  controlCa: 15012,
  controlHttp: 15014,
  prometheus: 9090,
} as const;

/** The private /24 the netns runner puts workloads on; .1 is the bridge in the root namespace. */
export const SUBNET = { prefix: "10.77.0", bits: 24, bridgeHost: 1 } as const;

export interface Workload {
  /** Unique name: the network namespace is `asm-<name>`, the compose service `<name>` (and `<name>-sidecar`). */
  name: string;
  /** The service (app label) it belongs to; its mesh host is `<service>.<namespace>.svc.cluster.local`. */
  service: string;
  version: string;
  namespace: string;
  serviceAccount: string;
  labels: Record<string, string>;
  /** Last octet of its address on the demo subnet. */
  host: number;
  /** The service this workload's app calls on every request (the call chain ride → driver → payment). */
  calls?: string;
}

export interface Topology {
  namespace: string;
  trustDomain: string;
  control: { name: "control"; host: number };
  gateway: { name: "gateway"; namespace: string; serviceAccount: string; labels: Record<string, string>; host: number };
  issuer: { name: "issuer"; namespace: string; host: number };
  workloads: Workload[];
  prometheus: { name: "prometheus" };
  k6: { name: "k6" };
}

function workload(service: string, version: string, host: number, calls?: string): Workload {
  return {
    name: `${service}-${version}`,
    service,
    version,
    namespace: MESH_NAMESPACE,
    serviceAccount: service,
    labels: { app: service, version },
    host,
    ...(calls ? { calls } : {}),
  };
}

export const topology: Topology = {
  namespace: MESH_NAMESPACE,
  trustDomain: TRUST_DOMAIN,
  // The control service listens on the bridge address, reachable from every namespace.
  control: { name: "control", host: SUBNET.bridgeHost },
  gateway: {
    name: "gateway", namespace: MESH_NAMESPACE, serviceAccount: "gateway",
    labels: { app: "gateway", istio: "ingressgateway" }, host: 10,
  },
  issuer: { name: "issuer", namespace: MESH_NAMESPACE, host: 9 },
  workloads: [
    workload("ride", "v1", 11, "driver"),
    workload("ride", "v2", 12, "driver"),
    workload("driver", "v1", 13, "payment"),
    workload("payment", "v1", 14),
  ],
  prometheus: { name: "prometheus" },
  k6: { name: "k6" },
};

/** The mesh host name of a service, as the ServiceEntries declare it. */
export function serviceHost(service: string, namespace = MESH_NAMESPACE): string {
  return `${service}.${namespace}.svc.cluster.local`;
}

/** SPIFFE identity of a service account, the mesh CA's URI SAN. */
export function spiffeId(serviceAccount: string, namespace = MESH_NAMESPACE): string {
  return `spiffe://${TRUST_DOMAIN}/ns/${namespace}/sa/${serviceAccount}`;
}

/** Address of a host number on the demo subnet. */
export function subnetAddress(host: number): string {
  return `${SUBNET.prefix}.${host}`;
}

/** Distinct services in call order (ride, driver, payment). */
export function services(): string[] {
  return [...new Set(topology.workloads.map((w) => w.service))];
}

/** Every Envoy of the mesh (the gateway and one sidecar per workload), for scrape targets and tear-down checks. */
export function envoyNames(): string[] {
  return [topology.gateway.name, ...topology.workloads.map((w) => w.name)];
}
