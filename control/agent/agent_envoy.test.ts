// The agent against a real Envoy: Envoy gets its listener's certificate and trust bundle only over SDS from the
// agent's Unix socket, serves mTLS with it, and picks up each rotated certificate without a restart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PeerCertificate } from "node:tls";
import { pino } from "pino";
import { startEnvoy, withEnvoyLog, type EnvoyInstance } from "../../tests/harness/envoy.ts";
import type { Json } from "../../envoy/bootstrap.ts";
import { createKeyAndCsr, MeshCa } from "../ca/ca.ts";
import { CaServer } from "../ca/server.ts";
import { generateToken, TokenAuthority } from "../ca/tokens.ts";
import { startAgent, type WorkloadAgent } from "./agent.ts";
import { meshDownstreamTlsContext, sdsCluster } from "./envoy_tls.ts";
import { parseEnvoyCerts } from "./envoy_certs.ts";

const TRUST_DOMAIN = "cluster.local";
const SERVER_ID = `spiffe://${TRUST_DOMAIN}/ns/shop/sa/checkout`;
const CLIENT_ID = `spiffe://${TRUST_DOMAIN}/ns/shop/sa/frontend`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function mtlsBootstrap(socketPath: string): Json {
  return {
    node: { id: "checkout-1.shop", cluster: "checkout.shop" },
    admin: { address: { socketAddress: { address: "127.0.0.1", portValue: 0 } } },
    staticResources: {
      clusters: [sdsCluster(socketPath)],
      listeners: [{
        name: "inbound_mtls",
        address: { socketAddress: { address: "127.0.0.1", portValue: 0 } },
        filterChains: [{
          transportSocket: {
            name: "envoy.transport_sockets.tls",
            typedConfig: {
              "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
              ...meshDownstreamTlsContext({ allowedPeerSpiffeIds: [CLIENT_ID] }),
            },
          },
          filters: [{
            name: "envoy.filters.network.http_connection_manager",
            typedConfig: {
              "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
              statPrefix: "inbound_mtls",
              routeConfig: {
                virtualHosts: [{
                  name: "all",
                  domains: ["*"],
                  routes: [{ match: { prefix: "/" }, directResponse: { status: 200, body: { inlineString: "ok" } } }],
                }],
                responseHeadersToAdd: [{ header: { key: "x-peer-uri-san", value: "%DOWNSTREAM_PEER_URI_SAN%" } }],
              },
              httpFilters: [{ name: "envoy.filters.http.router", typedConfig: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } }],
            },
          }],
        }],
      }],
    },
  };
}

const normalizeSerial = (serial: string) => serial.toLowerCase().replace(/^0+/, "");

async function envoyServing(envoy: EnvoyInstance): Promise<{ leafSerials: string[]; caSerials: string[]; uris: string[] }> {
  const parsed = parseEnvoyCerts(await envoy.admin("/certs"));
  return {
    leafSerials: parsed.workload.map((cert) => cert.serialNumber),
    caSerials: parsed.roots.map((cert) => cert.serialNumber),
    uris: parsed.workload.flatMap((cert) => cert.spiffeIds),
  };
}

/** One request on a fresh TLS connection, presenting `client`; resolves with the server certificate and response. */
function mtlsGet(url: string, client: { keyPem: string; certPem: string }, rootsPem: string): Promise<{ status: number; peer: PeerCertificate; peerUriHeader: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: hostname, port, path: "/", method: "GET", agent: false,
      key: client.keyPem, cert: client.certPem, ca: rootsPem,
      // Mesh certificates carry a SPIFFE URI, not a host name: check that instead.
      checkServerIdentity: (_host, cert) => cert.subjectaltname?.includes(`URI:${SERVER_ID}`) ? undefined : new Error(`unexpected server identity ${cert.subjectaltname}`),
    }, (response) => {
      const peer = (response.socket as import("node:tls").TLSSocket).getPeerCertificate();
      response.resume();
      response.on("end", () => resolve({ status: response.statusCode ?? 0, peer, peerUriHeader: String(response.headers["x-peer-uri-san"] ?? "") }));
    });
    req.on("error", reject);
    req.setTimeout(5000, () => req.destroy(new Error("request timed out")));
    req.end();
  });
}

