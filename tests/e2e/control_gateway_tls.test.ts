// TLS termination at the edge gateway with a certificate the control service holds: a Gateway server with
// `tls.mode: SIMPLE` and a credentialName gets a serving certificate from the mesh CA (or the operator's folder),
// delivered to the gateway Envoy over SDS; clients that trust the mesh root reach the routed service over HTTPS.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { MeshCa } from "../../control/ca/index.ts";
import { GatewayCredentials } from "../../control/credentials.ts";
import type { ControlService } from "../../control/server.ts";
import { startUpstream, type Upstream } from "../harness/upstream.ts";
import type { EnvoyInstance } from "../harness/envoy.ts";
import { MeshFolder, eventually, freePort, startControlInProcess, startProxy } from "../harness/control_mesh.ts";

function httpsGet(port: number, servername: string, ca: string): Promise<{ status: number; body: string; issuer: string }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest({ host: "127.0.0.1", port, path: "/shop", servername, ca, headers: { host: servername }, agent: false, timeout: 10_000 }, (response) => {
      const chunks: Buffer[] = [];
      const issuer = (response.socket as import("node:tls").TLSSocket).getPeerCertificate().issuer?.O ?? "";
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), issuer: String(issuer) }));
    });
    request.on("timeout", () => request.destroy(new Error("timed out")));
    request.on("error", reject);
    request.end();
  });
}

const mesh = (upstreamPort: number) => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: shop, namespace: default }
spec:
  hosts: [shop.default.svc.cluster.local]
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 127.0.0.1, ports: { http: ${upstreamPort} } }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 8443, name: https, protocol: HTTPS }
    hosts: [shop.example.com]
    tls: { mode: SIMPLE, credentialName: edge-cert }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: edge, namespace: default }
spec:
  hosts: [shop.example.com]
  gateways: [edge]
  http: [{ route: [{ destination: { host: shop.default.svc.cluster.local } }] }]
`;

describe("gateway TLS with a certificate from the control service", { timeout: 180_000 }, () => {
  const folder = new MeshFolder();
  const caDir = mkdtempSync(join(tmpdir(), "as-mesh-ca-"));
  const credentialsDir = mkdtempSync(join(tmpdir(), "as-mesh-credentials-"));
  let ca: MeshCa;
  let service: ControlService;
  let upstream: Upstream;
  let gateway: EnvoyInstance | undefined;
  let httpsPort = 0;

  before(async () => {
    ca = await MeshCa.loadOrCreate(caDir, { trustDomain: "cluster.local" });
    upstream = await startUpstream((_request, _body, response) => { response.writeHead(200); response.end("shop"); });
    folder.write("mesh.yaml", mesh(upstream.port));
    const credentials = new GatewayCredentials({ dir: credentialsDir, issuer: () => ca, logger: pino({ level: "silent" }) });
    const started = await startControlInProcess(folder, { gatewayCredentials: credentials });
    service = started.service;
    httpsPort = await freePort();
    gateway = await startProxy(started.endpoints, {
      type: "router", namespace: "default", ip: "127.0.0.1", labels: { istio: "ingressgateway" },
      listenPorts: { "8443": httpsPort },
    });
  });

  after(async () => {
    await gateway?.stop();
    await service?.stop();
    await upstream?.close();
    folder.cleanup();
    rmSync(caDir, { recursive: true, force: true });
    rmSync(credentialsDir, { recursive: true, force: true });
  });

  it("terminates TLS with a certificate the mesh CA issued for the server's hosts", async () => {
    const root = ca.trustBundle().join("\n");
    await eventually(async () => (await httpsGet(httpsPort, "shop.example.com", root)).status === 200, "HTTPS through the gateway answers");
    const answer = await httpsGet(httpsPort, "shop.example.com", root);
    assert.equal(answer.body, "shop");
    assert.equal(answer.issuer, "cluster.local", "the certificate chains to the mesh CA");
    const stranger = (await MeshCa.generateRoot({ trustDomain: "elsewhere" })).certPem;
    await assert.rejects(httpsGet(httpsPort, "shop.example.com", stranger), /certificate|self[- ]signed|unable to verify/i);
  });

  it("switches to the operator's certificate when one appears in the credentials folder", async () => {
    const operator = await MeshCa.generateRoot({ trustDomain: "operator.example" });
    const operatorCa = await MeshCa.fromPem({ keyPem: operator.keyPem, certChainPem: operator.certPem }, { trustDomain: "operator.example" });
    const issued = await operatorCa.issueServingCertificate({ dns: ["shop.example.com"] });
    writeFileSync(join(credentialsDir, "edge-cert.key"), issued.keyPem);
    writeFileSync(join(credentialsDir, "edge-cert.crt"), issued.certChainPem);
    // A config change (or the periodic refresh) reloads credentials; touch the mesh to make it now.
    folder.write("mesh.yaml", mesh(upstream.port) + "\n# reload\n");
    await eventually(async () => (await httpsGet(httpsPort, "shop.example.com", operator.certPem)).status === 200,
      "the gateway serves the operator's certificate");
  });
});
