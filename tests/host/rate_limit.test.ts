// The rate-limit filter in the host emulator: bucket arithmetic against an advanced clock, the compare-and-swap
// loop against injected concurrent writers, every key kind, the idle sweep, the bound on shared-data keys, and
// configuration validation. tests/e2e/rate_limit*.test.ts prove the same filter in real Envoy.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HostEmulator, SharedDataStore, type HeaderList, type Stream } from "./emulator.ts";
import { buildArtifact } from "../harness/artifacts.ts";

const wasm = buildArtifact("rate-limit");

type Json = Record<string, unknown>;

function bucket(maxTokens: number, tokensPerFill: number, fillInterval: string): Json {
  return { max_tokens: maxTokens, tokens_per_fill: tokensPerFill, fill_interval: fillInterval };
}

/** A configuration with one rule on every path, keyed by the x-client header. */
function oneRule(rule: Json = {}, top: Json = {}): Json {
  return {
    stat_prefix: "test",
    rules: [{
      name: "main",
      match: { path_prefix: "/" },
      descriptors: [{ request_headers: { header_name: "x-client" } }],
      token_bucket: bucket(3, 1, "1s"),
      ...rule,
    }],
    ...top,
  };
}

async function start(configuration: Json, options: { sharedData?: SharedDataStore; properties?: Record<string, string> } = {}) {
  return HostEmulator.start(wasm, { pluginConfiguration: configuration, sharedData: options.sharedData, properties: options.properties, rootId: "rate-limit" });
}

interface Outcome {
  status: number;
  headers: Map<string, string>;
  stream: Stream;
}

/** Sends request headers; an admitted request gets a 200 from the "upstream" so response headers can be seen. */
function send(host: HostEmulator, headers: Record<string, string> | HeaderList = {}, properties: Record<string, string> = {}): Outcome {
  const stream = host.newStream(properties);
  const list: HeaderList = Array.isArray(headers) ? headers : Object.entries(headers);
  // Defaults for the pseudo-headers, each replaced when the test gives its own.
  const defaults: HeaderList = [[":method", "GET"], [":path", "/"], [":authority", "test"]];
  const withDefaults: HeaderList = [...defaults.filter(([name]) => !list.some(([given]) => given === name)), ...list];
  const action = stream.sendRequestHeaders(withDefaults);
  if (action === 0) {
    assert.equal(stream.localResponse, undefined, "a continued request must not also get a local response");
    stream.sendResponseHeaders({ ":status": "200" });
    stream.complete();
    return { status: 200, headers: new Map(stream.responseHeaders), stream };
  }
  assert.ok(stream.localResponse, "a paused request must have a local response");
  return { status: stream.localResponse.status, headers: new Map(stream.localResponse.headers), stream };
}

function statuses(host: HostEmulator, count: number, headers: Record<string, string> = {}, properties: Record<string, string> = {}): number[] {
  return Array.from({ length: count }, () => send(host, headers, properties).status);
}

const admittedOf = (list: number[]) => list.filter((status) => status === 200).length;

/** Shared-data keys the filter wrote, with their value sizes. */
function slots(store: SharedDataStore, prefix = "rl:"): Array<{ key: string; size: number }> {
  return store.keys().filter((key) => key.startsWith(prefix)).map((key) => ({ key, size: store.get(key)!.value.length }));
}