test("Envoy serves mTLS with the agent's SDS certificate and picks up rotations without a restart", { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "as-mesh-agent-"));
  const logger = pino({ level: "silent" });
  const root = await MeshCa.generateRoot({ trustDomain: TRUST_DOMAIN });
  const ca = await MeshCa.fromPem({ keyPem: root.keyPem, certChainPem: root.certPem }, { trustDomain: TRUST_DOMAIN });
  const { token, entry } = generateToken({ namespace: "shop", serviceAccount: "checkout" });
  const caServer = new CaServer({ ca, tokens: new TokenAuthority([entry]), logger });
  let agent: WorkloadAgent | undefined;
  let envoy: EnvoyInstance | undefined;
  try {
    const port = await caServer.listen("127.0.0.1:0");
    const socketPath = join(dir, "sds.sock");
    agent = await startAgent({
      ca: { address: `127.0.0.1:${port}`, caCertificatesPem: caServer.trustBundlePem },
      token,
      sdsSocketPath: socketPath,
      ttlSeconds: 8,
      renewJitterFraction: 0.02,
      logger,
    });
    const first = await agent.ready();
    assert.equal(first.spiffeId, SERVER_ID);
    envoy = await startEnvoy({ config: mtlsBootstrap(socketPath) });
    await withEnvoyLog(() => envoy, async () => {
      const url = envoy!.url("inbound_mtls");
      const clientKey = await createKeyAndCsr();
      const clientCert = await ca.sign(clientKey.csrPem, { namespace: "shop", serviceAccount: "frontend" }, 3600);
      const client = { keyPem: clientKey.keyPem, certPem: clientCert.certChain[0] };

      const served = await envoyServing(envoy!);
      assert.ok(served.uris.includes(SERVER_ID), `Envoy's /certs shows ${JSON.stringify(served)}`);
      const response = await mtlsGet(url, client, ca.rootCertPem);
      assert.equal(response.status, 200);
      assert.equal(response.peerUriHeader, CLIENT_ID, "the server side sees the client's SPIFFE ID");
      const initialSerial = normalizeSerial(response.peer.serialNumber);
      assert.ok(served.leafSerials.includes(initialSerial), "the certificate on the wire is the one /certs reports");
      assert.ok(served.caSerials.length >= 1, "ROOTCA arrived over SDS");

      // Two rotations (8 s lifetime, renewal at ~4 s), each visible in /certs and on new connections.
      const seen = [initialSerial];
      for (let rotation = 1; rotation <= 2; rotation++) {
        const deadline = Date.now() + 15_000;
        let latest = seen[seen.length - 1];
        while (Date.now() < deadline && seen.includes(latest)) {
          await sleep(250);
          const now = await envoyServing(envoy!);
          latest = now.leafSerials.find((serial) => !seen.includes(serial)) ?? latest;
        }
        assert.ok(!seen.includes(latest), `rotation ${rotation}: /certs still shows ${latest} after 15 s`);
        assert.equal(latest, normalizeSerial(agent!.current()!.serialNumber));
        const after = await mtlsGet(url, client, ca.rootCertPem);
        assert.equal(after.status, 200);
        assert.equal(normalizeSerial(after.peer.serialNumber), latest);
        seen.push(latest);
      }
      const stats = await envoy!.stats("sds");
      const updates = [...stats].filter(([name]) => name.startsWith("sds.default.update_success")).map(([, value]) => value)[0];
      assert.ok((updates ?? 0) >= 3, `sds.default.update_success = ${updates}`);
    })();

    // A client certificate from another CA is refused by the handshake.
    const foreignRoot = await MeshCa.generateRoot({ trustDomain: TRUST_DOMAIN });
    const foreign = await MeshCa.fromPem({ keyPem: foreignRoot.keyPem, certChainPem: foreignRoot.certPem }, { trustDomain: TRUST_DOMAIN });
    const impostorKey = await createKeyAndCsr();
    const impostor = await foreign.sign(impostorKey.csrPem, { namespace: "shop", serviceAccount: "frontend" });
    await assert.rejects(mtlsGet(envoy.url("inbound_mtls"), { keyPem: impostorKey.keyPem, certPem: impostor.certChain[0] }, ca.rootCertPem));
  } finally {
    await envoy?.stop();
    await agent?.close();
    await caServer.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
