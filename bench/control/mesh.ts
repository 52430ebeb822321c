// The benchmark's mesh: `services` HTTP services in one namespace, each a ServiceEntry selecting its workloads by
// label, with two WorkloadEntries (v1, v2) of its own; every fourth service has a DestinationRule (subsets, a
// connection pool, outlier detection) and a VirtualService (retries, a timeout, a 100/0 split over the subsets);
// a mesh-wide metrics WasmPlugin. The simulated sidecars are workloads of these services and register over ADS,
// as Istio's auto-registered VMs do. One file per service, so a change rewrites one small file as an operator would.
import type { MeshFolder } from "../../tests/harness/control_mesh.ts";

export const BENCH_NAMESPACE = "bench";
/** Most services listen on 8080; every fifth one on 9090, so sidecars get two outbound HTTP listeners. */
export const servicePort = (index: number): number => (index % 5 === 4 ? 9090 : 8080);
export const serviceName = (index: number): string => `svc-${String(index).padStart(3, "0")}`;
export const serviceHost = (index: number): string => `${serviceName(index)}.${BENCH_NAMESPACE}.svc.cluster.local`;
/** Services with a DestinationRule and a VirtualService. */
export const hasRouting = (index: number): boolean => index % 4 === 0;

function serviceYaml(index: number): string {
  const name = serviceName(index);
  const host = serviceHost(index);
  const port = servicePort(index);
  let yaml = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: ${BENCH_NAMESPACE} }
spec:
  hosts: [${host}]
  ports: [{ number: ${port}, name: http, protocol: HTTP }]
  resolution: STATIC
  workloadSelector: { labels: { app: ${name} } }
`;
  for (const [offset, version] of ["v1", "v2"].entries()) {
    yaml += `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: ${name}-${version}, namespace: ${BENCH_NAMESPACE} }
spec: { address: 10.${100 + offset}.${Math.floor(index / 250)}.${(index % 250) + 1}, labels: { app: ${name}, version: ${version} }, serviceAccount: ${name} }
`;
  }
  if (hasRouting(index)) {
    yaml += `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${name}, namespace: ${BENCH_NAMESPACE} }
spec:
  host: ${host}
  trafficPolicy:
    loadBalancer: { simple: LEAST_REQUEST }
    connectionPool: { http: { http1MaxPendingRequests: 100, maxRequestsPerConnection: 10 } }
    outlierDetection: { consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s }
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
`;
  }
  return yaml;
}

/** The VirtualService of a routed service, sending `canaryPercent` of its traffic to v2. */
export function virtualServiceYaml(index: number, canaryPercent: number): string {
  const host = serviceHost(index);
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${serviceName(index)}, namespace: ${BENCH_NAMESPACE} }
spec:
  hosts: [${host}]
  http:
  - timeout: 5s
    retries: { attempts: 2, perTryTimeout: 2s, retryOn: "5xx,connect-failure" }
    route:
    - { destination: { host: ${host}, subset: v1 }, weight: ${100 - canaryPercent} }
    - { destination: { host: ${host}, subset: v2 }, weight: ${canaryPercent} }
`;
}

const TELEMETRY = `apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: metrics, namespace: istio-system }
spec: { url: as-mesh://metrics, phase: STATS }
`;

/** Writes the whole mesh into `folder`. */
export function writeBenchMesh(folder: MeshFolder, services: number): void {
  folder.write("telemetry.yaml", TELEMETRY);
  for (let index = 0; index < services; index++) {
    folder.write(`${serviceName(index)}.yaml`, serviceYaml(index));
    if (hasRouting(index)) folder.write(`${serviceName(index)}-vs.yaml`, virtualServiceYaml(index, 0));
  }
}

/** The routed service a change edits: the first one. */
export const CHANGED_SERVICE = 0;

/** Rewrites the changed service's VirtualService to a new split (the edit that is measured). */
export function editCanary(folder: MeshFolder, canaryPercent: number): void {
  folder.write(`${serviceName(CHANGED_SERVICE)}-vs.yaml`, virtualServiceYaml(CHANGED_SERVICE, canaryPercent));
}

/** Node of simulated sidecar `index` (< 65,536): a workload of service `index % services`, at its own address. */
export function simulatedSidecarNode(index: number, services: number): { id: string; metadata: { [key: string]: string | { [key: string]: string | number } } } {
  const serviceIndex = index % services;
  const service = serviceName(serviceIndex);
  const ip = `10.200.${index >> 8}.${index & 255}`;
  return {
    id: `sidecar~${ip}~${service}-${index}.${BENCH_NAMESPACE}~${BENCH_NAMESPACE}.svc.cluster.local`,
    metadata: {
      NAMESPACE: BENCH_NAMESPACE,
      LABELS: { app: service, version: index % 10 === 9 ? "v2" : "v1" },
      SERVICE_ACCOUNT: service,
      INSTANCE_IPS: ip,
      WORKLOAD_NAME: `${service}-${index}`,
      INBOUND_PORTS: { http: servicePort(serviceIndex) },
      APP_PORTS: { http: 18080 },
    },
  };
}