describe("token bucket refill (host clock)", () => {
  it("admits max_tokens at once, then one request per fill", async () => {
    const host = await start(oneRule({ token_bucket: bucket(3, 1, "1s") }));
    assert.deepEqual(statuses(host, 4, { "x-client": "a" }), [200, 200, 200, 429]);
    host.advanceTime(999);
    assert.equal(send(host, { "x-client": "a" }).status, 429, "no fill before fill_interval has passed");
    host.advanceTime(1);
    assert.deepEqual(statuses(host, 2, { "x-client": "a" }), [200, 429]);
  });

  it("never refills past max_tokens however long the bucket idles", async () => {
    const host = await start(oneRule({ token_bucket: bucket(3, 1, "1s") }));
    statuses(host, 3, { "x-client": "a" });
    host.advanceTime(3_600_000);
    assert.deepEqual(statuses(host, 4, { "x-client": "a" }), [200, 200, 200, 429]);
  });

  it("adds tokens_per_fill for every whole fill_interval that passed", async () => {
    const host = await start(oneRule({ token_bucket: bucket(10, 2, "500ms") }));
    assert.equal(admittedOf(statuses(host, 12, { "x-client": "a" })), 10);
    host.advanceTime(1_250); // two whole fills: 4 tokens
    assert.deepEqual(statuses(host, 5, { "x-client": "a" }), [200, 200, 200, 200, 429]);
    host.advanceTime(250); // the third fill is due 1500 ms after the bucket was created
    assert.deepEqual(statuses(host, 3, { "x-client": "a" }), [200, 200, 429]);
  });

  it("charges the rule's cost per request and waits for enough fills before admitting again", async () => {
    const host = await start(oneRule({ token_bucket: bucket(5, 1, "1s"), cost: 2 }));
    assert.deepEqual(statuses(host, 3, { "x-client": "a" }), [200, 200, 429]);
    const limited = send(host, { "x-client": "a" });
    assert.equal(limited.headers.get("retry-after"), "1", "1 token left, 1 more fill makes 2");
    host.advanceTime(1000);
    assert.equal(send(host, { "x-client": "a" }).status, 200);
    const again = send(host, { "x-client": "a" });
    assert.equal(again.status, 429);
    assert.equal(again.headers.get("retry-after"), "2", "0 tokens left: two fills are needed for a cost of 2");
  });

  it("applies a lowered max_tokens to a live bucket at once", async () => {
    const store = new SharedDataStore();
    const before = await start(oneRule({ token_bucket: bucket(10, 1, "60s") }, { enable_x_ratelimit_headers: "DRAFT_VERSION_03" }), { sharedData: store });
    assert.equal(send(before, { "x-client": "a" }).headers.get("x-ratelimit-remaining"), "9");
    // The same rule reconfigured with a smaller bucket (a VM loaded with the new configuration, same shared data).
    const after = await start(oneRule({ token_bucket: bucket(3, 1, "60s") }, { enable_x_ratelimit_headers: "DRAFT_VERSION_03" }), { sharedData: store });
    assert.deepEqual(statuses(after, 4, { "x-client": "a" }), [200, 200, 200, 429]);
  });

  it("does not refill while the host clock runs backwards", async () => {
    const host = await start(oneRule({ token_bucket: bucket(1, 1, "1s") }));
    assert.equal(send(host, { "x-client": "a" }).status, 200);
    host.nowNanos -= 60_000_000_000n;
    assert.equal(send(host, { "x-client": "a" }).status, 429);
    host.nowNanos += 61_000_000_000n;
    assert.equal(send(host, { "x-client": "a" }).status, 200);
  });
});

describe("response headers", () => {
  it("answers 429 with Envoy's body and honest rate-limit headers", async () => {
    const host = await start(oneRule({ token_bucket: bucket(2, 1, "10s") }));
    statuses(host, 2, { "x-client": "a" });
    host.advanceTime(2_500);
    const limited = send(host, { "x-client": "a" });
    assert.equal(limited.status, 429);
    assert.equal(limited.stream.localResponse?.body, "local_rate_limited");
    assert.equal(limited.headers.get("x-envoy-ratelimited"), "true");
    assert.equal(limited.headers.get("retry-after"), "8", "the next fill is 7.5 s away, rounded up");
    assert.equal(limited.headers.get("x-ratelimit-limit"), "2");
    assert.equal(limited.headers.get("x-ratelimit-remaining"), "0");
    assert.equal(limited.headers.get("x-ratelimit-reset"), "8");
    assert.equal(limited.headers.get("ratelimit-policy"), "\"main\";q=2;w=20");
    assert.equal(limited.headers.get("ratelimit"), "\"main\";r=0;t=8");
  });

  it("adds remaining and limit headers to admitted responses with enable_x_ratelimit_headers: DRAFT_VERSION_03", async () => {
    const host = await start(oneRule({ token_bucket: bucket(3, 1, "2s") }, { enable_x_ratelimit_headers: "DRAFT_VERSION_03" }));
    const first = send(host, { "x-client": "a" });
    assert.equal(first.headers.get("x-ratelimit-limit"), "3");
    assert.equal(first.headers.get("x-ratelimit-remaining"), "2");
    assert.equal(first.headers.get("x-ratelimit-reset"), "2");
    assert.equal(first.headers.get("ratelimit"), "\"main\";r=2;t=2");
    assert.equal(first.headers.get("ratelimit-policy"), "\"main\";q=3;w=6");
    assert.equal(send(host, { "x-client": "a" }).headers.get("x-ratelimit-remaining"), "1");
  });

  it("leaves admitted responses untouched by default", async () => {
    const host = await start(oneRule());
    const admitted = send(host, { "x-client": "a" });
    assert.equal(admitted.status, 200);
    assert.deepEqual([...admitted.headers.keys()], [":status"]);
  });
});

