import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildMesh, selectorMatches } from "./mesh.ts";
import type { AnyResource } from "./schema.ts";
import { seededRandom } from "../../tests/harness/random.ts";

describe("mesh services' WorkloadEntry endpoints", () => {
  it("are exactly the entries a scan of the namespace picks, in order, labels from metadata and spec", () => {
    const random = seededRandom(11);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
    const namespaces = ["a", "b"];
    const resources: AnyResource[] = [];
    for (let i = 0; i < 300; i++) {
      const metadataLabels: Record<string, string> = random() < 0.5 ? { app: pick(["web", "api", "db"]) } : {};
      const specLabels: Record<string, string> = { version: pick(["v1", "v2"]) };
      if (random() < 0.3) specLabels.app = pick(["web", "api", "db"]);
      resources.push({
        apiVersion: "networking.istio.io/v1", kind: "WorkloadEntry",
        metadata: { name: `w${String(i).padStart(3, "0")}`, namespace: pick(namespaces), labels: metadataLabels },
        spec: { address: `10.0.${i >> 8}.${i & 255}`, labels: specLabels },
      } as unknown as AnyResource);
    }
    const selectors: Array<Record<string, string> | undefined> = [undefined, { app: "web" }, { app: "api", version: "v2" }, { version: "v1" }, { app: "none" }];
    selectors.forEach((labels, index) => {
      for (const namespace of namespaces) {
        resources.push({
          apiVersion: "networking.istio.io/v1", kind: "ServiceEntry",
          metadata: { name: `s${index}`, namespace },
          spec: { hosts: [`s${index}.${namespace}.svc.cluster.local`], ports: [{ number: 80, name: "http", protocol: "HTTP" }], resolution: "STATIC", workloadSelector: { labels } },
        } as unknown as AnyResource);
      }
    });
    const mesh = buildMesh(resources);
    let picked = 0;
    for (const service of mesh.services()) {
      const scanned = mesh.list("WorkloadEntry", service.namespace)
        .map((workload) => ({ workload, labels: { ...workload.metadata.labels, ...workload.spec.labels } }))
        .filter(({ labels }) => selectorMatches(service.workloadSelector, labels));
      assert.deepEqual(service.endpoints.map((endpoint) => endpoint.origin), scanned.map(({ workload }) => `WorkloadEntry/${service.namespace}/${workload.metadata.name}`), service.host);
      assert.deepEqual(service.endpoints.map((endpoint) => endpoint.labels), scanned.map(({ labels }) => labels));
      picked += scanned.length;
    }
    assert.ok(picked > 300, "the selectors pick a fair share of the entries");
  });
});
