// The demo must keep working: `npm run demo -- --once` runs the whole chain in real Envoy and checks its samples,
// and the docker-compose variant of its Envoy config stays generated from the same source and valid for Envoy.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerConfigYaml, DOCKER_CONFIG_PATH } from "../../envoy/demo/mesh.ts";
import { ensureEnvoy, projectRoot } from "../../scripts/tools.ts";

describe("demo", () => {
  it("answers every sample as expected through metrics → jwt-auth → rate-limit in real Envoy", () => {
    const result = spawnSync(process.execPath, ["--import", "tsx", "scripts/demo.ts", "--once"], {
      cwd: projectRoot, encoding: "utf8", timeout: 180_000,
    });
    const output = `${result.stdout}${result.stderr}`;
    assert.equal(result.status, 0, output);
    assert.match(output, /GET \/api\/whoami without a token\s+→ 401/);
    assert.match(output, /backend saw x-jwt-claim-sub: alice/);
    assert.match(output, /→ (200 ){5}429 429 429/);
    assert.match(output, /istio_requests_total by response_code .*200=\d+/);
    assert.match(output, /all samples answered as expected/);
  });

  it("keeps envoy/demo/envoy.docker.yaml generated from envoy/demo/mesh.ts", () => {
    assert.equal(readFileSync(DOCKER_CONFIG_PATH, "utf8"), dockerConfigYaml(),
      "regenerate with: npm run demo -- --write-docker-config");
  });

  it("has a docker-compose Envoy config that Envoy validates with the built filters", () => {
    const dir = mkdtempSync(join(tmpdir(), "as-mesh-docker-config-"));
    try {
      const local = join(dir, "envoy.yaml");
      writeFileSync(local, readFileSync(DOCKER_CONFIG_PATH, "utf8").replaceAll("/etc/envoy/wasm", join(projectRoot, "build")));
      const result = spawnSync(ensureEnvoy(), ["--mode", "validate", "-c", local, "--disable-hot-restart", "--use-dynamic-base-id"], {
        encoding: "utf8", timeout: 120_000,
      });
      const output = `${result.stdout}${result.stderr}`;
      assert.equal(result.status, 0, output.split("\n").slice(-5).join("\n"));
      assert.match(output, /configuration '.*' OK/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
