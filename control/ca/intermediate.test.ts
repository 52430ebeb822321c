import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { x509 } from "./x509.ts";
import { MeshCa, createKeyAndCsr, splitPemCertificates } from "./ca.ts";
import { createIntermediate } from "./intermediate.ts";
import { parseTtlSeconds, runCaIntermediate, runCaRoot } from "../commands/ca.ts";

const TRUST_DOMAIN = "cluster.local";

test("an intermediate is a CA with pathLen 0 and CA key usages, signed by the root and named after its replica", async () => {
  const root = await MeshCa.generateRoot({ trustDomain: TRUST_DOMAIN });
  const intermediate = await createIntermediate({ rootKeyPem: root.keyPem, rootCertPem: root.certPem, name: "replica-a", ttlSeconds: 3600 });
  const certificate = new x509.X509Certificate(intermediate.certPem);
  const constraints = certificate.getExtension(x509.BasicConstraintsExtension);
  assert.ok(constraints?.ca && constraints.critical);
  assert.equal(constraints.pathLength, 0);
  const usages = certificate.getExtension(x509.KeyUsagesExtension);
  assert.ok(usages?.critical);
  assert.equal(usages.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature);
  const rootCertificate = new x509.X509Certificate(root.certPem);
  assert.equal(certificate.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId, rootCertificate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId);
  assert.match(certificate.subject, /CN=as-mesh intermediate CA replica-a/);
  assert.ok(new X509Certificate(intermediate.certPem).verify(new X509Certificate(root.certPem).publicKey));
  assert.ok(Math.abs(intermediate.notAfter.getTime() - (Date.now() + 3600_000)) < 5000);
  assert.deepEqual(splitPemCertificates(intermediate.certChainPem).map((pem) => pem.trim()), [intermediate.certPem.trim(), root.certPem.trim()]);
});

test("a CA signing with an intermediate sends leaf + intermediate + root and publishes only the root", async () => {
  const root = await MeshCa.generateRoot({ trustDomain: TRUST_DOMAIN });
  const [a, b] = await Promise.all(["a", "b"].map((name) => createIntermediate({ rootKeyPem: root.keyPem, rootCertPem: root.certPem, name })));
  const caA = await MeshCa.fromPem({ keyPem: a.keyPem, certChainPem: a.certChainPem }, { trustDomain: TRUST_DOMAIN });
  const caB = await MeshCa.fromPem({ keyPem: b.keyPem, certChainPem: b.certChainPem }, { trustDomain: TRUST_DOMAIN });
  assert.deepEqual(caA.trustBundle(), caB.trustBundle());
  assert.deepEqual(caA.trustBundle(), [root.certPem]);
  const { csrPem } = await createKeyAndCsr();
  const signed = await caA.sign(csrPem, { namespace: "shop", serviceAccount: "checkout" });
  assert.equal(signed.certChain.length, 3);
  const [leaf, issuer, top] = signed.certChain.map((pem) => new X509Certificate(pem));
  assert.ok(leaf.checkIssued(issuer) && leaf.verify(issuer.publicKey), "the leaf is signed by the intermediate");
  assert.ok(issuer.verify(top.publicKey));
  assert.equal(top.fingerprint256, new X509Certificate(root.certPem).fingerprint256);
  // A leaf never outlives the intermediate that signs it.
  const shortLived = await createIntermediate({ rootKeyPem: root.keyPem, rootCertPem: root.certPem, ttlSeconds: 120 });
  const shortCa = await MeshCa.fromPem({ keyPem: shortLived.keyPem, certChainPem: shortLived.certChainPem }, { trustDomain: TRUST_DOMAIN });
  const capped = await shortCa.sign(csrPem, { namespace: "shop", serviceAccount: "checkout" }, 3600);
  assert.ok(capped.notAfter.getTime() <= shortLived.notAfter.getTime());
});