describe("shared state across workers (compare-and-swap)", () => {
  it("two VMs on one shared-data store enforce one limit together", async () => {
    const store = new SharedDataStore();
    const workers = [await start(oneRule({ token_bucket: bucket(5, 1, "60s") }), { sharedData: store }),
      await start(oneRule({ token_bucket: bucket(5, 1, "60s") }), { sharedData: store })];
    const results = Array.from({ length: 20 }, (_, i) => send(workers[i % 2], { "x-client": "a" }).status);
    assert.equal(admittedOf(results), 5);
  });

  it("retries after a concurrent writer wins the race, and counts that writer's token", async () => {
    const store = new SharedDataStore();
    const worker = await start(oneRule({ token_bucket: bucket(2, 1, "60s") }), { sharedData: store });
    const rival = await start(oneRule({ token_bucket: bucket(2, 1, "60s") }), { sharedData: store });
    let injected = 0;
    store.beforeSet = (key) => {
      // The first write of the worker's request finds that the rival VM admitted a request in between.
      if (injected++ === 0 && key.startsWith("rl:test:main:")) {
        assert.equal(send(rival, { "x-client": "a" }).status, 200);
      }
    };
    assert.equal(send(worker, { "x-client": "a" }).status, 200, "the retry still finds one token");
    store.beforeSet = undefined;
    assert.equal(send(worker, { "x-client": "a" }).status, 429, "both tokens are gone: none was lost to the race");
  });

  it("does not admit when the concurrent writer took the last token", async () => {
    const store = new SharedDataStore();
    const worker = await start(oneRule({ token_bucket: bucket(1, 1, "60s") }), { sharedData: store });
    const rival = await start(oneRule({ token_bucket: bucket(1, 1, "60s") }), { sharedData: store });
    let injected = false;
    store.beforeSet = () => {
      if (!injected) {
        injected = true;
        assert.equal(send(rival, { "x-client": "a" }).status, 200);
      }
    };
    assert.equal(send(worker, { "x-client": "a" }).status, 429);
  });

  it("lets the request through and counts it as failed when every retry loses (failure_mode_deny false)", async () => {
    const store = new SharedDataStore();
    const host = await start(oneRule(), { sharedData: store });
    let writes = 0;
    store.beforeSet = (key) => {
      writes++;
      store.set(key, store.get(key)!.value, 0); // a writer that always gets in first
    };
    assert.equal(send(host, { "x-client": "a" }).status, 200);
    assert.equal(writes, 32, "the retry loop is bounded");
    assert.equal(host.metricValue("ratelimit.test.main.failed"), 1);
    assert.equal(host.metricValue("ratelimit.test.main.allowed"), 0);
  });

  it("answers 500 when every retry loses and failure_mode_deny is true", async () => {
    const store = new SharedDataStore();
    const host = await start(oneRule({}, { failure_mode_deny: true }), { sharedData: store });
    store.beforeSet = (key) => void store.set(key, store.get(key)!.value, 0);
    assert.equal(send(host, { "x-client": "a" }).status, 500);
  });
});

