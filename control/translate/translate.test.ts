// translateProxy and friends, checked against the proto3 JSON they produce. Every resource of every case must also
// pack into its xDS message (packResource throws on an unknown field or a wrong type).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { packResource, TypeUrl } from "../api/index.ts";
import { parseYaml, validateMesh, type MeshConfig } from "../config/index.ts";
import {
  parseNodeMetadata, proxyGroupKey, resourcesByTypeUrl, sidecarBootstrap, translateProxy, translateProxyParts, workloadInstanceOf,
  type EnvoyResources, type ProxyInfo, type TranslateContext,
} from "./index.ts";

function meshOf(yaml: string): MeshConfig {
  const { documents, errors } = parseYaml(yaml, "test.yaml");
  assert.deepEqual(errors, []);
  const result = validateMesh(documents);
  assert.deepEqual(result.errors, [], "the test mesh is valid");
  return result.mesh!;
}

function sidecar(overrides: Partial<ProxyInfo> = {}): ProxyInfo {
  return {
    id: "sidecar~127.0.0.20~productpage.default~default.svc.cluster.local", type: "sidecar", namespace: "default",
    labels: { app: "productpage" }, serviceAccount: "productpage", ip: "127.0.0.20", workloadName: "productpage",
    inboundPorts: {}, appPorts: {}, listenAddress: "127.0.0.1", listenPorts: {}, metadata: {}, ...overrides,
  };
}

const SHA = "0123456789abcdef".repeat(4);
const context: TranslateContext = {
  registeredWorkloads: [],
  wasmModules: {
    metrics: { url: "http://127.0.0.1:15014/wasm/metrics.wasm", sha256: SHA },
    "rate-limit": { url: "http://127.0.0.1:15014/wasm/rate-limit.wasm", sha256: SHA },
    "jwt-auth": { url: "http://127.0.0.1:15014/wasm/jwt-auth.wasm", sha256: SHA },
  },
};

function translate(mesh: MeshConfig, proxy: ProxyInfo, ctx: TranslateContext = context): EnvoyResources {
  const resources = translateProxy(mesh, proxy, ctx);
  for (const [typeUrl, byName] of Object.entries(resourcesByTypeUrl(resources))) {
    for (const [name, json] of byName) {
      assert.doesNotThrow(() => packResource(typeUrl, json), `${name} packs as ${typeUrl}`);
    }
  }
  return resources;
}

type Node = Record<string, unknown>;
/** The connection manager of a listener's first (or named) filter chain. */
function hcm(resources: EnvoyResources, listener: string, chain = 0): Node {
  const found = resources.listeners.get(listener);
  assert.ok(found, `listener ${listener} exists (have ${[...resources.listeners.keys()].join(", ")})`);
  return found.filterChains![chain]!.filters![0]!.typedConfig as Node;
}
function filterNames(manager: Node): string[] {
  return (manager.httpFilters as Node[]).map((filter) => filter.name as string);
}
function virtualHost(resources: EnvoyResources, route: string, name: string): Node {
  const config = resources.routes.get(route);
  assert.ok(config, `route ${route} exists`);
  const found = config.virtualHosts!.find((host) => host.name === name);
  assert.ok(found, `virtual host ${name} exists (have ${config.virtualHosts!.map((host) => host.name).join(", ")})`);
  return found as Node;
}

const REVIEWS = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews.default.svc.cluster.local]
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  resolution: STATIC
  workloadSelector: { labels: { app: reviews } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: reviews-v1, namespace: default }
spec: { address: 127.0.0.11, labels: { app: reviews, version: v1 }, serviceAccount: reviews }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: reviews-v2, namespace: default }
spec: { address: 127.0.0.12, ports: { http: 19080 }, labels: { app: reviews, version: v2 }, serviceAccount: reviews }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ratings, namespace: shop }
spec:
  hosts: [ratings.shop.svc.cluster.local]
  ports: [{ number: 9080, name: http }, { number: 9090, name: grpc, protocol: GRPC }]
  resolution: STATIC
  endpoints: [{ address: 127.0.0.13, labels: { app: ratings } }]
`;

const REVIEWS_RULES = `
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
    connectionPool:
      tcp: { maxConnections: 10, connectTimeout: 250ms }
      http: { http1MaxPendingRequests: 1, http2MaxRequests: 20, maxRequestsPerConnection: 5, maxRetries: 2 }
    outlierDetection: { consecutive5xxErrors: 3, consecutiveGatewayErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 50 }
  subsets:
  - { name: v1, labels: { version: v1 } }
  - name: v2
    labels: { version: v2 }
    trafficPolicy: { loadBalancer: { simple: RANDOM }, connectionPool: { tcp: { maxConnections: 1 } } }
`;

describe("translateProxy: sidecar outbound", () => {
  it("gives each HTTP service port a loopback listener that takes its routes over RDS, named as Istio names them", () => {
    const resources = translate(meshOf(REVIEWS), sidecar());
    assert.deepEqual([...resources.listeners.keys()].sort(), ["127.0.0.1_9080", "127.0.0.1_9090"]);
    const listener = resources.listeners.get("127.0.0.1_9080")!;
    assert.deepEqual(listener.address, { socketAddress: { address: "127.0.0.1", portValue: 9080 } });
    assert.equal(listener.trafficDirection, "OUTBOUND");
    assert.deepEqual((hcm(resources, "127.0.0.1_9080").rds as Node).routeConfigName, "9080");
    assert.deepEqual([...resources.routes.keys()].sort(), ["9080", "9090"]);
  });

  it("binds the listeners where LISTEN_ADDRESS and LISTEN_PORTS say, so several proxies can share a host", () => {
    const resources = translate(meshOf(REVIEWS), sidecar({ listenAddress: "127.0.0.20", listenPorts: { "*": 0, "9090": 19090 } }));
    assert.deepEqual(resources.listeners.get("127.0.0.20_9080")!.address, { socketAddress: { address: "127.0.0.20", portValue: 0 } });
    assert.deepEqual(resources.listeners.get("127.0.0.20_9090")!.address, { socketAddress: { address: "127.0.0.20", portValue: 19090 } });
  });

  it("names clusters outbound|port|subset|host and gets their endpoints over EDS from WorkloadEntries", () => {
    const resources = translate(meshOf(REVIEWS + REVIEWS_RULES), sidecar());
    assert.deepEqual([...resources.clusters.keys()], [
      "outbound|9080||reviews.default.svc.cluster.local",
      "outbound|9080|v1|reviews.default.svc.cluster.local",
      "outbound|9080|v2|reviews.default.svc.cluster.local",
      "outbound|9080||ratings.shop.svc.cluster.local",
      "outbound|9090||ratings.shop.svc.cluster.local",
    ]);
    const cluster = resources.clusters.get("outbound|9080|v1|reviews.default.svc.cluster.local")!;
    assert.equal(cluster.type, "EDS");
    assert.deepEqual(cluster.edsClusterConfig, { edsConfig: { ads: {}, resourceApiVersion: "V3" }, serviceName: "outbound|9080|v1|reviews.default.svc.cluster.local" });
    const addresses = (name: string) => resources.endpoints.get(name)!.endpoints!.flatMap((locality) =>
      locality.lbEndpoints!.map((lb) => `${lb.endpoint!.address!.socketAddress!.address}:${lb.endpoint!.address!.socketAddress!.portValue}`));
    assert.deepEqual(addresses("outbound|9080||reviews.default.svc.cluster.local"), ["127.0.0.11:9080", "127.0.0.12:19080"]);
    assert.deepEqual(addresses("outbound|9080|v1|reviews.default.svc.cluster.local"), ["127.0.0.11:9080"]);
    assert.deepEqual(addresses("outbound|9080|v2|reviews.default.svc.cluster.local"), ["127.0.0.12:19080"]);
    assert.deepEqual(addresses("outbound|9080||ratings.shop.svc.cluster.local"), ["127.0.0.13:9080"]);
  });

  it("hides services and VirtualServices from namespaces their exportTo leaves out", () => {
    const mesh = meshOf(REVIEWS.replace("  resolution: STATIC\n  endpoints:", "  resolution: STATIC\n  exportTo: [.]\n  endpoints:") + `
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews-private, namespace: default }
spec:
  hosts: [reviews]
  exportTo: [.]
  http: [{ route: [{ destination: { host: reviews, subset: v1 } }] }]
