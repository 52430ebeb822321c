// Translated resources in the real Envoy: a sidecar and a gateway, started from sidecarBootstrap, get everything
// from an ADS server fed by translateProxy, and route real HTTP to loopback workloads — including the as-mesh
// Wasm filters, which Envoy fetches from an HTTP server by sha256 and configures over ECDS.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import type { TLSSocket } from "node:tls";
import { join } from "node:path";
import { createServer, request as httpRequest, type Server } from "node:http";
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { pino } from "pino";
import { SnapshotCache, Snapshot } from "../cache/index.ts";
import { XdsServer, type ConnectedProxy } from "../xds/index.ts";
import { parseYaml, validateMesh, type MeshConfig } from "../config/index.ts";
import { buildArtifact } from "../../tests/harness/artifacts.ts";
import { startEnvoy, type EnvoyInstance } from "../../tests/harness/envoy.ts";
import { startUpstream, type Upstream } from "../../tests/harness/upstream.ts";
import { generateSigningKey, jwksOf, nowSeconds, signToken } from "../../tests/harness/tokens.ts";
import {
  parseNodeMetadata, proxyGroupKey, resourcesByTypeUrl, sidecarBootstrap, translateProxy, workloadInstanceOf, type ProxyInfo, type SidecarBootstrapOptions, type TranslateContext,
} from "./index.ts";

/** A self-signed certificate and key for one DNS name (PEM), made with the openssl CLI. */
function selfSignedCertificate(name: string): { certificateChain: string; privateKey: string } {
  const dir = mkdtempSync(join(tmpdir(), "as-mesh-cert-"));
  try {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
      "-subj", `/CN=${name}`, "-addext", `subjectAltName=DNS:${name}`,
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
    ], { stdio: "ignore" });
    return { certificateChain: readFileSync(join(dir, "cert.pem"), "utf8"), privateKey: readFileSync(join(dir, "key.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** An HTTPS GET with SNI `serverName`, trusting only `ca`. */
function getTls(url: string, serverName: string, ca: string): Promise<{ status: number; body: string; peerCertificateSubject: string }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(url, { servername: serverName, ca, headers: { host: serverName }, agent: false }, (response) => {
      const subject = (response.socket as TLSSocket).getPeerCertificate().subject?.CN ?? "";
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), peerCertificateSubject: String(subject) }));
      response.on("error", reject);
    });
    request.on("error", reject);
    request.end();
  });
}

/** A TCP server that sends back what it receives. */
async function startTcpEcho(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

/** Connects, sends `text`, and returns what comes back before the peer or a 5 s timer ends it. */
function tcpRoundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(text));
    let received = "";
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no echo after 5 s (got ${JSON.stringify(received)})`)); }, 5000);
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("utf8");
      if (received.length >= text.length) {
        clearTimeout(timer);
        socket.destroy();
        resolve(received);
      }
    });
    socket.on("error", (error) => { clearTimeout(timer); reject(error); });
  });
}

/** A port nothing listens on right now (for the inbound listener, which peers must know in advance). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Serves build/<name>.wasm at /wasm/<name>.wasm, as the control service's HTTP port does. */
async function serveModules(names: string[]): Promise<{ server: Server; modules: TranslateContext["wasmModules"]; port: number }> {
  const bytes = new Map(names.map((name) => [name, readFileSync(buildArtifact(name))]));
  const server = createServer((request, response) => {
    const name = /^\/wasm\/([a-z-]+)\.wasm$/.exec(request.url ?? "")?.[1];
    const body = name ? bytes.get(name) : undefined;
    if (!body) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": "application/wasm", "content-length": body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const modules: TranslateContext["wasmModules"] = {};
  for (const [name, body] of bytes) {
    modules[name] = { url: `http://127.0.0.1:${port}/wasm/${name}.wasm`, sha256: createHash("sha256").update(body).digest("hex") };
  }
  return { server, modules, port };
}

function meshOf(yaml: string): MeshConfig {
  const { documents, errors } = parseYaml(yaml, "mesh.yaml");
  assert.deepEqual(errors, []);
  const result = validateMesh(documents);
  assert.deepEqual(result.errors, []);
  return result.mesh!;
}

