// The metrics filter in real Envoy: after a known mix of requests, /stats/prometheus shows Istio's metric names
// with Istio's labels as Prometheus labels (not inside the name), with the expected counts and histogram buckets.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { bootstrap, httpListener, staticCluster, wasmFilter, type Json } from "../../envoy/bootstrap.ts";
import { labelTagExtractor, metricsLabelNames, statsConfigForIstioMetrics, type MetricsFilterConfig } from "../../envoy/istio_metrics.ts";
import { projectRoot } from "../../scripts/tools.ts";
import { EnvoyStartError, startEnvoy, withEnvoyLog, type EnvoyInstance } from "../harness/envoy.ts";
import { exampleConfigForTest } from "../harness/examples.ts";
import { startUpstream, type Upstream } from "../harness/upstream.ts";
import { buildArtifact } from "../harness/artifacts.ts";
import { parseExposition, samplesOf, type ExpositionSample } from "../harness/prometheus.ts";

const metricsWasm = buildArtifact("metrics");
const conformanceWasm = buildArtifact("abi-conformance");

const filterConfig: MetricsFilterConfig = {
  reporter: "destination",
  workload: { name: "ratings-v1", namespace: "default", service: "ratings.default.svc.cluster.local" },
  extra_dimensions: [{ name: "tenant", request_header: "x-tenant" }],
  histogram_buckets: { istio_response_bytes: [256, 4096] },
};

/** Upstream answering `/status/<code>?bytes=<n>` with that status and an n-byte body; `/grpc/<status>` as gRPC. */
function appUpstream(): Promise<Upstream> {
  return startUpstream((request, _body, response) => {
    const url = new URL(request.url ?? "/", "http://upstream");
    const grpc = /^\/grpc\/(\d+)$/.exec(url.pathname);
    if (grpc) {
      // A trailers-only gRPC answer: the status travels in the response headers.
      response.writeHead(200, { "content-type": "application/grpc", "grpc-status": grpc[1], "content-length": "0" });
      response.end();
      return;
    }
    const status = /^\/status\/(\d{3})$/.exec(url.pathname);
    const body = "x".repeat(Number(url.searchParams.get("bytes") ?? "0"));
    response.writeHead(status ? Number(status[1]) : 200, { "content-type": "text/plain", "content-length": String(body.length) });
    response.end(body);
  });
}