`);
    const fromDefault = translate(mesh, sidecar());
    assert.ok(!fromDefault.clusters.has("outbound|9080||ratings.shop.svc.cluster.local"), "ratings is exported to shop only");
    assert.equal(((virtualHost(fromDefault, "9080", "reviews.default.svc.cluster.local:9080").routes as Node[])[0]!.route as Node).cluster,
      "outbound|9080|v1|reviews.default.svc.cluster.local");
    const fromShop = translate(mesh, sidecar({ namespace: "shop" }));
    assert.ok(fromShop.clusters.has("outbound|9080||ratings.shop.svc.cluster.local"));
    assert.equal(((virtualHost(fromShop, "9080", "reviews.default.svc.cluster.local:9080").routes as Node[])[0]!.route as Node).cluster,
      "outbound|9080||reviews.default.svc.cluster.local", "the private VirtualService does not apply in shop");
  });

  it("proxies a TCP port to its one service, and says which services a shared TCP port cannot reach", () => {
    const mesh = meshOf(REVIEWS + `
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: db, namespace: default }
spec:
  hosts: [db.default.svc.cluster.local]
  ports: [{ number: 5432, name: tcp, protocol: TCP }]
  resolution: STATIC
  endpoints: [{ address: 127.0.0.14 }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: replica, namespace: default }
spec:
  hosts: [replica.default.svc.cluster.local]
  ports: [{ number: 5432, name: tcp, protocol: TCP }]
  resolution: STATIC
  endpoints: [{ address: 127.0.0.15 }]