/** The translation loop of the control service, reduced to what the test needs: translate each proxy on connect and on change. */
class MiniControl {
  readonly cache = new SnapshotCache();
  readonly proxies = new Map<string, ProxyInfo>();
  readonly server: XdsServer;
  private mesh: MeshConfig;

  constructor(mesh: MeshConfig, private readonly context: TranslateContext) {
    this.mesh = mesh;
    this.server = new XdsServer({
      cache: this.cache,
      logger: pino({ level: "silent" }),
      groupOf: (connected: ConnectedProxy) => {
        const proxy = parseNodeMetadata({ id: connected.id, cluster: connected.cluster, metadata: connected.metadata });
        if (Array.isArray(proxy)) throw new Error(proxy.map((issue) => `${issue.path}: ${issue.message}`).join("; "));
        const group = proxyGroupKey(this.mesh, proxy);
        this.proxies.set(group, proxy);
        // Auto-registration: a sidecar that serves something becomes an endpoint while it is connected.
        if (proxy.type === "sidecar" && Object.keys(proxy.inboundPorts).length > 0) {
          this.context.registeredWorkloads = [...this.context.registeredWorkloads, workloadInstanceOf(proxy)];
          this.update(this.mesh);
        } else {
          this.push(group, proxy);
        }
        return group;
      },
    });
  }

  private push(group: string, proxy: ProxyInfo): void {
    this.cache.setSnapshot(group, new Snapshot(resourcesByTypeUrl(translateProxy(this.mesh, proxy, this.context))));
  }

  update(mesh: MeshConfig): void {
    this.mesh = mesh;
    for (const [group, proxy] of this.proxies) this.push(group, proxy);
  }
}

/** A GET with a Host header of our choosing (fetch does not let a caller set Host). */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      response.on("error", reject);
    });
    request.on("error", reject);
    request.end();
  });
}

/** Sends `count` requests and tallies the answers by status and body. */
async function tally(url: string, count: number, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const response = await get(url, headers);
    const key = `${response.status} ${response.body.slice(0, 40)}`;
    result.set(key, (result.get(key) ?? 0) + 1);
  }
  return result;
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(100);
  }
  assert.fail(`timed out waiting until ${what}`);
}

/** ratings: a good and a bad (always 500) instance, with the policies the resilience tests exercise. */
const ratingsYaml = (good: number, bad: number) => `
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ratings, namespace: default }
spec:
  hosts: [ratings.default.svc.cluster.local]
  ports: [{ number: 9081, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints:
  - { address: 127.0.0.1, ports: { http: ${good} }, labels: { app: ratings, version: good } }
  - { address: 127.0.0.1, ports: { http: ${bad} }, labels: { app: ratings, version: bad } }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: db, namespace: default }
spec:
  hosts: [db.default.svc.cluster.local]
  ports: [{ number: 5432, name: tcp, protocol: TCP }]
  resolution: STATIC
  endpoints: [{ address: 127.0.0.1, ports: { tcp: ${tcpEcho?.port ?? 1} } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ratings, namespace: default }
spec:
  host: ratings
  trafficPolicy:
    outlierDetection: { consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 60s, maxEjectionPercent: 100 }
  subsets:
  - name: good
    labels: { version: good }
  - name: guarded
    labels: { version: good }
    trafficPolicy: { connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings, namespace: default }
spec:
  hosts: [ratings]
  http:
  - match: [{ uri: { prefix: /slow } }]
    route: [{ destination: { host: ratings, subset: good } }]
    timeout: 300ms
    retries: { attempts: 0 }
  - match: [{ uri: { prefix: /guarded } }]
    route: [{ destination: { host: ratings, subset: guarded } }]
    retries: { attempts: 0 }
  - route: [{ destination: { host: ratings } }]
    retries: { attempts: 0 }
`;

