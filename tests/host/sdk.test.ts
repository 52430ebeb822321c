// The SDK's behaviour in the host emulator, through the conformance fixture: fast checks of the same
// capabilities the real-Envoy suite proves, plus the emulator's own contract (CAS, clock, callouts).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { HostEmulator, SharedDataStore, WasmResult } from "./emulator.ts";
import { buildArtifact } from "../harness/artifacts.ts";
import { disallowedImports } from "../../scripts/build.ts";
import { projectRoot } from "../../scripts/tools.ts";

const wasm = buildArtifact("abi-conformance");
const configuration = "greeting=hi\ncallout_cluster=upstream";

describe("built modules", () => {
  it("import only env.proxy_* and WASI functions", () => {
    const built = readdirSync(join(projectRoot, "build")).filter((name) => name.endsWith(".wasm"));
    assert.ok(built.length > 0);
    for (const name of built) {
      assert.deepEqual(disallowedImports(readFileSync(join(projectRoot, "build", name))), [], name);
    }
  });

  it("the import check catches AssemblyScript's env.abort", () => {
    // A minimal module importing env.abort, as AssemblyScript emits without our abort handler.
    const bytes = new Uint8Array([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
      0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
      0x02, 0x0d, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x05, 0x61, 0x62, 0x6f, 0x72, 0x74, 0x00, 0x00, // import env.abort
    ]);
    assert.deepEqual(disallowedImports(bytes), ["env.abort"]);
  });
});

describe("SDK in the host emulator", () => {
  it("rejects a plugin configuration the filter refuses, with its log line", async () => {
    const host = await HostEmulator.load(wasm, { pluginConfiguration: "colour=blue" });
    assert.equal(host.configure(), false);
    assert.ok(host.logs.some((entry) => entry.message.includes("unknown configuration key: colour")));
  });

  it("adds request and response headers", async () => {
    const host = await HostEmulator.start(wasm, { pluginConfiguration: configuration });
    const stream = host.newStream();
    assert.equal(stream.sendRequestHeaders({ ":path": "/x", ":method": "GET" }), 0);
    assert.equal(stream.requestHeader("x-wasm-request"), "added");
    assert.equal(stream.requestHeader("x-wasm-greeting"), "hi");
    stream.sendResponseHeaders({ ":status": "200" });
    assert.equal(stream.responseHeader("x-wasm-response"), "added");
    stream.complete();
  });

  it("sends a local response and pauses the stream", async () => {
    const host = await HostEmulator.start(wasm, { pluginConfiguration: configuration });
    const stream = host.newStream();
    assert.equal(stream.sendRequestHeaders({ ":path": "/local-response" }), 1);
    assert.equal(stream.localResponse?.status, 418);
    assert.deepEqual(stream.localResponse?.headers, [["x-wasm-local", "yes"], ["content-type", "text/plain"]]);
  });

  it("reads properties set by the host", async () => {
    const host = await HostEmulator.start(wasm, { pluginConfiguration: configuration, rootId: "conf" });
    const stream = host.newStream({ "request.path": "/property" });
    stream.sendRequestHeaders({ ":path": "/property" });
    assert.equal(stream.localResponse?.body, "request.path=/property plugin_root_id=conf");
  });

  it("sees CasMismatch for a stale version", async () => {
    const host = await HostEmulator.start(wasm, { pluginConfiguration: configuration });
    const stream = host.newStream();
    stream.sendRequestHeaders({ ":path": "/shared-data-cas" });
    assert.equal(stream.localResponse?.body, "initial=Ok first=Ok stale=CasMismatch value=v1\n");
  });

  it("shares data between VMs given the same store", async () => {
    const store = new SharedDataStore();
    const first = await HostEmulator.start(wasm, { pluginConfiguration: configuration, sharedData: store });
    const second = await HostEmulator.start(wasm, { pluginConfiguration: configuration, sharedData: store });
    first.newStream().sendRequestHeaders({ ":path": "/shared-data-cas" });
    second.newStream().sendRequestHeaders({ ":path": "/shared-data-cas" });
    assert.equal(store.size, 1, "both VMs used stream id 2, so they wrote the same key");
    assert.equal(store.set("conformance-cas-2", new Uint8Array([1]), 999), WasmResult.CasMismatch);
  });

  it("counts requests in a module-defined counter and fires ticks", async () => {
    const host = await HostEmulator.start(wasm, { pluginConfiguration: configuration });
    for (let i = 0; i < 3; i++) host.newStream().sendRequestHeaders({ ":path": "/x" });
    assert.equal(host.metricValue("conformance_requests_total"), 3);
    assert.equal(host.tickPeriodMs, 50);
    host.advanceTime(500, true);
    assert.equal(host.metricValue("conformance_ticks_total"), 10);
  });

  it("delivers a callout response to the stream that dispatched it", async () => {
    const host = await HostEmulator.start(wasm, { pluginConfiguration: configuration });
    const stream = host.newStream();
    assert.equal(stream.sendRequestHeaders({ ":path": "/callout" }), 1);
    assert.equal(host.httpCalls.length, 1);
    const call = host.httpCalls[0];
    assert.equal(call.cluster, "upstream");
    assert.ok(call.headers.some(([k, v]) => k === ":path" && v === "/callout-target"));
    host.respondToHttpCall(call.token, { status: 200, body: "pong" });
    assert.equal(stream.localResponse?.body, "callout status=200 body=pong");
  });

  it("reports a failed callout (no response) to the callback", async () => {
    const host = await HostEmulator.start(wasm, { pluginConfiguration: configuration });
    const stream = host.newStream();
    stream.sendRequestHeaders({ ":path": "/callout" });
    host.respondToHttpCall(host.httpCalls[0].token, null);
    assert.equal(stream.localResponse?.status, 504);
  });
});
