// The design documents' Istio YAML (../shared/mesh-examples), translated: every file Istio accepts, given the
// services it names (as the documents assume a cluster has them), turns into resources Envoy takes, with the
// behaviour the YAML asks for.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { packResource } from "../api/index.ts";
import { parseYaml, validateMesh, type MeshConfig } from "../config/index.ts";
import { resourcesByTypeUrl, translateProxy, type EnvoyResources, type ProxyInfo } from "./index.ts";

const EXAMPLES = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../../shared/mesh-examples");

/** ServiceEntries for every host the documents' resources name but do not define (Kubernetes services there). */
function servicesFor(mesh: MeshConfig): string {
  const wanted = new Map<string, { namespace: string; ports: Set<number> }>();
  const want = (host: string, namespace: string, port?: number) => {
    if (host.includes("*") || mesh.serviceByHost(host, namespace)) return;
    const fqdn = mesh.resolveHost(host, namespace);
    const entry = wanted.get(fqdn) ?? { namespace, ports: new Set([80]) };
    if (port) entry.ports.add(port);
    wanted.set(fqdn, entry);
  };
  for (const resource of mesh.resources) {
    const namespace = resource.metadata.namespace;
    if (resource.kind === "DestinationRule") want(resource.spec.host, namespace);
    if (resource.kind === "VirtualService") {
      for (const http of resource.spec.http ?? []) {
        for (const destination of http.route ?? []) want(destination.destination.host, namespace, destination.destination.port?.number);
      }
    }
  }
  return [...wanted].map(([host, { namespace, ports }]) => `
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${host.split(".")[0]}, namespace: ${namespace} }
spec:
  hosts: [${host}]
  ports: [${[...ports].map((port) => `{ number: ${port}, name: http-${port}, protocol: HTTP }`).join(", ")}]
  resolution: STATIC
  workloadSelector: { labels: { app: ${host.split(".")[0]} } }
`).join("");
}

interface Translated { mesh: MeshConfig; sidecar: EnvoyResources; router: EnvoyResources }

function translateExample(file: string): Translated | undefined {
  const text = readFileSync(join(EXAMPLES, file), "utf8");
  const first = validateMesh(parseYaml(text, file).documents);
  if (!first.mesh) return undefined;
  const { documents, errors } = parseYaml(text + servicesFor(first.mesh), file);
  assert.deepEqual(errors, []);
  const result = validateMesh(documents);
  assert.deepEqual(result.errors, [], `${file} with its services is valid`);
  const mesh = result.mesh!;
  const namespace = mesh.resources[0]?.metadata.namespace ?? "default";
  const proxy = (type: ProxyInfo["type"]): ProxyInfo => ({
    id: `${type}-${file}`, type, namespace, labels: { app: "client", istio: "ingressgateway" }, serviceAccount: "default", ip: "127.0.0.70",
    workloadName: "client", inboundPorts: {}, appPorts: {}, listenAddress: "127.0.0.1", listenPorts: {}, metadata: {},
  });
  const context = { registeredWorkloads: [], wasmModules: {} };
  return { mesh, sidecar: translateProxy(mesh, proxy("sidecar"), context), router: translateProxy(mesh, proxy("router"), context) };
}

type Node = Record<string, unknown>;
function routesOf(resources: EnvoyResources): Node[] {
  return [...resources.routes.values()].flatMap((config) => (config.virtualHosts ?? []).flatMap((host) => (host.routes ?? []) as Node[]));
}
function routeFor(resources: EnvoyResources, hostPrefix: string): Node[] {
  const hosts = [...resources.routes.values()].flatMap((config) => config.virtualHosts ?? []);
  const found = hosts.find((host) => host.name!.startsWith(hostPrefix));
  assert.ok(found, `a virtual host for ${hostPrefix} (have ${hosts.map((host) => host.name).join(", ")})`);
  return found.routes as Node[];
}

