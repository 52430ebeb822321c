// The metrics filter in the host emulator: which label values it derives from Envoy's properties, the `unknown`
// fallbacks, the cardinality cap (shared across VMs), what it records into the histograms, and configuration
// validation. The real-Envoy tests (tests/e2e/metrics*.test.ts) prove the same output reaches Prometheus.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HostEmulator, MetricType, SharedDataStore, type Metric } from "./emulator.ts";
import { buildArtifact } from "../harness/artifacts.ts";
import { ISTIO_STANDARD_LABELS, labelTagExtractor, statsConfigForIstioMetrics, type MetricsFilterConfig } from "../../envoy/istio_metrics.ts";

const wasm = buildArtifact("metrics");

type Properties = Record<string, string | bigint | boolean | Uint8Array>;

/** What Envoy's stats_tags extraction makes of a stat name: each extractor removes group 1 and keeps group 2. */
function extractTags(statName: string, labelNames: readonly string[]): { name: string; labels: Record<string, string> } {
  const labels: Record<string, string> = {};
  const removed: Array<[number, number]> = [];
  for (const labelName of labelNames) {
    const match = new RegExp(labelTagExtractor(labelName).regex, "d").exec(statName);
    if (!match?.indices?.[1] || match[2] === undefined) continue;
    labels[labelName] = match[2];
    removed.push(match.indices[1]);
  }
  let name = "";
  for (let i = 0; i < statName.length; i++) {
    if (!removed.some(([start, end]) => i >= start && i < end)) name += statName[i];
  }
  return { name, labels };
}

function counters(host: HostEmulator, metric = "istio_requests_total"): Metric[] {
  return host.metrics.filter((entry) => entry.type === MetricType.Counter && entry.name.endsWith(`;.;${metric}`));
}

/** Labels of the single istio_requests_total series, as Prometheus would show them. */
function onlySeriesLabels(host: HostEmulator, labelNames: readonly string[] = ISTIO_STANDARD_LABELS): Record<string, string> {
  const series = counters(host);
  assert.equal(series.length, 1, series.map((entry) => entry.name).join("\n"));
  const extracted = extractTags(series[0].name, labelNames);
  assert.equal(extracted.name, "istio_requests_total", "every label is extracted from the stat name");
  return extracted.labels;
}

async function start(config: MetricsFilterConfig, options: { sharedData?: SharedDataStore; properties?: Properties } = {}): Promise<HostEmulator> {
  return HostEmulator.start(wasm, { pluginConfiguration: config, rootId: "metrics", ...options });
}

function request(host: HostEmulator, properties: Properties, requestHeaders: Record<string, string> = {}): void {
  const stream = host.newStream(properties);
  stream.sendRequestHeaders({ ":method": "GET", ":path": "/", ...requestHeaders });
  stream.sendResponseHeaders({ ":status": "200" });
  stream.complete();
}

const finished: Properties = {
  "response.code": 200n,
  "response.flags": 0n,
  "request.duration": 12_700_000n,
  "request.total_size": 310n,
  "response.total_size": 1450n,
};