test("refuses a root key that is not the root's, and a root that is not a CA", async () => {
  const root = await MeshCa.generateRoot({ trustDomain: TRUST_DOMAIN });
  const other = await MeshCa.generateRoot({ trustDomain: TRUST_DOMAIN });
  await assert.rejects(createIntermediate({ rootKeyPem: other.keyPem, rootCertPem: root.certPem }), /root key does not belong to the root certificate/);
  await assert.rejects(createIntermediate({ rootKeyPem: "garbage", rootCertPem: root.certPem }), /not a PEM private key/);
  const ca = await MeshCa.fromPem({ keyPem: root.keyPem, certChainPem: root.certPem }, { trustDomain: TRUST_DOMAIN });
  const { keyPem, csrPem } = await createKeyAndCsr();
  const leaf = await ca.sign(csrPem, { namespace: "shop", serviceAccount: "checkout" });
  await assert.rejects(createIntermediate({ rootKeyPem: keyPem, rootCertPem: leaf.certChain[0] }), /not a CA certificate/);
  await assert.rejects(createIntermediate({ rootKeyPem: root.keyPem, rootCertPem: root.certPem, ttlSeconds: -1 }), /must be positive/);
});

test("as-mesh ca root and ca intermediate write the files a replica needs, keys 0600, never overwriting a key", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "as-mesh-ca-cli-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const printed: string[] = [];
  const print = (text: string) => { printed.push(text); };
  assert.equal(await runCaRoot({ out: join(dir, "root"), trustDomain: TRUST_DOMAIN, ttl: "30d", print }), 0);
  assert.equal(await runCaIntermediate({ rootDir: join(dir, "root"), out: join(dir, "a"), ttl: "1d", name: "a", print }), 0);
  await assert.rejects(runCaRoot({ out: join(dir, "root"), trustDomain: TRUST_DOMAIN, print }), /already exists/);
  await assert.rejects(runCaIntermediate({ rootDir: join(dir, "root"), out: join(dir, "a"), print }), /already exists/);
  await assert.rejects(runCaIntermediate({ rootDir: join(dir, "missing"), out: join(dir, "b"), print }), /does not exist; create the root/);
  await assert.rejects(runCaIntermediate({ rootDir: join(dir, "root"), out: join(dir, "b"), ttl: "a year", print }), /not a duration/);
  await assert.rejects(runCaIntermediate({ rootDir: join(dir, "root"), out: join(dir, "root", "."), print }), /must not be the --root-dir/);
  assert.match(printed.join(""), /--ca-key .*ca-key\.pem --ca-cert-chain .*ca-cert-chain\.pem/);
  assert.equal(statSync(join(dir, "root", "root-key.pem")).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, "root")).mode & 0o777, 0o700);
  assert.equal(statSync(join(dir, "a", "ca-key.pem")).mode & 0o777, 0o600);
  const rootPem = readFileSync(join(dir, "root", "root-cert.pem"), "utf8");
  assert.equal(readFileSync(join(dir, "a", "root-cert.pem"), "utf8"), rootPem);
  // The folder is a ready --ca-dir, and its files are what --ca-key / --ca-cert-chain read.
  const ca = await MeshCa.loadOrCreate(join(dir, "a"), { trustDomain: TRUST_DOMAIN });
  assert.deepEqual(ca.trustBundle(), [rootPem]);
  const rootValidity = new X509Certificate(rootPem);
  assert.ok(Math.abs(new Date(rootValidity.validTo).getTime() - (Date.now() + 30 * 86_400_000)) < 10_000);
});

test("durations for --ttl", () => {
  assert.equal(parseTtlSeconds("365d"), 365 * 86_400);
  assert.equal(parseTtlSeconds("1h30m"), 5400);
  assert.equal(parseTtlSeconds("90s"), 90);
  for (const bad of ["", "1y", "10", "d", "-1d", "0s", "1h 30m"]) assert.equal(parseTtlSeconds(bad), undefined, bad);
});
