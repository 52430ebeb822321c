import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { Writable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { Registry } from "prom-client";
import { createKeyAndCsr, MeshCa } from "./ca.ts";
import { CaClient, CaRequestError, requestCertificate, type CaClientOptions } from "./client.ts";
import { CA_LOG_REDACT, CaServer } from "./server.ts";
import { generateToken, TokenAuthority } from "./tokens.ts";
import { x509 } from "./x509.ts";

const checkout = { namespace: "shop", serviceAccount: "checkout" };
const payments = { namespace: "shop", serviceAccount: "payments" };
const good = generateToken(checkout);
const other = generateToken(payments);
const expired = generateToken(checkout, new Date(Date.now() - 1000));
const tokens = new TokenAuthority([good.entry, other.entry, expired.entry]);
const logLines: string[] = [];
const registry = new Registry();
let server: CaServer;
let ca: MeshCa;
let clientOptions: CaClientOptions;
let caKeyPem: string;

before(async () => {
  const root = await MeshCa.generateRoot({ trustDomain: "cluster.local" });
  caKeyPem = root.keyPem;
  ca = await MeshCa.fromPem({ keyPem: root.keyPem, certChainPem: root.certPem }, { trustDomain: "cluster.local" });
  const sink = new Writable({ write(chunk, _encoding, done) { logLines.push(String(chunk)); done(); } });
  server = new CaServer({
    ca,
    tokens,
    logger: pino({ level: "debug", redact: CA_LOG_REDACT }, sink),
    registry,
    rateLimits: { perIdentity: { burst: 10, perSecond: 2 }, global: { burst: 100, perSecond: 100 } },
  });
  const port = await server.listen("127.0.0.1:0");
  clientOptions = { address: `127.0.0.1:${port}`, caCertificatesPem: server.trustBundlePem };
});

after(async () => {
  await server.close();
});

async function refusal(promise: Promise<unknown>): Promise<CaRequestError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof CaRequestError, `expected CaRequestError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the CA to refuse");
}

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const found = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = found?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return Number(value?.value ?? 0);
}

test("issues leaf + root over TLS for a bootstrap token, for the token's identity", async () => {
  const { csrPem } = await createKeyAndCsr({ subjectHint: "spiffe://cluster.local/ns/kube-system/sa/admin" });
  const chain = await requestCertificate(clientOptions, { token: good.token }, { csr: csrPem, validityDuration: 600 });
  assert.equal(chain.length, 2);
  assert.equal(chain[1], ca.rootCertPem);
  const leaf = new X509Certificate(chain[0]);
  assert.equal(leaf.subjectAltName, "URI:spiffe://cluster.local/ns/shop/sa/checkout");
  const lifetime = (new Date(leaf.validTo).getTime() - Date.now()) / 1000;
  assert.ok(lifetime > 590 && lifetime <= 600, `asked for 600 s, got ${lifetime}`);
  const issued = server.issued().find((entry) => entry.spiffeId.endsWith("/sa/checkout"));
  assert.equal(issued?.serialNumber, leaf.serialNumber.toLowerCase());
  assert.equal(issued?.credential, "token");
});

test("renews with the current certificate as TLS client credential and no token", async () => {
  const first = await createKeyAndCsr();
  const chain = await requestCertificate(clientOptions, { token: other.token }, { csr: first.csrPem, validityDuration: 600 });
  const second = await createKeyAndCsr();
  const renewed = await requestCertificate(
    clientOptions,
    { certificate: { keyPem: first.keyPem, certChainPem: chain[0] } },
    { csr: second.csrPem, validityDuration: 600 },
  );
  assert.equal(new X509Certificate(renewed[0]).subjectAltName, "URI:spiffe://cluster.local/ns/shop/sa/payments");
  assert.equal(server.issued().find((entry) => entry.spiffeId.endsWith("/sa/payments"))?.credential, "certificate");
});

test("refuses an unknown, a forged and an expired token, and a missing credential, as UNAUTHENTICATED", async () => {
  const { csrPem } = await createKeyAndCsr();
  const before = await metric("citadel_server_authentication_failure_count");
  const issuedBefore = await metric("citadel_server_success_cert_issuance_count");
  const unknown = await refusal(requestCertificate(clientOptions, { token: "stolen-or-guessed" }, { csr: csrPem, validityDuration: 0 }));
  assert.equal(unknown.code, grpc.status.UNAUTHENTICATED);
  assert.match(unknown.details, /unknown token/);
  const forged = await refusal(requestCertificate(clientOptions, { token: good.entry.sha256 }, { csr: csrPem, validityDuration: 0 }));
  assert.equal(forged.code, grpc.status.UNAUTHENTICATED);
  const stale = await refusal(requestCertificate(clientOptions, { token: expired.token }, { csr: csrPem, validityDuration: 0 }));
  assert.equal(stale.code, grpc.status.UNAUTHENTICATED);
  assert.match(stale.details, /expired token/);
  const client = new CaClient(clientOptions, { token: "" }); // an empty token sends no authorization header
  try {
    const none = await refusal(client.createCertificate({ csr: csrPem, validityDuration: 0 }));
    assert.equal(none.code, grpc.status.UNAUTHENTICATED);
    assert.match(none.details, /no credential/);
  } finally {
    client.close();
  }
  assert.equal(await metric("citadel_server_authentication_failure_count"), before + 4);
  assert.equal(await metric("citadel_server_success_cert_issuance_count"), issuedBefore);
  assert.ok(logLines.some((line) => line.includes("expired token") && line.includes("CSR refused")));
});

test("refuses a client certificate from another CA", async () => {
  const foreignRoot = await MeshCa.generateRoot({ trustDomain: "cluster.local" });
  const foreign = await MeshCa.fromPem({ keyPem: foreignRoot.keyPem, certChainPem: foreignRoot.certPem }, { trustDomain: "cluster.local" });
  const stolenName = await createKeyAndCsr();
  const signed = await foreign.sign(stolenName.csrPem, checkout);
  const { csrPem } = await createKeyAndCsr();
  const error = await refusal(requestCertificate(
    clientOptions,
    { certificate: { keyPem: stolenName.keyPem, certChainPem: signed.certChain.join("") } },
    { csr: csrPem, validityDuration: 0 },
  ));
  assert.equal(error.code, grpc.status.UNAUTHENTICATED);
});

test("refuses non-CSR blobs, wrong key types and oversized CSRs with INVALID_ARGUMENT and counts them by reason", async () => {
  const client = new CaClient(clientOptions, { token: other.token });
  await new Promise((resolve) => setTimeout(resolve, 1000)); // refill the payments bucket used above
  try {
    const blob = await refusal(client.createCertificate({ csr: "not a csr", validityDuration: 0 }));
    assert.equal(blob.code, grpc.status.INVALID_ARGUMENT);
    assert.match(blob.details, /csr_parse_error/);
    const p384 = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, true, ["sign", "verify"]);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: "", keys: p384, signingAlgorithm: { name: "ECDSA", hash: "SHA-384" } });
    const wrongKey = await refusal(client.createCertificate({ csr: csr.toString("pem"), validityDuration: 0 }));
    assert.equal(wrongKey.code, grpc.status.INVALID_ARGUMENT);
    assert.match(wrongKey.details, /P-384/);
    const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
    const bigSubject = await x509.Pkcs10CertificateRequestGenerator.create({
      name: [{ O: ["x".repeat(40_000)] }], keys, signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    });
    const tooLarge = await refusal(client.createCertificate({ csr: bigSubject.toString("pem"), validityDuration: 0 }));
    assert.equal(tooLarge.code, grpc.status.INVALID_ARGUMENT);
    assert.match(tooLarge.details, /csr_too_large/);
    const megabyte = await refusal(client.createCertificate({ csr: "-----BEGIN CERTIFICATE REQUEST-----\n" + "A".repeat(1 << 20), validityDuration: 0 }));
    assert.equal(megabyte.code, grpc.status.RESOURCE_EXHAUSTED, "the transport refuses a 1 MB message before decoding");
  } finally {
    client.close();
  }
  assert.ok(await metric("citadel_server_csr_sign_error_count", { error: "csr_parse_error" }) >= 1);
  assert.ok(await metric("citadel_server_csr_sign_error_count", { error: "unsupported_key_type" }) >= 1);
  assert.ok(await metric("citadel_server_csr_sign_error_count", { error: "csr_too_large" }) >= 1);
});

test("rate limits a flood of 1,000 CSRs from one identity and keeps serving the others", async () => {
  const { csrPem } = await createKeyAndCsr();
  const flood = generateToken({ namespace: "flood", serviceAccount: "noisy" });
  tokens.replace([good.entry, other.entry, flood.entry]);
  const issuedBefore = await metric("citadel_server_success_cert_issuance_count");
  const client = new CaClient(clientOptions, { token: flood.token });
  let results: PromiseSettledResult<string[]>[];
  const started = Date.now();
  try {
    results = await Promise.allSettled(Array.from({ length: 1000 }, () => client.createCertificate({ csr: csrPem, validityDuration: 60 }, 30_000)));
  } finally {
    client.close();
  }
  const ok = results.filter((r) => r.status === "fulfilled").length;
  const limited = results.filter((r) => r.status === "rejected" && (r.reason as CaRequestError).code === grpc.status.RESOURCE_EXHAUSTED).length;
  assert.equal(ok + limited, 1000, "every refusal is a rate limit");
  // The bucket: a burst of 10, then 2/s for as long as the flood lasted.
  const allowed = 10 + Math.ceil(((Date.now() - started) / 1000) * 2);
  assert.ok(ok >= 10 && ok <= allowed, `a burst of 10 plus refill (at most ${allowed}) gets through, got ${ok}`);
  assert.equal(await metric("citadel_server_success_cert_issuance_count"), issuedBefore + ok);
  const { csrPem: fresh } = await createKeyAndCsr();
  const chain = await requestCertificate(clientOptions, { token: good.token }, { csr: fresh, validityDuration: 60 });
  assert.match(new X509Certificate(chain[0]).subjectAltName ?? "", /sa\/checkout/);
});

test("exports istiod's citadel_server metrics", async () => {
  const text = await registry.metrics();
  for (const name of ["citadel_server_csr_count", "citadel_server_success_cert_issuance_count", "citadel_server_csr_sign_error_count",
    "citadel_server_cert_issuance_duration_seconds_bucket", "citadel_server_root_cert_expiry_seconds", "as_mesh_ca_workload_cert_earliest_expiry_seconds"]) {
    assert.match(text, new RegExp(`^${name}`, "m"), name);
  }
  const rootSeconds = await metric("citadel_server_root_cert_expiry_seconds");
  assert.ok(rootSeconds > 9.9 * 365 * 86_400, `root expiry ${rootSeconds}`);
  const earliest = await metric("as_mesh_ca_workload_cert_earliest_expiry_seconds");
  assert.ok(earliest > 0 && earliest <= 600, `earliest workload expiry ${earliest}`);
});

test("never logs tokens, CSRs or the CA key", () => {
  const log = logLines.join("");
  assert.ok(log.includes("issued workload certificate"));
  for (const secret of [good.token, other.token, expired.token, "BEGIN CERTIFICATE REQUEST", "PRIVATE KEY", caKeyPem.split("\n")[1]]) {
    assert.ok(!log.includes(secret), `log contains ${secret.slice(0, 20)}…`);
  }
});

test("trusts client certificates of a root added at run time once the TLS is refreshed", async () => {
  const otherRoot = await MeshCa.generateRoot({ trustDomain: "cluster.local" });
  const other = await MeshCa.fromPem({ keyPem: otherRoot.keyPem, certChainPem: otherRoot.certPem }, { trustDomain: "cluster.local" });
  const holder = await createKeyAndCsr();
  const svid = await other.sign(holder.csrPem, { namespace: "rollover", serviceAccount: "workload" });
  const credential = { certificate: { keyPem: holder.keyPem, certChainPem: svid.certChain[0] } };
  const { csrPem } = await createKeyAndCsr();
  assert.equal((await refusal(requestCertificate(clientOptions, credential, { csr: csrPem, validityDuration: 60 }))).code, grpc.status.UNAUTHENTICATED);
  ca.setExtraTrustedRoots([other.rootCertPem]);
  try {
    await server.refreshTls();
    const chain = await requestCertificate(clientOptions, credential, { csr: csrPem, validityDuration: 60 });
    assert.equal(new X509Certificate(chain[0]).subjectAltName, "URI:spiffe://cluster.local/ns/rollover/sa/workload");
  } finally {
    ca.setExtraTrustedRoots([]);
    await server.refreshTls();
  }
});
