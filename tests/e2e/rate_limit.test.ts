// The rate-limit filter in the real Envoy binary with several worker threads (one Wasm VM each): a concurrent
// burst for one key is held to one shared limit, compared with Envoy's native local_ratelimit under the same
// burst; plus headers, retry-after, shadow mode, missing and hostile keys, and the behaviour at the key cap.
import { after, before, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { bootstrap, httpListener, staticCluster, wasmFilter, type Json } from "../../envoy/bootstrap.ts";
import { startEnvoy, withEnvoyLog, type EnvoyInstance } from "../harness/envoy.ts";
import { startUpstream, type Upstream } from "../harness/upstream.ts";
import { buildArtifact } from "../harness/artifacts.ts";
import {
  admissionCeiling, burst, connectionsPerWorker, get, header, nativeLocalRateLimit, sleep, withListenerStatPrefix,
  type TokenBucket,
} from "./rate_limit_support.ts";

const wasmPath = buildArtifact("rate-limit");

// K ≫ capacity, and a fill interval far longer than any burst, so the expected count is the capacity itself.
const BURST_SIZE = 200;
const BURST_BUCKET: TokenBucket = { max_tokens: 20, tokens_per_fill: 1, fill_interval: "60s" };

function rule(name: string, pathPrefix: string, descriptors: Json[], tokenBucket: TokenBucket, extra: Json = {}): Json {
  return { name, match: { path_prefix: pathPrefix }, descriptors, token_bucket: tokenBucket, ...extra };
}

const byClient = [{ request_headers: { header_name: "x-client" } }];

const filterConfiguration = {
  stat_prefix: "e2e",
  enable_x_ratelimit_headers: "DRAFT_VERSION_03",
  rules: [
    rule("burst", "/burst", byClient, BURST_BUCKET),
    rule("headers", "/headers", byClient, { max_tokens: 3, tokens_per_fill: 1, fill_interval: "60s" }),
    rule("retry", "/retry", byClient, { max_tokens: 1, tokens_per_fill: 1, fill_interval: "2s" }),
    rule("shadow", "/shadow", [{ generic_key: { descriptor_value: "shadow" } }], { max_tokens: 5, tokens_per_fill: 1, fill_interval: "60s" }, { shadow_mode: true }),
    rule("keyed", "/keyed", [{ request_headers: { header_name: "x-api-key" } }], { max_tokens: 2, tokens_per_fill: 1, fill_interval: "60s" }),
    rule("xff", "/xff", [{ remote_address: { xff_num_trusted_hops: 1 } }], { max_tokens: 1, tokens_per_fill: 1, fill_interval: "60s" }),
    rule("flood", "/flood", byClient, { max_tokens: 1, tokens_per_fill: 1, fill_interval: "60s" }, { max_buckets: 8 }),
  ],
};

function envoyConfig(upstream: Upstream): Json {
  // Envoy answers /direct/* itself: the Node upstream refuses headers over 16 KB, Envoy accepts up to 60 KB.
  const routes = [
    { prefix: "/keyed/direct", action: { directResponse: { status: 200, body: "direct" } } },
    { prefix: "/", action: { cluster: "echo" } },
  ];
  return bootstrap({
    listeners: [
      withListenerStatPrefix(httpListener({
        name: "wasm", routes,
        httpFilters: [wasmFilter({ name: "rate-limit", wasmPath, configuration: filterConfiguration })],
      }), "rl_wasm"),
      withListenerStatPrefix(httpListener({
        name: "native", routes, httpFilters: [nativeLocalRateLimit("native_burst", BURST_BUCKET)],
      }), "rl_native"),
    ],
    clusters: [staticCluster("echo", "127.0.0.1", upstream.port)],
  });
}

/** Counter deltas of one Wasm rule around an action. */
async function ruleCounters(envoy: EnvoyInstance, ruleName: string): Promise<Record<string, number>> {
  const prefix = `wasmcustom.ratelimit.e2e.${ruleName}.`;
  const stats = await envoy.stats(prefix);
  const out: Record<string, number> = {};
  for (const [name, value] of stats) if (name.startsWith(prefix)) out[name.slice(prefix.length)] = value;
  return out;
}

function workersUsed(before: number[], after: number[]): number {
  return after.filter((count, worker) => count - (before[worker] ?? 0) > 0).length;
}

function suite(concurrency: number, everything: boolean): void {
  describe(`rate-limit in real Envoy with --concurrency ${concurrency}`, () => {
    let upstream: Upstream;
    let envoy: EnvoyInstance | undefined;
    const test = (name: string, body: (t: TestContext) => Promise<void>) =>
      it(name, { timeout: 120_000 }, (t) => withEnvoyLog(() => envoy, () => body(t))());
    const url = (path: string, listener = "wasm") => envoy!.url(listener) + path;

    before(async () => {
      upstream = await startUpstream();
      envoy = await startEnvoy({ config: envoyConfig(upstream), concurrency, readyTimeoutMs: 60_000 });
    });

    after(async () => {
      await envoy?.stop();
      await upstream?.close();
    });

    test(`admits between capacity and capacity + refill + 1 of a ${BURST_SIZE}-request burst for one key, across workers`, async (t) => {
      const client = `burst-${concurrency}`;
      const workersBefore = await connectionsPerWorker(envoy!, "rl_wasm");
      const countersBefore = await ruleCounters(envoy!, "burst");
      const upstreamBefore = upstream.received.filter((request) => request.headers["x-client"] === client).length;
      const result = await burst(url("/burst"), BURST_SIZE, () => ({ "x-client": client }));
      const ceiling = admissionCeiling(BURST_BUCKET, result.durationMs);
      const workers = workersUsed(workersBefore, await connectionsPerWorker(envoy!, "rl_wasm"));
      t.diagnostic(`wasm rate-limit, --concurrency ${concurrency}: admitted ${result.admitted}/${BURST_SIZE} ` +
        `(bounds ${BURST_BUCKET.max_tokens}..${ceiling}), ${workers} workers served the burst, ${Math.round(result.durationMs)} ms`);

      assert.equal(result.admitted + result.limited, BURST_SIZE, "every request is either admitted or limited");
      assert.ok(result.admitted >= BURST_BUCKET.max_tokens, `over-limited: ${result.admitted} < ${BURST_BUCKET.max_tokens}`);
      assert.ok(result.admitted <= ceiling, `over-admitted: ${result.admitted} > ${ceiling}`);
      assert.ok(workers >= 2, `the burst reached ${workers} worker(s): the shared limit was not exercised`);
      const reached = upstream.received.filter((request) => request.headers["x-client"] === client).length - upstreamBefore;
      assert.equal(reached, result.admitted, "exactly the admitted requests reached the upstream");
      const countersAfter = await ruleCounters(envoy!, "burst");
      assert.equal(countersAfter.allowed - countersBefore.allowed, result.admitted, "wasmcustom.ratelimit.e2e.burst.allowed");
      assert.equal(countersAfter.limited - countersBefore.limited, result.limited, "wasmcustom.ratelimit.e2e.burst.limited");
    });

    test(`native local_ratelimit admits within the same bounds from the same burst`, async (t) => {
      const workersBefore = await connectionsPerWorker(envoy!, "rl_native");
      const result = await burst(url("/burst", "native"), BURST_SIZE, () => ({ "x-client": "native" }));
      const ceiling = admissionCeiling(BURST_BUCKET, result.durationMs);
      const workers = workersUsed(workersBefore, await connectionsPerWorker(envoy!, "rl_native"));
      t.diagnostic(`native local_ratelimit, --concurrency ${concurrency}: admitted ${result.admitted}/${BURST_SIZE} ` +
        `(bounds ${BURST_BUCKET.max_tokens}..${ceiling}), ${workers} workers served the burst, ${Math.round(result.durationMs)} ms`);
      assert.equal(result.admitted + result.limited, BURST_SIZE);
      assert.ok(result.admitted >= BURST_BUCKET.max_tokens, `over-limited: ${result.admitted}`);
      assert.ok(result.admitted <= ceiling, `over-admitted: ${result.admitted} > ${ceiling}`);
      const stats = await envoy!.stats("native_burst.http_local_rate_limit");
      assert.equal(stats.get("native_burst.http_local_rate_limit.rate_limited"), result.limited);
    });

    test("keeps two keys independent during one concurrent burst", async () => {
      const keys = [`left-${concurrency}`, `right-${concurrency}`];
      const result = await burst(url("/burst"), BURST_SIZE, (index) => ({ "x-client": keys[index % 2] }));
      for (const key of keys) {
        const mine = result.replies.filter((_, index) => keys[index % 2] === key);
        const admitted = mine.filter((reply) => reply.status === 200).length;
        assert.ok(admitted >= BURST_BUCKET.max_tokens && admitted <= admissionCeiling(BURST_BUCKET, result.durationMs),
          `${key}: admitted ${admitted}`);
      }
    });

    if (!everything) return;

    test("sends limit, remaining and reset on admitted responses and the full set on the 429", async () => {
      const client = { "x-client": "headers" };
      const replies = [];
      for (let i = 0; i < 4; i++) replies.push(await get(url("/headers"), client));
      assert.deepEqual(replies.map((reply) => reply.status), [200, 200, 200, 429]);
      assert.deepEqual(replies.slice(0, 3).map((reply) => header(reply, "x-ratelimit-remaining")), ["2", "1", "0"]);
      for (const reply of replies) {
        assert.equal(header(reply, "x-ratelimit-limit"), "3");
        assert.equal(header(reply, "ratelimit-policy"), "\"headers\";q=3;w=180");
        const reset = Number(header(reply, "x-ratelimit-reset"));
        assert.ok(reset >= 1 && reset <= 60, `x-ratelimit-reset ${reset}`);
        assert.equal(header(reply, "ratelimit"), `"headers";r=${header(reply, "x-ratelimit-remaining")};t=${reset}`);
      }
      const limited = replies[3];
      assert.equal(limited.body, "local_rate_limited");
      assert.equal(header(limited, "content-type"), "text/plain");
      assert.equal(header(limited, "x-envoy-ratelimited"), "true");
      assert.equal(header(limited, "retry-after"), header(limited, "x-ratelimit-reset"));
      assert.equal(header(limited, "x-ratelimit-limit"), "3", "each header appears once on the 429");
    });

    test("an honest retry-after: waiting it out gets the request admitted", async () => {
      const client = { "x-client": "retry" };
      let limited;
      for (let attempt = 0; attempt < 5 && !limited; attempt++) {
        const reply = await get(url("/retry"), client);
        if (reply.status === 429) limited = reply;
      }
      assert.ok(limited, "a bucket of one token per 2 s must refuse one of 5 back-to-back requests");
      const retryAfter = Number(header(limited, "retry-after"));
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 2, `retry-after ${retryAfter}`);
      await sleep(retryAfter * 1000 + 100);
      assert.equal((await get(url("/retry"), client)).status, 200);
    });

    test("shadow mode lets a burst through and counts what it would have limited", async () => {
      const before = await ruleCounters(envoy!, "shadow");
      const result = await burst(url("/shadow"), 30, () => ({}));
      assert.equal(result.admitted, 30);
      const after = await ruleCounters(envoy!, "shadow");
      assert.equal(after.allowed - before.allowed, 5);
      assert.equal(after.shadow_limited - before.shadow_limited, 25);
      assert.equal(after.limited - before.limited, 0);
    });

    test("requests without the key header share one bucket (on_missing shared_bucket)", async () => {
      const anonymous = await burst(url("/keyed"), 20, () => ({}));
      assert.equal(anonymous.admitted, 2, "all header-less requests draw from one bucket: no bypass");
      const keyed = await burst(url("/keyed"), 20, () => ({ "x-api-key": "tenant-1" }));
      assert.equal(keyed.admitted, 2, "a real key has its own bucket");
    });

    test("keys on a 48 KB header value without trouble", async () => {
      const huge = { "x-api-key": "h".repeat(48 * 1024) };
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await get(url("/keyed/direct"), huge)).status);
      assert.deepEqual(statuses, [200, 200, 429]);
      const other = { "x-api-key": "h".repeat(48 * 1024 - 1) + "i" };
      assert.equal((await get(url("/keyed/direct"), other)).status, 200, "a value differing in its last byte is another key");
    });

    test("trusts only the configured x-forwarded-for hops", async () => {
      assert.equal((await get(url("/xff"), { "x-forwarded-for": "203.0.113.5" })).status, 200);
      assert.equal((await get(url("/xff"), { "x-forwarded-for": "198.51.100.9, 203.0.113.5" })).status, 429,
        "a forged left-hand entry does not buy a new bucket");
      assert.equal((await get(url("/xff"), { "x-forwarded-for": "203.0.113.6" })).status, 200);
      assert.equal((await get(url("/xff"), { "x-forwarded-for": "not an address" })).status, 200, "garbage: the peer's own bucket");
      assert.equal((await get(url("/xff"), { "x-forwarded-for": "still not one" })).status, 429, "the peer's bucket again");
    });

    test("a flood of unique keys is held to max_buckets buckets plus the shared overflow bucket", async () => {
      const before = await ruleCounters(envoy!, "flood");
      const result = await burst(url("/flood"), 150, (index) => ({ "x-client": `flood-${index}` }));
      const after = await ruleCounters(envoy!, "flood");
      // 8 slots of 1 token, and 1 token in the overflow bucket.
      assert.ok(result.admitted <= 8 + 1, `admitted ${result.admitted}`);
      assert.ok(after.table_full - before.table_full >= 150 - 8, `table_full grew by ${after.table_full - before.table_full}`);
      assert.equal(after.allowed - before.allowed, result.admitted);
    });

    test("live_buckets counts the max_buckets slots, not the overflow bucket", async () => {
      // The flood above left all 8 slots and the overflow bucket live (60 s refill); a sweep runs every second.
      await burst(url("/flood"), 20, (index) => ({ "x-client": `gauge-${index}` }));
      let live = -1;
      for (let attempt = 0; attempt < 30 && live != 8; attempt++) {
        await sleep(200);
        live = (await ruleCounters(envoy!, "flood")).live_buckets;
      }
      assert.equal(live, 8, "8 live slots; the live overflow bucket is not one of them");
    });
  });
}

suite(2, true);
suite(4, false);
