import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { toJson } from "@bufbuild/protobuf";
import { pino } from "pino";
import { registry, TypeUrl } from "../api/index.ts";
import { SecretSchema } from "../api/gen/envoy/extensions/transport_sockets/tls/v3/secret_pb.ts";
import { MeshCa, splitPemCertificates } from "../ca/ca.ts";
import { CaServer } from "../ca/server.ts";
import { generateToken, TokenAuthority } from "../ca/tokens.ts";
import { XdsClient } from "../xds/index.ts";
import { startAgent, WorkloadAgent, type AgentOptions } from "./agent.ts";

const TRUST_DOMAIN = "cluster.local";
const identity = { namespace: "shop", serviceAccount: "checkout" };
const logger = pino({ level: "silent" });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Fixture {
  dir: string;
  ca: MeshCa;
  tokens: TokenAuthority;
  token: string;
  caServer: CaServer;
  port: number;
  agentOptions: AgentOptions;
  cleanup: Array<() => Promise<void> | void>;
}

async function withFixture(body: (fixture: Fixture) => Promise<void>, agentOverrides: Partial<AgentOptions> = {}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "as-mesh-agent-"));
  const root = await MeshCa.generateRoot({ trustDomain: TRUST_DOMAIN });
  const ca = await MeshCa.fromPem({ keyPem: root.keyPem, certChainPem: root.certPem }, { trustDomain: TRUST_DOMAIN });
  const { token, entry } = generateToken(identity);
  const tokens = new TokenAuthority([entry]);
  const caServer = new CaServer({ ca, tokens, logger });
  const cleanup: Fixture["cleanup"] = [];
  try {
    const port = await caServer.listen("127.0.0.1:0");
    const agentOptions: AgentOptions = {
      ca: { address: `127.0.0.1:${port}`, caCertificatesPem: caServer.trustBundlePem },
      token,
      sdsSocketPath: join(dir, "sds", "agent.sock"),
      logger,
      ...agentOverrides,
    };
    await body({ dir, ca, tokens, token, caServer, port, agentOptions, cleanup });
  } finally {
    for (const step of cleanup.reverse()) await step();
    await caServer.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The secrets the agent serves, fetched the way Envoy does: an SDS stream on the Unix socket. */
async function fetchSecrets(socketPath: string): Promise<Map<string, Record<string, unknown>>> {
  const client = new XdsClient(`unix:${socketPath}`);
  const stream = client.sotw({ id: "test-proxy" }, { service: "sds" });
  try {
    stream.request(TypeUrl.secret, ["default", "ROOTCA"]);
    const response = await stream.next(5000);
    const secrets = new Map<string, Record<string, unknown>>();
    for (const any of response.resources) {
      const secret = anyUnpack(any, SecretSchema);
      assert.ok(secret);
      secrets.set(secret.name, toJson(SecretSchema, secret, { registry }) as Record<string, unknown>);
    }
    return secrets;
  } finally {
    stream.close();
    client.close();
  }
}

function rootsIn(secret: Record<string, unknown> | undefined): string[] {
  const context = secret?.validationContext as { trustedCa?: { inlineString?: string } } | undefined;
  return splitPemCertificates(context?.trustedCa?.inlineString ?? "");
}

test("serves default (chain without root, local key) and ROOTCA over SDS on an owner-only socket", async () => {
  await withFixture(async ({ agentOptions, ca, cleanup }) => {
    const agent = await startAgent(agentOptions);
    cleanup.push(() => agent.close());
    const certificate = await agent.ready();
    assert.equal(certificate.spiffeId, "spiffe://cluster.local/ns/shop/sa/checkout");
    assert.equal(statSync(agentOptions.sdsSocketPath).mode & 0o777, 0o600);
    const secrets = await fetchSecrets(agentOptions.sdsSocketPath);
    const tls = secrets.get("default")?.tlsCertificate as { certificateChain: { inlineString: string }; privateKey: { inlineString: string } };
    assert.deepEqual(splitPemCertificates(tls.certificateChain.inlineString), [certificate.certChain[0]]);
    assert.match(tls.privateKey.inlineString, /BEGIN PRIVATE KEY/);
    assert.deepEqual(rootsIn(secrets.get("ROOTCA")), [ca.rootCertPem]);
    const lifetime = (certificate.notAfter.getTime() - Date.now()) / 1000;
    assert.ok(lifetime > 86_000, "the CA's 24 h default applies when no TTL is asked for");
  });
});

test("keeps serving the current certificate while the CA is down, retries with backoff and renews when it is back", { timeout: 40_000 }, async () => {
  await withFixture(async ({ agentOptions, ca, tokens, caServer, port, cleanup }) => {
    const agent = await startAgent({ ...agentOptions, ttlSeconds: 6, renewJitterFraction: 0, retry: { initialMs: 200, maxMs: 800 } });
    cleanup.push(() => agent.close());
    const first = await agent.ready();
    await caServer.close();
    await waitFor(() => agent.status().failedAttempts >= 2, 8000, "failed renewals while the CA is down");
    assert.equal(agent.current()?.serialNumber, first.serialNumber, "the current certificate stays in place");
    assert.match(agent.status().lastError ?? "", /UNAVAILABLE|ECONNREFUSED|connect/i);
    const served = await fetchSecrets(agentOptions.sdsSocketPath);
    assert.ok((served.get("default")?.tlsCertificate as { certificateChain: { inlineString: string } }).certificateChain.inlineString.includes(first.certChain[0].trim()));
    const restarted = new CaServer({ ca, tokens, logger });
    cleanup.push(() => restarted.close());
    await restarted.listen(`127.0.0.1:${port}`);
    await waitFor(() => agent.current()?.serialNumber !== first.serialNumber, 5000, "a renewal after the CA came back");
    assert.equal(agent.status().failedAttempts, 0);
    assert.ok(agent.current()!.notAfter > first.notAfter);
  });
});

test("renews with its current certificate once the bootstrap token is revoked", { timeout: 20_000 }, async () => {
  await withFixture(async ({ agentOptions, tokens, caServer, cleanup }) => {
    const agent = await startAgent({ ...agentOptions, ttlSeconds: 20, renewAtFraction: 0.1, renewJitterFraction: 0 });
    cleanup.push(() => agent.close());
    const first = await agent.ready();
    tokens.replace([]);
    await waitFor(() => agent.current()?.serialNumber !== first.serialNumber, 8000, "a renewal without the token");
    assert.equal(caServer.issued()[0].credential, "certificate");
  });
});

test("serves old and new roots as ROOTCA during a rollover and drops the old one when the bundle file does", { timeout: 20_000 }, async () => {
  await withFixture(async ({ agentOptions, ca, dir, cleanup }) => {
    const old = await MeshCa.generateRoot({ trustDomain: TRUST_DOMAIN });
    const bundleFile = join(dir, "trust-bundle.pem");
    writeFileSync(bundleFile, old.certPem + ca.rootCertPem);
    const agent = new WorkloadAgent({ ...agentOptions, trustBundleFile: bundleFile });
    await agent.start();
    cleanup.push(() => agent.close());
    await agent.ready();
    assert.deepEqual(new Set(rootsIn((await fetchSecrets(agentOptions.sdsSocketPath)).get("ROOTCA"))), new Set([ca.rootCertPem, old.certPem]));
    writeFileSync(bundleFile, "not a certificate");
    await sleep(1500);
    assert.equal(agent.status().trustedRoots, 2, "a broken bundle file keeps the roots loaded before");
    writeFileSync(bundleFile, ca.rootCertPem);
    await waitFor(() => agent.status().trustedRoots === 1, 5000, "the old root to leave the bundle");
    assert.deepEqual(rootsIn((await fetchSecrets(agentOptions.sdsSocketPath)).get("ROOTCA")), [ca.rootCertPem]);
  });
});

test("refuses to take over a path that is not a socket", async () => {
  await withFixture(async ({ agentOptions, dir }) => {
    const path = join(dir, "not-a-socket");
    writeFileSync(path, "data");
    await assert.rejects(startAgent({ ...agentOptions, sdsSocketPath: path }), /exists and is not a socket/);
  });
});

test("waits out a renewal due in more than 24.8 days instead of renewing at once", async () => {
  await withFixture(async ({ agentOptions, cleanup }) => {
    const agent = await startAgent({ ...agentOptions, ttlSeconds: 90 * 86_400 });
    cleanup.push(() => agent.close());
    const first = await agent.ready();
    await sleep(300);
    assert.equal(agent.current()?.serialNumber, first.serialNumber);
    const renewal = Date.parse(agent.status().nextRenewalAt ?? "");
    assert.ok(renewal - Date.now() > 40 * 86_400_000, `next renewal ${agent.status().nextRenewalAt}`);
  });
});