describe("keys (descriptors)", () => {
  function keyed(descriptor: Json, extra: Json = {}): Json {
    return oneRule({ descriptors: [descriptor], token_bucket: bucket(1, 1, "60s"), ...extra });
  }

  it("request_headers: one bucket per header value", async () => {
    const host = await start(keyed({ request_headers: { header_name: "x-api-key" } }));
    assert.equal(send(host, { "x-api-key": "k1" }).status, 200);
    assert.equal(send(host, { "x-api-key": "k1" }).status, 429);
    assert.equal(send(host, { "x-api-key": "k2" }).status, 200);
  });

  it("request_headers with the header missing: one shared bucket, distinct from every value (default on_missing)", async () => {
    const host = await start(keyed({ request_headers: { header_name: "x-api-key" } }));
    assert.equal(send(host, {}).status, 200);
    assert.equal(send(host, {}).status, 429, "requests without the header share one bucket: no bypass");
    assert.equal(send(host, { "x-api-key": "" }).status, 200, "an empty value is a key of its own");
  });

  it("request_headers with on_missing skip_rule: the next rule applies", async () => {
    const host = await start({
      stat_prefix: "test",
      rules: [{
        name: "by-key", match: { path_prefix: "/" },
        descriptors: [{ request_headers: { header_name: "x-api-key", on_missing: "skip_rule" } }],
        token_bucket: bucket(1, 1, "60s"),
      }],
      default_rule: { descriptors: [{ generic_key: { descriptor_value: "anonymous" } }], token_bucket: bucket(2, 1, "60s") },
    });
    assert.deepEqual(statuses(host, 3), [200, 200, 429]);
    assert.equal(host.metricValue("ratelimit.test.default.allowed"), 2);
    assert.deepEqual(statuses(host, 2, { "x-api-key": "k" }), [200, 429]);
    assert.equal(host.metricValue("ratelimit.test.by-key.allowed"), 1);
  });

  it("remote_address: the downstream peer without its port", async () => {
    const host = await start(keyed({ remote_address: {} }));
    assert.equal(send(host, {}, { "source.address": "192.0.2.1:40000" }).status, 200);
    assert.equal(send(host, {}, { "source.address": "192.0.2.1:40001" }).status, 429, "same client, new connection");
    assert.equal(send(host, {}, { "source.address": "192.0.2.2:40000" }).status, 200);
    assert.equal(send(host, {}, { "source.address": "[2001:db8::1]:443" }).status, 200);
    assert.equal(send(host, {}, { "source.address": "[2001:db8::1]:444" }).status, 429);
  });

  it("remote_address ignores x-forwarded-for unless hops are trusted", async () => {
    const host = await start(keyed({ remote_address: {} }));
    const peer = { "source.address": "192.0.2.1:40000" };
    assert.equal(send(host, { "x-forwarded-for": "198.51.100.1" }, peer).status, 200);
    assert.equal(send(host, { "x-forwarded-for": "198.51.100.2" }, peer).status, 429, "a client cannot pick its key");
  });

  it("remote_address with xff_num_trusted_hops uses the entry the outermost trusted proxy appended", async () => {
    const host = await start(keyed({ remote_address: { xff_num_trusted_hops: 2 } }));
    const peer = { "source.address": "10.0.0.9:5000" };
    // client-supplied entries first, then the client address as the edge proxy saw it, then the edge proxy.
    assert.equal(send(host, { "x-forwarded-for": "1.1.1.1, 203.0.113.7, 10.0.0.2" }, peer).status, 200);
    assert.equal(send(host, { "x-forwarded-for": "6.6.6.6,203.0.113.7 ,10.0.0.3" }, peer).status, 429,
      "forged left-hand entries do not change the key");
    assert.equal(send(host, { "x-forwarded-for": "203.0.113.8, 10.0.0.2" }, peer).status, 200);
  });

  it("remote_address falls back to the peer when x-forwarded-for is short or not an address", async () => {
    const host = await start(keyed({ remote_address: { xff_num_trusted_hops: 2 } }));
    const peer = { "source.address": "10.0.0.9:5000" };
    assert.equal(send(host, { "x-forwarded-for": "203.0.113.7" }, peer).status, 200, "too few entries: the peer");
    assert.equal(send(host, { "x-forwarded-for": "<script>, 10.0.0.2" }, peer).status, 429, "garbage: the peer again");
    assert.equal(send(host, {}, peer).status, 429, "no header: the peer again");
    assert.equal(send(host, { "x-forwarded-for": `${"9".repeat(5000)}, 10.0.0.2` }, peer).status, 429, "oversized entry: the peer");
  });

  it("path_prefix: the first path segments, without the query string", async () => {
    const host = await start(keyed({ path_prefix: { segments: 2 } }));
    assert.equal(send(host, { ":path": "/users/7/orders?page=1" }).status, 200);
    assert.equal(send(host, { ":path": "/users/7/profile" }).status, 429, "same /users/7 prefix");
    assert.equal(send(host, { ":path": "/users/8" }).status, 200);
    assert.equal(send(host, { ":path": "/users/8?x=/y/z" }).status, 429);
  });

  it("request_method: one bucket per method", async () => {
    const host = await start(keyed({ request_method: {} }));
    assert.equal(send(host, { ":method": "POST" }).status, 200);
    assert.equal(send(host, { ":method": "POST" }).status, 429);
    assert.equal(send(host, { ":method": "GET" }).status, 200);
  });

  it("jwt_claim: keyed by the claim header jwt-auth sets", async () => {
    const host = await start(keyed({ jwt_claim: { header_name: "x-jwt-claim-sub" } }));
    assert.equal(send(host, { "x-jwt-claim-sub": "alice" }).status, 200);
    assert.equal(send(host, { "x-jwt-claim-sub": "alice" }).status, 429);
    assert.equal(send(host, { "x-jwt-claim-sub": "bob" }).status, 200);
  });

  it("generic_key: one bucket for every request, in a single shared-data slot", async () => {
    const store = new SharedDataStore();
    const host = await start(keyed({ generic_key: { descriptor_value: "everyone" } }, { max_buckets: 500 }), { sharedData: store });
    assert.equal(send(host, { "x-client": "a" }).status, 200);
    assert.equal(send(host, { "x-client": "b" }).status, 429);
    assert.deepEqual(slots(store).map((slot) => slot.key).sort(), ["rl:test:main:0", "rl:test:main:overflow"]);
  });

  it("combines several descriptors into one key", async () => {
    const host = await start(oneRule({
      descriptors: [{ request_method: {} }, { request_headers: { header_name: "x-client" } }],
      token_bucket: bucket(1, 1, "60s"),
    }));
    assert.equal(send(host, { ":method": "GET", "x-client": "a" }).status, 200);
    assert.equal(send(host, { ":method": "POST", "x-client": "a" }).status, 200);
    assert.equal(send(host, { ":method": "GET", "x-client": "a" }).status, 429);
  });

  it("keeps huge key values apart while storing only a digest of them", async () => {
    const store = new SharedDataStore();
    const host = await start(keyed({ request_headers: { header_name: "x-api-key" } }), { sharedData: store });
    const huge = "k".repeat(60_000);
    assert.equal(send(host, { "x-api-key": huge }).status, 200);
    assert.equal(send(host, { "x-api-key": huge }).status, 429);
    assert.equal(send(host, { "x-api-key": huge.slice(1) + "j" }).status, 200);
    for (const slot of slots(store)) assert.ok(slot.size <= 16 + 33, `${slot.key} holds ${slot.size} bytes`);
  });
});