describe("the design documents' examples, translated", { skip: !existsSync(EXAMPLES) && "../shared/mesh-examples is not here" }, () => {
  const files = existsSync(EXAMPLES) ? readdirSync(EXAMPLES).filter((file) => file.endsWith(".yaml")).sort() : [];

  for (const file of files) {
    it(`${file}: every resource packs, and every routed cluster exists or is reported`, () => {
      const translated = translateExample(file);
      if (!translated) return; // Istio rejects the file; control/config/examples.test.ts pins why.
      for (const resources of [translated.sidecar, translated.router]) {
        for (const [typeUrl, byName] of Object.entries(resourcesByTypeUrl(resources))) {
          for (const [name, json] of byName) assert.doesNotThrow(() => packResource(typeUrl, json), `${name} packs`);
        }
        for (const route of routesOf(resources)) {
          const action = route.route as Node | undefined;
          if (!action) continue;
          const clusters = action.cluster ? [action.cluster as string] : ((action.weightedClusters as Node).clusters as Node[]).map((entry) => entry.name as string);
          for (const cluster of clusters) {
            const host = cluster.split("|")[3]!;
            assert.ok(resources.clusters.has(cluster) || resources.warnings.some((warning) => warning.message.includes(host)),
              `${cluster} is sent or a warning explains why not: ${JSON.stringify(resources.warnings)}`);
          }
        }
      }
    });
  }

  it("doc001-00: a header-matched canary, then 90/10 between subsets", () => {
    const { sidecar } = translateExample("doc001-00-destinationrule-virtualservice.yaml")!;
    const routes = routeFor(sidecar, "user-service.");
    assert.deepEqual(routes[0]!.match, { prefix: "/", headers: [{ name: "canary", stringMatch: { exact: "true" } }] });
    assert.equal((routes[0]!.route as Node).cluster, "outbound|80|v2|user-service.default.svc.cluster.local");
    assert.deepEqual(((routes[1]!.route as Node).weightedClusters as Node).clusters, [
      { name: "outbound|80|v1|user-service.default.svc.cluster.local", weight: 90 },
      { name: "outbound|80|v2|user-service.default.svc.cluster.local", weight: 10 },
    ]);
    assert.ok(sidecar.clusters.has("outbound|80|v2|user-service.default.svc.cluster.local"));
  });

  it("doc001-03: a 10 % 2 s delay and a 5 % 503 abort on header-selected requests", () => {
    const { sidecar } = translateExample("doc001-03-virtualservice.yaml")!;
    const routes = routeFor(sidecar, "order-service.");
    const fault = (index: number) => (routes[index]!.typedPerFilterConfig as Node)["envoy.filters.http.fault"] as Node;
    assert.deepEqual(fault(0).delay, { fixedDelay: "2s", percentage: { numerator: 100000, denominator: "MILLION" } });
    assert.deepEqual(fault(1).abort, { httpStatus: 503, percentage: { numerator: 50000, denominator: "MILLION" } });
    assert.equal(routes[2]!.typedPerFilterConfig, undefined);
  });

  it("doc002-08: a 10 s timeout and 3 retries of 3 s on 5xx, resets and connection failures", () => {
    const { sidecar } = translateExample("doc002-08-virtualservice.yaml")!;
    const action = routeFor(sidecar, "backend-service.")[0]!.route as Node;
    assert.equal(action.timeout, "10s");
    assert.deepEqual(action.retryPolicy, {
      numRetries: 3, retryOn: "5xx,reset,connect-failure,refused-stream", hostSelectionRetryMaxAttempts: "5", perTryTimeout: "3s",
    });
  });

  it("doc002-03: sticky sessions by header, connection limits and ejection after 5 consecutive errors", () => {
    const { sidecar } = translateExample("doc002-03-destinationrule.yaml")!;
    const cluster = sidecar.clusters.get("outbound|80|v1|backend-service.default.svc.cluster.local")!;
    assert.equal(cluster.lbPolicy, "RING_HASH");
    assert.deepEqual(cluster.circuitBreakers!.thresholds![0], { maxConnections: 100, maxPendingRequests: 10, maxRequests: 100, maxRetries: 4294967295, trackRemaining: true });
    assert.equal(cluster.outlierDetection!.consecutive5xx, 5);
    assert.deepEqual((routeFor(sidecar, "backend-service.")[0]!.route as Node).hashPolicy, [{ header: { headerName: "user-id" } }]);
  });
});