describe("metrics filter: label values from Envoy's properties", () => {
  it("derives every label of a server-side request from properties and the workload config", async () => {
    const host = await start({
      reporter: "destination",
      workload: { name: "ratings-v1", namespace: "bookinfo", service: "ratings.bookinfo.svc.cluster.local" },
    });
    request(host, {
      ...finished,
      "response.code": 503n,
      "response.flags": 0x8020n,
      "connection.mtls": true,
      "connection.uri_san_peer_certificate": "spiffe://cluster.local/ns/shop/sa/cart",
    }, { ":authority": "ratings:9080" });
    assert.deepEqual(onlySeriesLabels(host), {
      reporter: "destination",
      source_workload: "unknown",
      source_workload_namespace: "shop",
      source_principal: "spiffe://cluster.local/ns/shop/sa/cart",
      destination_workload: "ratings-v1",
      destination_workload_namespace: "bookinfo",
      destination_service: "ratings.bookinfo.svc.cluster.local",
      destination_service_name: "ratings",
      request_protocol: "http",
      response_code: "503",
      response_flags: "URX,UF", // as Envoy prints them: URX is set before the failure that ends the request
      grpc_response_status: "",
      connection_security_policy: "mutual_tls",
    });
  });

  it("tells mutual TLS from plaintext, with or without a URI SAN in the client certificate", async () => {
    const host = await start({ reporter: "destination", dimensions: ["source_principal", "connection_security_policy"] });
    request(host, { ...finished, "connection.mtls": true }); // a client certificate without a URI SAN
    request(host, { ...finished, "connection.mtls": false });
    request(host, { ...finished, "connection.mtls": true, "connection.uri_san_peer_certificate": "spiffe://td/ns/a/sa/b" });
    const labels = counters(host).map((entry) => extractTags(entry.name, ["source_principal", "connection_security_policy"]).labels);
    assert.deepEqual(labels, [
      { source_principal: "unknown", connection_security_policy: "mutual_tls" },
      { source_principal: "unknown", connection_security_policy: "none" },
      { source_principal: "spiffe://td/ns/a/sa/b", connection_security_policy: "mutual_tls" },
    ]);
  });

  it("derives the client-side labels from the Istio cluster name and the upstream certificate", async () => {
    const host = await start({ reporter: "source", workload: { name: "productpage-v1", namespace: "bookinfo", principal: "spiffe://cluster.local/ns/bookinfo/sa/productpage" } });
    request(host, {
      ...finished,
      "xds.cluster_name": "outbound|9080||reviews.bookinfo.svc.cluster.local",
      "upstream.uri_san_peer_certificate": "spiffe://cluster.local/ns/bookinfo/sa/reviews",
    }, { ":authority": "reviews:9080" });
    const labels = onlySeriesLabels(host);
    assert.equal(labels.reporter, "source");
    assert.equal(labels.source_workload, "productpage-v1");
    assert.equal(labels.source_workload_namespace, "bookinfo");
    assert.equal(labels.source_principal, "spiffe://cluster.local/ns/bookinfo/sa/productpage");
    assert.equal(labels.destination_workload, "unknown");
    assert.equal(labels.destination_workload_namespace, "bookinfo");
    assert.equal(labels.destination_service, "reviews.bookinfo.svc.cluster.local");
    assert.equal(labels.destination_service_name, "reviews");
    assert.equal(labels.connection_security_policy, "unknown");
  });

  it("falls back to the request authority without its port for the destination service", async () => {
    const host = await start({ reporter: "source" });
    request(host, { ...finished, "xds.cluster_name": "app" }, { ":authority": "api.example.com:8443" });
    const labels = onlySeriesLabels(host);
    assert.equal(labels.destination_service, "api.example.com");
    assert.equal(labels.destination_service_name, "api");
  });

  it("takes the reporter from the listener direction when the config does not name one", async () => {
    const host = await start({});
    request(host, { ...finished, "xds.listener_direction": 1n });
    request(host, { ...finished, "xds.listener_direction": 2n });
    const reporters = counters(host).map((entry) => extractTags(entry.name, ISTIO_STANDARD_LABELS).labels.reporter).sort();
    assert.deepEqual(reporters, ["destination", "source"]);
  });

  it("takes this workload's name and namespace from node metadata when the config has none", async () => {
    const host = await start({ reporter: "destination" }, {
      properties: { "xds.node.metadata.WORKLOAD_NAME": "details-v1", "xds.node.metadata.NAMESPACE": "bookinfo" },
    });
    request(host, finished);
    const labels = onlySeriesLabels(host);
    assert.equal(labels.destination_workload, "details-v1");
    assert.equal(labels.destination_workload_namespace, "bookinfo");
  });

  it("labels gRPC requests with request_protocol grpc and the grpc-status", async () => {
    const host = await start({ reporter: "destination" });
    request(host, { ...finished, "response.grpc_status": 14n }, { "content-type": "application/grpc+proto" });
    const labels = onlySeriesLabels(host);
    assert.equal(labels.request_protocol, "grpc");
    assert.equal(labels.grpc_response_status, "14");
  });

  it("names response flags a newer Envoy may add by their bit", async () => {
    const host = await start({ reporter: "destination", dimensions: ["response_flags"] });
    request(host, { ...finished, "response.flags": (1n << 8n) | (1n << 40n) });
    assert.deepEqual(onlySeriesLabels(host, ["response_flags"]), { response_flags: "NR,0x10000000000" });
  });
});

