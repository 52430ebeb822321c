// Each module exports only the proxy-wasm callbacks its contexts implement (scripts/callback_exports.ts): Envoy
// enters every exported callback on every request, and skips one the module does not export.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../../scripts/tools.ts";
import { HostEmulator } from "./emulator.ts";
import { buildArtifact } from "../harness/artifacts.ts";
import { overriddenMethods } from "../../scripts/callback_exports.ts";
import { createJwtFixture, jwtAuthnStyleConfig, mintToken, SUBJECT_HEADER, type JwtFixture } from "../../bench/lib/jwt_fixture.ts";
import { METRICS_CONFIG, rateLimitConfig } from "../../bench/lib/variants.ts";

let fixture: JwtFixture;

before(async () => {
  fixture = await createJwtFixture();
});

describe("callback exports", () => {
  // Each module's own file, also when the filter tests run against the combined module.
  const callbacks = (name: string): string[] => WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(join(projectRoot, "build", `${name}.wasm`))))
    .map((entry) => entry.name).filter((exported) => exported.startsWith("proxy_on_") && exported !== "proxy_on_memory_allocate");
  const always = ["proxy_on_context_create", "proxy_on_vm_start", "proxy_on_configure", "proxy_on_http_call_response", "proxy_on_delete"];

  for (const [module, used] of [
    ["jwt-auth", ["proxy_on_tick", "proxy_on_request_headers"]],
    ["rate-limit", ["proxy_on_tick", "proxy_on_request_headers", "proxy_on_response_headers"]],
    ["metrics", ["proxy_on_log"]],
    ["as-mesh", ["proxy_on_tick", "proxy_on_request_headers", "proxy_on_response_headers", "proxy_on_log"]],
  ] as const) {
    it(`${module}.wasm exports only the callbacks its contexts implement`, () => {
      assert.deepEqual(callbacks(module).sort(), [...always, ...used].sort());
    });
  }

  it("counts a method as implemented only outside the SDK's default contexts", () => {
    assert.deepEqual([...overriddenMethods([
      "assembly/context/Context#onRequestBody", "assembly/context/Context#onLog@virtual",
      "filters/metrics/index/MetricsStream#onLog", "~lib/map/Map#onLog",
    ])], ["onLog"]);
  });

  it("enters the VM once per callback it needs for all three stages", async () => {
    const host = await HostEmulator.start(buildArtifact("as-mesh"), {
      rootId: "chain", nowNanos: BigInt(Date.now()) * 1_000_000n,
      pluginConfiguration: {
        metrics: METRICS_CONFIG,
        jwt_auth: jwtAuthnStyleConfig(fixture, { subjectHeader: true }),
        rate_limit: rateLimitConfig({ jwt_claim: { header_name: SUBJECT_HEADER } }),
      },
    });
    const token = await mintToken(fixture, { subject: "carol" });
    send(host, token); // verifies and caches the token
    const entered: string[] = [];
    const enter = host.call.bind(host);
    host.call = (name: string, ...args: Array<number | bigint>): number => {
      if (host.hasExport(name)) entered.push(name);
      return enter(name, ...args);
    };
    send(host, token);
    const callbacks = entered.filter((name) => name !== "proxy_on_memory_allocate");
    assert.deepEqual(callbacks, [
      "proxy_on_context_create", "proxy_on_request_headers", "proxy_on_response_headers", "proxy_on_log", "proxy_on_delete",
    ]);
  });
});

function send(host: HostEmulator, token: string): void {
  const stream = host.newStream({ "response.code": 200n });
  stream.sendRequestHeaders({ ":method": "GET", ":path": "/items", ":authority": "svc.local", authorization: `Bearer ${token}` });
  stream.sendResponseHeaders({ ":status": "200" });
  stream.complete();
}
