// Proves each SDK capability in the real Envoy binary, through the test-only conformance filter.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { bootstrap, httpListener, staticCluster, wasmFilter } from "../../envoy/bootstrap.ts";
import { startEnvoy, withEnvoyLog, type EnvoyInstance, EnvoyStartError } from "../harness/envoy.ts";
import { startUpstream, type EchoedRequest, type Upstream } from "../harness/upstream.ts";
import { buildArtifact } from "../harness/artifacts.ts";

const wasmPath = buildArtifact("abi-conformance");

function conformanceConfig(upstream: Upstream, configuration: string) {
  return bootstrap({
    listeners: [httpListener({
      name: "main",
      httpFilters: [wasmFilter({ name: "conformance", wasmPath, configuration })],
      routes: [{ prefix: "/", action: { cluster: "echo" } }],
    })],
    clusters: [staticCluster("echo", "127.0.0.1", upstream.port)],
  });
}

describe("ABI conformance in real Envoy", () => {
  let upstream: Upstream;
  let envoy: EnvoyInstance | undefined;
  const test = (name: string, body: () => Promise<void>) => it(name, withEnvoyLog(() => envoy, body));

  before(async () => {
    upstream = await startUpstream((request, _body, response) => {
      if (request.url === "/callout-target") {
        response.writeHead(200, { "content-type": "text/plain" });
        response.end(`hello from the callout cluster (x-from-wasm=${request.headers["x-from-wasm"]})`);
        return;
      }
      const echoed: EchoedRequest = { method: request.method ?? "", path: request.url ?? "", headers: request.headers, body: _body };
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(echoed));
    });
    envoy = await startEnvoy({ config: conformanceConfig(upstream, "greeting=hello-from-config\ncallout_cluster=echo"), concurrency: 2 });
  });

  after(async () => {
    await envoy?.stop();
    await upstream?.close();
  });

  test("reports Envoy version 1.40 for the binary under test", async () => {
    const info = JSON.parse(await envoy!.admin("/server_info")) as { version: string };
    assert.match(info.version, /\/1\.40\.\d+\//);
    process.stdout.write(`# real Envoy under test: ${info.version}\n`);
  });

  test("adds a request header that the upstream receives", async () => {
    const response = await fetch(envoy!.url() + "/anything");
    assert.equal(response.status, 200);
    const echoed = (await response.json()) as EchoedRequest;
    assert.equal(echoed.headers["x-wasm-request"], "added");
  });

  test("adds a response header", async () => {
    const response = await fetch(envoy!.url() + "/anything");
    await response.text();
    assert.equal(response.headers.get("x-wasm-response"), "added");
  });

  test("short-circuits with a local response carrying the chosen status, body and headers", async () => {
    const before = upstream.received.length;
    const response = await fetch(envoy!.url() + "/local-response");
    assert.equal(response.status, 418);
    assert.equal(await response.text(), "short-circuited by wasm\n");
    assert.equal(response.headers.get("x-wasm-local"), "yes");
    assert.equal(upstream.received.length, before, "the upstream must not see a short-circuited request");
  });

  test("reads the plugin configuration", async () => {
    const response = await fetch(envoy!.url() + "/anything");
    const echoed = (await response.json()) as EchoedRequest;
    assert.equal(echoed.headers["x-wasm-greeting"], "hello-from-config");
  });

  test("reads properties (request.path, plugin_root_id)", async () => {
    const response = await fetch(envoy!.url() + "/property");
    assert.equal(await response.text(), "request.path=/property plugin_root_id=conformance");
  });

  test("reports a shared-data write with a stale cas as CasMismatch", async () => {
    const response = await fetch(envoy!.url() + "/shared-data-cas");
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "initial=Ok first=Ok stale=CasMismatch value=v1\n");
  });

  test("exposes a module-defined counter in /stats with the expected value", async () => {
    // Envoy puts metrics a module defines under the `wasmcustom.` prefix.
    const name = "wasmcustom.conformance_requests_total";
    const baseline = (await envoy!.stats(name)).get(name);
    assert.ok(baseline !== undefined, `${name} missing from /stats`);
    for (let i = 0; i < 5; i++) await (await fetch(envoy!.url() + "/local-response")).text();
    assert.equal((await envoy!.stats(name)).get(name), baseline + 5);
  });

  test("makes an http callout to a cluster and returns its body", async () => {
    const response = await fetch(envoy!.url() + "/callout");
    assert.equal(response.status, 200);
    assert.equal(await response.text(),
      "callout status=200 body=hello from the callout cluster (x-from-wasm=callout)");
  });

  test("fires the tick timer", async () => {
    const deadline = Date.now() + 5000;
    let ticks = 0;
    while (Date.now() < deadline) {
      ticks = (await envoy!.stats("conformance_ticks_total")).get("wasmcustom.conformance_ticks_total") ?? 0;
      if (ticks >= 3) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(ticks >= 3, `expected at least 3 ticks, saw ${ticks}`);
  });
});

describe("start-up failures surface Envoy's message", () => {
  it("a plugin configuration the filter rejects fails start-up with Envoy's error", async () => {
    const upstream = await startUpstream();
    try {
      await assert.rejects(
        startEnvoy({ config: conformanceConfig(upstream, "reject=true"), readyTimeoutMs: 20_000 }),
        (error: unknown) => {
          assert.ok(error instanceof EnvoyStartError, String(error));
          assert.match(error.message, /Envoy exited during start-up/);
          assert.match(error.message, /conformance/i);
          return true;
        });
    } finally {
      await upstream.close();
    }
  });

  it("a .wasm that fails to load fails start-up with Envoy's error", async () => {
    const upstream = await startUpstream();
    const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "as-mesh-bad-wasm-"));
    const badWasm = join(dir, "not-a-module.wasm");
    writeFileSync(badWasm, "this is not WebAssembly");
    const config = bootstrap({
      listeners: [httpListener({
        name: "main",
        httpFilters: [wasmFilter({ name: "broken", wasmPath: badWasm })],
        routes: [{ prefix: "/", action: { cluster: "echo" } }],
      })],
      clusters: [staticCluster("echo", "127.0.0.1", upstream.port)],
    });
    try {
      await assert.rejects(startEnvoy({ config, readyTimeoutMs: 20_000 }), (error: unknown) => {
        assert.ok(error instanceof EnvoyStartError, String(error));
        assert.match(error.message, /wasm/i);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await upstream.close();
    }
  });
});