describe("metrics filter: unknown fallbacks", () => {
  it("labels every value Envoy does not provide as unknown, as Istio does", async () => {
    const host = await start({});
    const stream = host.newStream();
    stream.complete(); // no headers, no properties: e.g. a connection reset before anything arrived
    assert.deepEqual(onlySeriesLabels(host), {
      reporter: "unknown",
      source_workload: "unknown",
      source_workload_namespace: "unknown",
      source_principal: "unknown",
      destination_workload: "unknown",
      destination_workload_namespace: "unknown",
      destination_service: "unknown",
      destination_service_name: "unknown",
      request_protocol: "http",
      response_code: "unknown",
      response_flags: "unknown",
      grpc_response_status: "",
      connection_security_policy: "unknown",
    });
  });

  it("labels integer and flag properties of the wrong size as unknown, and keeps counting afterwards", async () => {
    const host = await start({ reporter: "destination", dimensions: ["response_code", "connection_security_policy"] });
    // A response code longer than the SDK's scratch buffer (read into a collected buffer) and a 2-byte mTLS flag.
    request(host, { ...finished, "response.code": new Uint8Array(40).fill(7), "connection.mtls": new Uint8Array([1, 1]) });
    for (let i = 0; i < 50; i++) request(host, finished);
    const labels = counters(host).map((entry) => [extractTags(entry.name, ["response_code", "connection_security_policy"]).labels, entry.value]);
    assert.deepEqual(labels, [
      [{ response_code: "unknown", connection_security_policy: "none" }, 1n],
      [{ response_code: "200", connection_security_policy: "none" }, 50n],
    ]);
  });

  it("labels a missing or empty extra header as unknown and a gRPC request without status as unknown", async () => {
    const host = await start({ reporter: "destination", dimensions: ["grpc_response_status"], extra_dimensions: [{ name: "tenant", request_header: "x-tenant" }] });
    request(host, finished, { "content-type": "application/grpc", "x-tenant": "" });
    assert.deepEqual(onlySeriesLabels(host, ["grpc_response_status", "tenant"]), { grpc_response_status: "unknown", tenant: "unknown" });
  });
});

describe("metrics filter: dimensions and extra dimensions", () => {
  it("emits only the configured dimensions, in the configured order, then the extra ones", async () => {
    const host = await start({
      reporter: "source",
      dimensions: ["response_code", "reporter"],
      extra_dimensions: [
        { name: "api_version", request_header: "X-Api-Version" },
        { name: "cache", response_header: "x-cache" },
        { name: "route", property: "xds.route_name" },
      ],
    });
    const stream = host.newStream({ ...finished, "xds.route_name": "reviews-route" });
    stream.sendRequestHeaders({ ":path": "/", "x-api-version": "v2" });
    stream.sendResponseHeaders({ ":status": "200", "x-cache": "HIT" });
    stream.complete();
    const [series] = counters(host);
    assert.equal(series.name,
      "response_code=.=200;.;reporter=.=source;.;api_version=.=v2;.;cache=.=HIT;.;route=.=reviews-route;.;istio_requests_total");
  });

  it("rewrites hostile header bytes so neither the stat name nor the exposition can be broken", async () => {
    const host = await start({ reporter: "destination", dimensions: ["response_code"], extra_dimensions: [{ name: "tenant", request_header: "x-tenant" }], max_value_length: 32 });
    const hostile = [
      'a"b\\c',
      "line\nbreak\r\n# TYPE fake counter",
      "x;.;response_code=.=999;.;y",
      "caf\u00e9 \u2603",
      "z".repeat(10_000),
      "trailing...",
    ];
    for (const value of hostile) request(host, finished, { "x-tenant": value });
    const tenants = counters(host).map((entry) => {
      const extracted = extractTags(entry.name, ["response_code", "tenant"]);
      assert.equal(extracted.name, "istio_requests_total", entry.name);
      assert.equal(extracted.labels.response_code, "200", entry.name);
      assert.match(extracted.labels.tenant, /^[A-Za-z0-9_\-./:@+~*]{1,32}$/);
      return extracted.labels.tenant;
    });
    assert.deepEqual(tenants, [
      "a_b_c",
      "line_break____TYPE_fake_counter",
      "x_._response_code_._999_._y",
      "caf______", // é is 2 UTF-8 bytes, the space 1, the snowman 3
      "z".repeat(32),
      "trailing", // Envoy drops a trailing dot from a tag value, so the filter does first
    ].map((value) => value.slice(0, 32)));
  });
});