`);
    const resources = translate(mesh, sidecar());
    const filter = resources.listeners.get("127.0.0.1_5432")!.filterChains![0]!.filters![0]!;
    assert.deepEqual(filter, {
      name: "envoy.filters.network.tcp_proxy",
      typedConfig: { "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", statPrefix: "outbound_5432", cluster: "outbound|5432||db.default.svc.cluster.local" },
    });
    assert.ok(resources.clusters.has("outbound|5432||replica.default.svc.cluster.local"));
    assert.deepEqual(resources.warnings.map((warning) => warning.path), ["ServiceEntry/default/replica"]);
  });

  it("speaks HTTP/2 upstream to GRPC and HTTP2 ports", () => {
    const resources = translate(meshOf(REVIEWS), sidecar());
    const options = (name: string) => (resources.clusters.get(name)!.typedExtensionProtocolOptions!["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"] as Node).explicitHttpConfig;
    assert.deepEqual(options("outbound|9090||ratings.shop.svc.cluster.local"), { http2ProtocolOptions: {} });
    assert.deepEqual(options("outbound|9080||ratings.shop.svc.cluster.local"), { httpProtocolOptions: {} });
  });

  it("makes registered workloads endpoints of the services whose selector and subset they match", () => {
    const mesh = meshOf(REVIEWS + REVIEWS_RULES);
    const registered = workloadInstanceOf(sidecar({ ip: "127.0.0.30", labels: { app: "reviews", version: "v2" }, inboundPorts: { http: 29080 } }));
    const elsewhere = { ...registered, namespace: "shop", address: "127.0.0.31" };
    const resources = translate(mesh, sidecar(), { ...context, registeredWorkloads: [registered, elsewhere] });
    const addresses = (name: string) => resources.endpoints.get(name)!.endpoints!.flatMap((locality) =>
      locality.lbEndpoints!.map((lb) => `${lb.endpoint!.address!.socketAddress!.address}:${lb.endpoint!.address!.socketAddress!.portValue}`));
    assert.deepEqual(addresses("outbound|9080|v2|reviews.default.svc.cluster.local"), ["127.0.0.12:19080", "127.0.0.30:29080"]);
    assert.deepEqual(addresses("outbound|9080|v1|reviews.default.svc.cluster.local"), ["127.0.0.11:9080"]);
  });

  it("gives a service without VirtualService a catch-all route with Istio's default retries and no timeout", () => {
    const resources = translate(meshOf(REVIEWS), sidecar());
    const host = virtualHost(resources, "9080", "reviews.default.svc.cluster.local:9080");
    assert.deepEqual(host.routes, [{
      name: "default",
      match: { prefix: "/" },
      route: {
        cluster: "outbound|9080||reviews.default.svc.cluster.local",
        timeout: "0s",
        retryPolicy: { numRetries: 2, retryOn: "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes", retriableStatusCodes: [503], hostSelectionRetryMaxAttempts: "5" },
      },
    }]);
  });

  it("answers for short host names only within the service's namespace", () => {
    const resources = translate(meshOf(REVIEWS), sidecar());
    assert.deepEqual(virtualHost(resources, "9080", "reviews.default.svc.cluster.local:9080").domains, [
      "reviews.default.svc.cluster.local", "reviews.default.svc.cluster.local:9080", "reviews.default.svc", "reviews.default.svc:9080",
      "reviews.default", "reviews.default:9080", "reviews", "reviews:9080",
    ]);
    assert.ok(!(virtualHost(resources, "9080", "ratings.shop.svc.cluster.local:9080").domains as string[]).includes("ratings"));
  });

  it("puts the metrics filter (reporter source) and the fault filter before the router, the Wasm one by ECDS", () => {
    const resources = translate(meshOf(REVIEWS), sidecar());
    const manager = hcm(resources, "127.0.0.1_9080");
    assert.deepEqual(filterNames(manager), ["as-mesh.metrics.source", "envoy.filters.http.fault", "envoy.filters.http.router"]);
    assert.equal(manager.normalizePath, true, "paths are normalised before routes and filters see them (Istio's BASE)");
    const metrics = (manager.httpFilters as Node[])[0]!;
    assert.deepEqual(metrics.configDiscovery, {
      configSource: { ads: {}, resourceApiVersion: "V3", initialFetchTimeout: "30s" },
      applyDefaultConfigWithoutWarming: false,
      typeUrls: ["type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"],
    });
    const config = resources.extensionConfigs.get("as-mesh.metrics.source")!.typedConfig as Node;
    const plugin = config.config as Node;
    assert.deepEqual((plugin.configuration as Node).value, JSON.stringify({ reporter: "source" }));
    assert.equal(plugin.failOpen, true);
    assert.deepEqual(((plugin.vmConfig as Node).code as Node).remote, {
      httpUri: { uri: "http://127.0.0.1:15014/wasm/metrics.wasm", cluster: "as-mesh-control-http", timeout: "10s" },
      sha256: SHA,
      retryPolicy: { numRetries: 5, retryBackOff: { baseInterval: "0.5s", maxInterval: "5s" } },
    });
  });
});

describe("translateProxy: VirtualService routes", () => {
  const routes = (vs: string, proxy = sidecar()) => {
    const resources = translate(meshOf(REVIEWS + REVIEWS_RULES + "\n---\n" + vs), proxy);
    return { resources, routes: virtualHost(resources, "9080", "reviews.default.svc.cluster.local:9080").routes as Node[] };
  };

  it("translates uri prefix, exact and regex, header and query matches, in order", () => {
    const { routes: translated } = routes(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - name: exact
    match: [{ uri: { exact: /health }, method: { exact: GET } }]
    route: [{ destination: { host: reviews, subset: v1 } }]
  - match: [{ uri: { regex: "/items/[0-9]+" }, headers: { x-user: { prefix: ad } }, withoutHeaders: { x-debug: { exact: "1" } } }, { queryParams: { v: { exact: "2" } }, ignoreUriCase: true }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - route: [{ destination: { host: reviews } }]
`);
    assert.deepEqual(translated.map((route) => route.match), [
      { path: "/health", headers: [{ name: ":method", stringMatch: { exact: "GET" } }] },
      { safeRegex: { regex: "/items/[0-9]+" }, headers: [{ name: "x-user", stringMatch: { prefix: "ad" } }, { name: "x-debug", stringMatch: { exact: "1" }, invertMatch: true }] },
      { prefix: "/", caseSensitive: false, queryParameters: [{ name: "v", stringMatch: { exact: "2" } }] },
      { prefix: "/" },
    ]);
    assert.equal(translated[0]!.name, "exact");
    assert.equal((translated[0]!.route as Node).cluster, "outbound|9080|v1|reviews.default.svc.cluster.local");
    assert.equal((translated[3]!.route as Node).cluster, "outbound|9080||reviews.default.svc.cluster.local");
  });

  it("splits traffic by weight across subsets (a 90/10 canary)", () => {
    const { routes: translated } = routes(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - route:
    - { destination: { host: reviews, subset: v1 }, weight: 90 }
    - { destination: { host: reviews, subset: v2 }, weight: 10, headers: { request: { set: { x-canary: "true" } } } }
`);
    assert.deepEqual((translated[0]!.route as Node).weightedClusters, {
      clusters: [
        { name: "outbound|9080|v1|reviews.default.svc.cluster.local", weight: 90 },
        { name: "outbound|9080|v2|reviews.default.svc.cluster.local", weight: 10, requestHeadersToAdd: [{ header: { key: "x-canary", value: "true" }, appendAction: "OVERWRITE_IF_EXISTS_OR_ADD" }] },
      ],
    });
  });

  it("drops zero-weight destinations, leaving a plain cluster route at 100/0", () => {
    const { routes: translated } = routes(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - route:
    - { destination: { host: reviews, subset: v1 }, weight: 100 }
    - { destination: { host: reviews, subset: v2 }, weight: 0 }
`);
    assert.equal((translated[0]!.route as Node).cluster, "outbound|9080|v1|reviews.default.svc.cluster.local");
  });

  it("translates timeout, retries (status codes into retriable_status_codes), headers, mirrors and faults", () => {
    const { routes: translated } = routes(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - route: [{ destination: { host: reviews, subset: v1 } }]
    timeout: 1.5s
    retries: { attempts: 3, perTryTimeout: 500ms, retryOn: "gateway-error,502,reset" }
    headers:
      request: { set: { x-a: "1" }, add: { x-b: "2" }, remove: [x-c] }
      response: { set: { x-d: "4" }, remove: [server] }
    mirror: { host: ratings.shop.svc.cluster.local }
    mirrorPercentage: { value: 12.5 }
    fault:
      delay: { fixedDelay: 2s, percentage: { value: 0.1 } }
      abort: { httpStatus: 418, percentage: { value: 10 } }
`);
    const route = translated[0]!;
    const action = route.route as Node;
    assert.equal(action.timeout, "1.500s");
    assert.deepEqual(action.retryPolicy, { numRetries: 3, retriableStatusCodes: [502], retryOn: "gateway-error,reset,retriable-status-codes", hostSelectionRetryMaxAttempts: "5", perTryTimeout: "0.500s" });
    assert.deepEqual(action.requestMirrorPolicies, [{ cluster: "outbound|9080||ratings.shop.svc.cluster.local", runtimeFraction: { defaultValue: { numerator: 125000, denominator: "MILLION" } } }]);
    assert.deepEqual(route.requestHeadersToAdd, [
      { header: { key: "x-a", value: "1" }, appendAction: "OVERWRITE_IF_EXISTS_OR_ADD" },
      { header: { key: "x-b", value: "2" }, appendAction: "APPEND_IF_EXISTS_OR_ADD" },
    ]);
    assert.deepEqual(route.requestHeadersToRemove, ["x-c"]);
    assert.deepEqual(route.responseHeadersToRemove, ["server"]);
    assert.deepEqual(route.typedPerFilterConfig, {
      "envoy.filters.http.fault": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
        delay: { fixedDelay: "2s", percentage: { numerator: 1000, denominator: "MILLION" } },
        abort: { httpStatus: 418, percentage: { numerator: 100000, denominator: "MILLION" } },
      },
    });
  });

  it("turns off retries with attempts 0 and keeps Istio's retry_on when only attempts are given", () => {
    const { routes: translated } = routes(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ uri: { prefix: /none } }]
    route: [{ destination: { host: reviews } }]
    retries: { attempts: 0 }
  - match: [{ uri: { prefix: /five } }]
    route: [{ destination: { host: reviews } }]
    retries: { attempts: 5 }
  - route: [{ destination: { host: reviews } }]
    retries: { attempts: 1, retryOn: gateway-error }
`);
    assert.equal((translated[0]!.route as Node).retryPolicy, undefined);
    assert.deepEqual((translated[1]!.route as Node).retryPolicy, {
      numRetries: 5, retriableStatusCodes: [503], retryOn: "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes", hostSelectionRetryMaxAttempts: "5",
    });
    assert.deepEqual((translated[2]!.route as Node).retryPolicy, {
      numRetries: 1, retryOn: "gateway-error", hostSelectionRetryMaxAttempts: "5",
    }, "a retryOn without status codes drops the default 503");
  });

  it("translates redirects, rewrites and direct responses", () => {
    const { routes: translated } = routes(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ uri: { prefix: /old } }]
    redirect: { uri: /new, authority: example.com, redirectCode: 308 }
  - match: [{ uri: { prefix: /v1/ } }]
    rewrite: { uri: /, authority: reviews.internal }
    route: [{ destination: { host: reviews } }]
  - match: [{ uri: { exact: /teapot } }]
    directResponse: { status: 418, body: { string: short and stout } }
`);
    assert.deepEqual(translated[0]!.redirect, { pathRedirect: "/new", hostRedirect: "example.com", responseCode: "PERMANENT_REDIRECT" });
    assert.equal((translated[1]!.route as Node).prefixRewrite, "/");
    assert.equal((translated[1]!.route as Node).hostRewriteLiteral, "reviews.internal");
    assert.deepEqual(translated[2]!.directResponse, { status: 418, body: { inlineString: "short and stout" } });
  });

  it("joins a single destination's headers to the route's, turns a set Host into a host rewrite, and stops after a catch-all", () => {
    const { routes: translated } = routes(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ uri: { prefix: /moved } }]
    redirect: { uri: /new, derivePort: FROM_REQUEST_PORT }
  - headers: { request: { set: { x-route: r } } }
    route:
    - destination: { host: reviews, subset: v1 }
      headers: { request: { set: { x-dest: d, host: reviews.internal } } }
  - route: [{ destination: { host: reviews, subset: v2 } }]
`);
    assert.equal(translated.length, 2, "the route after the catch-all is not sent");
    assert.deepEqual(translated[0]!.redirect, { pathRedirect: "/new", portRedirect: 9080, responseCode: "MOVED_PERMANENTLY" });
    assert.deepEqual(translated[1]!.requestHeadersToAdd, [
      { header: { key: "x-route", value: "r" }, appendAction: "OVERWRITE_IF_EXISTS_OR_ADD" },
      { header: { key: "x-dest", value: "d" }, appendAction: "OVERWRITE_IF_EXISTS_OR_ADD" },
    ]);
    assert.equal((translated[1]!.route as Node).hostRewriteLiteral, "reviews.internal");
  });

  it("keeps routes to unknown subsets and hosts (they answer 503 until defined) and warns", () => {
    const { routes: translated, resources } = routes(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ uri: { prefix: /v3 } }]
    route: [{ destination: { host: reviews, subset: v3 } }]
  - route: [{ destination: { host: nowhere.example.com, port: { number: 80 } } }]
`);
    assert.equal((translated[0]!.route as Node).cluster, "outbound|9080|v3|reviews.default.svc.cluster.local");
    assert.ok(!resources.clusters.has("outbound|9080|v3|reviews.default.svc.cluster.local"));
    assert.equal((translated[1]!.route as Node).cluster, "outbound|80||nowhere.example.com");
    assert.deepEqual(resources.warnings.map((warning) => warning.path), [
      "VirtualService/default/reviews.http[0].route[0].destination",
      "VirtualService/default/reviews.http[1].route[0].destination",
    ]);
    assert.equal(resources.routes.get("9080")!.validateClusters, false);
  });

  it("binds a VirtualService with a wildcard host to the services it covers, an exact host taking precedence", () => {
    const { routes: translated, resources } = routes(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: everything, namespace: default }
spec:
  hosts: ["*.svc.cluster.local"]
  http: [{ route: [{ destination: { host: reviews, subset: v2 } }], timeout: 7s }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http: [{ route: [{ destination: { host: reviews, subset: v1 } }] }]
`);
    assert.equal((translated[0]!.route as Node).cluster, "outbound|9080|v1|reviews.default.svc.cluster.local");
    const ratings = virtualHost(resources, "9080", "ratings.shop.svc.cluster.local:9080").routes as Node[];
    assert.equal((ratings[0]!.route as Node).timeout, "7s");
  });

  it("gives a VirtualService host that is no service a virtual host on every outbound port", () => {
    const { resources } = routes(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: legacy, namespace: default }
spec:
  hosts: [legacy.example.com]
  http: [{ route: [{ destination: { host: reviews, subset: v1 } }] }]
`);
    for (const port of ["9080", "9090"]) {
      const host = virtualHost(resources, port, `legacy.example.com:${port}`);
      assert.deepEqual(host.domains, ["legacy.example.com", `legacy.example.com:${port}`]);
      assert.equal(((host.routes as Node[])[0]!.route as Node).cluster, "outbound|9080|v1|reviews.default.svc.cluster.local");
    }
  });

  it("applies only matches for this port and source, and leaves gateway-only VirtualServices off sidecars", () => {
    const { routes: translated } = routes(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ port: 9999 }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - match: [{ sourceLabels: { app: other } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - match: [{ sourceLabels: { app: productpage } }]
    route: [{ destination: { host: reviews, subset: v1 } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: edge, namespace: default }
spec:
  hosts: [ratings.shop.svc.cluster.local]
  gateways: [edge]
  http: [{ route: [{ destination: { host: reviews } }] }]
`);
    assert.equal(translated.length, 1);
    assert.equal((translated[0]!.route as Node).cluster, "outbound|9080|v1|reviews.default.svc.cluster.local");
  });
});