describe("rule selection", () => {
  const rules: Json = {
    stat_prefix: "test",
    rules: [
      { name: "admin-post", match: { path_prefix: "/admin", method: "POST" }, descriptors: [{ generic_key: { descriptor_value: "a" } }], token_bucket: bucket(1, 1, "60s") },
      { name: "admin", match: { path_prefix: "/admin" }, descriptors: [{ generic_key: { descriptor_value: "b" } }], token_bucket: bucket(2, 1, "60s") },
      { name: "beta", match: { headers: [{ name: "x-beta", present: true }, { name: "x-tier", exact: "free" }] }, descriptors: [{ generic_key: { descriptor_value: "c" } }], token_bucket: bucket(1, 1, "60s") },
    ],
  };

  it("applies the first rule whose conditions all hold", async () => {
    const host = await start(rules);
    assert.deepEqual(statuses(host, 2, { ":method": "POST", ":path": "/admin/users" }), [200, 429]);
    assert.deepEqual(statuses(host, 3, { ":method": "GET", ":path": "/admin/users" }), [200, 200, 429]);
    assert.equal(host.metricValue("ratelimit.test.admin-post.limited"), 1);
    assert.equal(host.metricValue("ratelimit.test.admin.limited"), 1);
  });

  it("matches headers by presence and exact value", async () => {
    const host = await start(rules);
    assert.deepEqual(statuses(host, 2, { "x-beta": "1", "x-tier": "free" }), [200, 429]);
    assert.deepEqual(statuses(host, 3, { "x-beta": "1", "x-tier": "paid" }), [200, 200, 200], "x-tier must equal free");
    assert.deepEqual(statuses(host, 3, { "x-tier": "free" }), [200, 200, 200], "x-beta must be present");
  });

  it("passes requests no rule matches, without headers, when there is no default rule", async () => {
    const host = await start(rules);
    const outcome = send(host, { ":path": "/public" });
    assert.equal(outcome.status, 200);
    assert.deepEqual([...outcome.headers.keys()], [":status"]);
  });

  it("applies default_rule to requests no rule matches", async () => {
    const host = await start({ ...rules, default_rule: { descriptors: [{ generic_key: { descriptor_value: "rest" } }], token_bucket: bucket(1, 1, "60s") } });
    assert.deepEqual(statuses(host, 2, { ":path": "/public" }), [200, 429]);
    assert.equal(host.metricValue("ratelimit.test.default.limited"), 1);
  });
});

