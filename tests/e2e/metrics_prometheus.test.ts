// The metrics filter end to end with a real Prometheus (Debian's package, installed by the harness when absent):
// Prometheus scrapes Envoy's /stats/prometheus and PromQL over Istio's metric and label names returns what was sent.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { bootstrap, httpListener, staticCluster, wasmFilter } from "../../envoy/bootstrap.ts";
import { statsConfigForIstioMetrics, type MetricsFilterConfig } from "../../envoy/istio_metrics.ts";
import { startEnvoy, withEnvoyLog, type EnvoyInstance } from "../harness/envoy.ts";
import { startUpstream, type Upstream } from "../harness/upstream.ts";
import { buildArtifact } from "../harness/artifacts.ts";
import {
  PrometheusUnavailableError, ensurePrometheus, startPrometheus, type PrometheusInstance, type PromSample,
} from "../harness/prometheus.ts";

const metricsWasm = buildArtifact("metrics");

/** Installs Prometheus when absent; only a machine that cannot install it at all skips these tests, saying why. */
function prometheusSkipReason(): string | false {
  try {
    ensurePrometheus();
    return false;
  } catch (error) {
    if (error instanceof PrometheusUnavailableError) return error.message;
    throw error;
  }
}

const filterConfig: MetricsFilterConfig = {
  reporter: "destination",
  workload: { name: "reviews-v2", namespace: "bookinfo", service: "reviews.bookinfo.svc.cluster.local" },
  extra_dimensions: [{ name: "tenant", request_header: "x-tenant" }],
  histogram_buckets: { istio_request_bytes: [1000, 10000] },
};

const sent: Record<string, number> = { "200": 5, "503": 3, "404": 2 };

describe("metrics filter scraped by a real Prometheus", { skip: prometheusSkipReason() }, () => {
  let upstream: Upstream;
  let envoy: EnvoyInstance | undefined;
  let prometheus: PrometheusInstance | undefined;
  const test = (name: string, body: () => Promise<void>) => it(name, withEnvoyLog(() => envoy, async () => {
    try {
      await body();
    } catch (error) {
      if (error instanceof Error && prometheus) error.message += `\n--- Prometheus log tail ---\n${prometheus.logTail()}`;
      throw error;
    }
  }));

  /** Polls an instant query until `done` accepts its result (Prometheus scrapes every second). */
  async function queryUntil(promql: string, done: (result: PromSample[]) => boolean, timeoutMs = 60_000): Promise<PromSample[]> {
    const deadline = Date.now() + timeoutMs;
    let result: PromSample[] = [];
    while (Date.now() < deadline) {
      result = await prometheus!.query(promql);
      if (done(result)) return result;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return result;
  }

  before(async () => {
    upstream = await startUpstream((request, _body, response) => {
      const code = Number(/^\/status\/(\d{3})/.exec(request.url ?? "")?.[1] ?? 200);
      response.writeHead(code, { "content-type": "text/plain" });
      response.end("ok");
    });
    envoy = await startEnvoy({
      config: bootstrap({
        listeners: [httpListener({
          name: "inbound",
          httpFilters: [wasmFilter({ name: "metrics", wasmPath: metricsWasm, configuration: filterConfig })],
          routes: [{ prefix: "/", action: { cluster: "app" } }],
        })],
        clusters: [staticCluster("app", "127.0.0.1", upstream.port)],
        extra: { stats_config: statsConfigForIstioMetrics(filterConfig) },
      }),
    });
    for (const [code, count] of Object.entries(sent)) {
      for (let i = 0; i < count; i++) {
        // The 503s are POSTs with a 3000-byte body, the rest small GETs: they land in different size buckets.
        const post = code === "503";
        const response: Response = await fetch(`${envoy.url()}/status/${code}`, {
          method: post ? "POST" : "GET", body: post ? "b".repeat(3000) : undefined, headers: { "x-tenant": 'team "blue"\\' },
        });
        await response.arrayBuffer();
        assert.equal(response.status, Number(code));
      }
    }
    const admin = new URL(envoy.adminUrl);
    prometheus = await startPrometheus({
      targets: [{ job: "envoy", address: admin.host, metricsPath: "/stats/prometheus" }],
      scrapeIntervalSeconds: 1,
    });
  });

  after(async () => {
    await prometheus?.stop();
    await envoy?.stop();
    await upstream?.close();
  });

  test("sum by (response_code) (istio_requests_total) returns the counts sent", async () => {
    const promql = "sum by (response_code) (istio_requests_total)";
    const asCounts = (result: PromSample[]) =>
      Object.fromEntries(result.map((sample) => [sample.metric.response_code, Number(sample.value[1])]));
    const result = await queryUntil(promql,
      (samples) => Object.entries(sent).every(([code, count]) => asCounts(samples)[code] === count));
    assert.deepEqual(asCounts(result), sent);
  });

  test("scrapes Envoy's output without errors, hostile label values included", async () => {
    const targets = await prometheus!.targets();
    assert.equal(targets.length, 1);
    assert.equal(targets[0].health, "up", targets[0].lastError);
    assert.equal(targets[0].lastError, "");
    const result = await queryUntil('sum by (tenant) (istio_requests_total{destination_workload="reviews-v2"})', (samples) => samples.length > 0);
    assert.deepEqual(result.map((sample) => sample.metric.tenant), ["team__blue__"]);
  });

  test("answers histogram queries over the request-size buckets from the filter configuration", async () => {
    const total = Object.values(sent).reduce((sum, count) => sum + count, 0);
    const buckets = await queryUntil("sum by (le) (istio_request_bytes_bucket)",
      (samples) => samples.some((sample) => sample.metric.le === "+Inf" && Number(sample.value[1]) === total));
    const byBound = Object.fromEntries(buckets.map((sample) => [sample.metric.le, Number(sample.value[1])]));
    assert.deepEqual(byBound, { "1000": total - sent["503"], "10000": total, "+Inf": total });
    const count = await prometheus!.query('sum(istio_request_duration_milliseconds_count{reporter="destination"})');
    assert.equal(Number(count[0]?.value[1]), total);
  });
});