describe("translateProxy: DestinationRule", () => {
  it("maps connectionPool to circuit breakers and protocol options, and outlierDetection as Istio does", () => {
    const resources = translate(meshOf(REVIEWS + REVIEWS_RULES), sidecar());
    const cluster = resources.clusters.get("outbound|9080|v1|reviews.default.svc.cluster.local")!;
    assert.equal(cluster.lbPolicy, undefined, "ROUND_ROBIN is Envoy's default and left out");
    assert.equal(cluster.connectTimeout, "0.250s");
    assert.deepEqual(cluster.circuitBreakers, { thresholds: [{ maxConnections: 10, maxPendingRequests: 1, maxRequests: 20, maxRetries: 2, trackRemaining: true }] });
    assert.deepEqual((cluster.typedExtensionProtocolOptions!["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"] as Node).commonHttpProtocolOptions, { maxRequestsPerConnection: 5 });
    assert.deepEqual(cluster.outlierDetection, {
      enforcingSuccessRate: 0, consecutive5xx: 3, enforcingConsecutive5xx: 100, consecutiveGatewayFailure: 2,
      enforcingConsecutiveGatewayFailure: 100, interval: "1s", baseEjectionTime: "30s", maxEjectionPercent: 50,
    });
  });

  it("turns panic mode off with outlier detection, treats zero limits as unset, and maps warmup and HTTP/2 settings as Istio does", () => {
    const resources = translate(meshOf(REVIEWS + `
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: { simple: LEAST_REQUEST, warmupDurationSecs: 30s }
    connectionPool: { tcp: { maxConnections: 0, idleTimeout: 5m }, http: { h2UpgradePolicy: UPGRADE, maxConcurrentStreams: 64 } }
    outlierDetection: { consecutive5xxErrors: 0 }
`), sidecar());
    const cluster = resources.clusters.get("outbound|9080||reviews.default.svc.cluster.local")!;
    assert.deepEqual(cluster.commonLbConfig, { healthyPanicThreshold: { value: 0 } });
    assert.deepEqual(cluster.outlierDetection, { enforcingSuccessRate: 0, consecutive5xx: 0, enforcingConsecutive5xx: 0 });
    assert.equal(cluster.circuitBreakers!.thresholds![0]!.maxConnections, 4294967295);
    assert.deepEqual(cluster.leastRequestLbConfig, { slowStartConfig: { slowStartWindow: "30s" } });
    assert.deepEqual(cluster.typedExtensionProtocolOptions!["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"], {
      "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
      explicitHttpConfig: { http2ProtocolOptions: { maxConcurrentStreams: 64 } },
      commonHttpProtocolOptions: { idleTimeout: "300s" },
    });
  });

  it("lets a subset's policy override the rule's, field by field", () => {
    const resources = translate(meshOf(REVIEWS + REVIEWS_RULES), sidecar());
    const cluster = resources.clusters.get("outbound|9080|v2|reviews.default.svc.cluster.local")!;
    assert.equal(cluster.lbPolicy, "RANDOM");
    assert.equal((cluster.circuitBreakers!.thresholds![0]!).maxConnections, 1);
    assert.equal(cluster.outlierDetection!.consecutive5xx, 3, "outlierDetection comes from the rule");
  });

  it("hashes consistently: a ring (or Maglev table) on the cluster, the hash key on every route to it", () => {
    const resources = translate(meshOf(REVIEWS + `
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: x-user, ringHash: { minimumRingSize: 1024 } } } }
  subsets:
  - { name: v1, labels: { version: v1 } }
  - name: v2
    labels: { version: v2 }
    trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: { name: session, ttl: 60s }, maglev: { tableSize: 65537 } } } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ratings, namespace: shop }
spec:
  host: ratings.shop.svc.cluster.local
  trafficPolicy: { loadBalancer: { consistentHash: { useSourceIp: true } } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ uri: { prefix: /v2 } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - match: [{ uri: { prefix: /split } }]
    route: [{ destination: { host: reviews, subset: v1 }, weight: 50 }, { destination: { host: reviews, subset: v2 }, weight: 50 }]
  - route: [{ destination: { host: reviews, subset: v1 } }]
`), sidecar());
    const v1 = resources.clusters.get("outbound|9080|v1|reviews.default.svc.cluster.local")!;
    assert.equal(v1.lbPolicy, "RING_HASH");
    assert.deepEqual(v1.ringHashLbConfig, { minimumRingSize: "1024" });
    const v2 = resources.clusters.get("outbound|9080|v2|reviews.default.svc.cluster.local")!;
    assert.equal(v2.lbPolicy, "MAGLEV");
    assert.deepEqual(v2.maglevLbConfig, { tableSize: "65537" });
    const routes = virtualHost(resources, "9080", "reviews.default.svc.cluster.local:9080").routes as Node[];
    assert.deepEqual((routes[0]!.route as Node).hashPolicy, [{ cookie: { name: "session", ttl: "60s" } }]);
    assert.equal((routes[1]!.route as Node).hashPolicy, undefined, "destinations that hash differently get no hash policy");
    assert.deepEqual((routes[2]!.route as Node).hashPolicy, [{ header: { headerName: "x-user" } }]);
    const ratings = virtualHost(resources, "9080", "ratings.shop.svc.cluster.local:9080").routes as Node[];
    assert.deepEqual((ratings[0]!.route as Node).hashPolicy, [{ connectionProperties: { sourceIp: true } }]);
  });

  it("originates TLS as the rule says: SIMPLE with SNI and SAN checks, ISTIO_MUTUAL with the mesh's client context", () => {
    const mesh = meshOf(REVIEWS + `
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy: { tls: { mode: ISTIO_MUTUAL } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ratings, namespace: shop }
spec:
  host: ratings.shop.svc.cluster.local
  trafficPolicy: { tls: { mode: SIMPLE, sni: ratings.example.com, caCertificates: /etc/ca.pem, subjectAltNames: [ratings.example.com] } }
`);
    const meshClientTls = { commonTlsContext: { tlsCertificateSdsSecretConfigs: [{ name: "default", sdsConfig: { ads: {}, resourceApiVersion: "V3" as const } }] } };
    const resources = translate(mesh, sidecar(), { ...context, meshClientTls });
    const reviews = resources.clusters.get("outbound|9080||reviews.default.svc.cluster.local")!;
    assert.deepEqual(reviews.transportSocket!.typedConfig, {
      "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
      ...meshClientTls, sni: "outbound_.9080_._.reviews.default.svc.cluster.local",
    });
    const ratings = resources.clusters.get("outbound|9080||ratings.shop.svc.cluster.local")!;
    assert.deepEqual(ratings.transportSocket!.typedConfig, {
      "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
      sni: "ratings.example.com",
      commonTlsContext: { validationContext: { trustedCa: { filename: "/etc/ca.pem" }, matchTypedSubjectAltNames: [{ sanType: "DNS", matcher: { exact: "ratings.example.com" } }] } },
    });
    const withoutMeshTls = translate(mesh, sidecar());
    assert.equal(withoutMeshTls.clusters.get("outbound|9080||reviews.default.svc.cluster.local")!.transportSocket, undefined);
    assert.ok(withoutMeshTls.warnings.some((warning) => warning.path === "DestinationRule/default/reviews.trafficPolicy.tls"));
  });

  it("uses Istio's defaults without a rule: LEAST_REQUEST, 10 s connect timeout, circuit breakers wide open", () => {
    const resources = translate(meshOf(REVIEWS), sidecar());
    const cluster = resources.clusters.get("outbound|9080||reviews.default.svc.cluster.local")!;
    assert.equal(cluster.lbPolicy, "LEAST_REQUEST");
    assert.equal(cluster.connectTimeout, "10s");
    assert.deepEqual(cluster.circuitBreakers!.thresholds![0], { maxConnections: 4294967295, maxPendingRequests: 4294967295, maxRequests: 4294967295, maxRetries: 4294967295, trackRemaining: true });
    assert.equal(cluster.outlierDetection, undefined);
  });
});

