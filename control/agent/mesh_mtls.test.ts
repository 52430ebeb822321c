// Two workloads, each with its own agent and Envoy, talking over mTLS with certificates that only ever travel over
// SDS: the client Envoy presents frontend's SVID and checks checkout's SPIFFE ID, the server Envoy requires a client
// certificate from the mesh root and forwards the caller's identity in x-forwarded-client-cert. Then both sides
// rotate (20 s certificates) under a fixed request rate, and not one request may fail.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { startEnvoy, type EnvoyInstance } from "../../tests/harness/envoy.ts";
import { startUpstream, type EchoedRequest, type Upstream } from "../../tests/harness/upstream.ts";
import type { Json } from "../../envoy/bootstrap.ts";
import { MeshCa } from "../ca/ca.ts";
import { CaServer } from "../ca/server.ts";
import { generateToken, TokenAuthority } from "../ca/tokens.ts";
import { startAgent, type WorkloadAgent } from "./agent.ts";
import { meshDownstreamTlsContext, meshUpstreamTlsContext, sdsCluster } from "./envoy_tls.ts";

const TRUST_DOMAIN = "cluster.local";
const CHECKOUT = `spiffe://${TRUST_DOMAIN}/ns/shop/sa/checkout`;
const FRONTEND = `spiffe://${TRUST_DOMAIN}/ns/shop/sa/frontend`;
const TTL_SECONDS = Number(process.env.AS_MESH_ROTATION_TTL_SECONDS ?? 20);
const LOAD_SECONDS = Number(process.env.AS_MESH_ROTATION_LOAD_SECONDS ?? 60);
const RATE = 200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const ROUTER = { name: "envoy.filters.http.router", typedConfig: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } };

function staticCluster(name: string, port: number, extra: Json = {}): Json {
  return {
    name, type: "STATIC", connectTimeout: "1s",
    loadAssignment: { clusterName: name, endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: "127.0.0.1", portValue: port } } } }] }] },
    ...extra,
  };
}

function tlsSocket(type: "DownstreamTlsContext" | "UpstreamTlsContext", context: object): Json {
  return { name: "envoy.transport_sockets.tls", typedConfig: { "@type": `type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.${type}`, ...context } };
}

function listener(name: string, routeCluster: (path: string) => string, options: { tls?: Json; hcm?: Json } = {}): Json {
  return {
    name,
    address: { socketAddress: { address: "127.0.0.1", portValue: 0 } },
    filterChains: [{
      ...(options.tls ? { transportSocket: options.tls } : {}),
      filters: [{
        name: "envoy.filters.network.http_connection_manager",
        typedConfig: {
          "@type": HCM, statPrefix: name,
          routeConfig: { virtualHosts: [{ name: "all", domains: ["*"], routes: [
            { match: { prefix: "/wrong-identity" }, route: { cluster: routeCluster("/wrong-identity") } },
            { match: { prefix: "/" }, route: { cluster: routeCluster("/") } },
          ] }] },
          httpFilters: [ROUTER],
          ...options.hcm,
        },
      }],
    }],
  };
}

/** The checkout sidecar: inbound mTLS in front of the app, caller identity forwarded in XFCC. */
function serverBootstrap(sdsSocket: string, appPort: number): Json {
  return {
    node: { id: "checkout-1.shop", cluster: "checkout.shop" },
    admin: { address: { socketAddress: { address: "127.0.0.1", portValue: 0 } } },
    staticResources: {
      clusters: [sdsCluster(sdsSocket), staticCluster("app", appPort)],
      listeners: [listener("inbound", () => "app", {
        tls: tlsSocket("DownstreamTlsContext", meshDownstreamTlsContext()),
        hcm: { forwardClientCertDetails: "SANITIZE_SET", setCurrentClientCertDetails: { uri: true } },
      })],
    },
  };
}