describe("metrics filter: cardinality cap", () => {
  const capped: MetricsFilterConfig = { reporter: "destination", dimensions: ["response_code"], extra_dimensions: [{ name: "user", request_header: "x-user" }], max_label_sets: 3 };

  it("sends new label sets past max_label_sets to the other series and counts them", async () => {
    const host = await start(capped);
    for (let i = 0; i < 5; i++) request(host, finished, { "x-user": `user-${i}` });
    request(host, finished, { "x-user": "user-0" });
    const series = counters(host).map((entry) => [extractTags(entry.name, ["response_code", "user"]).labels, Number(entry.value)]);
    assert.deepEqual(series, [
      [{ response_code: "200", user: "user-0" }, 2],
      [{ response_code: "200", user: "user-1" }, 1],
      [{ response_code: "200", user: "user-2" }, 1],
      [{ response_code: "other", user: "other" }, 2],
    ]);
    assert.equal(host.metricValue("as_mesh_metrics_overflow_total"), 2);
    assert.equal(host.metricValue("as_mesh_metrics_label_sets"), 3);
    assert.ok(host.logs.some((entry) => entry.message.includes("reached max_label_sets (3)")));
  });

  it("records the overflow series' histograms too", async () => {
    const host = await start({ ...capped, max_label_sets: 1 });
    request(host, finished, { "x-user": "a" });
    request(host, finished, { "x-user": "b" });
    const overflow = host.metrics.find((entry) => entry.name === "response_code=.=other;.;user=.=other;.;istio_response_bytes");
    assert.deepEqual(overflow?.samples, [1450n]);
  });

  it("holds one cap across VMs sharing data, as Envoy's worker threads do", async () => {
    const sharedData = new SharedDataStore();
    const first = await start(capped, { sharedData });
    const second = await start(capped, { sharedData });
    request(first, finished, { "x-user": "a" });
    request(first, finished, { "x-user": "b" });
    request(second, finished, { "x-user": "a" }); // admitted by the first VM: does not use up the cap
    request(second, finished, { "x-user": "c" });
    request(second, finished, { "x-user": "d" }); // the fourth distinct set
    request(first, finished, { "x-user": "e" });
    const users = (host: HostEmulator) => counters(host).map((entry) => extractTags(entry.name, ["response_code", "user"]).labels.user);
    assert.deepEqual(users(first), ["a", "b", "other"]);
    assert.deepEqual(users(second), ["a", "c", "other"]);
  });

  it("retries the shared count when another worker updates it concurrently", async () => {
    const sharedData = new SharedDataStore();
    const host = await start(capped, { sharedData });
    const other = await start(capped, { sharedData });
    let injected = false;
    sharedData.beforeSet = (key) => {
      // Between this VM's read and its compare-and-swap write, another worker admits its own label set.
      if (injected || !key.endsWith("label-sets")) return;
      injected = true;
      request(other, finished, { "x-user": "from-other-worker" });
    };
    request(host, finished, { "x-user": "mine" });
    sharedData.beforeSet = undefined;
    assert.ok(injected);
    const count = sharedData.keys().find((key) => key.endsWith("/label-sets"));
    assert.equal(new TextDecoder().decode(sharedData.get(count!)!.value), "2");
    assert.equal(counters(host).length, 1);
    request(host, finished, { "x-user": "third" });
    request(host, finished, { "x-user": "fourth" }); // past the cap of 3 admitted by both VMs together
    assert.equal(host.metricValue("as_mesh_metrics_overflow_total"), 1);
  });

  it("keeps separate caps for separately named filter configurations", async () => {
    const sharedData = new SharedDataStore();
    const inbound = await HostEmulator.start(wasm, { pluginConfiguration: { ...capped, max_label_sets: 1 }, rootId: "inbound-metrics", sharedData });
    const outbound = await HostEmulator.start(wasm, { pluginConfiguration: { ...capped, max_label_sets: 1 }, rootId: "outbound-metrics", sharedData });
    request(inbound, finished, { "x-user": "a" });
    request(outbound, finished, { "x-user": "b" });
    assert.equal(inbound.metricValue("as_mesh_metrics_overflow_total"), 0);
    assert.equal(outbound.metricValue("as_mesh_metrics_overflow_total"), 0);
  });
});