describe("translateProxy: sidecar inbound", () => {
  it("listens on the workload's address per served port and forwards to the application on loopback", () => {
    const proxy = sidecar({ ip: "127.0.0.11", labels: { app: "reviews", version: "v1" }, workloadName: "reviews-v1", appPorts: { http: 8000 } });
    const resources = translate(meshOf(REVIEWS), proxy);
    const listener = resources.listeners.get("127.0.0.11_9080")!;
    assert.deepEqual(listener.address, { socketAddress: { address: "127.0.0.11", portValue: 9080 } });
    assert.equal(listener.trafficDirection, "INBOUND");
    const manager = hcm(resources, "127.0.0.11_9080");
    assert.deepEqual(filterNames(manager), ["as-mesh.metrics.destination", "envoy.filters.http.fault", "envoy.filters.http.router"]);
    const routeConfig = manager.routeConfig as Node;
    assert.equal((((routeConfig.virtualHosts as Node[])[0]!.routes as Node[])[0]!.route as Node).cluster, "inbound|9080||reviews.default.svc.cluster.local");
    const cluster = resources.clusters.get("inbound|9080||reviews.default.svc.cluster.local")!;
    assert.deepEqual(cluster.loadAssignment!.endpoints![0]!.lbEndpoints![0]!.endpoint!.address, { socketAddress: { address: "127.0.0.1", portValue: 8000 } });
    assert.deepEqual((resources.extensionConfigs.get("as-mesh.metrics.destination")!.typedConfig as Node).config !== undefined, true);
  });

  it("uses the inbound port a workload registers with, and no inbound listener for a proxy that serves nothing", () => {
    const proxy = sidecar({ ip: "127.0.0.40", labels: { app: "reviews" }, inboundPorts: { http: 29080 }, appPorts: { http: 8000 } });
    assert.ok(translate(meshOf(REVIEWS), proxy).listeners.has("127.0.0.40_29080"));
    assert.ok(![...translate(meshOf(REVIEWS), sidecar()).listeners.values()].some((listener) => listener.trafficDirection === "INBOUND"));
  });

  it("puts a TLS context on the inbound chain when one is supplied (the seam for mesh mTLS)", () => {
    const proxy = sidecar({ ip: "127.0.0.11", labels: { app: "reviews" }, appPorts: { http: 8000 } });
    const tls = { commonTlsContext: { tlsCertificateSdsSecretConfigs: [{ name: "default", sdsConfig: { ads: {}, resourceApiVersion: "V3" as const } }] }, requireClientCertificate: true };
    const resources = translate(meshOf(REVIEWS), proxy, { ...context, inboundTls: tls });
    const chain = resources.listeners.get("127.0.0.11_9080")!.filterChains![0]!;
    assert.equal(chain.transportSocket!.name, "envoy.transport_sockets.tls");
    assert.equal((chain.transportSocket!.typedConfig as Node).requireClientCertificate, true);
  });
});