/** The frontend sidecar: plaintext from the app, ISTIO_MUTUAL to checkout (and to checkout under a wrong expected identity). */
function clientBootstrap(sdsSocket: string, serverPort: number): Json {
  // Short-lived upstream connections so that rotations are exercised by new handshakes during the load.
  const pool = { commonHttpProtocolOptions: { maxRequestsPerConnection: 50 } };
  return {
    node: { id: "frontend-1.shop", cluster: "frontend.shop" },
    admin: { address: { socketAddress: { address: "127.0.0.1", portValue: 0 } } },
    staticResources: {
      clusters: [
        sdsCluster(sdsSocket),
        staticCluster("checkout", serverPort, { ...pool, transportSocket: tlsSocket("UpstreamTlsContext", meshUpstreamTlsContext({ destinationSpiffeIds: [CHECKOUT], sni: "checkout.shop.svc.cluster.local" })) }),
        staticCluster("impostor-check", serverPort, { transportSocket: tlsSocket("UpstreamTlsContext", meshUpstreamTlsContext({ destinationSpiffeIds: [`spiffe://${TRUST_DOMAIN}/ns/shop/sa/payments`] })) }),
      ],
      listeners: [listener("outbound", (path) => (path === "/wrong-identity" ? "impostor-check" : "checkout"))],
    },
  };
}

function get(url: string, agent?: HttpAgent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => { body += chunk; });
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.setTimeout(5000, () => req.destroy(new Error("timed out")));
    req.end();
  });
}

async function leafSerials(envoy: EnvoyInstance): Promise<string[]> {
  const body = JSON.parse(await envoy.admin("/certs")) as { certificates: Array<{ cert_chain: Array<{ serial_number: string }> }> };
  return body.certificates.flatMap((entry) => entry.cert_chain.map((cert) => cert.serial_number.toLowerCase().replace(/^0+/, "")));
}

let dir: string;
let caServer: CaServer;
let upstream: Upstream;
const agents: WorkloadAgent[] = [];
let serverEnvoy: EnvoyInstance | undefined;
let clientEnvoy: EnvoyInstance | undefined;
let checkoutAgent: WorkloadAgent;
let frontendAgent: WorkloadAgent;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "as-mesh-mtls-"));
  const logger = pino({ level: "silent" });
  const root = await MeshCa.generateRoot({ trustDomain: TRUST_DOMAIN });
  const ca = await MeshCa.fromPem({ keyPem: root.keyPem, certChainPem: root.certPem }, { trustDomain: TRUST_DOMAIN });
  const checkout = generateToken({ namespace: "shop", serviceAccount: "checkout" });
  const frontend = generateToken({ namespace: "shop", serviceAccount: "frontend" });
  caServer = new CaServer({ ca, tokens: new TokenAuthority([checkout.entry, frontend.entry]), logger });
  const caPort = await caServer.listen("127.0.0.1:0");
  const caOptions = { address: `127.0.0.1:${caPort}`, caCertificatesPem: caServer.trustBundlePem };
  checkoutAgent = await startAgent({ ca: caOptions, token: checkout.token, sdsSocketPath: join(dir, "checkout.sock"), ttlSeconds: TTL_SECONDS, logger });
  agents.push(checkoutAgent);
  frontendAgent = await startAgent({ ca: caOptions, token: frontend.token, sdsSocketPath: join(dir, "frontend.sock"), ttlSeconds: TTL_SECONDS, logger });
  agents.push(frontendAgent);
  await Promise.all([checkoutAgent.ready(), frontendAgent.ready()]);
  upstream = await startUpstream();
  serverEnvoy = await startEnvoy({ config: serverBootstrap(join(dir, "checkout.sock"), upstream.port) });
  const serverPort = Number(new URL(serverEnvoy.url("inbound")).port);
  clientEnvoy = await startEnvoy({ config: clientBootstrap(join(dir, "frontend.sock"), serverPort) });
});

