import { test } from "node:test";
import assert from "node:assert/strict";
import { packResource, TypeUrl } from "../api/index.ts";
import { meshDownstreamTlsContext, meshUpstreamTlsContext, rootSecret, sdsCluster, workloadSecret } from "./envoy_tls.ts";
import { parseEnvoyCerts } from "./envoy_certs.ts";

const DOWNSTREAM = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
const UPSTREAM = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";

test("builds TLS contexts, the SDS cluster and both secrets as valid Envoy messages", () => {
  assert.doesNotThrow(() => packResource(DOWNSTREAM, meshDownstreamTlsContext()));
  assert.doesNotThrow(() => packResource(UPSTREAM, meshUpstreamTlsContext({ destinationSpiffeIds: ["spiffe://cluster.local/ns/a/sa/b"], sni: "b.a.svc" })));
  assert.doesNotThrow(() => packResource(TypeUrl.cluster, sdsCluster("/tmp/agent.sock")));
  assert.doesNotThrow(() => packResource(TypeUrl.secret, workloadSecret("chain", "key")));
  assert.doesNotThrow(() => packResource(TypeUrl.secret, rootSecret(["a", "b"])));
});

test("checks the destination's SPIFFE IDs as exact URI SANs and validates against ROOTCA", () => {
  const context = meshUpstreamTlsContext({ destinationSpiffeIds: ["spiffe://cluster.local/ns/shop/sa/checkout"] });
  const combined = context.commonTlsContext?.combinedValidationContext;
  assert.deepEqual(combined?.defaultValidationContext?.matchTypedSubjectAltNames, [{ sanType: "URI", matcher: { exact: "spiffe://cluster.local/ns/shop/sa/checkout" } }]);
  assert.equal(combined?.validationContextSdsSecretConfig?.name, "ROOTCA");
  assert.equal(context.commonTlsContext?.tlsCertificateSdsSecretConfigs?.[0]?.name, "default");
  assert.equal(context.commonTlsContext?.alpnProtocols, undefined, "no ALPN unless the cluster's protocol is known");
  assert.equal(meshDownstreamTlsContext().requireClientCertificate, true);
});

test("reads the workload certificate and roots out of Envoy's /certs", () => {
  const body = JSON.stringify({
    certificates: [
      { ca_cert: [{ serial_number: "0a1b", subject_alt_names: [] }], cert_chain: [{ serial_number: "ff01", expiration_time: "2026-12-02T00:00:00Z", days_until_expiration: "0", subject_alt_names: [{ uri: "spiffe://cluster.local/ns/shop/sa/checkout" }] }] },
      { ca_cert: [{ serial_number: "0a1b" }], cert_chain: [{ serial_number: "ff01" }] },
    ],
  });
  const parsed = parseEnvoyCerts(body);
  assert.deepEqual(parsed.roots.map((root) => root.serialNumber), ["a1b"]);
  assert.equal(parsed.workload.length, 1);
  assert.deepEqual(parsed.workload[0], { serialNumber: "ff01", spiffeIds: ["spiffe://cluster.local/ns/shop/sa/checkout"], expiresAt: "2026-12-02T00:00:00Z", daysUntilExpiration: 0 });
  assert.throws(() => parseEnvoyCerts("{}"), /not an Envoy \/certs response/);
});
