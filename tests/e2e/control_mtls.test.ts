// Mesh mTLS and authorization from the control service, in real Envoys with real certificates: sidecars whose
// bootstraps name their agent's SDS socket get auto-mTLS between them, PeerAuthentication switches the inbound
// chains (no Envoy restart), and AuthorizationPolicy becomes Envoy's RBAC filter, including request principals
// vouched for by the jwt-auth filter.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { startUpstream, type Upstream } from "../harness/upstream.ts";
import type { EnvoyInstance } from "../harness/envoy.ts";
import {
  MeshFolder, eventually, freePort, refreshListeners, startControlInProcess, startProxy, syncStatus, type Answer, type ControlEndpoints,
} from "../harness/control_mesh.ts";
import { envoyCertificates, formatCertificateTable, type ProxyWithCertificate } from "../../control/commands/proxy_certs.ts";
import type { ControlService } from "../../control/server.ts";
import { MeshCa, createKeyAndCsr } from "../../control/ca/ca.ts";
import { CaServer } from "../../control/ca/server.ts";
import { generateToken, TokenAuthority } from "../../control/ca/tokens.ts";
import { startAgent, type WorkloadAgent } from "../../control/agent/agent.ts";

const CHECKOUT = "checkout.shop.svc.cluster.local";
const FRONTEND_ID = "spiffe://cluster.local/ns/shop/sa/frontend";
const ISSUER = "https://issuer.example/shop";

const services = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: checkout, namespace: shop }
spec:
  hosts: [${CHECKOUT}]
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  resolution: STATIC
  workloadSelector: { labels: { app: checkout } }
