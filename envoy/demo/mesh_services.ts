// The mesh's service registry as Istio-shaped YAML, generated from the topology for one placement of the
// workloads: a ServiceEntry per service (selecting its WorkloadEntries by the `app` label) and a WorkloadEntry per
// workload with the address the runner gave it (a namespace's IP, a loopback port, or a compose service name).
import { stringify } from "yaml";
import { PORTS, serviceHost, topology, type Workload } from "./topology.ts";

export interface Placement {
  /** IP address or DNS name the workload's inbound (its sidecar) is reached at. */
  address: string;
  /** Port of the sidecar's inbound listener at that address. */
  port: number;
}

export interface ServicesYamlOptions {
  placeOf(name: string): Placement;
  /** STATIC when every address is an IP, DNS when they are host names (compose). */
  resolution: "STATIC" | "DNS";
  header?: string;
}

const httpPort = { number: PORTS.app, name: "http", protocol: "HTTP", targetPort: PORTS.app };

export function servicesYaml(options: ServicesYamlOptions): string {
  const documents: object[] = [];
  const byService = new Map<string, Workload[]>();
  for (const w of topology.workloads) byService.set(w.service, [...(byService.get(w.service) ?? []), w]);
  for (const [service, workloads] of byService) {
    documents.push({
      apiVersion: "networking.istio.io/v1",
      kind: "ServiceEntry",
      metadata: { name: service, namespace: workloads[0].namespace },
      spec: {
        hosts: [serviceHost(service, workloads[0].namespace)],
        location: "MESH_INTERNAL",
        ports: [httpPort],
        resolution: options.resolution,
        workloadSelector: { labels: { app: service } },
      },
    });
    for (const w of workloads) {
      const place = options.placeOf(w.name);
      documents.push({
        apiVersion: "networking.istio.io/v1",
        kind: "WorkloadEntry",
        metadata: { name: w.name, namespace: w.namespace },
        spec: { address: place.address, ports: { http: place.port }, labels: w.labels, serviceAccount: w.serviceAccount },
      });
    }
  }
  // The issuer is outside the mesh (no sidecar, plain HTTP), as an identity provider would be.
  const issuer = options.placeOf(topology.issuer.name);
  documents.push({
    apiVersion: "networking.istio.io/v1",
    kind: "ServiceEntry",
    metadata: { name: topology.issuer.name, namespace: topology.issuer.namespace },
    spec: {
      hosts: [serviceHost(topology.issuer.name, topology.issuer.namespace)],
      location: "MESH_EXTERNAL",
      ports: [httpPort],
      resolution: options.resolution,
      endpoints: [{ address: issuer.address, ports: { http: issuer.port } }],
    },
  });
  const header = options.header ? options.header.split("\n").map((line) => `# ${line}`).join("\n") + "\n" : "";
  return header + documents.map((document) => stringify(document, { lineWidth: 0 })).join("---\n");
}