const PLUGINS = `
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: limit, namespace: default }
spec:
  selector: { matchLabels: { app: productpage } }
  url: http://127.0.0.1:15014/wasm/rate-limit.wasm
  phase: AUTHZ
  pluginConfig: { capacity: 5 }
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: first-authn, namespace: default }
spec:
  url: as-mesh://rate-limit
  phase: AUTHN
  priority: 10
  failStrategy: FAIL_OPEN
  pluginName: limiter
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: second-authn, namespace: default }
spec:
  url: as-mesh://rate-limit
  phase: AUTHN
  match: [{ mode: SERVER }]
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: missing-closed, namespace: default }
spec:
  url: oci://registry.example.com/filters/custom:1
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: missing-open, namespace: default }
spec:
  url: as-mesh://nonexistent
  failStrategy: FAIL_OPEN
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: other-app, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  url: http://127.0.0.1:15014/wasm/rate-limit.wasm
`;

describe("translateProxy: Wasm plugins and RequestAuthentication over ECDS", () => {
  it("orders plugins by phase, then priority, and applies selector and mode", () => {
    const resources = translate(meshOf(REVIEWS + PLUGINS), sidecar());
    assert.deepEqual(filterNames(hcm(resources, "127.0.0.1_9080")), [
      "default.first-authn", "default.limit", "as-mesh.metrics.source", "default.missing-closed", "envoy.filters.http.fault", "envoy.filters.http.router",
    ]);
  });

  it("delivers each plugin's Wasm config, fetched from the control service with its sha256, as a TypedExtensionConfig", () => {
    const resources = translate(meshOf(REVIEWS + PLUGINS), sidecar());
    const config = resources.extensionConfigs.get("default.limit")!;
    assert.equal(config.name, "default.limit");
    const plugin = (config.typedConfig as Node).config as Node;
    assert.equal((plugin.configuration as Node).value, JSON.stringify({ capacity: 5 }));
    assert.equal(plugin.rootId, "default.limit");
    assert.equal(plugin.failOpen, false);
    assert.equal(((((plugin.vmConfig as Node).code as Node).remote as Node).httpUri as Node).uri, "http://127.0.0.1:15014/wasm/rate-limit.wasm");
    const authn = (resources.extensionConfigs.get("default.first-authn")!.typedConfig as Node).config as Node;
    assert.equal(((((authn.vmConfig as Node).code as Node).remote as Node).httpUri as Node).uri, "http://127.0.0.1:15014/wasm/rate-limit.wasm",
      "as-mesh://rate-limit names the served module");
    assert.equal(authn.rootId, "limiter");
    assert.equal(authn.failOpen, true);
  });

  it("refuses requests through a fail-closed plugin whose module is not served, and leaves out a fail-open one", () => {
    const resources = translate(meshOf(REVIEWS + PLUGINS), sidecar());
    assert.deepEqual(resources.extensionConfigs.get("default.missing-closed")!.typedConfig, {
      "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC", rules: { action: "ALLOW", policies: {} },
    });
    assert.ok(!resources.extensionConfigs.has("default.missing-open"));
    assert.deepEqual(resources.warnings.map((warning) => warning.path).sort(), ["WasmPlugin/default/missing-closed.url", "WasmPlugin/default/missing-open.url"]);
  });

  it("turns RequestAuthentication into a jwt-auth config that lets tokenless requests through and checks present ones", () => {
    const proxy = sidecar({ ip: "127.0.0.11", labels: { app: "reviews" }, appPorts: { http: 8000 } });
    const resources = translate(meshOf(REVIEWS + `
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  jwtRules:
  - issuer: https://issuer.example
    audiences: [reviews]
    jwks: '{"keys":[]}'
    outputClaimToHeaders: [{ header: x-sub, claim: sub }]
  - issuer: https://idp.example
    jwksUri: https://idp.example/jwks.json
    forwardOriginalToken: true
`), proxy);
    assert.deepEqual(filterNames(hcm(resources, "127.0.0.11_9080")), ["as-mesh.jwt-auth", "as-mesh.metrics.destination", "envoy.filters.http.fault", "envoy.filters.http.router"]);
    const plugin = (resources.extensionConfigs.get("as-mesh.jwt-auth")!.typedConfig as Node).config as Node;
    assert.deepEqual(JSON.parse((plugin.configuration as Node).value as string), {
      providers: {
        "default.jwt.0": { issuer: "https://issuer.example", audiences: ["reviews"], local_jwks: { inline_string: '{"keys":[]}' }, claim_to_headers: [{ header_name: "x-sub", claim_name: "sub" }] },
        "default.jwt.1": { issuer: "https://idp.example", remote_jwks: { http_uri: { uri: "https://idp.example/jwks.json", cluster: "jwks|idp.example|443", timeout: "5s" }, cache_duration: "300s" }, forward: true },
      },
      rules: [{ match: { prefix: "/" }, requires: { requires_any: { requirements: [{ provider_name: "default.jwt.0" }, { provider_name: "default.jwt.1" }, { allow_missing: {} }] } } }],
    });
    const jwks = resources.clusters.get("jwks|idp.example|443")!;
    assert.equal(jwks.type, "STRICT_DNS");
    assert.equal(jwks.transportSocket!.name, "envoy.transport_sockets.tls");
    assert.ok(!filterNames(hcm(resources, "127.0.0.1_9080")).includes("as-mesh.jwt-auth"), "outbound traffic is not authenticated");
  });
});

const GATEWAY = `
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 8080, name: http, protocol: HTTP }
    hosts: ["bookinfo.example.com"]
  - port: { number: 8443, name: https, protocol: HTTPS }
    hosts: ["bookinfo.example.com"]
    tls: { mode: SIMPLE, credentialName: bookinfo-cert }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: bookinfo, namespace: default }
spec:
  hosts: ["bookinfo.example.com"]
  gateways: [edge]
  http:
  - match: [{ uri: { prefix: /reviews } }]
    route: [{ destination: { host: reviews, port: { number: 9080 } } }]
`;

