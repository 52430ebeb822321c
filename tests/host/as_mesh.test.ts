// The combined module build/as-mesh.wasm in the host emulator: root_id selects one of the three filters, the
// `chain` root runs metrics → jwt-auth → rate-limit in one stream context. The same behaviours in real Envoy:
// tests/e2e/as_mesh.test.ts. The filters' own tests also run against this module (AS_MESH_MODULE=as-mesh, see
// tests/harness/artifacts.ts).
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { HostEmulator, type Stream } from "./emulator.ts";
import { buildArtifact } from "../harness/artifacts.ts";
import { Action } from "./emulator.ts";
import { createJwtFixture, jwtAuthnStyleConfig, mintToken, PROVIDER, SUBJECT_HEADER, type JwtFixture } from "../../bench/lib/jwt_fixture.ts";
import { METRICS_CONFIG } from "../../bench/lib/variants.ts";
import { countHostCalls } from "../../bench/lib/host_calls.ts";
import { buildFloorModule } from "../../bench/lib/floor.ts";

const wasm = buildArtifact("as-mesh");
let fixture: JwtFixture;

before(async () => {
  fixture = await createJwtFixture();
});

/** Two requests per minute per `sub` claim. */
const rateLimit = {
  stat_prefix: "mesh",
  rules: [{
    name: "per_subject", match: { path_prefix: "/" }, descriptors: [{ jwt_claim: { header_name: SUBJECT_HEADER } }],
    token_bucket: { max_tokens: 2, tokens_per_fill: 2, fill_interval: "60s" },
  }],
};

/** One request per minute for everyone. */
const oneAtATime = {
  descriptors: [{ generic_key: { descriptor_value: "all" } }], token_bucket: { max_tokens: 1, tokens_per_fill: 1, fill_interval: "60s" },
};

const chainConfig = () => ({
  metrics: METRICS_CONFIG,
  jwt_auth: jwtAuthnStyleConfig(fixture, { subjectHeader: true }),
  rate_limit: rateLimit,
});

function start(rootId: string, pluginConfiguration: object): Promise<HostEmulator> {
  return HostEmulator.start(wasm, { pluginConfiguration, rootId, nowNanos: BigInt(Date.now()) * 1_000_000n });
}

/** One request through every phase; `status` is the response code Envoy would report at log time. */
function request(host: HostEmulator, token: string | null, status: number): Stream {
  const stream = host.newStream({ "response.code": BigInt(status), "request.duration": 1_000_000n });
  const headers: Record<string, string> = { ":method": "GET", ":path": "/items", ":authority": "svc.local" };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  stream.sendRequestHeaders(headers);
  stream.sendResponseHeaders({ ":status": String(stream.localResponse?.status ?? 200) });
  stream.complete();
  return stream;
}

/** istio_requests_total by response_code label. */
function requestsByCode(host: HostEmulator): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const metric of host.metrics) {
    if (!metric.name.endsWith("istio_requests_total")) continue;
    const code = /response_code=\.=(\d+)/.exec(metric.name)?.[1] ?? "?";
    counts[code] = (counts[code] ?? 0) + Number(metric.value);
  }
  return counts;
}

describe("as-mesh: one module, the filter chosen by root_id", () => {
  it("runs jwt-auth under root_id jwt-auth", async () => {
    const host = await start("jwt-auth", jwtAuthnStyleConfig(fixture));
    assert.equal(request(host, null, 401).localResponse?.status, 401);
    assert.equal(request(host, await mintToken(fixture), 200).localResponse, undefined);
  });

  it("runs rate-limit under a root_id that contains rate-limit", async () => {
    const host = await start("edge-rate-limit", {
      default_rule: oneAtATime,
    });
    assert.equal(request(host, null, 200).localResponse, undefined);
    assert.equal(request(host, null, 429).localResponse?.status, 429);
  });

  it("runs metrics under root_id metrics", async () => {
    const host = await start("metrics", METRICS_CONFIG);
    request(host, null, 200);
    assert.deepEqual(requestsByCode(host), { 200: 1 });
  });

  it("refuses a root_id that names no filter, saying so", async () => {
    const host = await HostEmulator.load(wasm, { pluginConfiguration: METRICS_CONFIG, rootId: "auth" });
    assert.equal(host.configure(), false);
    assert.ok(host.logs.some((entry) => entry.message.includes('root_id "auth" names no filter')), JSON.stringify(host.logs));
  });
});

