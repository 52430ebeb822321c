// The README's "attach a filter to your own Envoy" snippet, taken from README.md as written, runs in real Envoy.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { bootstrap, httpListener, staticCluster, type Json } from "../../envoy/bootstrap.ts";
import { startEnvoy, withEnvoyLog, type EnvoyInstance } from "../harness/envoy.ts";
import { startUpstream, type Upstream } from "../harness/upstream.ts";
import { buildArtifact } from "../harness/artifacts.ts";
import { projectRoot } from "../../scripts/tools.ts";

function readmeSnippetFilters(): Json[] {
  const readme = readFileSync(join(projectRoot, "README.md"), "utf8");
  const block = /```yaml\n(http_filters:[\s\S]*?)```/.exec(readme);
  assert.ok(block, "README.md has a yaml block starting with http_filters:");
  const filters = (parse(block[1]) as { http_filters: Json[] }).http_filters;
  const text = JSON.stringify(filters).replaceAll("/etc/envoy/wasm/rate-limit.wasm", buildArtifact("rate-limit"));
  return JSON.parse(text) as Json[];
}

describe("README snippet", () => {
  let upstream: Upstream;
  let envoy: EnvoyInstance | undefined;

  before(async () => {
    upstream = await startUpstream();
    const filters = readmeSnippetFilters();
    // httpListener appends the router itself; the snippet's own router is the last entry.
    assert.equal((filters.at(-1) as { name: string }).name, "envoy.filters.http.router");
    envoy = await startEnvoy({
      config: bootstrap({
        listeners: [httpListener({ name: "main", httpFilters: filters.slice(0, -1), routes: [{ prefix: "/", action: { cluster: "echo" } }] })],
        clusters: [staticCluster("echo", "127.0.0.1", upstream.port)],
      }),
    });
  });

  after(async () => {
    await envoy?.stop();
    await upstream?.close();
  });

  it("loads in Envoy and limits a client to its bucket", withEnvoyLog(() => envoy, async () => {
    const statuses: number[] = [];
    const started = Date.now();
    for (let i = 0; i < 110; i++) {
      const response = await fetch(envoy!.url() + "/");
      await response.arrayBuffer();
      statuses.push(response.status);
    }
    const allowed = statuses.filter((status) => status === 200).length;
    assert.ok(statuses.every((status) => status === 200 || status === 429), statuses.join(","));
    // 100 tokens of burst plus the refills of 10 per second while the loop ran. Under a second, some of the 110 must
    // be refused; a loaded machine can take longer, and then the refills may admit all of them.
    const seconds = (Date.now() - started) / 1000;
    const ceiling = seconds < 1 ? 109 : 110;
    assert.ok(allowed >= 100 && allowed <= ceiling, `allowed ${allowed} in ${seconds.toFixed(2)} s`);
  }));
});
