import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { createKeyAndCsr, MeshCa } from "./ca.ts";
import { requestCertificate } from "./client.ts";
import { startCaService } from "./service.ts";
import { createIntermediate } from "./intermediate.ts";
import { formatTokenFile, generateToken } from "./tokens.ts";

const logger = pino({ level: "silent" });

test("starts the CA from its folder and token file, and keeps the same root across restarts", async () => {
  const dir = mkdtempSync(join(tmpdir(), "as-mesh-ca-service-"));
  try {
    const { token, entry } = generateToken({ namespace: "shop", serviceAccount: "checkout" });
    writeFileSync(join(dir, "tokens.yaml"), formatTokenFile([entry]));
    const options = { trustDomain: "example.org", caDir: join(dir, "ca"), tokenFile: join(dir, "tokens.yaml"), address: "127.0.0.1:0", logger };
    const first = await startCaService(options);
    let root: string;
    try {
      root = first.ca.rootCertPem;
      const { csrPem } = await createKeyAndCsr();
      const chain = await requestCertificate({ address: `127.0.0.1:${first.port}`, caCertificatesPem: first.server.trustBundlePem }, { token }, { csr: csrPem, validityDuration: 0 });
      assert.equal(new X509Certificate(chain[0]).subjectAltName, "URI:spiffe://example.org/ns/shop/sa/checkout");
    } finally {
      await first.close();
    }
    const second = await startCaService(options);
    try {
      assert.equal(second.ca.rootCertPem, root);
    } finally {
      await second.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("uses an operator's key and chain and refuses half of the pair", async () => {
  const dir = mkdtempSync(join(tmpdir(), "as-mesh-ca-service-"));
  try {
    const operator = await MeshCa.generateRoot({ trustDomain: "example.org" });
    writeFileSync(join(dir, "key.pem"), operator.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, "chain.pem"), operator.certPem);
    const base = { trustDomain: "example.org", caDir: join(dir, "unused"), address: "127.0.0.1:0", logger };
    const service = await startCaService({ ...base, operatorKeyFile: join(dir, "key.pem"), operatorCertChainFile: join(dir, "chain.pem") });
    try {
      assert.equal(service.ca.rootCertPem, operator.certPem);
    } finally {
      await service.close();
    }
    await assert.rejects(startCaService({ ...base, operatorKeyFile: join(dir, "key.pem") }), /both the key file and the certificate chain file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("publishes the roots of the watched extra-roots file and keeps the old set when it turns garbled or disappears", async () => {
  const dir = mkdtempSync(join(tmpdir(), "as-mesh-ca-service-"));
  const rootsFile = join(dir, "extra-roots.pem");
  writeFileSync(rootsFile, "");
  const service = await startCaService({ trustDomain: "example.org", caDir: join(dir, "ca"), extraRootsFile: rootsFile, address: "127.0.0.1:0", logger });
  try {
    assert.equal(service.ca.trustBundle().length, 1);
    const old = await MeshCa.generateRoot({ trustDomain: "example.org" });
    writeFileSync(rootsFile, old.certPem);
    for (let i = 0; i < 60 && service.ca.trustBundle().length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(service.ca.trustBundle(), [service.ca.rootCertPem, old.certPem]);
    writeFileSync(rootsFile, "-----BEGIN CERTIFICATE-----\ntruncated");
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(service.ca.trustBundle().length, 2);
    rmSync(rootsFile);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(service.ca.trustBundle().length, 2);
  } finally {
    await service.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("switches to a new intermediate written over the operator's files, in place, and refuses one under a root the mesh does not trust", async () => {
  const dir = mkdtempSync(join(tmpdir(), "as-mesh-ca-service-"));
  const keyFile = join(dir, "ca-key.pem");
  const chainFile = join(dir, "ca-cert-chain.pem");
  const install = (material: { keyPem: string; certChainPem: string }) => {
    writeFileSync(keyFile, material.keyPem, { mode: 0o600 });
    writeFileSync(chainFile, material.certChainPem);
  };
  const root = await MeshCa.generateRoot({ trustDomain: "example.org" });
  const first = await createIntermediate({ rootKeyPem: root.keyPem, rootCertPem: root.certPem, name: "a1" });
  install(first);
  const { token, entry } = generateToken({ namespace: "shop", serviceAccount: "checkout" });
  writeFileSync(join(dir, "tokens.yaml"), formatTokenFile([entry]));
  const service = await startCaService({
    trustDomain: "example.org", caDir: join(dir, "unused"), tokenFile: join(dir, "tokens.yaml"), address: "127.0.0.1:0", logger,
    operatorKeyFile: keyFile, operatorCertChainFile: chainFile, watchIntervalMs: 100,
  });
  const waitFor = async (check: () => boolean) => {
    for (let i = 0; i < 50 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
  };
  try {
    const endpoint = { address: `127.0.0.1:${service.port}`, caCertificatesPem: root.certPem };
    const workload = await createKeyAndCsr();
    const issued = await requestCertificate(endpoint, { token }, { csr: workload.csrPem, validityDuration: 0 });
    assert.equal(issued[1], first.certPem);

    const second = await createIntermediate({ rootKeyPem: root.keyPem, rootCertPem: root.certPem, name: "a2" });
    install(second);
    await waitFor(() => service.ca.signingCertPem === second.certPem);
    assert.equal(service.ca.signingCertPem, second.certPem);
    // A renewal with the certificate of the previous intermediate authenticates (same root) and gets the new one.
    const next = await createKeyAndCsr();
    const renewed = await requestCertificate(endpoint, { certificate: { keyPem: workload.keyPem, certChainPem: issued.slice(0, -1).join("") } }, { csr: next.csrPem, validityDuration: 0 });
    assert.equal(renewed[1], second.certPem);
    assert.equal(renewed[2], root.certPem);

    const foreignRoot = await MeshCa.generateRoot({ trustDomain: "example.org" });
    install(await createIntermediate({ rootKeyPem: foreignRoot.keyPem, rootCertPem: foreignRoot.certPem }));
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.equal(service.ca.signingCertPem, second.certPem, "a chain to an untrusted root is refused");
    assert.equal(service.ca.rootCertPem, root.certPem);
    install({ keyPem: "not a key", certChainPem: second.certChainPem });
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.equal(service.ca.signingCertPem, second.certPem, "a garbled key is refused");
    const after = await requestCertificate(endpoint, { token }, { csr: (await createKeyAndCsr()).csrPem, validityDuration: 0 });
    assert.equal(after[1], second.certPem);
  } finally {
    await service.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("switches to a new root's intermediate in place once the extra-roots file trusts that root, and keeps trusting the old root", async () => {
  const dir = mkdtempSync(join(tmpdir(), "as-mesh-ca-service-"));
  const keyFile = join(dir, "ca-key.pem");
  const chainFile = join(dir, "ca-cert-chain.pem");
  const rootsFile = join(dir, "extra-roots.pem");
  const install = (material: { keyPem: string; certChainPem: string }) => {
    writeFileSync(keyFile, material.keyPem, { mode: 0o600 });
    writeFileSync(chainFile, material.certChainPem);
  };
  const oldRoot = await MeshCa.generateRoot({ trustDomain: "example.org" });
  const newRoot = await MeshCa.generateRoot({ trustDomain: "example.org" });
  install(await createIntermediate({ rootKeyPem: oldRoot.keyPem, rootCertPem: oldRoot.certPem }));
  writeFileSync(rootsFile, "");
  const { token, entry } = generateToken({ namespace: "shop", serviceAccount: "checkout" });
  writeFileSync(join(dir, "tokens.yaml"), formatTokenFile([entry]));
  const service = await startCaService({
    trustDomain: "example.org", caDir: join(dir, "unused"), tokenFile: join(dir, "tokens.yaml"), address: "127.0.0.1:0", logger,
    operatorKeyFile: keyFile, operatorCertChainFile: chainFile, extraRootsFile: rootsFile, watchIntervalMs: 100,
  });
  const waitFor = async (check: () => boolean) => {
    for (let i = 0; i < 50 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
  };
  try {
    const workload = await createKeyAndCsr();
    const issued = await requestCertificate({ address: `127.0.0.1:${service.port}`, caCertificatesPem: oldRoot.certPem }, { token }, { csr: workload.csrPem, validityDuration: 0 });
    // Rollover step 1: both roots trusted; step 2: the new root's intermediate over the watched files.
    writeFileSync(rootsFile, oldRoot.certPem + newRoot.certPem);
    await waitFor(() => service.ca.trustBundle().length === 2);
    const next = await createIntermediate({ rootKeyPem: newRoot.keyPem, rootCertPem: newRoot.certPem });
    install(next);
    await waitFor(() => service.ca.signingCertPem === next.certPem);
    assert.equal(service.ca.rootCertPem, newRoot.certPem);
    assert.deepEqual(new Set(service.ca.trustBundle()), new Set([newRoot.certPem, oldRoot.certPem]));
    // A workload still holding an old-root certificate renews with it.
    const renewed = await requestCertificate(
      { address: `127.0.0.1:${service.port}`, caCertificatesPem: oldRoot.certPem + newRoot.certPem },
      { certificate: { keyPem: workload.keyPem, certChainPem: issued.slice(0, -1).join("") } },
      { csr: (await createKeyAndCsr()).csrPem, validityDuration: 0 },
    );
    assert.deepEqual(renewed.slice(1), [next.certPem, newRoot.certPem]);
  } finally {
    await service.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
