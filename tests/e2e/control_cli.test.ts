// The as-mesh command as an operator runs it: help, offline validation with exit status and paths, a bootstrap
// that Envoy itself accepts (`envoy --mode validate`), and proxy-status against a running control service.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureEnvoy, projectRoot } from "../../scripts/tools.ts";
import { MeshFolder, startControlInProcess } from "../harness/control_mesh.ts";

function asMesh(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(join(projectRoot, "control", "as-mesh.mjs"), args, { cwd: projectRoot, encoding: "utf8", timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("as-mesh command", { timeout: 180_000 }, () => {
  it("lists its subcommands in --help", () => {
    const { status, stdout } = asMesh("--help");
    assert.equal(status, 0);
    for (const command of ["control", "validate", "bootstrap", "proxy-status", "agent"]) assert.match(stdout, new RegExp(`^  ${command}\\b`, "m"));
  });

  it("validates the quick-start mesh and exits 0", () => {
    const { status, stdout } = asMesh("validate", "control/examples/quickstart");
    assert.equal(status, 0, stdout);
    assert.match(stdout, /3 resource\(s\): valid/);
  });

  it("reports every error of an invalid file with its path and exits 1", () => {
    const dir = mkdtempSync(join(tmpdir(), "as-mesh-validate-"));
    try {
      writeFileSync(join(dir, "ride.yaml"), [
        "apiVersion: networking.istio.io/v1", "kind: VirtualService", "metadata: { name: ride }", "spec:",
        "  hosts: [ride]", "  http:", "  - retries: { attempts: 3, perTryTimeout: 3x }", "    timeout: soon",
        "    route: [{ destination: { host: ride } }]", "",
      ].join("\n"));
      const { status, stdout } = asMesh("validate", dir);
      assert.equal(status, 1);
      assert.match(stdout, /VirtualService\/ride\/http\[0\]\.retries\.perTryTimeout: "3x" is not a duration/);
      assert.match(stdout, /VirtualService\/ride\/http\[0\]\.timeout/);
      assert.match(stdout, /ride\.yaml:7/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("writes a sidecar bootstrap that Envoy accepts", () => {
    const dir = mkdtempSync(join(tmpdir(), "as-mesh-bootstrap-"));
    try {
      const file = join(dir, "sidecar.json");
      const written = asMesh("bootstrap", "--namespace", "shop", "--labels", "app=ride,version=v1", "--service-account", "ride",
        "--ip", "127.0.5.1", "--inbound-ports", "http=8080", "--app-ports", "http=9080", "--xds", "127.0.0.1:15010",
        "--xds", "127.0.0.2:15010", "--control-http", "127.0.0.1:15014", "-o", file);
      assert.equal(written.status, 0, written.stderr);
      const envoy = spawnSync(ensureEnvoy(), ["--mode", "validate", "-c", file], { encoding: "utf8", timeout: 60_000 });
      assert.equal(envoy.status, 0, `${envoy.stdout}${envoy.stderr}`);
      assert.match(envoy.stdout + envoy.stderr, /configuration .* OK/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a bootstrap with a bad port and says which flag", () => {
    const { status, stderr } = asMesh("bootstrap", "--inbound-ports", "http=99999");
    assert.notEqual(status, 0);
    assert.match(stderr, /--inbound-ports http=99999/);
  });

  it("prints proxy-status from a running control service, and fails clearly when none answers", async () => {
    const folder = new MeshFolder();
    folder.write("mesh.yaml", "");
    const { service, endpoints } = await startControlInProcess(folder);
    try {
      // Asynchronously: the control service runs in this process and must be free to answer.
      const { stdout } = await promisify(execFile)(join(projectRoot, "control", "as-mesh.mjs"), ["proxy-status", "--admin", endpoints.adminUrl], { encoding: "utf8", timeout: 60_000 });
      assert.match(stdout, /^NAME\s+CLUSTER\s+CDS\s+LDS\s+EDS\s+RDS\s+ECDS\s+SDS/);
    } finally {
      await service.stop();
      folder.cleanup();
    }
    const down = asMesh("proxy-status", "--admin", "http://127.0.0.1:9");
    assert.equal(down.status, 1);
    assert.match(down.stderr, /cannot reach the control service at http:\/\/127\.0\.0\.1:9/);
  });
});