describe("as-mesh: the chain root", () => {
  it("runs metrics → jwt-auth → rate-limit in one stream context, with the single filters' decisions", async () => {
    const host = await start("chain", chainConfig());
    const alice = await mintToken(fixture, { subject: "alice" });
    const bob = await mintToken(fixture, { subject: "bob" });

    const missing = request(host, null, 401);
    assert.equal(missing.localResponse?.status, 401);
    assert.equal(missing.localResponse?.body, "Jwt is missing");

    const first = request(host, alice, 200);
    assert.equal(first.localResponse, undefined);
    assert.equal(first.requestHeader(SUBJECT_HEADER), "alice", "jwt-auth's claim header reaches the rate limit");
    assert.equal(request(host, alice, 200).localResponse, undefined);
    assert.equal(request(host, alice, 429).localResponse?.status, 429, "alice's bucket of 2 is empty");
    assert.equal(request(host, bob, 200).localResponse, undefined, "bob has his own bucket");

    assert.deepEqual(requestsByCode(host), { 200: 3, 401: 1, 429: 1 }, "metrics counts what the later stages answered");
    assert.equal(host.metricValue("jwt_auth.allowed"), 4);
    assert.equal(host.metricValue("ratelimit.mesh.per_subject.limited"), 1);
  });

  it("runs with any subset of the stages", async () => {
    const host = await start("chain", { rate_limit: { default_rule: oneAtATime } });
    assert.equal(request(host, null, 200).localResponse, undefined, "no jwt_auth stage: no token needed");
    assert.equal(request(host, null, 429).localResponse?.status, 429);
  });

  for (const [name, configuration, expected] of [
    ["an unknown stage", { metrics: {}, jwt: {} }, "configuration.jwt: unknown stage"],
    ["no stage", {}, "names no stage"],
    ["a stage its filter refuses", { rate_limit: { rules: "all" } }, "the rate_limit section was refused"],
  ] as const) {
    it(`refuses a configuration with ${name}`, async () => {
      const host = await HostEmulator.load(wasm, { pluginConfiguration: configuration, rootId: "chain" });
      assert.equal(host.configure(), false);
      assert.ok(host.logs.some((entry) => entry.message.includes(expected)), JSON.stringify(host.logs));
    });
  }
});

describe("as-mesh: host calls of the chain", () => {
  it("reads each request header and the clock from the host once for all stages", async () => {
    const counts = await countHostCalls();
    const chain = counts.find((count) => count.filter === "chain");
    assert.ok(chain, "the chain is counted");
    // authorization (jwt-auth) and content-type (metrics); :path is not needed for the rate limit's "/" prefix, and
    // the claim header jwt-auth writes reaches the rate limit without a read.
    assert.equal(chain.calls.proxy_get_header_map_value, 2, JSON.stringify(chain.calls));
    assert.equal(chain.calls.proxy_get_current_time_nanoseconds, 1, JSON.stringify(chain.calls));
  });

  it("is matched call for call by the benchmark's floor module", async () => {
    await buildFloorModule();
    const counts = await countHostCalls();
    const chain = counts.find((count) => count.filter === "chain");
    const floor = counts.find((count) => count.filter === "floor");
    assert.ok(chain && floor, "both are counted");
    assert.deepEqual(floor.calls, chain.calls);
    assert.deepEqual(floor.entries, chain.entries);
  });
});

describe("as-mesh: the chain root while jwt-auth's remote JWKS is unknown", () => {
  it("resumes a paused request through the stages after jwt-auth", async () => {
    const jwtAuth = jwtAuthnStyleConfig(fixture, { subjectHeader: true });
    const provider = jwtAuth.providers[PROVIDER];
    delete provider.local_jwks;
    provider.remote_jwks = { http_uri: { uri: "http://jwks.local/keys.json", cluster: "jwks", timeout: "2s" } };
    const host = await start("chain", { metrics: METRICS_CONFIG, jwt_auth: jwtAuth, rate_limit: rateLimit });
    const token = await mintToken(fixture);
    const streams = [0, 1, 2].map(() => {
      const stream = host.newStream();
      const action = stream.sendRequestHeaders({ ":method": "GET", ":path": "/items", ":authority": "svc.local", authorization: `Bearer ${token}` });
      assert.equal(action, Action.Pause);
      return stream;
    });
    host.respondToHttpCall(host.httpCalls[0].token, { status: 200, body: fixture.jwks });
    // Two per minute per subject: the rate limit, after jwt-auth, decides each resumed request.
    assert.deepEqual(streams.map((stream) => stream.localResponse?.status ?? stream.continued.length), [1, 1, 429]);
    assert.ok(streams[0].requestHeader(SUBJECT_HEADER), "jwt-auth's claim header is on the resumed request");
  });
});