describe("translateProxy: gateway", () => {
  const router = (overrides: Partial<ProxyInfo> = {}) => sidecar({
    id: "router~127.0.0.50~edge.default~default.svc.cluster.local", type: "router", labels: { istio: "ingressgateway" },
    ip: "127.0.0.50", workloadName: "edge", listenAddress: "0.0.0.0", ...overrides,
  });
  const credentials = { "bookinfo-cert": { certificateChain: "-----BEGIN CERTIFICATE-----\n", privateKey: "-----BEGIN PRIVATE KEY-----\n" } };

  it("serves the VirtualServices bound to its Gateway on the server's port, and nothing of the sidecar's", () => {
    const resources = translate(meshOf(REVIEWS + GATEWAY), router(), { ...context, credentials });
    assert.deepEqual([...resources.listeners.keys()].sort(), ["0.0.0.0_8080", "0.0.0.0_8443"]);
    const host = virtualHost(resources, "http.8080", "bookinfo.example.com:8080");
    assert.deepEqual(host.domains, ["bookinfo.example.com", "bookinfo.example.com:8080"]);
    assert.equal(((host.routes as Node[])[0]!.route as Node).cluster, "outbound|9080||reviews.default.svc.cluster.local");
    assert.ok(resources.clusters.has("outbound|9080||reviews.default.svc.cluster.local"));
    const manager = hcm(resources, "0.0.0.0_8080");
    assert.equal(manager.useRemoteAddress, true, "the edge does not trust x-forwarded-for from clients");
    assert.deepEqual(filterNames(manager), ["as-mesh.metrics.source", "envoy.filters.http.fault", "envoy.filters.http.router"]);
  });

  it("terminates SIMPLE TLS with the credential delivered over SDS, matched by SNI", () => {
    const resources = translate(meshOf(REVIEWS + GATEWAY), router(), { ...context, credentials });
    const listener = resources.listeners.get("0.0.0.0_8443")!;
    const chain = listener.filterChains![0]!;
    assert.deepEqual(chain.filterChainMatch, { serverNames: ["bookinfo.example.com"] });
    assert.equal(listener.listenerFilters![0]!.name, "envoy.filters.listener.tls_inspector");
    assert.deepEqual((chain.transportSocket!.typedConfig as Node).commonTlsContext, {
      tlsCertificateSdsSecretConfigs: [{ name: "bookinfo-cert", sdsConfig: { ads: {}, resourceApiVersion: "V3" } }],
      alpnProtocols: ["h2", "http/1.1"],
    });
    assert.deepEqual(resources.secrets.get("bookinfo-cert"), {
      name: "bookinfo-cert",
      tlsCertificate: { certificateChain: { inlineString: credentials["bookinfo-cert"].certificateChain }, privateKey: { inlineString: credentials["bookinfo-cert"].privateKey } },
    });
    assert.ok(resources.routes.has("https.8443.https.edge.default"));
  });

  it("warns when the credential is not loaded", () => {
    const resources = translate(meshOf(REVIEWS + GATEWAY), router());
    assert.equal(resources.secrets.size, 0);
    assert.deepEqual(resources.warnings.map((warning) => warning.path), ["Gateway/default/edge.servers[1].tls.credentialName"]);
  });

  it("exposes only VirtualServices from the namespaces a server's hosts admit", () => {
    const mesh = meshOf(REVIEWS + `
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 8080, name: http, protocol: HTTP }, hosts: ["shop/*.example.com", "./own.example.com"] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: shop, namespace: shop }
spec:
  hosts: ["store.example.com"]
  gateways: [default/edge]
  http: [{ route: [{ destination: { host: ratings.shop.svc.cluster.local } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: sneaky, namespace: default }
spec:
  hosts: ["other.example.com", "own.example.com"]
  gateways: [edge]
  http: [{ route: [{ destination: { host: reviews } }] }]
`);
    const resources = translate(mesh, router());
    const hosts = resources.routes.get("http.8080")!.virtualHosts!.map((host) => host.name);
    assert.deepEqual(hosts, ["own.example.com:8080", "store.example.com:8080"]);
  });

  it("gives a router no listeners when no Gateway selects it", () => {
    assert.equal(translate(meshOf(REVIEWS + GATEWAY), router({ labels: { istio: "egress" } })).listeners.size, 0);
  });
});

describe("node metadata, groups and bootstrap", () => {
  it("reads back every field sidecarBootstrap writes, and the bootstrap packs as an Envoy Bootstrap", () => {
    const bootstrap = sidecarBootstrap({
      namespace: "default", ip: "127.0.0.11", labels: { app: "reviews", version: "v1" }, serviceAccount: "reviews",
      inboundPorts: { http: 9080 }, appPorts: { http: 8000 }, listenPorts: { "*": 0 },
      control: [{ host: "127.0.0.1", port: 15010 }, { host: "127.0.0.2", port: 15010 }], controlHttp: { host: "127.0.0.1", port: 15014 },
    });
    assert.doesNotThrow(() => packResource("type.googleapis.com/envoy.config.bootstrap.v3.Bootstrap", bootstrap));
    const proxy = parseNodeMetadata({ id: bootstrap.node!.id!, cluster: bootstrap.node!.cluster!, metadata: bootstrap.node!.metadata as Record<string, unknown> });
    assert.ok(!Array.isArray(proxy), JSON.stringify(proxy));
    assert.deepEqual({ ...proxy, metadata: {} }, {
      id: "sidecar~127.0.0.11~reviews.default~default.svc.cluster.local", type: "sidecar", namespace: "default",
      labels: { app: "reviews", version: "v1" }, serviceAccount: "reviews", ip: "127.0.0.11", workloadName: "reviews",
      inboundPorts: { http: 9080 }, appPorts: { http: 8000 }, listenAddress: "127.0.0.1", listenPorts: { "*": 0 }, metadata: {},
    });
    assert.equal(bootstrap.dynamicResources!.adsConfig!.apiType, "GRPC");
    assert.deepEqual(bootstrap.staticResources!.clusters!.map((cluster) => cluster.name), ["xds-grpc", "as-mesh-control-http"]);
    assert.equal(bootstrap.staticResources!.clusters![0]!.loadAssignment!.endpoints![0]!.lbEndpoints!.length, 2);
    assert.ok(bootstrap.statsConfig!.statsTags!.some((tag) => tag.tagName === "reporter"));
  });

  it("reads Istio's node id form when metadata is missing", () => {
    const proxy = parseNodeMetadata({ id: "router~10.0.0.5~ingress-1.istio-system~istio-system.svc.cluster.local" });
    assert.ok(!Array.isArray(proxy));
    assert.equal(proxy.type, "router");
    assert.equal(proxy.ip, "10.0.0.5");
    assert.equal(proxy.namespace, "istio-system");
    assert.equal(proxy.listenAddress, "0.0.0.0");
  });

  it("reports every missing or malformed field at once", () => {
    const issues = parseNodeMetadata({ id: "envoy-1", metadata: { LABELS: { app: 3 }, INBOUND_PORTS: { http: 70000 }, PROXY_TYPE: "waypoint" } });
    assert.ok(Array.isArray(issues));
    assert.deepEqual(issues.map((issue) => issue.path).sort(), [
      "node.metadata.INBOUND_PORTS.http", "node.metadata.INSTANCE_IPS", "node.metadata.LABELS.app", "node.metadata.NAMESPACE", "node.metadata.PROXY_TYPE",
    ]);
  });

  it("gives proxies that would get equal resources the same group key, and others different ones", () => {
    const mesh = meshOf(REVIEWS);
    const a = sidecar({ id: "one" });
    const b = sidecar({ id: "two", labels: { app: "productpage" } });
    assert.equal(proxyGroupKey(mesh, a), proxyGroupKey(mesh, b));
    assert.deepEqual(translate(mesh, a), translate(mesh, b));
    assert.notEqual(proxyGroupKey(mesh, a), proxyGroupKey(mesh, sidecar({ labels: { app: "productpage", version: "v2" } })));
    assert.notEqual(proxyGroupKey(mesh, a), proxyGroupKey(mesh, sidecar({ ip: "127.0.0.21" })));
    assert.equal(proxyGroupKey(mesh, a), proxyGroupKey(mesh, sidecar({ id: "three", serviceAccount: "other", workloadName: "other" })),
      "fields translation does not read do not split groups");
    const gateway = (ip: string) => sidecar({ type: "router", ip, labels: { istio: "ingressgateway" } });
    assert.equal(proxyGroupKey(mesh, gateway("10.0.0.1")), proxyGroupKey(mesh, gateway("10.0.0.2")), "gateway replicas share a group");
    assert.deepEqual(translate(mesh, gateway("10.0.0.1")), translate(mesh, gateway("10.0.0.2")));
  });

  it("shares cluster and route objects between proxies that see them alike, and recomputes them when workloads change", () => {
    const mesh = meshOf(REVIEWS + REVIEWS_RULES);
    const a = translate(mesh, sidecar({ id: "a", ip: "127.0.0.21" }));
    const b = translate(mesh, sidecar({ id: "b", ip: "127.0.0.22" }));
    const name = "outbound|9080|v2|reviews.default.svc.cluster.local";
    assert.equal(a.clusters.get(name), b.clusters.get(name), "one cluster object for both");
    assert.equal(a.routes.get("9080"), b.routes.get("9080"), "one route table for both");
    const registered = workloadInstanceOf(sidecar({ ip: "127.0.0.30", labels: { app: "reviews", version: "v2" }, inboundPorts: { http: 29080 } }));
    const c = translate(mesh, sidecar({ id: "c" }), { ...context, registeredWorkloads: [registered] });
    assert.notEqual(c.endpoints.get(name), a.endpoints.get(name));
    assert.equal(c.endpoints.get(name)!.endpoints![0]!.lbEndpoints!.length, 2);
    assert.equal(a.endpoints.get(name)!.endpoints![0]!.lbEndpoints!.length, 1, "earlier results are not touched");
  });

  it("translates the same inputs to the same resources (pure)", () => {
    const mesh = meshOf(REVIEWS + REVIEWS_RULES + PLUGINS + GATEWAY);
    assert.deepEqual(translate(mesh, sidecar()), translate(mesh, sidecar()));
    assert.ok(TypeUrl.listener);
  });
});

