// rate-limit behind jwt-auth in real Envoy: jwt-auth verifies the token and copies its `sub` claim to a header,
// rate-limit keys on that header with a jwt_claim descriptor. Each user gets their own bucket, and a client cannot
// spend someone else's bucket by sending the claim header itself.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { bootstrap, httpListener, staticCluster, type Json } from "../../envoy/bootstrap.ts";
import { startEnvoy, withEnvoyLog, type EnvoyInstance } from "../harness/envoy.ts";
import { startUpstream, type Upstream } from "../harness/upstream.ts";
import { buildArtifact } from "../harness/artifacts.ts";
import { createJwtFixture, mintToken, SUBJECT_HEADER, type JwtFixture } from "../../bench/lib/jwt_fixture.ts";
import { wasmJwtAuthFilter, wasmRateLimitFilter } from "../../bench/lib/wasm_filters.ts";
import { get } from "./rate_limit_support.ts";

buildArtifact("jwt-auth");
buildArtifact("rate-limit");

const perUser = {
  stat_prefix: "chain",
  rules: [{
    name: "per-user",
    match: { path_prefix: "/" },
    descriptors: [{ jwt_claim: { header_name: SUBJECT_HEADER } }],
    token_bucket: { max_tokens: 3, tokens_per_fill: 1, fill_interval: "60s" },
  }],
};

describe("rate-limit behind jwt-auth in real Envoy", () => {
  let fixture: JwtFixture;
  let upstream: Upstream;
  let envoy: EnvoyInstance | undefined;
  const test = (name: string, body: () => Promise<void>) => it(name, { timeout: 60_000 }, withEnvoyLog(() => envoy, body));

  before(async () => {
    fixture = await createJwtFixture();
    upstream = await startUpstream();
    const config: Json = bootstrap({
      listeners: [httpListener({
        name: "chain",
        httpFilters: [wasmJwtAuthFilter(fixture, { subjectHeader: true }), wasmRateLimitFilter(perUser)],
        routes: [{ prefix: "/", action: { cluster: "echo" } }],
      })],
      clusters: [staticCluster("echo", "127.0.0.1", upstream.port)],
    });
    envoy = await startEnvoy({ config, concurrency: 2 });
  });

  after(async () => {
    await envoy?.stop();
    await upstream?.close();
  });

  async function statuses(count: number, headers: Record<string, string>): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < count; i++) out.push((await get(envoy!.url() + "/orders", headers)).status);
    return out;
  }

  test("gives each verified subject its own bucket", async () => {
    const alice = { authorization: `Bearer ${await mintToken(fixture, { subject: "alice" })}` };
    const bob = { authorization: `Bearer ${await mintToken(fixture, { subject: "bob" })}` };
    assert.deepEqual(await statuses(4, alice), [200, 200, 200, 429]);
    assert.deepEqual(await statuses(1, bob), [200]);
  });

  test("keys on the verified claim, not on a claim header the client sends", async () => {
    const carol = `Bearer ${await mintToken(fixture, { subject: "carol" })}`;
    assert.deepEqual(await statuses(3, { authorization: carol }), [200, 200, 200]);
    const forged = await statuses(2, { authorization: carol, [SUBJECT_HEADER]: "someone-else" });
    assert.deepEqual(forged, [429, 429], "carol's bucket is empty whatever claim header she sends");
  });

  test("requests jwt-auth refuses never reach the limiter", async () => {
    const before = (await envoy!.stats("wasmcustom.ratelimit.chain")).get("wasmcustom.ratelimit.chain.per-user.allowed") ?? 0;
    assert.equal((await get(envoy!.url() + "/orders", { authorization: "Bearer not-a-token" })).status, 401);
    const afterCount = (await envoy!.stats("wasmcustom.ratelimit.chain")).get("wasmcustom.ratelimit.chain.per-user.allowed") ?? 0;
    assert.equal(afterCount, before);
  });
});