describe("metrics filter: histograms and bucketing", () => {
  it("records duration in whole milliseconds and the request and response sizes, per series", async () => {
    const host = await start({ reporter: "destination", dimensions: ["response_code"] });
    request(host, { ...finished, "request.duration": 12_700_000n });
    request(host, { ...finished, "request.duration": 250_000n, "request.total_size": 90n, "response.total_size": 20n });
    request(host, { ...finished, "response.code": 404n, "request.duration": 3_000_000_000n });
    const samples = (metric: string, code: string) => host.metric(`response_code=.=${code};.;${metric}`)?.samples;
    assert.deepEqual(samples("istio_request_duration_milliseconds", "200"), [12n, 0n]);
    assert.deepEqual(samples("istio_request_bytes", "200"), [310n, 90n]);
    assert.deepEqual(samples("istio_response_bytes", "200"), [1450n, 20n]);
    assert.deepEqual(samples("istio_request_duration_milliseconds", "404"), [3000n]);
    assert.equal(host.metricValue("response_code=.=200;.;istio_requests_total"), 2);
  });

  it("skips a histogram whose measurement Envoy did not provide, still counting the request", async () => {
    const host = await start({ reporter: "destination", dimensions: ["response_code"] });
    request(host, { "response.code": 200n });
    assert.equal(host.metricValue("response_code=.=200;.;istio_requests_total"), 1);
    assert.deepEqual(host.metric("response_code=.=200;.;istio_request_duration_milliseconds")?.samples, []);
  });

  it("renders configured buckets into bootstrap rules that match exactly the filter's histograms", async () => {
    const config: MetricsFilterConfig = {
      reporter: "destination",
      histogram_buckets: { istio_request_duration_milliseconds: [1, 10, 100, 1000], istio_response_bytes: [256, 4096] },
    };
    const host = await start(config);
    request(host, finished);
    const rules = statsConfigForIstioMetrics(config).histogramBucketSettings as Array<{ match: { suffix: string }; buckets: number[] }>;
    assert.deepEqual(rules.map((rule) => [rule.match.suffix, rule.buckets]), [
      ["istio_request_duration_milliseconds", [1, 10, 100, 1000]],
      ["istio_response_bytes", [256, 4096]],
    ]);
    // Envoy matches the rules against full stat names: each must select its histogram and nothing else defined.
    for (const rule of rules) {
      const matched = host.metrics.filter((entry) => entry.name.endsWith(rule.match.suffix));
      assert.equal(matched.length, 1, rule.match.suffix);
      assert.equal(matched[0].type, MetricType.Histogram);
    }
  });

  it("refuses bucket lists Envoy could not use", async () => {
    for (const [buckets, message] of [
      [{ istio_request_bytes: [10, 5] }, "histogram_buckets.istio_request_bytes[1] must be greater than the bound before it"],
      [{ istio_request_bytes: [] }, "histogram_buckets.istio_request_bytes must be an array of 1 to 64 bucket bounds"],
      [{ istio_request_bytes: [0, 1] }, "histogram_buckets.istio_request_bytes[0] must be a positive number"],
      [{ istio_requests_total: [1] }, "histogram_buckets.istio_requests_total is not a known field"],
    ] as const) {
      const host = await HostEmulator.load(wasm, { pluginConfiguration: { histogram_buckets: buckets }, rootId: "metrics" });
      assert.equal(host.configure(), false, message);
      assert.ok(host.logs.some((entry) => entry.message.startsWith(`metrics: ${message}`)), host.logs.map((entry) => entry.message).join("\n"));
    }
  });
});