describe("translateProxyParts: what sidecars share", () => {
  const SOURCE_ROUTED = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ sourceLabels: { app: productpage } }]
    route: [{ destination: { host: reviews, subset: v1 } }]
  - route: [{ destination: { host: reviews, subset: v2 } }]
`;
  const outboundOf = (mesh: MeshConfig, proxy: ProxyInfo) => translateProxyParts(mesh, proxy, context).shared;

  it("gives sidecars of one deployment the same outbound objects, and each its own inbound listener", () => {
    const mesh = meshOf(REVIEWS + REVIEWS_RULES);
    const a = sidecar({ ip: "127.0.0.21", labels: { app: "productpage", version: "v1", "pod-template-hash": "a" } });
    const b = sidecar({ ip: "127.0.0.22", labels: { app: "productpage", version: "v1", "pod-template-hash": "b" } });
    const [clustersA, outboundA] = outboundOf(mesh, a);
    const [clustersB, outboundB] = outboundOf(mesh, b);
    assert.equal(clustersA, clustersB);
    assert.equal(outboundA, outboundB, "labels nothing selects on do not split the outbound part");
    assert.ok(outboundA!.listeners.size > 0 && outboundA!.routes.size > 0);
    const merged = translateProxy(mesh, a, context);
    for (const [name, listener] of outboundA!.listeners) assert.equal(merged.listeners.get(name), listener);
  });

  it("splits the outbound part by the labels a sourceLabels match or a WasmPlugin selector reads", () => {
    const mesh = meshOf(REVIEWS + REVIEWS_RULES + "---" + SOURCE_ROUTED + `---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: limit, namespace: default }
spec: { selector: { matchLabels: { tier: edge } }, url: as-mesh://rate-limit, phase: AUTHZ }
`);
    const productpage = sidecar();
    const other = sidecar({ labels: { app: "other" } });
    const edge = sidecar({ labels: { app: "productpage", tier: "edge" } });
    assert.notEqual(outboundOf(mesh, productpage)[1], outboundOf(mesh, other)[1]);
    assert.notEqual(outboundOf(mesh, productpage)[1], outboundOf(mesh, edge)[1]);
    const route = (proxy: ProxyInfo) => ((virtualHostOf(translate(mesh, proxy), "reviews") as Node).routes as Node[])[0]!.route as Node;
    assert.equal(route(productpage).cluster, "outbound|9080|v1|reviews.default.svc.cluster.local");
    assert.equal(route(other).cluster, "outbound|9080|v2|reviews.default.svc.cluster.local");
    assert.ok(translate(mesh, edge).extensionConfigs.has("default.limit"));
    assert.ok(!translate(mesh, productpage).extensionConfigs.has("default.limit"));
  });

  it("keeps the outbound clusters across VirtualService edits, and rebuilds them when what they read changes", () => {
    const proxy = sidecar();
    const plain = meshOf(REVIEWS + REVIEWS_RULES);
    const routed = meshOf(REVIEWS + REVIEWS_RULES + "---" + SOURCE_ROUTED);
    const [clusters] = outboundOf(plain, proxy);
    assert.equal(outboundOf(routed, proxy)[0], clusters, "a canary step re-packs no cluster");
    const withoutRules = meshOf(REVIEWS + "---" + SOURCE_ROUTED);
    const [rebuilt] = outboundOf(withoutRules, proxy);
    assert.notEqual(rebuilt, clusters, "a DestinationRule change rebuilds them");
    assert.ok(clusters!.clusters.has("outbound|9080|v1|reviews.default.svc.cluster.local"));
    assert.ok(!rebuilt!.clusters.has("outbound|9080|v1|reviews.default.svc.cluster.local"), "the subsets left with their rule");
  });

  it("keeps a sidecar's inbound part across routing changes, and rebuilds it when what it reads changes", () => {
    const reviews = sidecar({ ip: "127.0.0.11", labels: { app: "reviews", version: "v1" }, inboundPorts: { http: 9080 }, appPorts: { http: 19081 } });
    const security = `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: reviews, namespace: default }
spec: { selector: { matchLabels: { app: reviews } }, rules: [{ from: [{ source: { namespaces: [default] } }] }] }
`;
    const before = meshOf(REVIEWS + security);
    const routed = meshOf(REVIEWS + REVIEWS_RULES + "---" + SOURCE_ROUTED + security);
    const peer = meshOf(REVIEWS + REVIEWS_RULES + "---" + SOURCE_ROUTED + security + `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: strict, namespace: default }
spec: { mtls: { mode: STRICT } }
`);
    const own = (mesh: MeshConfig) => translateProxyParts(mesh, reviews, context).own;
    const first = own(before);
    assert.ok(first.listeners.has("127.0.0.11_9080"));
    assert.equal(own(routed), first, "VirtualService and DestinationRule changes leave the inbound part");
    assert.notEqual(own(peer), first, "a PeerAuthentication change rebuilds it");
    for (const mesh of [before, routed, peer]) {
      // The same proxy as a new object is translated from scratch: the kept part must equal that.
      assert.deepEqual(translateProxy(mesh, reviews, context), translateProxy(mesh, { ...reviews }, context));
    }
    assert.notEqual(own(peer), first);
    assert.notEqual(translateProxyParts(peer, reviews, { ...context, wasmModules: {} }).own, own(peer), "a context change rebuilds it");
  });
});

function virtualHostOf(resources: EnvoyResources, host: string): Node | undefined {
  for (const route of resources.routes.values()) {
    const found = (route.virtualHosts ?? []).find((candidate) => candidate.name?.startsWith(`${host}.`));
    if (found) return found as Node;
  }
  return undefined;
}