describe("shadow mode", () => {
  it("counts what it would limit and lets everything through", async () => {
    const host = await start(oneRule({ token_bucket: bucket(2, 1, "60s") }, { shadow_mode: true }));
    assert.deepEqual(statuses(host, 5, { "x-client": "a" }), [200, 200, 200, 200, 200]);
    assert.equal(host.metricValue("ratelimit.test.main.allowed"), 2);
    assert.equal(host.metricValue("ratelimit.test.main.shadow_limited"), 3);
    assert.equal(host.metricValue("ratelimit.test.main.limited"), 0);
  });

  it("can be set per rule, overriding the top-level setting", async () => {
    const host = await start(oneRule({ token_bucket: bucket(1, 1, "60s"), shadow_mode: false }, { shadow_mode: true }));
    assert.deepEqual(statuses(host, 2, { "x-client": "a" }), [200, 429]);
  });
});

describe("bounded memory", () => {
  it("never holds more than max_buckets + 1 keys per rule under a flood of unique keys", async () => {
    const store = new SharedDataStore();
    const host = await start(oneRule({ token_bucket: bucket(1, 1, "60s"), max_buckets: 64 }), { sharedData: store });
    let most = 0;
    store.beforeSet = () => { most = Math.max(most, store.size); };
    for (let i = 0; i < 5000; i++) send(host, { "x-client": `client-${i}` });
    assert.equal(store.size, 65, "64 slots and the overflow bucket, created at configuration");
    assert.ok(most <= 65, `saw ${most} keys during the flood`);
    assert.equal(host.metricValue("ratelimit.test.main.allowed"), 64 + 1, "one request per slot, one from the overflow bucket");
  });

  it("at the cap, new keys share the overflow bucket while known keys keep theirs (on_table_full shared_bucket)", async () => {
    const host = await start(oneRule({ token_bucket: bucket(2, 1, "60s"), max_buckets: 8 }));
    assert.equal(send(host, { "x-client": "resident" }).status, 200);
    const flood = Array.from({ length: 200 }, (_, i) => send(host, { "x-client": `flood-${i}` }).status);
    // 7 free slots take 7 flooding keys (2 tokens each, one used); the rest share the overflow bucket's 2 tokens.
    assert.equal(admittedOf(flood), 7 + 2);
    assert.equal(host.metricValue("ratelimit.test.main.table_full"), 200 - 7);
    assert.equal(send(host, { "x-client": "resident" }).status, 200, "the resident key still has its second token");
    assert.equal(send(host, { "x-client": "resident" }).status, 429);
  });

  it("at the cap, on_table_full deny answers 429 with a retry-after for when a slot frees up", async () => {
    const host = await start(oneRule({ token_bucket: bucket(1, 1, "10s"), max_buckets: 4, on_table_full: "deny" }));
    assert.deepEqual([0, 1, 2, 3].map((i) => send(host, { "x-client": `k${i}` }).status), [200, 200, 200, 200]);
    host.advanceTime(4_000);
    const denied = send(host, { "x-client": "newcomer" });
    assert.equal(denied.status, 429);
    assert.equal(denied.headers.get("retry-after"), "6");
    host.advanceTime(6_000);
    assert.equal(send(host, { "x-client": "newcomer" }).status, 200, "an idle (refilled) bucket's slot is taken over");
  });

  it("at the cap, on_table_full allow lets new keys through unmetered", async () => {
    const host = await start(oneRule({ token_bucket: bucket(1, 1, "60s"), max_buckets: 2, on_table_full: "allow" }));
    statuses(host, 1, { "x-client": "a" });
    statuses(host, 1, { "x-client": "b" });
    const passed = send(host, { "x-client": "c" });
    assert.equal(passed.status, 200);
    assert.equal(send(host, { "x-client": "c" }).status, 200);
    assert.equal(host.metricValue("ratelimit.test.main.table_full"), 2);
  });

  it("the tick sweep empties idle buckets and reports live ones", async () => {
    const store = new SharedDataStore();
    const host = await start(oneRule({ token_bucket: bucket(2, 1, "5s"), max_buckets: 32 }), { sharedData: store });
    for (let i = 0; i < 10; i++) send(host, { "x-client": `c${i}` });
    const used = () => slots(store).filter((slot) => slot.size > 0).length;
    assert.equal(used(), 10);
    host.advanceTime(1_000, true);
    assert.equal(host.metricValue("ratelimit.test.main.live_buckets"), 10);
    assert.equal(used(), 10, "not refilled yet: nothing is freed");
    host.advanceTime(4_000, true);
    assert.equal(used(), 0, "every bucket refilled completely, so every slot is free again");
    assert.equal(host.metricValue("ratelimit.test.main.live_buckets"), 0);
    assert.equal(store.size, 33, "sweeping frees values, never adds keys");
  });

  it("live_buckets never counts the overflow bucket", async () => {
    const host = await start(oneRule({ token_bucket: bucket(1, 1, "60s"), max_buckets: 4 }));
    for (let i = 0; i < 12; i++) send(host, { "x-client": `c${i}` });
    host.advanceTime(1_000, true);
    assert.equal(host.metricValue("ratelimit.test.main.live_buckets"), 4, "4 live slots, the live overflow bucket aside");
  });
});

