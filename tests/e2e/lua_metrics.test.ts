// The Lua metrics baseline in real Envoy records the same Istio series as the metrics Wasm filter: same label sets
// (response_flags aside, which Lua cannot see), same counts, including requests another filter answered.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { bootstrap, httpListener, type Json } from "../../envoy/bootstrap.ts";
import { luaBaselineFilter } from "../../envoy/lua/index.ts";
import { statsConfigForIstioMetrics, type MetricsFilterConfig } from "../../envoy/istio_metrics.ts";
import { startEnvoy, withEnvoyLog, EnvoyStartError, type EnvoyInstance } from "../harness/envoy.ts";
import { wasmFilterUnavailable, wasmMetricsFilter, wasmRateLimitFilter } from "../../bench/lib/wasm_filters.ts";

const metricsConfig: MetricsFilterConfig = {
  reporter: "destination",
  workload: { name: "ratings-v1", namespace: "default", service: "ratings.default.svc.cluster.local", service_name: "ratings" },
  extra_dimensions: [{ name: "api_version", request_header: "x-api-version" }],
};

// A second filter that answers some requests itself, to show they are counted too.
const limitConfig = {
  stat_prefix: "metrics_e2e",
  rules: [{
    name: "limited", match: { path_prefix: "/limited" }, descriptors: [{ generic_key: { descriptor_value: "all" } }],
    token_bucket: { max_tokens: 2, tokens_per_fill: 1, fill_interval: "60s" },
  }],
};

const wasmMissing = wasmFilterUnavailable("metrics") || wasmFilterUnavailable("rate-limit");

const routes = [
  { path: "/missing", action: { directResponse: { status: 404, body: "no such thing\n" } } },
  { path: "/teapot", action: { directResponse: { status: 418, body: "short and stout\n" } } },
  { prefix: "/", action: { directResponse: { status: 200, body: "hello\n" } } },
];

function listener(name: string, filters: Json[]): Json {
  return httpListener({ name, httpFilters: filters, routes });
}

/** The traffic both listeners get: statuses 200, 404, 418 and 429 (from the rate limit), and a hostile header. */
const TRAFFIC: Array<{ path: string; version?: string }> = [
  { path: "/ok", version: "v1" }, { path: "/ok", version: "v1" }, { path: "/ok", version: "v2" },
  { path: "/missing" }, { path: "/missing" }, { path: "/teapot", version: 'v1";x=.=1;.;\n' },
  { path: "/limited" }, { path: "/limited" }, { path: "/limited" },
];

/** istio_requests_total series of one listener as "labels → count", response_flags left out (Lua cannot read it). */
async function requestSeries(envoy: EnvoyInstance, prefix: RegExp): Promise<Map<string, number>> {
  const series = new Map<string, number>();
  for (const [name, value] of await envoy.stats("istio_requests_total")) {
    const match = prefix.exec(name);
    if (!match || !name.endsWith("istio_requests_total")) continue;
    const labels = match[1].replace(/response_flags=\.=[^;]*;\.;/, "");
    series.set(labels, (series.get(labels) ?? 0) + value);
  }
  return series;
}

function countsByCode(series: Map<string, number>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [labels, value] of series) {
    const code = /response_code=\.=([^;]*);\.;/.exec(labels)?.[1] ?? "?";
    counts[code] = (counts[code] ?? 0) + value;
  }
  return counts;
}

describe("Lua metrics baseline in real Envoy", () => {
  let envoy: EnvoyInstance | undefined;
  const test = (name: string, body: () => Promise<void>, options: { skip?: string | false } = {}) =>
    it(name, options, withEnvoyLog(() => envoy, body));

  before(async () => {
    // Metrics first in the chain, so the responses of the filters after it (the 429s) pass through it.
    const listeners = [listener("lua", [
      luaBaselineFilter("metrics", metricsConfig), luaBaselineFilter("rate_limit", limitConfig),
    ])];
    if (!wasmMissing) listeners.push(listener("wasm", [wasmMetricsFilter(metricsConfig), wasmRateLimitFilter(limitConfig)]));
    envoy = await startEnvoy({
      config: bootstrap({ listeners, extra: { stats_config: statsConfigForIstioMetrics(metricsConfig) } }),
      concurrency: 1,
    });
    for (const name of listeners.map((l) => l.name as string)) {
      for (const request of TRAFFIC) {
        const response = await fetch(envoy.url(name) + request.path, {
          headers: request.version === undefined ? {} : { "x-api-version": request.version },
        });
        await response.text();
      }
    }
  });
  after(async () => envoy?.stop());

  test("counts every request by status, including the 429s the rate limit after it answered", async () => {
    const series = await requestSeries(envoy!, /^http\.lua\.lua\.metrics\.(.*)istio_requests_total$/);
    assert.deepEqual(countsByCode(series), { "200": 5, "404": 2, "418": 1, "429": 1 });
  });

  test("writes Istio's labels in Istio's order, with this workload's identity and sanitized header values", async () => {
    const series = [...(await requestSeries(envoy!, /^http\.lua\.lua\.metrics\.(.*)istio_requests_total$/)).keys()];
    const teapot = series.find((labels) => labels.includes("response_code=.=418;.;"));
    assert.equal(teapot,
      "reporter=.=destination;.;source_workload=.=unknown;.;source_workload_namespace=.=unknown;.;" +
      "source_principal=.=unknown;.;destination_workload=.=ratings-v1;.;destination_workload_namespace=.=default;.;" +
      "destination_service=.=ratings.default.svc.cluster.local;.;destination_service_name=.=ratings;.;" +
      "request_protocol=.=http;.;response_code=.=418;.;grpc_response_status=.=;.;" +
      "connection_security_policy=.=none;.;api_version=.=v1__x_._1_._;.;");
  });

  test("records the three histograms for each series", async () => {
    const text = await envoy!.admin("/stats?filter=http%5C.lua%5C.lua%5C.metrics");
    for (const histogram of ["istio_request_duration_milliseconds", "istio_request_bytes", "istio_response_bytes"]) {
      assert.ok(text.split("\n").some((line) => line.includes(`response_code=.=404;.;`) && line.includes(histogram)),
        `${histogram} missing for the 404 series`);
    }
  });

  test("records the same series with the same counts as the metrics Wasm filter", async () => {
    const lua = await requestSeries(envoy!, /^http\.lua\.lua\.metrics\.(.*)istio_requests_total$/);
    const wasm = await requestSeries(envoy!, /^wasmcustom\.(.*)istio_requests_total$/);
    assert.deepEqual(Object.fromEntries([...lua].sort()), Object.fromEntries([...wasm].sort()));
  }, { skip: wasmMissing });
});

describe("Lua metrics baseline configuration", () => {
  it("refuses an extra dimension read from a property, which Lua cannot read, naming the field", async () => {
    const bad = { extra_dimensions: [{ name: "route", property: "xds.route_name" }] };
    await assert.rejects(
      startEnvoy({ config: bootstrap({ listeners: [listener("lua", [luaBaselineFilter("metrics", bad)])] }), readyTimeoutMs: 20_000 }),
      (error: unknown) => {
        assert.ok(error instanceof EnvoyStartError, String(error));
        assert.match(error.message, /extra_dimensions\[0\]\.property is not a known field/);
        return true;
      });
  });
});