describe("metrics filter: configuration errors", () => {
  const cases: Array<[string, unknown, string]> = [
    ["not JSON", "{reporter: source}", "metrics: configuration is not valid JSON"],
    ["not an object", "[1]", "metrics: configuration must be a JSON object"],
    ["an unknown field", { reportr: "source" }, "metrics: reportr is not a known field"],
    ["an unknown reporter", { reporter: "client" }, "metrics: reporter must be \"source\" or \"destination\""],
    ["an unknown dimension", { dimensions: ["reporter", "source_app"] }, "metrics: dimensions[1] must be one of Istio's labels"],
    ["a repeated dimension", { dimensions: ["reporter", "reporter"] }, "metrics: dimensions[1] repeats \"reporter\""],
    ["an invalid extra label name", { extra_dimensions: [{ name: "api-version", request_header: "x-api" }] }, "metrics: extra_dimensions[0].name must be a Prometheus label name"],
    ["a reserved extra label name", { extra_dimensions: [{ name: "le", request_header: "x-le" }] }, "metrics: extra_dimensions[0].name must be a Prometheus label name"],
    ["an extra label named like an Istio one", { extra_dimensions: [{ name: "reporter", request_header: "x-r" }] }, "metrics: extra_dimensions[0].name \"reporter\" is one of Istio's labels"],
    ["an extra label without a source", { extra_dimensions: [{ name: "tenant" }] }, "metrics: extra_dimensions[0] must have exactly one of request_header, response_header, property"],
    ["an extra label with two sources", { extra_dimensions: [{ name: "tenant", request_header: "x-t", property: "a.b" }] }, "metrics: extra_dimensions[0] must have exactly one of"],
    ["a header name with a space", { extra_dimensions: [{ name: "tenant", request_header: "x tenant" }] }, "metrics: extra_dimensions[0].request_header must be an HTTP header name"],
    ["an extra label the tag regex of another would match", { extra_dimensions: [{ name: "namespace", request_header: "x-ns" }] }, "metrics: extra_dimensions[0].name \"namespace\" cannot be used with \"source_workload_namespace\""],
    ["a zero cap", { max_label_sets: 0 }, "metrics: max_label_sets must be an integer from 1 to 100000"],
    ["a fractional cap", { max_label_sets: 2.5 }, "metrics: max_label_sets must be an integer from 1 to 100000"],
    ["a tiny value length", { max_value_length: 2 }, "metrics: max_value_length must be an integer from 8 to 1024"],
    ["an empty workload name", { workload: { name: "" } }, "metrics: workload.name must be a non-empty string"],
    ["an unknown workload field", { workload: { app: "x" } }, "metrics: workload.app is not a known field"],
  ];
  for (const [what, configuration, message] of cases) {
    it(`refuses ${what}, naming the field`, async () => {
      const host = await HostEmulator.load(wasm, { pluginConfiguration: configuration as string | object, rootId: "metrics" });
      assert.equal(host.configure(), false);
      assert.ok(host.logs.some((entry) => entry.message.startsWith(message)), host.logs.map((entry) => entry.message).join("\n"));
    });
  }

  it("accepts an empty configuration: all of Istio's labels, no extras", async () => {
    const host = await start("" as unknown as MetricsFilterConfig);
    request(host, finished);
    assert.deepEqual(Object.keys(onlySeriesLabels(host)), [...ISTIO_STANDARD_LABELS]);
  });

  it("reports every problem of a configuration, not just the first", async () => {
    const host = await HostEmulator.load(wasm, { pluginConfiguration: { reporter: "x", max_label_sets: -1 }, rootId: "metrics" });
    assert.equal(host.configure(), false);
    const messages = host.logs.map((entry) => entry.message);
    assert.ok(messages.some((message) => message.startsWith("metrics: reporter")));
    assert.ok(messages.some((message) => message.startsWith("metrics: max_label_sets")));
  });
});