const meshYaml = (v1: number, v2: number, extra = "") => `
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
spec: { address: 127.0.0.1, ports: { http: ${v1} }, labels: { app: reviews, version: v1 } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: reviews-v2, namespace: default }
spec: { address: 127.0.0.1, ports: { http: ${v2} }, labels: { app: reviews, version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }, { name: v3, labels: { version: v3 } }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers:
  - { port: { number: 8080, name: http, protocol: HTTP }, hosts: ["bookinfo.example.com"] }
  - port: { number: 8443, name: https, protocol: HTTPS }
    hosts: ["bookinfo.example.com"]
    tls: { mode: SIMPLE, credentialName: bookinfo-cert }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: edge, namespace: default }
spec:
  hosts: ["bookinfo.example.com"]
  gateways: [edge]
  http: [{ match: [{ uri: { prefix: /reviews } }], route: [{ destination: { host: reviews, subset: v2 } }] }]
${extra}${ratingsGood && ratingsBad ? ratingsYaml(ratingsGood.port, ratingsBad.port) : ""}`;

let ratingsGood: Upstream | undefined;
let tcpEcho: { port: number; close(): Promise<void> } | undefined;
let ratingsBad: Upstream | undefined;

const REVIEWS_ROUTES = `
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ headers: { x-canary: { exact: "yes" } } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
    headers: { request: { set: { x-routed: canary } } }
  - match: [{ headers: { x-version: { exact: v3 } } }]
    route: [{ destination: { host: reviews, subset: v3 } }]
  - match: [{ uri: { prefix: /fault } }]
    route: [{ destination: { host: reviews, subset: v1 } }]
    fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }
  - match: [{ uri: { prefix: /missing } }]
    route: [{ destination: { host: reviews, subset: v9 } }]
  - match: [{ uri: { prefix: /flaky } }]
    route: [{ destination: { host: reviews, subset: v1 } }]
  - route: [{ destination: { host: reviews, subset: v1 } }]
`;

const RATE_LIMIT = (capacity: number) => `
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: limit, namespace: default }
spec:
  selector: { matchLabels: { app: productpage } }
  url: as-mesh://rate-limit
  phase: AUTHZ
  pluginConfig:
    default_rule:
      descriptors: [{ generic_key: { descriptor_value: all } }]
      token_bucket: { max_tokens: ${capacity}, tokens_per_fill: ${capacity}, fill_interval: 3600s }
`;

