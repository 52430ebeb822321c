// build/as-mesh.wasm in real Envoy: the three filters as three entries sharing one vm_id (one VM per worker), and
// the chain root doing all three in one entry. Both make the single filters' decisions: a missing token is
// answered 401, each verified subject gets its own bucket, and metrics count what the later stages answered.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { bootstrap, httpListener, staticCluster, type Json } from "../../envoy/bootstrap.ts";
import { startEnvoy, withEnvoyLog, type EnvoyInstance } from "../harness/envoy.ts";
import { startUpstream, type Upstream } from "../harness/upstream.ts";
import { buildArtifact } from "../harness/artifacts.ts";
import { createJwtFixture, jwtAuthnStyleConfig, mintToken, SUBJECT_HEADER, type JwtFixture } from "../../bench/lib/jwt_fixture.ts";
import { asMeshFilter, wasmMetricsFilter } from "../../bench/lib/wasm_filters.ts";
import { get } from "./rate_limit_support.ts";

buildArtifact("as-mesh");

const perSubject = (statPrefix: string) => ({
  stat_prefix: statPrefix,
  rules: [{
    name: "per_subject", match: { path_prefix: "/" }, descriptors: [{ jwt_claim: { header_name: SUBJECT_HEADER } }],
    token_bucket: { max_tokens: 2, tokens_per_fill: 1, fill_interval: "60s" },
  }],
});
const metricsConfig = { reporter: "destination", workload: { name: "mesh", namespace: "test" } };

describe("as-mesh.wasm in real Envoy", () => {
  let fixture: JwtFixture;
  let upstream: Upstream;
  let envoy: EnvoyInstance | undefined;
  const test = (name: string, body: () => Promise<void>) => it(name, { timeout: 60_000 }, withEnvoyLog(() => envoy, body));

  before(async () => {
    fixture = await createJwtFixture();
    upstream = await startUpstream();
    const routes = [{ prefix: "/", action: { cluster: "echo" } }];
    const jwt = jwtAuthnStyleConfig(fixture, { subjectHeader: true });
    const config: Json = bootstrap({
      listeners: [
        httpListener({
          name: "three", routes,
          httpFilters: [asMeshFilter("metrics", metricsConfig), asMeshFilter("jwt-auth", jwt), asMeshFilter("rate-limit", perSubject("three"))],
        }),
        httpListener({
          name: "chain", routes,
          httpFilters: [asMeshFilter("chain", { metrics: metricsConfig, jwt_auth: jwt, rate_limit: perSubject("chain") })],
        }),
      ],
      clusters: [staticCluster("echo", "127.0.0.1", upstream.port)],
    });
    envoy = await startEnvoy({ config, concurrency: 1 });
  });

  after(async () => {
    await envoy?.stop();
    await upstream?.close();
  });

  async function statuses(listener: string, count: number, headers: Record<string, string>): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < count; i++) out.push((await get(envoy!.url(listener) + "/orders", headers)).status);
    return out;
  }

  /** istio_requests_total by response_code, from the stat names the metrics filter encodes its labels in. */
  async function requestsByCode(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const [name, value] of await envoy!.stats("istio_requests_total")) {
      const code = /response_code=\.=(\d+)/.exec(name)?.[1];
      if (code) counts.set(code, (counts.get(code) ?? 0) + value);
    }
    return counts;
  }

  for (const listener of ["three", "chain"]) {
    test(`${listener}: answers 401 without a token, and limits each verified subject on its own`, async () => {
      const alice = { authorization: `Bearer ${await mintToken(fixture, { subject: `alice-${listener}` })}` };
      const bob = { authorization: `Bearer ${await mintToken(fixture, { subject: `bob-${listener}` })}` };
      const before = await requestsByCode();
      assert.deepEqual(await statuses(listener, 1, {}), [401]);
      assert.deepEqual(await statuses(listener, 3, alice), [200, 200, 429]);
      assert.deepEqual(await statuses(listener, 1, bob), [200]);
      const echoed = await get(envoy!.url(listener) + "/orders", { authorization: `Bearer ${await mintToken(fixture, { subject: `carol-${listener}` })}` });
      assert.equal(echoed.status, 200);
      assert.match(echoed.body, new RegExp(`"${SUBJECT_HEADER}":\\s*"carol-${listener}"`), "jwt-auth's claim header reaches the upstream");
      // Metrics are recorded at log time, after the response went out: give Envoy a moment.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const afterCounts = await requestsByCode();
      const added = (code: string) => (afterCounts.get(code) ?? 0) - (before.get(code) ?? 0);
      assert.deepEqual([added("200"), added("401"), added("429")], [4, 1, 1], "metrics count what the later stages answered");
    });
  }

  test("runs all four entries in as many VMs as Envoy needs for one filter", async () => {
    const activeVms = async (instance: EnvoyInstance) =>
      (await instance.stats("wasm.envoy.wasm.runtime.v8.active")).get("wasm.envoy.wasm.runtime.v8.active");
    const single = await startEnvoy({
      config: bootstrap({
        listeners: [httpListener({ name: "one", routes: [{ prefix: "/", action: { cluster: "echo" } }], httpFilters: [wasmMetricsFilter(metricsConfig)] })],
        clusters: [staticCluster("echo", "127.0.0.1", upstream.port)],
      }),
      concurrency: 1,
    });
    try {
      const forOneFilter = await activeVms(single);
      assert.ok(forOneFilter !== undefined && forOneFilter > 0, "Envoy reports its active V8 VMs");
      assert.equal(await activeVms(envoy!), forOneFilter);
    } finally {
      await single.stop();
    }
  });
});
