// The Lua rate-limit baseline in real Envoy: with one worker it makes the rate-limit Wasm filter's decisions and
// sends its headers; with two workers it shows what Lua cannot do — share buckets — by admitting the limit once
// per worker, where the Wasm filter (buckets in shared data) admits it once for the whole Envoy.
import { after, before, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { bootstrap, httpListener, type Json } from "../../envoy/bootstrap.ts";
import { luaBaselineFilter } from "../../envoy/lua/index.ts";
import { startEnvoy, withEnvoyLog, EnvoyStartError, type EnvoyInstance } from "../harness/envoy.ts";
import { wasmFilterUnavailable, wasmRateLimitFilter } from "../../bench/lib/wasm_filters.ts";
import { burst, connectionsPerWorker, get, withListenerStatPrefix, type Reply } from "./rate_limit_support.ts";

const CAPACITY = 3;

const configuration = {
  stat_prefix: "lua_e2e",
  enable_x_ratelimit_headers: "DRAFT_VERSION_03",
  rules: [{
    name: "per_client",
    match: { path_prefix: "/limited" },
    descriptors: [{ request_headers: { header_name: "x-client" } }],
    // A fill far longer than any test: the expected counts are the capacity itself.
    token_bucket: { max_tokens: CAPACITY, tokens_per_fill: 1, fill_interval: "60s" },
  }],
};

const wasmMissing = wasmFilterUnavailable("rate-limit");

function listener(name: string, filter: Json): Json {
  return withListenerStatPrefix(httpListener({
    name, httpFilters: [filter], routes: [{ prefix: "/", action: { directResponse: { status: 200, body: "ok\n" } } }],
  }), name);
}

function listeners(): Json[] {
  const result = [listener("lua", luaBaselineFilter("rate_limit", configuration))];
  if (!wasmMissing) result.push(listener("wasm", wasmRateLimitFilter(configuration)));
  return result;
}

const RATE_LIMIT_HEADERS = ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "retry-after", "ratelimit-policy", "ratelimit"];

/** Status and rate-limit headers: what two implementations must agree on (reset values may differ by a second). */
function decision(reply: Reply): string {
  const headers = RATE_LIMIT_HEADERS
    .filter((name) => reply.headers[name] !== undefined)
    .map((name) => `${name}=${name.includes("reset") || name === "retry-after" || name === "ratelimit" ? "set" : reply.headers[name]}`);
  return [reply.status, ...headers].join(" ");
}

async function sequence(url: string, count: number, headers: Record<string, string>): Promise<Reply[]> {
  const replies: Reply[] = [];
  for (let i = 0; i < count; i++) replies.push(await get(url, headers));
  return replies;
}

describe("Lua rate-limit baseline in real Envoy, one worker", () => {
  let envoy: EnvoyInstance | undefined;
  const test = (name: string, body: () => Promise<void>, options: { skip?: string | false } = {}) =>
    it(name, options, withEnvoyLog(() => envoy, body));

  before(async () => {
    envoy = await startEnvoy({ config: bootstrap({ listeners: listeners() }), concurrency: 1 });
  });
  after(async () => envoy?.stop());

  test("admits max_tokens requests of a key, then answers 429 with retry-after", async () => {
    const replies = await sequence(envoy!.url("lua") + "/limited", CAPACITY + 2, { "x-client": "alice" });
    assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 429, 429]);
    assert.deepEqual(replies.slice(0, CAPACITY).map((r) => r.headers["x-ratelimit-remaining"]), ["2", "1", "0"]);
    const limited = replies[CAPACITY];
    assert.equal(limited.headers["x-ratelimit-limit"], String(CAPACITY));
    const retryAfter = Number(limited.headers["retry-after"]);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `retry-after ${retryAfter}`);
    assert.equal(limited.headers["ratelimit-policy"], '"per_client";q=3;w=180');
    assert.equal(limited.body, "rate limited\n");
  });

  test("keeps keys apart and leaves paths no rule matches alone", async () => {
    const bob = await sequence(envoy!.url("lua") + "/limited", CAPACITY, { "x-client": "bob" });
    assert.deepEqual(bob.map((r) => r.status), [200, 200, 200]);
    const other = await sequence(envoy!.url("lua") + "/elsewhere", CAPACITY * 3, { "x-client": "bob" });
    assert.ok(other.every((r) => r.status === 200 && r.headers["x-ratelimit-limit"] === undefined));
  });

  test("puts requests without the key header in one shared bucket", async () => {
    const replies = await sequence(envoy!.url("lua") + "/limited", CAPACITY + 1, {});
    assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 429]);
  });

  test("counts allowed and limited requests per rule in Envoy's stats", async () => {
    const before = await envoy!.stats("lua_e2e.per_client");
    await sequence(envoy!.url("lua") + "/limited", CAPACITY + 2, { "x-client": "carol" });
    const after = await envoy!.stats("lua_e2e.per_client");
    const delta = (what: string) => {
      const name = `http.lua.lua.rate_limit.ratelimit.lua_e2e.per_client.${what}`;
      return (after.get(name) ?? 0) - (before.get(name) ?? 0);
    };
    assert.equal(delta("allowed"), CAPACITY);
    assert.equal(delta("limited"), 2);
  });

  test("makes the same decisions with the same headers as the rate-limit Wasm filter", async () => {
    const script: Array<Record<string, string>> = [
      ...Array(CAPACITY + 2).fill({ "x-client": "dave" }),
      ...Array(2).fill({ "x-client": "erin" }),
      { "x-client": "dave" },
    ];
    const lua: string[] = [];
    const wasm: string[] = [];
    for (const headers of script) {
      lua.push(decision(await get(envoy!.url("lua") + "/limited", headers)));
      wasm.push(decision(await get(envoy!.url("wasm") + "/limited", headers)));
    }
    assert.deepEqual(lua, wasm);
    assert.equal(lua.filter((d) => d.startsWith("429")).length, 3);
  }, { skip: wasmMissing });
});

