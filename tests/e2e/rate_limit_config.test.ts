// The rate-limit filter's configuration in real Envoy: an invalid one stops Envoy from starting, with the log
// line that names the field; the hand-written example envoy/rate-limit.yaml starts and limits as documented.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { bootstrap, httpListener, staticCluster, wasmFilter } from "../../envoy/bootstrap.ts";
import { EnvoyStartError, startEnvoy, withEnvoyLog, type EnvoyInstance } from "../harness/envoy.ts";
import { exampleConfigForTest } from "../harness/examples.ts";
import { startUpstream } from "../harness/upstream.ts";
import { buildArtifact } from "../harness/artifacts.ts";
import { get, header, send } from "./rate_limit_support.ts";

const wasmPath = buildArtifact("rate-limit");

function withRule(changes: Record<string, unknown>): Record<string, unknown> {
  return {
    rules: [{
      name: "api",
      match: { path_prefix: "/" },
      descriptors: [{ request_headers: { header_name: "x-client" } }],
      token_bucket: { max_tokens: 10, tokens_per_fill: 1, fill_interval: "1s" },
      ...changes,
    }],
  };
}

describe("rate-limit configuration in real Envoy", () => {
  const invalid: Array<[string, Record<string, unknown>, string]> = [
    ["a zero capacity", withRule({ token_bucket: { max_tokens: 0, tokens_per_fill: 1, fill_interval: "1s" } }),
      "rate-limit: rules[0].token_bucket.max_tokens must be > 0"],
    ["a negative fill interval", withRule({ token_bucket: { max_tokens: 10, tokens_per_fill: 1, fill_interval: "-1s" } }),
      "rate-limit: rules[0].token_bucket.fill_interval must be > 0"],
    ["an unknown descriptor kind", withRule({ descriptors: [{ query_parameter: { name: "user" } }] }),
      "rate-limit: rules[0].descriptors[0] has unknown descriptor kind \"query_parameter\""],
  ];

  for (const [what, configuration, expected] of invalid) {
    it(`refuses to start with ${what}, logging the field`, { timeout: 60_000 }, async () => {
      const upstream = await startUpstream();
      const config = bootstrap({
        listeners: [httpListener({
          name: "main",
          httpFilters: [wasmFilter({ name: "rate-limit", wasmPath, configuration })],
          routes: [{ prefix: "/", action: { cluster: "echo" } }],
        })],
        clusters: [staticCluster("echo", "127.0.0.1", upstream.port)],
      });
      try {
        await assert.rejects(startEnvoy({ config, readyTimeoutMs: 30_000 }), (error: unknown) => {
          assert.ok(error instanceof EnvoyStartError, String(error));
          assert.ok(error.message.includes(expected), `expected "${expected}" in:\n${error.message}`);
          return true;
        });
      } finally {
        await upstream.close();
      }
    });
  }
});

describe("the example envoy/rate-limit.yaml", () => {
  it("starts as written and limits POST /login per client", { timeout: 60_000 }, async () => {
    const upstream = await startUpstream();
    const yaml = exampleConfigForTest("rate-limit.yaml", { 8080: upstream.port });
    let envoy: EnvoyInstance | undefined;
    try {
      envoy = await startEnvoy({ config: {}, extraArgs: ["--config-yaml", yaml], concurrency: 2 });
      await withEnvoyLog(() => envoy, async () => {
        const ingress = envoy!.url("ingress");
        const postLogin = (client: string) => send("POST", ingress + "/login", { "x-forwarded-for": client });
        const replies = [];
        for (let i = 0; i < 6; i++) replies.push(await postLogin("198.51.100.20"));
        assert.deepEqual(replies.map((reply) => reply.status), [200, 200, 200, 200, 200, 429]);
        assert.equal(header(replies[5], "ratelimit-policy"), "\"login\";q=5;w=50");
        assert.equal(header(replies[0], "x-ratelimit-remaining"), "4", "enable_x_ratelimit_headers is on");
        assert.equal((await postLogin("198.51.100.21")).status, 200, "another client, another bucket");
        const other = await get(ingress + "/login", { "x-forwarded-for": "198.51.100.20" });
        assert.equal(other.status, 200, "GET /login falls to the default rule");
        assert.equal(header(other, "x-ratelimit-limit"), "50");
        const stats = await envoy!.stats("wasmcustom.ratelimit.ingress.login");
        assert.equal(stats.get("wasmcustom.ratelimit.ingress.login.limited"), 1);
      })();
    } finally {
      await envoy?.stop();
      await upstream.close();
    }
  });
});