describe("translated config in the real Envoy", { timeout: 120_000 }, () => {
  let v1: Upstream;
  let v2: Upstream;
  let modules: Awaited<ReturnType<typeof serveModules>>;
  let control: MiniControl;
  let xdsPort: number;
  let sidecarEnvoy: EnvoyInstance | undefined;
  let gatewayEnvoy: EnvoyInstance | undefined;
  let reviewsEnvoy: EnvoyInstance | undefined;
  let v3: Upstream | undefined;
  let flakyFailures = 0;
  let credential: { certificateChain: string; privateKey: string };

  const bootstrapFor = (options: Partial<SidecarBootstrapOptions> & Pick<SidecarBootstrapOptions, "type" | "labels">) => sidecarBootstrap({
    namespace: "default", ip: "127.0.0.1", listenAddress: "127.0.0.1", listenPorts: { "*": 0 }, ...options,
    control: [{ host: "127.0.0.1", port: xdsPort }], controlHttp: { host: "127.0.0.1", port: modules.port },
  });

  before(async () => {
    v1 = await startUpstream((request, _body, response) => {
      // The first request to /flaky fails with 503; Istio's default retry policy retries it.
      if (request.url === "/flaky" && flakyFailures++ === 0) {
        response.writeHead(503).end("flaky");
        return;
      }
      response.writeHead(200).end(`v1 ${request.headers["x-routed"] ?? ""}`);
    });
    v2 = await startUpstream((request, _body, response) => { response.writeHead(200).end(`v2 ${request.headers["x-routed"] ?? ""}`); });
    ratingsGood = await startUpstream((request, _body, response) => {
      const delay = request.url?.startsWith("/slow") || request.url?.startsWith("/guarded") ? 800 : 0;
      setTimeout(() => response.writeHead(200).end("good"), delay);
    });
    ratingsBad = await startUpstream((_request, _body, response) => { response.writeHead(500).end("bad"); });
    tcpEcho = await startTcpEcho();
    modules = await serveModules(["metrics", "rate-limit", "jwt-auth"]);
    credential = selfSignedCertificate("bookinfo.example.com");
    control = new MiniControl(meshOf(meshYaml(v1.port, v2.port, REVIEWS_ROUTES)), {
      registeredWorkloads: [], wasmModules: modules.modules, credentials: { "bookinfo-cert": credential },
    });
    xdsPort = await control.server.listen("127.0.0.1:0");
    sidecarEnvoy = await startEnvoy({ config: bootstrapFor({ type: "sidecar", labels: { app: "productpage" } }) });
    // The gateway speaks incremental xDS, the sidecars state of the world: the translation serves both alike.
    gatewayEnvoy = await startEnvoy({ config: bootstrapFor({ type: "router", labels: { istio: "ingressgateway" }, delta: true }) });
  });

  after(async () => {
    await sidecarEnvoy?.stop();
    await gatewayEnvoy?.stop();
    await reviewsEnvoy?.stop();
    await v3?.close();
    await control?.server.close();
    await new Promise<void>((resolve) => modules?.server.close(() => resolve()) ?? resolve());
    await v1?.close();
    await v2?.close();
    await ratingsGood?.close();
    await ratingsBad?.close();
    await tcpEcho?.close();
  });

  const outbound = (path = "/") => `${sidecarEnvoy!.url("127.0.0.1_9080")}${path}`;
  const logged = (body: () => Promise<void>) => async () => {
    try {
      await body();
    } catch (error) {
      if (error instanceof Error) error.message += `\n--- sidecar log ---\n${sidecarEnvoy?.logTail(30)}\n--- gateway log ---\n${gatewayEnvoy?.logTail(15)}`;
      throw error;
    }
  };

  it("routes the application's call through the outbound listener to the subset the VirtualService names", logged(async () => {
    assert.deepEqual(await tally(outbound(), 5, { host: "reviews" }), new Map([["200 v1 ", 5]]));
  }));

  it("matches headers and sets request headers on the way", logged(async () => {
    assert.deepEqual(await tally(outbound(), 3, { host: "reviews.default.svc.cluster.local:9080", "x-canary": "yes" }), new Map([["200 v2 canary", 3]]));
  }));

  it("injects an abort fault configured per route", logged(async () => {
    const response = await get(outbound("/fault"), { host: "reviews" });
    assert.equal(response.status, 418);
    assert.equal(response.body, "fault filter abort");
  }));

  it("answers 503 for a route to an undefined subset while the rest keeps working", logged(async () => {
    const response = await get(outbound("/missing"), { host: "reviews" });
    assert.equal(response.status, 503);
    assert.equal((await get(outbound(), { host: "reviews" })).status, 200);
  }));

  it("retries a 503 with Istio's default retry policy", logged(async () => {
    const response = await get(outbound("/flaky"), { host: "reviews" });
    assert.equal(response.status, 200);
    assert.equal(flakyFailures, 2, "the first attempt failed, the retry succeeded");
  }));

  it("runs the metrics filter fetched from the control service and configured over ECDS", logged(async () => {
    await get(outbound(), { host: "reviews" });
    await eventually(async () => (await sidecarEnvoy!.admin("/stats/prometheus")).includes('istio_requests_total{reporter="source"'), "istio_requests_total appears");
    const dump = JSON.parse(await sidecarEnvoy!.admin("/config_dump")) as { configs: Array<{ "@type": string; ecds_filters?: Array<{ ecds_filter?: { name?: string } }> }> };
    const ecds = dump.configs.find((config) => config["@type"] === "type.googleapis.com/envoy.admin.v3.EcdsConfigDump");
    assert.deepEqual(ecds?.ecds_filters?.map((filter) => filter.ecds_filter?.name), ["as-mesh.metrics.source"]);
  }));

  it("routes at the gateway by the VirtualService bound to its Gateway", logged(async () => {
    const url = `${gatewayEnvoy!.url("127.0.0.1_8080")}/reviews`;
    const response = await get(url, { host: "bookinfo.example.com" });
    assert.equal(response.status, 200);
    assert.equal(response.body, "v2 ");
    assert.equal((await get(url, { host: "other.example.com" })).status, 404);
  }));

  it("registers a connected sidecar as an endpoint and reaches its application through its inbound listener", logged(async () => {
    v3 = await startUpstream((request, _body, response) => { response.writeHead(200).end(`v3 via ${request.headers["x-forwarded-proto"] ?? "?"}`); });
    const inboundPort = await freePort();
    reviewsEnvoy = await startEnvoy({
      config: bootstrapFor({ type: "sidecar", labels: { app: "reviews", version: "v3" }, inboundPorts: { http: inboundPort }, appPorts: { http: v3.port } }),
    });
    assert.ok(reviewsEnvoy.listeners.has(`127.0.0.1_${inboundPort}`), `inbound listener (have ${[...reviewsEnvoy.listeners.keys()]})`);
    await eventually(async () => (await get(outbound(), { host: "reviews", "x-version": "v3" })).status === 200, "the client sees the new endpoint");
    const response = await get(outbound(), { host: "reviews", "x-version": "v3" });
    assert.equal(response.body, "v3 via http");
    await eventually(async () => (await reviewsEnvoy!.admin("/stats/prometheus")).includes('istio_requests_total{reporter="destination"'),
      "the inbound metrics filter counts the request");
  }));

  it("terminates TLS at the gateway with the credential delivered over SDS", logged(async () => {
    const url = gatewayEnvoy!.url("127.0.0.1_8443").replace("http:", "https:");
    const response = await getTls(`${url}/reviews`, "bookinfo.example.com", credential.certificateChain);
    assert.equal(response.status, 200);
    assert.equal(response.body, "v2 ");
    assert.equal(response.peerCertificateSubject, "bookinfo.example.com");
  }));

  it("checks JWTs at the gateway once a RequestAuthentication selects it (jwt-auth over ECDS)", logged(async () => {
    const key = await generateSigningKey("ES256");
    control.update(meshOf(meshYaml(v1.port, v2.port, REVIEWS_ROUTES + `
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: edge-jwt, namespace: default }
spec:
  selector: { matchLabels: { istio: ingressgateway } }
  jwtRules: [{ issuer: "https://issuer.example", jwks: '${jwksOf([key])}' }]
`)));
    const url = `${gatewayEnvoy!.url("127.0.0.1_8080")}/reviews`;
    const bad = { host: "bookinfo.example.com", authorization: `Bearer ${await signToken(key, { iss: "https://other.example", exp: nowSeconds() + 600 })}` };
    await eventually(async () => (await get(url, bad)).status === 401, "a token from an unknown issuer is refused");
    const good = { host: "bookinfo.example.com", authorization: `Bearer ${await signToken(key, { iss: "https://issuer.example", exp: nowSeconds() + 600 })}` };
    assert.equal((await get(url, good)).status, 200);
    assert.equal((await get(url, { host: "bookinfo.example.com" })).status, 200, "no token passes: an AuthorizationPolicy would decide");
  }));

  it("carries a TCP service's bytes through a TCP proxy listener", logged(async () => {
    const { port } = new URL(sidecarEnvoy!.url("127.0.0.1_5432"));
    assert.equal(await tcpRoundTrip(Number(port), "ping\n"), "ping\n");
  }));

  const ratings = (path: string) => `${sidecarEnvoy!.url("127.0.0.1_9081")}${path}`;

  it("times out a slow upstream after the route's timeout", logged(async () => {
    const started = Date.now();
    const response = await get(ratings("/slow"), { host: "ratings" });
    assert.equal(response.status, 504);
    assert.equal(response.body, "upstream request timeout");
    assert.ok(Date.now() - started < 750, "answered at the timeout, before the upstream did");
  }));

  it("trips the circuit breaker of a subset with connectionPool limits", logged(async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, () => get(ratings("/guarded"), { host: "ratings" })));
    const statuses = answers.map((answer) => answer.status).sort();
    assert.ok(statuses.includes(200), `some requests get through: ${statuses}`);
    assert.ok(statuses.includes(503), `the rest overflow the 1 connection + 1 pending request: ${statuses}`);
    const stats = await sidecarEnvoy!.stats("outbound|9081|guarded|ratings");
    assert.ok((stats.get("cluster.outbound|9081|guarded|ratings.default.svc.cluster.local.upstream_rq_pending_overflow") ?? 0) >= 1);
  }));

  it("ejects an endpoint that keeps failing (outlier detection) and sends the rest to the healthy one", logged(async () => {
    const answers = await tally(ratings("/"), 30, { host: "ratings" });
    assert.ok((answers.get("500 bad") ?? 0) <= 2, `the bad endpoint is ejected after its first 5xx: ${JSON.stringify([...answers])}`);
    const last = await tally(ratings("/"), 10, { host: "ratings" });
    assert.deepEqual(last, new Map([["200 good", 10]]));
    const stats = await sidecarEnvoy!.stats("outbound|9081||ratings");
    assert.ok((stats.get("cluster.outbound|9081||ratings.default.svc.cluster.local.outlier_detection.ejections_enforced_consecutive_5xx") ?? 0) >= 1);
  }));

  it("refuses requests through a fail-closed plugin whose module the control service does not serve", logged(async () => {
    control.update(meshOf(meshYaml(v1.port, v2.port, REVIEWS_ROUTES + `
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: missing, namespace: default }
spec:
  selector: { matchLabels: { app: productpage } }
  url: as-mesh://not-built
`)));
    await eventually(async () => (await get(outbound(), { host: "reviews" })).status === 403, "the client's requests are refused");
    control.update(meshOf(meshYaml(v1.port, v2.port, REVIEWS_ROUTES)));
    await eventually(async () => (await get(outbound(), { host: "reviews" })).status === 200, "removing the plugin lets requests through again");
  }));

  it("moves traffic on a VirtualService change and changes a WasmPlugin's config without draining the listener", logged(async () => {
    const listenersBefore = await sidecarEnvoy!.stats("listener_manager");
    control.update(meshOf(meshYaml(v1.port, v2.port, REVIEWS_ROUTES.replace(
      "  - route: [{ destination: { host: reviews, subset: v1 } }]",
      "  - route: [{ destination: { host: reviews, subset: v1 }, weight: 50 }, { destination: { host: reviews, subset: v2 }, weight: 50 }]",
    ) + RATE_LIMIT(1000))));
    await eventually(async () => (await tally(outbound("/split"), 20, { host: "reviews" })).has("200 v2 "), "half the traffic reaches v2");
    const split = await tally(outbound("/split"), 200, { host: "reviews" });
    const toV2 = split.get("200 v2 ") ?? 0;
    assert.ok(toV2 > 60 && toV2 < 140, `about half of 200 reach v2: ${JSON.stringify([...split])}`);
    const listenersAfterAdd = await sidecarEnvoy!.stats("listener_manager");

    // Lower the limit: only the ECDS resource changes, the listener stays as it is.
    control.update(meshOf(meshYaml(v1.port, v2.port, REVIEWS_ROUTES + RATE_LIMIT(2))));
    await eventually(async () => (await tally(outbound(), 5, { host: "reviews" })).has("429 local_rate_limited"), "the lower limit applies");
    const listenersAfter = await sidecarEnvoy!.stats("listener_manager");
    assert.equal(listenersAfter.get("listener_manager.listener_modified"), listenersAfterAdd.get("listener_manager.listener_modified"),
      "changing the plugin config modifies no listener");
    assert.equal(listenersAfter.get("listener_manager.total_filter_chains_draining"), listenersAfterAdd.get("listener_manager.total_filter_chains_draining"),
      "no filter chain started draining");
    assert.ok((listenersBefore.get("listener_manager.listener_modified") ?? 0) < (listenersAfterAdd.get("listener_manager.listener_modified") ?? 0),
      "adding a plugin did modify the listener (its filter chain changed)");
  }));
});