describe("Lua rate-limit baseline in real Envoy, two workers", () => {
  let envoy: EnvoyInstance | undefined;
  const BURST = 40;
  const test = (name: string, body: (t: TestContext) => Promise<void>, options: { skip?: string | false } = {}) =>
    it(name, options, (t) => withEnvoyLog(() => envoy, () => body(t))());

  before(async () => {
    envoy = await startEnvoy({ config: bootstrap({ listeners: listeners() }), concurrency: 2 });
  });
  after(async () => envoy?.stop());

  test("admits the limit once per worker: Lua buckets are not shared", async (t) => {
    const workersBefore = await connectionsPerWorker(envoy!, "lua");
    const result = await burst(envoy!.url("lua") + "/limited", BURST, () => ({ "x-client": "burst" }));
    const workersAfter = await connectionsPerWorker(envoy!, "lua");
    const perWorker = workersAfter.map((count, worker) => count - (workersBefore[worker] ?? 0));
    // Each request has its own connection, so a worker saw as many requests as it accepted connections, and each
    // worker's own bucket admits up to the capacity of them.
    const expected = perWorker.reduce((sum, requests) => sum + Math.min(CAPACITY, requests), 0);
    t.diagnostic(`Lua, --concurrency 2: admitted ${result.admitted}/${BURST} (limit ${CAPACITY}); requests per worker ${perWorker.join("/")}`);
    assert.equal(result.admitted + result.limited, BURST);
    assert.equal(result.admitted, expected);
    if (perWorker.filter((requests) => requests >= CAPACITY).length === 2) assert.equal(result.admitted, 2 * CAPACITY);
  });

  test("the Wasm filter admits the limit once for the whole Envoy", async (t) => {
    const result = await burst(envoy!.url("wasm") + "/limited", BURST, () => ({ "x-client": "burst" }));
    t.diagnostic(`Wasm, --concurrency 2: admitted ${result.admitted}/${BURST} (limit ${CAPACITY})`);
    assert.equal(result.admitted + result.limited, BURST);
    assert.equal(result.admitted, CAPACITY);
  }, { skip: wasmMissing });
});

describe("Lua rate-limit baseline configuration", () => {
  it("refuses an unknown descriptor kind, naming the field", async () => {
    const bad = { rules: [{ ...configuration.rules[0], descriptors: [{ client_cert: {} }] }] };
    await assert.rejects(
      startEnvoy({ config: bootstrap({ listeners: [listener("lua", luaBaselineFilter("rate_limit", bad))] }), readyTimeoutMs: 20_000 }),
      (error: unknown) => {
        assert.ok(error instanceof EnvoyStartError, String(error));
        assert.match(error.message, /rules\[0\]\.descriptors\[0\]\.client_cert is an unknown descriptor kind/);
        return true;
      });
  });

  it("refuses a zero max_tokens, naming the field", async () => {
    const bad = { rules: [{ ...configuration.rules[0], token_bucket: { max_tokens: 0, fill_interval: "1s" } }] };
    await assert.rejects(
      startEnvoy({ config: bootstrap({ listeners: [listener("lua", luaBaselineFilter("rate_limit", bad))] }), readyTimeoutMs: 20_000 }),
      /rules\[0\]\.token_bucket\.max_tokens must be an integer >= 1/);
  });
});