`;

const peerAuthentication = (mode: string) => `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: shop }
spec: { mtls: { mode: ${mode} } }
`;

const logger = pino({ level: process.env.CONTROL_TEST_LOG_LEVEL ?? "silent" });

/** A plain-text request straight to the checkout sidecar's inbound port (no mesh client). */
function plainRequest(path: string): Promise<Answer | Error> {
  return new Promise((resolve) => {
    const request = httpRequest({ host: "127.0.5.1", port: 8080, path, agent: false, timeout: 3000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: response.headers }));
    });
    request.on("timeout", () => request.destroy(new Error("timed out")));
    request.on("error", resolve);
    request.end();
  });
}

/** An mTLS request straight to the checkout sidecar, presenting `cert`/`key` (e.g. from another CA). */
function mtlsRequest(path: string, credentials: { key: string; cert: string; ca: string }): Promise<Answer | Error> {
  return new Promise((resolve) => {
    const request = httpsRequest({
      host: "127.0.5.1", port: 8080, path, agent: false, timeout: 3000, ...credentials, servername: CHECKOUT, rejectUnauthorized: false,
    }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: response.headers }));
    });
    request.on("timeout", () => request.destroy(new Error("timed out")));
    request.on("error", resolve);
    request.end();
  });
}

describe("mesh mTLS and authorization with real Envoys", { timeout: 300_000 }, () => {
  const folder = new MeshFolder();
  const dir = mkdtempSync(join(tmpdir(), "as-mesh-mtls-"));
  let service: ControlService;
  let control: ControlEndpoints;
  let caServer: CaServer;
  let ca: MeshCa;
  const agents: WorkloadAgent[] = [];
  const envoys: EnvoyInstance[] = [];
  let app: Upstream;
  let checkoutEnvoy: EnvoyInstance;
  const outbound: Record<"frontend" | "other", string> = { frontend: "", other: "" };
  let signToken: (subject: string) => Promise<string>;
  let jwks = "";

  const call = (from: "frontend" | "other", path: string, headers: Record<string, string> = {}, method = "GET") =>
    new Promise<Answer>((resolve, reject) => {
      const request = httpRequest(outbound[from] + path, { method, headers: { host: CHECKOUT, ...headers }, agent: false, timeout: 10_000 }, (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: response.headers }));
      });
      request.on("timeout", () => request.destroy(new Error("timed out")));
      request.on("error", reject);
      request.end();
    });
  const rbacStat = async (outcome: "allowed" | "denied") => (await checkoutEnvoy.stats("rbac")).get(`http.inbound_8080.rbac.${outcome}`) ?? 0;

  before(async () => {
    folder.write("services.yaml", services);
    ({ service, endpoints: control } = await startControlInProcess(folder, { certificates: { issued: () => caServer?.issued() ?? [] } }));

    const root = await MeshCa.generateRoot({ trustDomain: "cluster.local" });
    ca = await MeshCa.fromPem({ keyPem: root.keyPem, certChainPem: root.certPem }, { trustDomain: "cluster.local" });
    const tokens = new TokenAuthority();
    const issued = ["checkout", "frontend", "other"].map((serviceAccount) => ({ serviceAccount, ...generateToken({ namespace: "shop", serviceAccount }) }));
    tokens.replace(issued.map((entry) => entry.entry));
    caServer = new CaServer({ ca, tokens, logger });
    const caPort = await caServer.listen("127.0.0.1:0");
    for (const { serviceAccount, token } of issued) {
      const agent = await startAgent({ ca: { address: `127.0.0.1:${caPort}`, caCertificatesPem: ca.rootCertPem }, token, sdsSocketPath: join(dir, `${serviceAccount}.sock`), logger });
      agents.push(agent);
    }
    await Promise.all(agents.map((agent) => agent.ready()));

    app = await startUpstream((request, _body, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ path: request.url, xfcc: request.headers["x-forwarded-client-cert"] ?? null }));
    });
    checkoutEnvoy = await startProxy(control, {
      namespace: "shop", ip: "127.0.5.1", labels: { app: "checkout" }, serviceAccount: "checkout",
      inboundPorts: { http: 8080 }, appPorts: { http: app.port }, sdsSocket: join(dir, "checkout.sock"),
    });
    envoys.push(checkoutEnvoy);
    for (const [index, name] of (["frontend", "other"] as const).entries()) {
      const envoy = await startProxy(control, {
        namespace: "shop", ip: `127.0.5.${index + 2}`, labels: { app: name }, serviceAccount: name,
        listenPorts: { "8080": await freePort() }, sdsSocket: join(dir, `${name}.sock`),
        // One client on incremental xDS, so cluster updates are proven on both protocols.
        delta: name === "other",
      });
      envoys.push(envoy);
      await refreshListeners(envoy);
      outbound[name] = envoy.url("127.0.0.1_8080");
    }

    const keys = await generateKeyPair("ES256");
    jwks = JSON.stringify({ keys: [{ ...(await exportJWK(keys.publicKey)), kid: "k1", alg: "ES256", use: "sig" }] });
    signToken = (subject) => new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer(ISSUER).setSubject(subject).setIssuedAt().setExpirationTime("1h").sign(keys.privateKey);
  });

  after(async () => {
    await Promise.all(envoys.map((envoy) => envoy.stop()));
    await Promise.all(agents.map((agent) => agent.close()));
    await app?.close();
    await caServer?.close();
    await service?.stop();
    folder.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("sidecars with agents talk over mTLS by default and the app sees the caller's SPIFFE ID", async () => {
    await eventually(async () => (await call("frontend", "/orders")).status === 200, "frontend reaches checkout");
    const { xfcc } = JSON.parse((await call("frontend", "/orders")).body) as { xfcc: string | null };
    assert.match(String(xfcc), /URI=spiffe:\/\/cluster\.local\/ns\/shop\/sa\/frontend/);
    const handshakes = (await checkoutEnvoy.stats("ssl.handshake")).get("listener.127.0.5.1_8080.ssl.handshake") ?? 0;
    assert.ok(handshakes >= 1, `inbound TLS handshakes: ${handshakes}`);
    // PERMISSIVE (Istio's default): plain text is accepted too, without an XFCC the caller could have forged.
    // The metrics filter labels the request with the peer certificate's identity.
    await eventually(async () => (await checkoutEnvoy.admin("/stats/prometheus")).split("\n")
      .some((line) => line.startsWith("istio_requests_total{") && line.includes(`source_principal="${FRONTEND_ID}"`) && line.includes('connection_security_policy="mutual_tls"')),
    "istio_requests_total carries source_principal");
    const plain = await plainRequest("/plain");
    assert.ok(!(plain instanceof Error), String(plain));
    assert.equal(plain.status, 200);
    assert.equal((JSON.parse(plain.body) as { xfcc: string | null }).xfcc, null);
  });

  it("STRICT refuses plain text and certificates from another CA, and back to PERMISSIVE, all without restarting Envoy", async () => {
    const pid = checkoutEnvoy.process.pid;
    folder.write("peer.yaml", peerAuthentication("STRICT"));
    await eventually(async () => (await plainRequest("/plain")) instanceof Error, "plain text is refused");
    assert.equal((await call("frontend", "/orders")).status, 200, "mesh mTLS still works");

    const foreign = await MeshCa.generateRoot({ trustDomain: "cluster.local" });
    const foreignCa = await MeshCa.fromPem({ keyPem: foreign.keyPem, certChainPem: foreign.certPem }, { trustDomain: "cluster.local" });
    const { keyPem, csrPem } = await createKeyAndCsr();
    const signed = await foreignCa.sign(csrPem, { namespace: "shop", serviceAccount: "frontend" });
    const impostor = await mtlsRequest("/orders", { key: keyPem, cert: signed.certChain.join(""), ca: foreign.certPem });
    assert.ok(impostor instanceof Error, `a certificate from another CA got ${impostor instanceof Error ? "" : impostor.status}`);
    // The same request with a certificate of the mesh's own CA passes: the refusal above is the CA check.
    const genuine = await createKeyAndCsr();
    const genuineChain = (await ca.sign(genuine.csrPem, { namespace: "shop", serviceAccount: "frontend" })).certChain.join("");
    const accepted = await mtlsRequest("/orders", { key: genuine.keyPem, cert: genuineChain, ca: ca.rootCertPem });
    assert.ok(!(accepted instanceof Error) && accepted.status === 200, `the mesh CA's certificate: ${accepted instanceof Error ? accepted.message : accepted.status}`);

    folder.write("peer.yaml", peerAuthentication("PERMISSIVE"));
    await eventually(async () => {
      const answer = await plainRequest("/plain");
      return !(answer instanceof Error) && answer.status === 200;
    }, "plain text is accepted again");
    assert.equal(checkoutEnvoy.process.pid, pid);
    assert.equal(checkoutEnvoy.process.exitCode, null, "the same Envoy process serves throughout");
  });

  it("a DestinationRule turning TLS off takes effect in the client without a restart, and removing it brings mTLS back", async () => {
    const xfcc = async (from: "frontend" | "other" = "frontend") => (JSON.parse((await call(from, "/orders")).body) as { xfcc: string | null }).xfcc;
    folder.write("dr.yaml", `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: checkout, namespace: shop }
spec: { host: ${CHECKOUT}, trafficPolicy: { tls: { mode: DISABLE } } }
`);
    await eventually(async () => (await xfcc()) === null, "the client sends plain text");
    await eventually(async () => (await xfcc("other")) === null, "the delta client sends plain text");
    folder.remove("dr.yaml");
    await eventually(async () => String(await xfcc()).includes(`URI=${FRONTEND_ID}`), "the client is back on mTLS");
    await eventually(async () => String(await xfcc("other")).includes("URI=spiffe://cluster.local/ns/shop/sa/other"), "the delta client is back on mTLS");
  });

  it("/debug/syncz and proxy-status show each proxy's SPIFFE ID, the CA's serial and expiry, and whether its Envoy serves it", async () => {
    const statuses = await syncStatus(control) as Array<ProxyWithCertificate & { service: string }>;
    const checkout = statuses.find((status) => status.certificate?.spiffeId === "spiffe://cluster.local/ns/shop/sa/checkout");
    assert.ok(checkout, JSON.stringify(statuses.map((status) => status.certificate)));
    const agent = agents[0]!;
    assert.equal(checkout.certificate!.serialNumber, agent.current()!.serialNumber);
    assert.ok(checkout.certificate!.expiresInSeconds! > 0);
    const served = await envoyCertificates([checkoutEnvoy.adminUrl]);
    assert.deepEqual(served.errors, []);
    const table = formatCertificateTable(statuses, served.bySpiffeId);
    const row = table.split("\n").find((line) => line.includes("/sa/checkout"));
    assert.ok(row?.trimEnd().endsWith("yes"), table);
    assert.match(table, /\/sa\/frontend .* -$/m, "Envoys not asked show -");
  });

  it("an empty AuthorizationPolicy denies everything with 403 and an rbac stat", async () => {
    folder.write("authz.yaml", `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-all, namespace: shop }
spec: { selector: { matchLabels: { app: checkout } } }
`);
    await eventually(async () => (await call("frontend", "/orders")).status === 403, "deny-all applies");
    const denied = await call("frontend", "/orders");
    assert.equal(denied.body, "RBAC: access denied");
    assert.ok(await rbacStat("denied") >= 1);
  });

  it("ALLOW for one principal and GET /users/* lets exactly that through; DENY beats ALLOW", async () => {
    folder.write("authz.yaml", `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: users, namespace: shop }
spec:
  selector: { matchLabels: { app: checkout } }
  rules:
  - from: [{ source: { principals: ["cluster.local/ns/shop/sa/frontend"] } }]
    to: [{ operation: { methods: [GET], paths: ["/users/*"] } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: no-admin, namespace: shop }
spec:
  selector: { matchLabels: { app: checkout } }
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/users/admin"] } }] }]
`);
    await eventually(async () => (await call("frontend", "/users/7")).status === 200 && (await call("frontend", "/users/admin")).status === 403, "the policies apply");
    const allowedBefore = await rbacStat("allowed");
    assert.equal((await call("frontend", "/users/7")).status, 200);
    assert.ok(await rbacStat("allowed") > allowedBefore, "rbac.allowed counts");
    assert.equal((await call("frontend", "/users/7", {}, "POST")).status, 403, "POST is not allowed");
    assert.equal((await call("frontend", "/orders")).status, 403, "another path is not allowed");
    const other = await call("other", "/users/7");
    assert.equal(other.status, 403, "another principal is not allowed");
    assert.equal(other.body, "RBAC: access denied");
    const plain = await plainRequest("/users/7");
    assert.ok(!(plain instanceof Error) && plain.status === 403, "plain text has no principal");
    assert.equal((await call("frontend", "/users/admin")).status, 403, "DENY beats ALLOW");
  });

  it("a requestPrincipals rule admits a token verified by jwt-auth and nothing else", async () => {
    folder.write("authz.yaml", `
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: shop }
spec:
  selector: { matchLabels: { app: checkout } }
  jwtRules: [{ issuer: "${ISSUER}", jwks: '${jwks}' }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: alice-only, namespace: shop }
spec:
  selector: { matchLabels: { app: checkout } }
  rules: [{ from: [{ source: { requestPrincipals: ["${ISSUER}/alice"] } }] }]
`);
    const alice = await signToken("alice");
    await eventually(async () => (await call("frontend", "/orders", { authorization: `Bearer ${alice}` })).status === 200, "alice's token is allowed");
    assert.equal((await call("frontend", "/orders")).status, 403, "no token");
    assert.equal((await call("frontend", "/orders", { "x-as-mesh-jwt-iss": ISSUER, "x-as-mesh-jwt-sub": "alice" })).status, 403, "forged claim headers");
    assert.equal((await call("frontend", "/orders", { authorization: `Bearer ${await signToken("bob")}` })).status, 403, "bob's token");
    assert.equal((await call("frontend", "/orders", { authorization: `Bearer ${alice.slice(0, -4)}AAAA` })).status, 401, "a bad signature");
  });
});
