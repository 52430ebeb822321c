import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { selectorMatches, type MeshService } from "../config/mesh.ts";
import { registeredEndpoints } from "./clusters.ts";
import { seededRandom } from "../../tests/harness/random.ts";
import type { WorkloadInstance } from "./types.ts";

describe("registeredEndpoints", () => {
  it("picks exactly the workloads a plain scan would, in registration order", () => {
    const random = seededRandom(7);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
    const namespaces = ["a", "b", "c"];
    const workloads: WorkloadInstance[] = [];
    for (let i = 0; i < 600; i++) {
      const labels: Record<string, string> = { app: pick(["web", "api", "db", "cache"]) };
      if (random() < 0.6) labels.version = pick(["v1", "v2"]);
      if (random() < 0.3) labels.tier = pick(["front", "back"]);
      workloads.push({ name: `w${i}`, namespace: pick(namespaces), address: `10.0.${i >> 8}.${i & 255}`, labels, serviceAccount: "default", source: "registered" });
    }
    const selectors: Array<Record<string, string> | undefined> = [
      undefined, {}, { app: "web" }, { app: "api", version: "v2" }, { version: "v1", tier: "back" }, { app: "none" }, { tier: "front" },
    ];
    for (const namespace of namespaces) {
      for (const workloadSelector of selectors) {
        const service = { namespace, workloadSelector } as unknown as MeshService;
        const scanned = workloadSelector
          ? workloads.filter((workload) => workload.namespace === namespace && selectorMatches(workloadSelector, workload.labels))
          : [];
        assert.deepEqual(registeredEndpoints(service, workloads), scanned, `${namespace} ${JSON.stringify(workloadSelector)}`);
      }
    }
  });

  it("sees a replaced list of workloads, not the one it indexed first", () => {
    const service = { namespace: "a", workloadSelector: { app: "web" } } as unknown as MeshService;
    const first: WorkloadInstance[] = [{ name: "w1", namespace: "a", address: "10.0.0.1", labels: { app: "web" }, serviceAccount: "default", source: "registered" }];
    assert.equal(registeredEndpoints(service, first).length, 1);
    const second = [...first, { ...first[0]!, name: "w2", address: "10.0.0.2" }];
    assert.deepEqual(registeredEndpoints(service, second).map((workload) => workload.name), ["w1", "w2"]);
  });
});