after(async () => {
  await clientEnvoy?.stop();
  await serverEnvoy?.stop();
  for (const agent of agents) await agent.close();
  await upstream?.close();
  await caServer?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("two workloads talk over mTLS and the server side sees the caller's SPIFFE ID in x-forwarded-client-cert", async () => {
  const response = await get(clientEnvoy!.url("outbound") + "/orders");
  assert.equal(response.status, 200, response.body);
  const echoed = JSON.parse(response.body) as EchoedRequest;
  assert.match(String(echoed.headers["x-forwarded-client-cert"]), new RegExp(`URI=${FRONTEND.replace(/[/.]/g, "\\$&")}`));
  const handshakes = [...(await serverEnvoy!.stats("ssl.handshake"))].reduce((sum, [, value]) => sum + value, 0);
  assert.ok(handshakes >= 1, "the inbound connection was TLS");
});

test("the client refuses a server whose SPIFFE ID is not the destination's", async () => {
  const response = await get(clientEnvoy!.url("outbound") + "/wrong-identity");
  assert.equal(response.status, 503);
  const stats = await clientEnvoy!.stats("impostor-check");
  const sanFailures = [...stats].find(([name]) => name === "cluster.impostor-check.ssl.fail_verify_san")?.[1] ?? 0;
  assert.ok(sanFailures >= 1, `fail_verify_san = ${sanFailures}`);
});

test("the server refuses a plaintext client", async () => {
  const { port } = new URL(serverEnvoy!.url("inbound"));
  const reply = await new Promise<string>((resolve) => {
    const socket = connect(Number(port), "127.0.0.1", () => socket.write("GET / HTTP/1.1\r\nhost: checkout\r\n\r\n"));
    let data = "";
    socket.on("data", (chunk) => { data += chunk.toString("latin1"); });
    socket.on("close", () => resolve(data));
    socket.on("error", () => resolve(data));
    socket.setTimeout(3000, () => socket.destroy());
  });
  assert.ok(!reply.includes("HTTP/1.1 200"), `plaintext got an answer: ${reply.slice(0, 80)}`);
});

test(`rotates certificates on both sides under ${RATE} req/s for ${LOAD_SECONDS} s with no failed request`, { timeout: (LOAD_SECONDS + 60) * 1000 }, async (t) => {
  const issued = new Map<WorkloadAgent, string[]>([[checkoutAgent, [checkoutAgent.current()!.serialNumber]], [frontendAgent, [frontendAgent.current()!.serialNumber]]]);
  const stops = [checkoutAgent, frontendAgent].map((agent) => agent.onRotate((certificate) => issued.get(agent)!.push(certificate.serialNumber)));
  const seenInEnvoy = new Map<EnvoyInstance, Set<string>>([[serverEnvoy!, new Set()], [clientEnvoy!, new Set()]]);
  let polling = true;
  const poller = (async () => {
    while (polling) {
      for (const [envoy, seen] of seenInEnvoy) for (const serial of await leafSerials(envoy)) seen.add(serial);
      await sleep(500);
    }
  })();

  const url = clientEnvoy!.url("outbound") + "/load";
  const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 32 });
  const failures: string[] = [];
  let completed = 0;
  const inFlight = new Set<Promise<void>>();
  const started = Date.now();
  const total = RATE * LOAD_SECONDS;
  // Fixed arrival rate: each 50 ms tick sends the requests due by then, whatever the latency of earlier ones.
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * RATE));
    for (; sent < due; sent++) {
      const request = get(url, keepAlive).then(
        (response) => { completed++; if (response.status !== 200) failures.push(`HTTP ${response.status}: ${response.body.slice(0, 120)}`); },
        (error: Error) => { completed++; failures.push(error.message); },
      );
      inFlight.add(request);
      void request.finally(() => inFlight.delete(request));
    }
    await sleep(50);
  }
  await Promise.all(inFlight);
  const seconds = (Date.now() - started) / 1000;
  keepAlive.destroy();
  polling = false;
  await poller;
  for (const stop of stops) stop();

  t.diagnostic(`${total} requests in ${seconds.toFixed(1)} s, ${failures.length} failed; rotations: checkout ${issued.get(checkoutAgent)!.length - 1}, frontend ${issued.get(frontendAgent)!.length - 1}`);
  assert.equal(completed, total);
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${total} requests failed`);
  assert.ok(total / seconds >= RATE * 0.95, `achieved ${(total / seconds).toFixed(0)} req/s`);
  const minRotations = Math.floor(LOAD_SECONDS / (TTL_SECONDS * 0.55)) - 1;
  for (const [agent, envoy] of [[checkoutAgent, serverEnvoy!], [frontendAgent, clientEnvoy!]] as const) {
    const serials = issued.get(agent)!;
    assert.ok(serials.length - 1 >= minRotations, `${agent.current()?.spiffeId} rotated ${serials.length - 1} times, expected ≥ ${minRotations}`);
    // Every certificate the agent served long enough to be polled shows up in Envoy's /certs.
    const seen = seenInEnvoy.get(envoy)!;
    for (const serial of serials.slice(0, -1)) assert.ok(seen.has(serial.replace(/^0+/, "")), `Envoy never showed serial ${serial}`);
  }
});