/** A loopback port nothing listens on (bound, then released), for a cluster whose connections fail. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 1;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function metricsEnvoy(upstream: Upstream, config: MetricsFilterConfig, options: { concurrency?: number; chain?: "metrics-first" | "metrics-last" } = {}): Promise<EnvoyInstance> {
  const metrics = wasmFilter({ name: "metrics", wasmPath: metricsWasm, configuration: config });
  const conformance = wasmFilter({ name: "conformance", wasmPath: conformanceWasm });
  const chain = options.chain === "metrics-last" ? [conformance, metrics] : [metrics, conformance];
  const bootstrapConfig: Json = bootstrap({
    listeners: [httpListener({
      name: "inbound",
      httpFilters: chain,
      routes: [
        { prefix: "/unreachable", action: { cluster: "unreachable" } },
        { prefix: "/", action: { cluster: "app" } },
      ],
    })],
    clusters: [staticCluster("app", "127.0.0.1", upstream.port), staticCluster("unreachable", "127.0.0.1", await closedPort())],
    extra: { stats_config: statsConfigForIstioMetrics(config) },
  });
  return startEnvoy({ config: bootstrapConfig, concurrency: options.concurrency ?? 1 });
}

async function send(envoy: EnvoyInstance, path: string, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(envoy.url() + path, { headers });
  await response.arrayBuffer();
  return response.status;
}

/** /stats/prometheus, parsed strictly, once `ready` holds (histograms reach the admin output at Envoy's stats flush). */
async function scrapeUntil(envoy: EnvoyInstance, ready: (samples: ExpositionSample[]) => boolean, timeoutMs = 30_000): Promise<{ text: string; samples: ExpositionSample[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await envoy.admin("/stats/prometheus");
    const samples = parseExposition(text);
    if (ready(samples) || Date.now() > deadline) return { text, samples };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function total(samples: ExpositionSample[], name: string, labels: Record<string, string> = {}): number {
  return samplesOf(samples, name, labels).reduce((sum, sample) => sum + sample.value, 0);
}

describe("metrics filter in real Envoy", () => {
  let upstream: Upstream;
  let envoy: EnvoyInstance | undefined;
  let scraped: { text: string; samples: ExpositionSample[] };
  const test = (name: string, body: () => Promise<void>) => it(name, withEnvoyLog(() => envoy, body));

  // The request mix every test below reads back: 14 requests.
  const mix: Array<{ path: string; count: number; status: number; headers?: Record<string, string> }> = [
    { path: "/status/200?bytes=10", count: 6, status: 200, headers: { "x-tenant": "acme" } },
    { path: "/status/503?bytes=5000", count: 3, status: 503, headers: { "x-tenant": "acme" } },
    { path: "/status/404?bytes=10", count: 2, status: 404 },
    { path: "/local-response", count: 2, status: 418 },
    { path: "/unreachable", count: 1, status: 503 },
  ];

  before(async () => {
    upstream = await appUpstream();
    envoy = await metricsEnvoy(upstream, filterConfig);
    for (const entry of mix) {
      for (let i = 0; i < entry.count; i++) assert.equal(await send(envoy, entry.path, entry.headers), entry.status, entry.path);
    }
    const grpcResponse = await fetch(envoy.url() + "/grpc/5", { method: "POST", headers: { "content-type": "application/grpc" }, body: "" });
    await grpcResponse.arrayBuffer();
    // 15 requests in all; wait until every one is in the duration histogram (recorded at the stats flush).
    scraped = await scrapeUntil(envoy, (samples) => total(samples, "istio_request_duration_milliseconds_count") >= 15);
  });

  after(async () => {
    await envoy?.stop();
    await upstream?.close();
  });

  test("serves istio_requests_total with every Istio label as a Prometheus label", async () => {
    const ok = samplesOf(scraped.samples, "istio_requests_total", { response_code: "200", request_protocol: "http" });
    assert.equal(ok.length, 1, scraped.text);
    assert.deepEqual(ok[0].labels, {
      reporter: "destination",
      source_workload: "unknown",
      source_workload_namespace: "unknown",
      source_principal: "unknown",
      destination_workload: "ratings-v1",
      destination_workload_namespace: "default",
      destination_service: "ratings.default.svc.cluster.local",
      destination_service_name: "ratings",
      request_protocol: "http",
      response_code: "200",
      response_flags: "-",
      grpc_response_status: "",
      connection_security_policy: "none",
      tenant: "acme",
    });
    assert.equal(ok[0].value, 6);
    assert.match(scraped.text, /^# TYPE istio_requests_total counter$/m);
    assert.match(scraped.text, /^istio_requests_total\{reporter="destination",.*response_code="200",/m);
  });

  test("counts each response code, with Envoy's response flags", async () => {
    const samples = scraped.samples;
    assert.equal(total(samples, "istio_requests_total", { response_code: "503", response_flags: "-" }), 3);
    assert.equal(total(samples, "istio_requests_total", { response_code: "503", response_flags: "UF" }), 1);
    assert.equal(total(samples, "istio_requests_total", { response_code: "404", tenant: "unknown" }), 2);
    assert.equal(total(samples, "istio_requests_total"), 15);
  });

  test("counts requests another filter in the chain answered itself", async () => {
    assert.equal(total(scraped.samples, "istio_requests_total", { response_code: "418" }), 2);
  });

  test("labels gRPC requests with their protocol and grpc-status", async () => {
    const grpc = samplesOf(scraped.samples, "istio_requests_total", { request_protocol: "grpc" });
    assert.equal(grpc.length, 1, scraped.text);
    assert.equal(grpc[0].labels.grpc_response_status, "5");
    assert.equal(grpc[0].labels.response_code, "200");
    assert.equal(grpc[0].value, 1);
  });

  test("serves the three histograms, response bytes in the configured buckets", async () => {
    for (const histogram of ["istio_request_duration_milliseconds", "istio_request_bytes", "istio_response_bytes"]) {
      assert.match(scraped.text, new RegExp(`^# TYPE ${histogram} histogram$`, "m"));
      assert.equal(total(scraped.samples, `${histogram}_count`), 15, histogram);
    }
    const buckets = (code: string) => samplesOf(scraped.samples, "istio_response_bytes_bucket", { response_code: code, tenant: "acme" })
      .map((sample) => [sample.labels.le, sample.value]);
    // 10-byte bodies fit under 256 bytes with their headers; 5000-byte bodies exceed 4096.
    assert.deepEqual(buckets("200"), [["256", 6], ["4096", 6], ["+Inf", 6]]);
    assert.deepEqual(buckets("503"), [["256", 0], ["4096", 0], ["+Inf", 3]]);
    // Histograms without configured buckets keep Envoy's defaults.
    const durationBounds = samplesOf(scraped.samples, "istio_request_duration_milliseconds_bucket", { response_code: "200" })
      .map((sample) => sample.labels.le);
    assert.deepEqual(durationBounds.slice(0, 3), ["0.5", "1", "5"]);
  });

  test("has no # HELP line: Envoy's exposition has none, and proxy-wasm cannot give a metric one", async () => {
    // If a later Envoy starts printing help text, this fails and the README's note on it needs revisiting.
    assert.doesNotMatch(scraped.text, /^# HELP /m);
  });

  test("leaves no label encoding or wasmcustom namespace in the exposition", async () => {
    assert.doesNotMatch(scraped.text, /=\.=|;\.;|wasmcustom/);
  });

  test("keeps Envoy's own stats and their default tags", async () => {
    assert.ok(total(scraped.samples, "envoy_cluster_upstream_rq", { envoy_cluster_name: "app", envoy_response_code: "200" }) >= 6, scraped.text.slice(0, 2000));
  });

  test("reports distinct label sets and no overflow below the cap", async () => {
    assert.equal(total(scraped.samples, "as_mesh_metrics_overflow_total"), 0);
    assert.equal(total(scraped.samples, "as_mesh_metrics_label_sets"), samplesOf(scraped.samples, "istio_requests_total").length);
  });
});

describe("metrics filter label values from hostile headers", () => {
  let upstream: Upstream;
  let envoy: EnvoyInstance | undefined;
  const test = (name: string, body: () => Promise<void>) => it(name, withEnvoyLog(() => envoy, body));

  before(async () => {
    upstream = await appUpstream();
    envoy = await metricsEnvoy(upstream, { ...filterConfig, max_value_length: 64 });
  });

  after(async () => {
    await envoy?.stop();
    await upstream?.close();
  });

  /** One HTTP/1.1 request written byte for byte, so header values can carry bytes fetch() refuses to send. */
  async function rawRequest(path: string, headerBlock: Buffer): Promise<string> {
    const url = new URL(envoy!.url());
    return new Promise((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname);
      const chunks: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      socket.on("error", reject);
      socket.on("end", () => resolve(Buffer.concat(chunks).toString("latin1")));
      socket.setTimeout(15_000, () => socket.destroy(new Error("raw request timed out")));
      socket.write(Buffer.concat([
        Buffer.from(`GET ${path} HTTP/1.1\r\nhost: ratings\r\nconnection: close\r\n`, "latin1"), headerBlock, Buffer.from("\r\n", "latin1"),
      ]));
    });
  }

  test("sanitizes quotes, separators, non-ASCII and oversized values so the exposition stays valid", async () => {
    const hostile = [
      'quote"d\\back',
      "a;.;response_code=.=999;.;b",
      "{evil} # comment",
      "x".repeat(6000),
    ];
    for (const value of hostile) assert.equal(await send(envoy!, "/status/200", { "x-tenant": value }), 200);
    const raw = await rawRequest("/status/200", Buffer.concat([Buffer.from("x-tenant: caf", "latin1"), Buffer.from([0xc3, 0xa9, 0x80, 0xff]), Buffer.from("end\r\n", "latin1")]));
    assert.match(raw, /^HTTP\/1\.1 200/);

    const { text, samples } = await scrapeUntil(envoy!, (all) => total(all, "istio_requests_total") >= 5);
    // parseExposition has already checked every line of the output against the format.
    assert.equal(total(samples, "istio_requests_total"), 5, text);
    const tenants = samplesOf(samples, "istio_requests_total").map((sample) => sample.labels.tenant).sort();
    assert.deepEqual(tenants, [
      "a_._response_code_._999_._b",
      "caf____end", // é is two bytes and 0x80, 0xff are not ASCII: each byte becomes _
      "quote_d_back",
      "x".repeat(64),
      "_evil____comment",
    ].sort());
    for (const sample of samplesOf(samples, "istio_requests_total")) assert.equal(sample.labels.response_code, "200");
    assert.doesNotMatch(text, /=\.=|;\.;/);
  });
});

describe("metrics filter cardinality cap in real Envoy", () => {
  let upstream: Upstream;
  let envoy: EnvoyInstance | undefined;
  const test = (name: string, body: () => Promise<void>) => it(name, withEnvoyLog(() => envoy, body));

  before(async () => {
    upstream = await appUpstream();
    // Two worker threads, each with its own VM: the cap holds across both through shared data.
    envoy = await metricsEnvoy(upstream, { ...filterConfig, max_label_sets: 3 }, { concurrency: 2 });
  });

  after(async () => {
    await envoy?.stop();
    await upstream?.close();
  });

  test("sends label sets beyond max_label_sets to the other series and counts them", async () => {
    for (let i = 0; i < 8; i++) {
      // A new connection per request, so both workers see traffic.
      assert.equal(await send(envoy!, "/status/200", { "x-tenant": `tenant-${i}`, connection: "close" }), 200);
    }
    for (let i = 0; i < 2; i++) assert.equal(await send(envoy!, "/status/200", { "x-tenant": "tenant-0", connection: "close" }), 200);
    const { text, samples } = await scrapeUntil(envoy!, (all) => total(all, "istio_requests_total") >= 10);
    const series = samplesOf(samples, "istio_requests_total");
    const own = series.filter((sample) => sample.labels.tenant !== "other");
    assert.equal(own.length, 3, text);
    assert.deepEqual(own.map((sample) => sample.labels.tenant).sort(), ["tenant-0", "tenant-1", "tenant-2"]);
    assert.equal(total(samples, "istio_requests_total", { tenant: "tenant-0" }), 3, "an admitted label set keeps its series after the cap");
    const other = series.filter((sample) => sample.labels.tenant === "other");
    assert.equal(other.length, 1);
    assert.equal(other[0].labels.response_code, "other");
    assert.equal(other[0].value, 5);
    assert.equal(total(samples, "as_mesh_metrics_overflow_total"), 5);
    assert.equal(total(samples, "as_mesh_metrics_label_sets"), 3);
  });
});

describe("metrics filter configuration errors in real Envoy", () => {
  it("refuses a configuration whose extra dimension would collide with an Istio label, naming the field", async () => {
    const upstream = await appUpstream();
    try {
      await assert.rejects(
        metricsEnvoy(upstream, { extra_dimensions: [{ name: "name", request_header: "x-name" }] }),
        (error: unknown) => {
          assert.ok(error instanceof EnvoyStartError, String(error));
          assert.match(error.message, /metrics: extra_dimensions\[0\]\.name "name" cannot be used with "destination_service_name"/);
          return true;
        });
    } finally {
      await upstream.close();
    }
  });
});

describe("metrics filter placed after a filter that answers requests itself", () => {
  let upstream: Upstream;
  let envoy: EnvoyInstance | undefined;
  const test = (name: string, body: () => Promise<void>) => it(name, withEnvoyLog(() => envoy, body));

  before(async () => {
    upstream = await appUpstream();
    envoy = await metricsEnvoy(upstream, filterConfig, { chain: "metrics-last" });
  });

  after(async () => {
    await envoy?.stop();
    await upstream?.close();
  });

  test("still counts the requests the earlier filter answered", async () => {
    assert.equal(await send(envoy!, "/local-response"), 418);
    assert.equal(await send(envoy!, "/status/200"), 200);
    const { samples } = await scrapeUntil(envoy!, (all) => total(all, "istio_requests_total") >= 2);
    assert.equal(total(samples, "istio_requests_total", { response_code: "418" }), 1);
    assert.equal(total(samples, "istio_requests_total", { response_code: "200" }), 1);
  });
});

describe("the example envoy/metrics.yaml", () => {
  const yamlPath = join(projectRoot, "envoy", "metrics.yaml");

  /** The metrics filter's configuration, as written in the example (the JSON block after `name: metrics`). */
  function exampleFilterConfig(yaml: string): MetricsFilterConfig {
    const block = /name: metrics[\s\S]*?value: \|\n([\s\S]*?)\n\s*- name:/.exec(yaml);
    assert.ok(block, "envoy/metrics.yaml: metrics filter configuration not found");
    return JSON.parse(block[1]) as MetricsFilterConfig;
  }

  it("has a stats_tags entry for every label its filter configuration emits", () => {
    const yaml = readFileSync(yamlPath, "utf8");
    const config = exampleFilterConfig(yaml);
    for (const name of metricsLabelNames(config)) {
      const { regex } = labelTagExtractor(name);
      assert.ok(yaml.includes(`{ tag_name: ${name}, regex: ${JSON.stringify(regex)} }`), `no stats_tags entry for ${name}`);
    }
    const buckets = config.histogram_buckets?.istio_request_duration_milliseconds;
    assert.ok(buckets && yaml.includes(`buckets: [${buckets.join(", ")}]`), "histogram_bucket_settings repeat the filter's buckets");
  });

  it("starts as written, next to rate-limit, and serves Istio metrics with labels", { timeout: 90_000 }, async () => {
    const upstream = await appUpstream();
    const yaml = exampleConfigForTest("metrics.yaml", { 9080: upstream.port });
    let envoy: EnvoyInstance | undefined;
    try {
      envoy = await startEnvoy({ config: {}, extraArgs: ["--config-yaml", yaml], concurrency: 2 });
      await withEnvoyLog(() => envoy, async () => {
        const inbound = envoy!.url("inbound");
        for (let i = 0; i < 2; i++) {
          const response = await fetch(`${inbound}/status/200`, { headers: { "x-api-version": "v1" } });
          await response.arrayBuffer();
          assert.equal(response.status, 200);
        }
        const writes: number[] = [];
        for (let i = 0; i < 4; i++) {
          const response = await fetch(`${inbound}/reviews`, { method: "POST", body: "{}" });
          await response.arrayBuffer();
          writes.push(response.status);
        }
        assert.deepEqual(writes, [200, 200, 200, 429], "the rate-limit filter after metrics limits POST /reviews");

        const { text, samples } = await scrapeUntil(envoy!, (all) => total(all, "istio_request_duration_milliseconds_count") >= 6);
        const base = { reporter: "destination", destination_workload: "reviews-v2", destination_service_name: "reviews" };
        assert.equal(total(samples, "istio_requests_total", { ...base, response_code: "200", api_version: "v1" }), 2, text);
        assert.equal(total(samples, "istio_requests_total", { ...base, response_code: "200", api_version: "unknown" }), 3);
        assert.equal(total(samples, "istio_requests_total", { ...base, response_code: "429" }), 1);
        const bounds = samplesOf(samples, "istio_request_duration_milliseconds_bucket", { response_code: "429" }).map((sample) => sample.labels.le);
        assert.deepEqual(bounds, ["1", "5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000", "10000", "+Inf"]);
        assert.doesNotMatch(text, /=\.=|;\.;|wasmcustom/);
      })();
    } finally {
      await envoy?.stop();
      await upstream.close();
    }
  });
});

describe("metrics response_flags next to Envoy's access log", () => {
  let upstream: Upstream;
  let envoy: EnvoyInstance | undefined;
  let logDir: string;
  const test = (name: string, body: () => Promise<void>) => it(name, withEnvoyLog(() => envoy, body));
  const flagsConfig: MetricsFilterConfig = {
    reporter: "destination",
    workload: { name: "ratings-v1", namespace: "default", service: "ratings.default.svc.cluster.local" },
    extra_dimensions: [{ name: "case", request_header: "x-case" }],
  };

  before(async () => {
    // /slow answers after 1.5 s: later than the /timeout route allows, and later than the client that hangs up waits.
    upstream = await startUpstream((_request, _body, response) => {
      setTimeout(() => { if (!response.destroyed) response.end("late"); }, 1_500);
    });
    logDir = mkdtempSync(join(tmpdir(), "as-mesh-flags-"));
    const listener = httpListener({
      name: "inbound",
      httpFilters: [wasmFilter({ name: "metrics", wasmPath: metricsWasm, configuration: flagsConfig })],
      routes: [],
    });
    const chains = listener.filterChains as Array<{ filters: Array<{ typedConfig: Json }> }>;
    const manager = chains[0].filters[0].typedConfig;
    manager.accessLog = [{
      name: "envoy.access_loggers.file",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
        path: join(logDir, "access.log"),
        log_format: { text_format_source: { inline_string: "%REQ(X-CASE)% %RESPONSE_FLAGS%\n" } },
      },
    }];
    // No route for anything else: NR.
    (manager.routeConfig as { virtualHosts: Json[] }).virtualHosts[0].routes = [
      { match: { prefix: "/retry" }, route: { cluster: "unreachable", retry_policy: { retry_on: "connect-failure", num_retries: 1 } } },
      { match: { prefix: "/empty" }, route: { cluster: "empty" } },
      { match: { prefix: "/timeout" }, route: { cluster: "app", timeout: "0.3s" } },
      { match: { prefix: "/hang" }, route: { cluster: "app", timeout: "15s" } },
    ];
    const empty = staticCluster("empty", "127.0.0.1", 1);
    empty.loadAssignment = { clusterName: "empty", endpoints: [] };
    envoy = await startEnvoy({
      config: bootstrap({
        listeners: [listener],
        clusters: [staticCluster("app", "127.0.0.1", upstream.port), staticCluster("unreachable", "127.0.0.1", await closedPort()), empty],
        extra: { stats_config: statsConfigForIstioMetrics(flagsConfig) },
      }),
      concurrency: 1,
    });
    assert.equal(await send(envoy, "/retry", { "x-case": "retry" }), 503);
    assert.equal(await send(envoy, "/empty", { "x-case": "no-healthy" }), 503);
    assert.equal(await send(envoy, "/nowhere", { "x-case": "no-route" }), 404);
    assert.equal(await send(envoy, "/timeout", { "x-case": "timeout" }), 504);
    await hangUpEarly(envoy, "/hang", "downstream-closed");
  });

  after(async () => {
    await envoy?.stop();
    await upstream?.close();
    if (logDir) rmSync(logDir, { recursive: true, force: true });
  });

  /** Sends a request and closes the connection before the answer comes: Envoy records DC. */
  async function hangUpEarly(instance: EnvoyInstance, path: string, label: string): Promise<void> {
    const port = Number(new URL(instance.url()).port);
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => { socket.once("connect", resolve); socket.once("error", reject); });
    socket.write(`GET ${path} HTTP/1.1\r\nhost: ratings\r\nx-case: ${label}\r\n\r\n`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    socket.destroy();
  }

  /** case → %RESPONSE_FLAGS%, once the access log has a line for each of `count` requests. */
  async function accessLogFlags(count: number): Promise<Map<string, string>> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      let lines: string[] = [];
      try {
        lines = readFileSync(join(logDir, "access.log"), "utf8").split("\n").filter((line) => line.length > 0);
      } catch { /* not written yet */ }
      if (lines.length >= count || Date.now() > deadline) {
        return new Map(lines.map((line) => line.split(" ") as [string, string]));
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  test("labels each request with the response flags Envoy's access log prints for it (URX+UF, UH, NR, UT, DC)", async () => {
    const logged = await accessLogFlags(5);
    const { samples, text } = await scrapeUntil(envoy!, (found) => total(found, "istio_requests_total") >= 5);
    const labelled = new Map(samplesOf(samples, "istio_requests_total").map((sample) => [sample.labels.case, sample.labels.response_flags]));
    // What Envoy 1.40 prints for these cases, so the test fails if either side changes.
    assert.deepEqual(Object.fromEntries(logged), {
      "retry": "URX,UF", "no-healthy": "UH", "no-route": "NR", "timeout": "UT", "downstream-closed": "DC",
    });
    assert.deepEqual(Object.fromEntries(labelled), Object.fromEntries(logged), text);
  });
});