describe("configuration", () => {
  async function rejection(configuration: Json | string): Promise<string[]> {
    const host = await HostEmulator.load(wasm, { pluginConfiguration: configuration, rootId: "rate-limit" });
    assert.equal(host.configure(), false, "the configuration must be refused");
    return host.logs.map((entry) => entry.message);
  }

  const cases: Array<[string, Json | string, string]> = [
    ["zero capacity", oneRule({ token_bucket: bucket(0, 1, "1s") }), "rate-limit: rules[0].token_bucket.max_tokens must be > 0"],
    ["negative interval", oneRule({ token_bucket: bucket(1, 1, "-1s") }), "rate-limit: rules[0].token_bucket.fill_interval must be > 0 (got \"-1s\")"],
    ["interval without a unit", oneRule({ token_bucket: bucket(1, 1, "10") }), "rate-limit: rules[0].token_bucket.fill_interval must be a positive duration"],
    ["sub-millisecond interval", oneRule({ token_bucket: bucket(1, 1, "0.0001s") }), "rate-limit: rules[0].token_bucket.fill_interval must be a positive duration"],
    ["unknown descriptor kind", oneRule({ descriptors: [{ cookie: { name: "session" } }] }), "rate-limit: rules[0].descriptors[0] has unknown descriptor kind \"cookie\""],
    ["unknown field", oneRule({ token_bucket: { ...bucket(1, 1, "1s"), burst: 5 } }), "rate-limit: rules[0].token_bucket.burst is not a known field"],
    ["unknown top-level field", oneRule({}, { stats_prefix: "x" }), "rate-limit: stats_prefix is not a known field"],
    ["fractional tokens", oneRule({ token_bucket: bucket(1.5, 1, "1s") }), "rate-limit: rules[0].token_bucket.max_tokens must be an integer"],
    ["cost above capacity", oneRule({ token_bucket: bucket(2, 1, "1s"), cost: 3 }), "rate-limit: rules[0].cost must be <= token_bucket.max_tokens (2)"],
    ["missing token bucket", { rules: [{ name: "r", match: { path_prefix: "/" }, descriptors: [{ request_method: {} }] }] }, "rate-limit: rules[0].token_bucket is required"],
    ["rule without match", { rules: [{ name: "r", descriptors: [{ request_method: {} }], token_bucket: bucket(1, 1, "1s") }] }, "rate-limit: rules[0].match is required"],
    ["empty match", oneRule({ match: {} }), "rate-limit: rules[0].match must set at least one of path_prefix, method, headers"],
    ["duplicate rule names", { rules: [oneRule().rules, oneRule().rules].flat() as Json[] }, "rate-limit: rules[1].name \"main\" is used by an earlier rule"],
    ["bad on_missing", oneRule({ descriptors: [{ request_headers: { header_name: "x", on_missing: "ignore" } }] }), "rate-limit: rules[0].descriptors[0].request_headers.on_missing must be"],
    ["upper-case header name", oneRule({ descriptors: [{ request_headers: { header_name: "X-Key" } }] }), "rate-limit: rules[0].descriptors[0].request_headers.header_name must be a lower-case header name"],
    ["too many buckets", oneRule({ max_buckets: 1_000_000 }), "rate-limit: rules[0].max_buckets must be <= 65536"],
    ["too many buckets in total", { rules: Array.from({ length: 5 }, (_, i) => ({ ...(oneRule().rules as Json[])[0], name: `r${i}`, max_buckets: 65536 })) },
      "rate-limit: max_buckets summed over all rules is 327680, more than 262144"],
    ["bad headers mode", oneRule({}, { enable_x_ratelimit_headers: true }), "rate-limit: enable_x_ratelimit_headers must be a string"],
    ["no rules at all", { stat_prefix: "x" }, "rate-limit: rules is empty and there is no default_rule"],
    ["not JSON", "max_tokens=5", "rate-limit: configuration is not valid JSON"],
  ];

  for (const [what, configuration, expected] of cases) {
    it(`refuses ${what} with a log line naming the field`, async () => {
      const logs = await rejection(configuration);
      assert.ok(logs.some((line) => line.startsWith(expected)), `expected a line starting with:\n  ${expected}\ngot:\n  ${logs.join("\n  ")}`);
    });
  }

  it("reports every problem, not only the first", async () => {
    const logs = await rejection(oneRule({ token_bucket: bucket(0, 0, "soon") }));
    assert.ok(logs.some((line) => line.includes("max_tokens must be > 0")));
    assert.ok(logs.some((line) => line.includes("tokens_per_fill must be > 0")));
    assert.ok(logs.some((line) => line.includes("fill_interval must be a positive duration")));
  });

  it("accepts the duration forms an Envoy config uses", async () => {
    for (const interval of ["1s", "500ms", "1.5s", "2m", "1h", "0.25s"]) {
      const host = await HostEmulator.load(wasm, { pluginConfiguration: oneRule({ token_bucket: bucket(1, 1, interval) }), rootId: "rate-limit" });
      assert.equal(host.configure(), true, interval);
    }
  });
});
