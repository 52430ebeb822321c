import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CaError, createKeyAndCsr, MeshCa, CA_KEY_FILE, CA_CERT_CHAIN_FILE } from "./ca.ts";
import { x509 } from "./x509.ts";

const identity = { namespace: "shop", serviceAccount: "checkout" };

async function newCa(options: { maxWorkloadTtlSeconds?: number } = {}): Promise<MeshCa> {
  const root = await MeshCa.generateRoot({ trustDomain: "cluster.local" });
  return MeshCa.fromPem({ keyPem: root.keyPem, certChainPem: root.certPem }, { trustDomain: "cluster.local", ...options });
}

async function rejection(promise: Promise<unknown>): Promise<CaError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof CaError, `expected CaError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the CA to refuse");
}

test("signs an SVID with the SPIFFE URI SAN, usages and a chain ending in the root", async () => {
  const ca = await newCa();
  const { csrPem } = await createKeyAndCsr();
  const signed = await ca.sign(csrPem, identity);
  assert.equal(signed.spiffeId, "spiffe://cluster.local/ns/shop/sa/checkout");
  assert.equal(signed.certChain.length, 2);
  const leaf = new X509Certificate(signed.certChain[0]);
  const root = new X509Certificate(signed.certChain[1]);
  assert.equal(signed.certChain[1], ca.rootCertPem);
  assert.ok(leaf.checkIssued(root) && leaf.verify(root.publicKey));
  assert.equal(leaf.subjectAltName, "URI:spiffe://cluster.local/ns/shop/sa/checkout");
  assert.equal(leaf.ca, false);
  assert.deepEqual(leaf.keyUsage?.sort(), ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
  assert.equal(leaf.serialNumber.toLowerCase(), signed.serialNumber);
  const lifetime = (new Date(leaf.validTo).getTime() - Date.now()) / 1000;
  assert.ok(lifetime > 86_000 && lifetime <= 86_400, `default lifetime is 24 h, got ${lifetime}s`);
  const parsed = new x509.X509Certificate(signed.certChain[0]);
  const usages = parsed.getExtension(x509.KeyUsagesExtension);
  assert.equal(usages?.usages, x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment);
  assert.equal(usages?.critical, true);
  assert.equal(parsed.getExtension(x509.SubjectAlternativeNameExtension)?.critical, true, "SAN is critical with an empty subject");
  const rootSki = new x509.X509Certificate(ca.rootCertPem).getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  assert.ok(rootSki);
  assert.equal(parsed.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId, rootSki);
  assert.ok(parsed.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId);
});

test("gives every certificate a different random serial", async () => {
  const ca = await newCa();
  const { csrPem } = await createKeyAndCsr();
  const serials = new Set<string>();
  for (let i = 0; i < 20; i++) serials.add((await ca.sign(csrPem, identity)).serialNumber);
  assert.equal(serials.size, 20);
  for (const serial of serials) assert.match(serial, /^[0-9a-f]{32}$/);
});

test("ignores the identity a CSR asks for and signs the granted one", async () => {
  const ca = await newCa();
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: "CN=admin",
    keys,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: "url", value: "spiffe://cluster.local/ns/istio-system/sa/admin" }])],
  });
  const signed = await ca.sign(csr.toString("pem"), identity);
  const leaf = new X509Certificate(signed.certChain[0]);
  assert.equal(leaf.subjectAltName, "URI:spiffe://cluster.local/ns/shop/sa/checkout");
  assert.equal(leaf.subject, undefined);
});

test("honours a requested TTL down to seconds and refuses one above the maximum", async () => {
  const ca = await newCa({ maxWorkloadTtlSeconds: 3600 });
  const { csrPem } = await createKeyAndCsr();
  const short = await ca.sign(csrPem, identity, 20);
  const seconds = (short.notAfter.getTime() - Date.now()) / 1000;
  assert.ok(seconds > 15 && seconds <= 20, `got ${seconds}`);
  assert.equal((await rejection(ca.sign(csrPem, identity, 7200))).reason, "invalid_ttl");
});

test("accepts an RSA 2048 key and refuses other key types and sizes", async () => {
  const ca = await newCa();
  const rsa = await createKeyAndCsr({ keyType: "RSA" });
  assert.ok((await ca.sign(rsa.csrPem, identity)).serialNumber);
  const p384 = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, true, ["sign", "verify"]);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: "", keys: p384, signingAlgorithm: { name: "ECDSA", hash: "SHA-384" } });
  const error = await rejection(ca.sign(csr.toString("pem"), identity));
  assert.equal(error.reason, "unsupported_key_type");
  assert.match(error.message, /P-384/);
});

test("refuses a CSR whose signature does not verify with its public key", async () => {
  const ca = await newCa();
  // A CSR signed by key A that carries key B's public key: well-formed, but no proof of possession of B.
  const signedByA = new x509.Pkcs10CertificateRequest((await createKeyAndCsr()).csrPem);
  const keyB = new x509.Pkcs10CertificateRequest((await createKeyAndCsr()).csrPem).publicKey.rawData;
  const der = Buffer.from(signedByA.rawData);
  const spkiA = Buffer.from(signedByA.publicKey.rawData);
  const at = der.indexOf(spkiA);
  assert.ok(at > 0 && spkiA.length === keyB.byteLength);
  Buffer.from(keyB).copy(der, at);
  const swapped = x509.PemConverter.encode(der, "CERTIFICATE REQUEST");
  const error = await rejection(ca.sign(swapped, identity));
  assert.equal(error.reason, "csr_signature_invalid");
});

test("refuses non-CSR blobs and oversized CSRs before parsing", async () => {
  const ca = await newCa();
  assert.equal((await rejection(ca.sign("hello", identity))).reason, "csr_parse_error");
  assert.equal((await rejection(ca.sign(ca.rootCertPem, identity))).reason, "csr_parse_error");
  const garbage = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n";
  assert.equal((await rejection(ca.sign(garbage, identity))).reason, "csr_parse_error");
  const huge = "-----BEGIN CERTIFICATE REQUEST-----\n" + "A".repeat(1024 * 1024) + "\n-----END CERTIFICATE REQUEST-----\n";
  assert.equal((await rejection(ca.sign(huge, identity))).reason, "csr_too_large");
});

test("refuses identities that are not Kubernetes names", async () => {
  const ca = await newCa();
  const { csrPem } = await createKeyAndCsr();
  const error = await rejection(ca.sign(csrPem, { namespace: "shop/sa/admin", serviceAccount: "x" }));
  assert.equal(error.reason, "invalid_identity");
});

test("signs with an operator-supplied intermediate and returns leaf, intermediate, root", async () => {
  const root = await MeshCa.generateRoot({ trustDomain: "example.org" });
  const rootCa = await MeshCa.fromPem({ keyPem: root.keyPem, certChainPem: root.certPem }, { trustDomain: "example.org" });
  // An intermediate signed by the root through the same code path an operator's offline tooling would use.
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const rootKey = await crypto.subtle.importKey("pkcs8", Buffer.from(root.keyPem.replace(/-----[^-]+-----|\s/g, ""), "base64"), { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  const rootCert = new x509.X509Certificate(root.certPem);
  const intermediate = await x509.X509CertificateGenerator.create({
    subject: "CN=intermediate", issuer: rootCert.subject, publicKey: keys.publicKey, signingKey: rootKey,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    notAfter: new Date(Date.now() + 86_400_000 * 30),
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)],
  });
  const keyPem = x509.PemConverter.encode(await crypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY");
  const ca = await MeshCa.fromPem({ keyPem, certChainPem: intermediate.toString("pem") + "\n" + root.certPem }, { trustDomain: "example.org" });
  const signed = await ca.sign((await createKeyAndCsr()).csrPem, identity);
  assert.equal(signed.certChain.length, 3);
  assert.equal(signed.certChain[2], rootCa.rootCertPem);
  const [leaf, mid, top] = signed.certChain.map((pem) => new X509Certificate(pem));
  assert.ok(leaf.verify(mid.publicKey) && mid.verify(top.publicKey));
  assert.ok(new Date(leaf.validTo) <= new Date(mid.validTo));
});

test("refuses operator material whose key does not match or whose chain is broken", async () => {
  const a = await MeshCa.generateRoot({ trustDomain: "cluster.local" });
  const b = await MeshCa.generateRoot({ trustDomain: "cluster.local" });
  await assert.rejects(MeshCa.fromPem({ keyPem: a.keyPem, certChainPem: b.certPem }, { trustDomain: "cluster.local" }), /does not belong/);
  await assert.rejects(MeshCa.fromPem({ keyPem: a.keyPem, certChainPem: a.certPem + b.certPem }, { trustDomain: "cluster.local" }), /not signed by certificate 1/);
  await assert.rejects(MeshCa.fromPem({ keyPem: "nope", certChainPem: a.certPem }, { trustDomain: "cluster.local" }), /not a PEM private key/);
  const ed = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  await assert.rejects(MeshCa.fromPem({ keyPem: ed, certChainPem: a.certPem }, { trustDomain: "cluster.local" }), /ed25519/);
});

test("writes a generated CA key readable by its owner only and reloads the same root", async () => {
  const dir = mkdtempSync(join(tmpdir(), "as-mesh-ca-"));
  try {
    const first = await MeshCa.loadOrCreate(join(dir, "ca"), { trustDomain: "cluster.local" });
    assert.equal(statSync(join(dir, "ca", CA_KEY_FILE)).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "ca")).mode & 0o777, 0o700);
    const second = await MeshCa.loadOrCreate(join(dir, "ca"), { trustDomain: "cluster.local" });
    assert.equal(second.rootCertPem, first.rootCertPem);
    assert.equal(readFileSync(join(dir, "ca", CA_CERT_CHAIN_FILE), "utf8"), first.rootCertPem);
    const rootCert = new X509Certificate(first.rootCertPem);
    const years = (new Date(rootCert.validTo).getTime() - Date.now()) / (365 * 86_400_000);
    assert.ok(years > 9.9 && years < 10.1, `root lives 10 years, got ${years}`);
    assert.equal(rootCert.ca, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("publishes extra trusted roots after its own, without duplicates", async () => {
  const old = await MeshCa.generateRoot({ trustDomain: "cluster.local" });
  const ca = await newCa();
  ca.setExtraTrustedRoots([old.certPem, ca.rootCertPem]);
  assert.deepEqual(ca.trustBundle(), [ca.rootCertPem, old.certPem]);
});
