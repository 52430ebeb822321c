// The design documents' Istio YAML (../shared/mesh-examples) gets the verdict Istio's own validation gives it.
// Each expectation below was checked against istio/api (the fields a kind has) and
// istio/pkg/config/validation (the rules); the comments say why a file is rejected or what Istio warns about.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readConfigPaths, validateMesh } from "./index.ts";

const EXAMPLES = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../../shared/mesh-examples");

interface Verdict {
  valid: boolean;
  /** Every error path, exactly; each error must also say what Istio expects. */
  errors?: string[];
  /** Warnings that must be present (others may be too). */
  warnings?: string[];
}

const VERDICTS: Record<string, Verdict> = {
  // The DestinationRule's trafficPolicy.circuitBreaker does not exist in Istio (limits live in connectionPool,
  // ejection in outlierDetection). The VirtualService has no hosts, which Istio accepts as a delegate.
  "doc000-00-destinationrule-virtualservice.yaml": {
    valid: false,
    errors: ["DestinationRule/ride-service/trafficPolicy.circuitBreaker"],
    warnings: ["VirtualService/ride-service"],
  },
  "doc001-00-destinationrule-virtualservice.yaml": { valid: true },
  // An empty AuthorizationPolicy spec is Istio's allow-nothing policy; the rules and the JWT rule are well-formed.
  "doc001-01-authorizationpolicy-requestauthentication.yaml": { valid: true },
  // Outlier-detection fields written under connectionPool.http, where Istio has no such fields.
  "doc001-02-destinationrule.yaml": {
    valid: false,
    errors: [
      "DestinationRule/payment-service-circuit-breaker/trafficPolicy.connectionPool.http.consecutiveGatewayErrors",
      "DestinationRule/payment-service-circuit-breaker/trafficPolicy.connectionPool.http.interval",
      "DestinationRule/payment-service-circuit-breaker/trafficPolicy.connectionPool.http.baseEjectionTime",
      "DestinationRule/payment-service-circuit-breaker/trafficPolicy.connectionPool.http.maxEjectionPercent",
    ],
  },
  "doc001-03-virtualservice.yaml": { valid: true },
  // A ProviderRef has only `name`; extensionProviders is MeshConfig's field, not Telemetry's.
  "doc001-05-telemetry.yaml": {
    valid: false,
    errors: [
      "Telemetry/production/access-logging/accessLogging[2].providers[0].service",
      "Telemetry/production/access-logging/extensionProviders",
    ],
  },
  "doc001-06-serviceentry.yaml": { valid: true },
  // Istio warns that a TCP port without addresses needs IP auto-allocation.
  "doc001-07-destinationrule-serviceentry.yaml": { valid: true, warnings: ["ServiceEntry/legacy-mainframe/ports[1]"] },
  "doc002-02-virtualservice.yaml": { valid: true },
  // consecutiveErrors is deprecated in Istio (a warning), not removed.
  "doc002-03-destinationrule.yaml": { valid: true, warnings: ["DestinationRule/backend-destination/trafficPolicy.outlierDetection.consecutiveErrors"] },
  "doc002-04-gateway-virtualservice.yaml": { valid: true },
  "doc002-07-destinationrule.yaml": { valid: true, warnings: ["DestinationRule/backend-circuit-breaker/trafficPolicy.outlierDetection.consecutiveErrors"] },
  "doc002-08-virtualservice.yaml": { valid: true },
  "doc002-09-virtualservice.yaml": { valid: true },
  // consistentHash.minimumRingSize is deprecated (use ringHash.minimumRingSize): a warning.
  "doc002-10-destinationrule.yaml": { valid: true, warnings: ["DestinationRule/backend-lb/trafficPolicy.loadBalancer.consistentHash.minimumRingSize"] },
  "doc002-11-virtualservice.yaml": { valid: true },
  "doc003-00-virtualservice.yaml": { valid: true },
  "doc003-01-destinationrule.yaml": { valid: true },
  "doc003-02-authorizationpolicy.yaml": { valid: true },
};

test("every design-document example has a pinned verdict", { skip: !existsSync(EXAMPLES) && "examples not present" }, () => {
  const files = readdirSync(EXAMPLES).filter((file) => file.endsWith(".yaml")).sort();
  assert.deepEqual(files, Object.keys(VERDICTS).sort());
});

for (const [file, verdict] of Object.entries(VERDICTS)) {
  test(`${file} is ${verdict.valid ? "accepted" : "rejected with every error listed"}`, { skip: !existsSync(EXAMPLES) && "examples not present" }, async () => {
    const loaded = await readConfigPaths([join(EXAMPLES, file)], EXAMPLES);
    assert.deepEqual(loaded.errors, [], "the YAML itself parses");
    const result = validateMesh(loaded.documents);
    if (verdict.valid) {
      assert.deepEqual(result.errors, [], "no errors");
      assert.ok(result.mesh, "a mesh is built");
      assert.equal(result.mesh.resources.length, loaded.documents.length, "every document loads");
    } else {
      assert.equal(result.mesh, null, "the file is refused as a whole");
      assert.deepEqual(result.errors.map((error) => error.path).sort(), [...(verdict.errors ?? [])].sort());
      for (const error of result.errors) {
        assert.match(error.source ?? "", new RegExp(`^${file.replace(/\./g, "\\.")}:\\d+$`), "each error names its file and line");
        assert.ok(error.message.length > 25 && /: |\(/.test(error.message), `error "${error.message}" says what Istio expects`);
      }
    }
    const warningPaths = result.warnings.map((warning) => warning.path);
    for (const expected of verdict.warnings ?? []) assert.ok(warningPaths.includes(expected), `warns at ${expected}; got ${warningPaths.join(", ")}`);
  });
}
