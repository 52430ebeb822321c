// Several control replicas, one intermediate CA each, one mesh root: the CA services run as `as-mesh control
// --ca-key --ca-cert-chain` runs them (startCaService) with material from `as-mesh ca root` / `ca intermediate`.
// checkout's agent gets its certificate from replica A, frontend's from replica B; their sidecars, configured by the
// control service with PeerAuthentication STRICT, talk mTLS while each Envoy's ROOTCA holds only the root. Then replica A restarts
// with a new intermediate of the same root, then switches to a third one in place (its watched key and chain files
// replaced), and checkout's agent renews after each, all under 200 req/s: no request fails.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { connect as tlsConnect, type DetailedPeerCertificate } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import type { EnvoyInstance } from "../harness/envoy.ts";
import { MeshFolder, freePort, refreshListeners, startControlInProcess, startProxy } from "../harness/control_mesh.ts";
import type { ControlService } from "../../control/server.ts";
import { projectRoot } from "../../scripts/tools.ts";
import { requestCertificate } from "../../control/ca/client.ts";
import { startUpstream, type Upstream } from "../harness/upstream.ts";
import { startCaService, type CaService } from "../../control/ca/service.ts";
import { MeshCa, createKeyAndCsr } from "../../control/ca/ca.ts";
import { formatTokenFile, generateToken, type TokenEntry } from "../../control/ca/tokens.ts";
import { startAgent, type WorkloadAgent } from "../../control/agent/agent.ts";
import { runCaIntermediate, runCaRoot } from "../../control/commands/ca.ts";
import { FRONTEND, TRUST_DOMAIN, envoyCerts, fixedRateLoad, get } from "../../control/agent/fixtures/mesh_pair.ts";

const logger = pino({ level: process.env.CONTROL_TEST_LOG_LEVEL ?? "silent" });
const RATE = 200;
const LOAD_SECONDS = 10;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const CHECKOUT_HOST = "checkout.shop.svc.cluster.local";
/** checkout's sidecar binds its inbound port here; frontend's sidecar has its own address. */
const CHECKOUT_IP = "127.0.13.1";
const FRONTEND_IP = "127.0.13.2";

const meshYaml = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: checkout, namespace: shop }
spec:
  hosts: [${CHECKOUT_HOST}]
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  resolution: STATIC
  workloadSelector: { labels: { app: checkout } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: shop }
spec: { mtls: { mode: STRICT } }
`;

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting until ${what}`);
}

/** The chain a TLS server sends, leaf first, as fingerprints (the handshake presents a client certificate). */
function servedChain(port: number, client: { key: string; cert: string }): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: CHECKOUT_IP, port, ...client, rejectUnauthorized: false, servername: "checkout.shop.svc.cluster.local" }, () => {
      const fingerprints: string[] = [];
      let certificate: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
      while (certificate?.fingerprint256 && !fingerprints.includes(certificate.fingerprint256)) {
        fingerprints.push(certificate.fingerprint256);
        certificate = certificate.issuerCertificate;
      }
      socket.destroy();
      resolve(fingerprints);
    });
    socket.on("error", reject);
    socket.setTimeout(5000, () => socket.destroy(new Error("TLS handshake timed out")));
  });
}

const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256;

describe("control replicas with one intermediate CA each", { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "as-mesh-ca-replicas-"));
  const folder = new MeshFolder();
  let service: ControlService;
  let outboundUrl = "";
  const print = () => {};
  const tokenFile = join(dir, "tokens.yaml");
  const replicas: Record<"a" | "b", CaService | null> = { a: null, b: null };
  const agents: WorkloadAgent[] = [];
  const envoys: EnvoyInstance[] = [];
  let upstream: Upstream;
  let serverEnvoy: EnvoyInstance;
  let clientEnvoy: EnvoyInstance;
  let checkoutAgent: WorkloadAgent;
  let rootPem = "";
  let frontendToken: TokenEntry;

  /** What `as-mesh control --ca-key --ca-cert-chain` starts (files watched), on the replica's fixed port after a restart. */
  const startReplica = (liveDir: string, port = 0) => startCaService({
    trustDomain: TRUST_DOMAIN, caDir: liveDir, tokenFile, address: `127.0.0.1:${port}`, logger, watchIntervalMs: 200,
    operatorKeyFile: join(liveDir, "ca-key.pem"), operatorCertChainFile: join(liveDir, "ca-cert-chain.pem"),
  });
  const intermediatePem = (name: string) => intermediatePemIn(dir, name);

  before(async () => {
    await runCaRoot({ out: join(dir, "root"), trustDomain: TRUST_DOMAIN, print });
    rootPem = readFileSync(join(dir, "root", "root-cert.pem"), "utf8");
    for (const name of ["a1", "b"]) await runCaIntermediate({ rootDir: join(dir, "root"), out: join(dir, name), name, print });
    const checkout = generateToken({ namespace: "shop", serviceAccount: "checkout" });
    const frontend = generateToken({ namespace: "shop", serviceAccount: "frontend" });
    writeFileSync(tokenFile, formatTokenFile([checkout.entry, frontend.entry]));
    frontendToken = frontend.entry;
    install(join(dir, "a1"), join(dir, "a-live"));
    replicas.a = await startReplica(join(dir, "a-live"));
    replicas.b = await startReplica(join(dir, "b"));
    // Each agent is handed the root only (as-mesh agent --ca-root), whichever replica it talks to.
    const agentAt = (replica: CaService, name: string, token: string) => startAgent({
      ca: { address: `127.0.0.1:${replica.port}`, caCertificatesPem: rootPem }, token,
      sdsSocketPath: join(dir, `${name}.sock`), ttlSeconds: 3600, logger: logger.child({ workload: name }),
    });
    checkoutAgent = await agentAt(replicas.a, "checkout", checkout.token);
    agents.push(checkoutAgent, await agentAt(replicas.b, "frontend", frontend.token));
    await Promise.all(agents.map((agent) => agent.ready()));
    upstream = await startUpstream((request, _body, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ xfcc: request.headers["x-forwarded-client-cert"] ?? null }));
    });
    folder.write("mesh.yaml", meshYaml);
    const started = await startControlInProcess(folder);
    service = started.service;
    serverEnvoy = await startProxy(started.endpoints, {
      namespace: "shop", ip: CHECKOUT_IP, labels: { app: "checkout" }, serviceAccount: "checkout",
      inboundPorts: { http: 8080 }, appPorts: { http: upstream.port }, sdsSocket: join(dir, "checkout.sock"),
    });
    envoys.push(serverEnvoy);
    clientEnvoy = await startProxy(started.endpoints, {
      namespace: "shop", ip: FRONTEND_IP, labels: { app: "frontend" }, serviceAccount: "frontend",
      listenPorts: { "8080": await freePort() }, sdsSocket: join(dir, "frontend.sock"),
    });
    envoys.push(clientEnvoy);
    await refreshListeners(clientEnvoy);
    outboundUrl = clientEnvoy.url("127.0.0.1_8080");
  });

  after(async () => {
    await Promise.all(envoys.map((envoy) => envoy.stop()));
    await Promise.all(agents.map((agent) => agent.close()));
    await upstream?.close();
    await Promise.all([replicas.a?.close(), replicas.b?.close()]);
    await service?.stop();
    folder.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = (path: string) => get(outboundUrl + path, undefined, { host: CHECKOUT_HOST });
  /** A frontend certificate from replica B, for handshakes of our own against checkout's Envoy. */
  const frontendCredentials = async () => {
    const ca = await MeshCa.fromPem({
      keyPem: readFileSync(join(dir, "b", "ca-key.pem"), "utf8"), certChainPem: readFileSync(join(dir, "b", "ca-cert-chain.pem"), "utf8"),
    }, { trustDomain: TRUST_DOMAIN });
    const { keyPem, csrPem } = await createKeyAndCsr();
    const signed = await ca.sign(csrPem, { namespace: "shop", serviceAccount: "frontend" });
    return { key: keyPem, cert: signed.certChain.slice(0, -1).join("") };
  };

  it("workloads certified by different replicas' intermediates trust each other through the root alone", async () => {
    await eventually(async () => (await call("/orders")).status === 200, "frontend reaches checkout", 30_000);
    const { xfcc } = JSON.parse((await call("/orders")).body) as { xfcc: string | null };
    assert.match(String(xfcc), new RegExp(`URI=${FRONTEND.replace(/[/.]/g, "\\$&")}`));
    // STRICT: checkout's sidecar answers nothing to plain text.
    const plain = await new Promise<string>((resolve) => {
      let data = "";
      const socket = netConnect(8080, CHECKOUT_IP, () => socket.write(`GET / HTTP/1.1\r\nhost: ${CHECKOUT_HOST}\r\n\r\n`));
      socket.on("data", (chunk: Buffer) => { data += chunk.toString("latin1"); });
      socket.on("close", () => resolve(data));
      socket.on("error", () => resolve(data));
      socket.setTimeout(3000, () => socket.destroy());
    });
    assert.ok(!plain.startsWith("HTTP/1.1 200"), `plain text got ${plain.slice(0, 40)}`);
    // Each Envoy trusts exactly one CA certificate, the root: the intermediates travel in the handshakes.
    const rootSerial = new X509Certificate(rootPem).serialNumber.toLowerCase().replace(/^0+/, "");
    for (const envoy of envoys) assert.deepEqual((await envoyCerts(envoy)).caSerials, [rootSerial]);
    // checkout's Envoy sends leaf + replica A's intermediate (SDS `default` carries it), never the root.
    const chain = await servedChain(8080, await frontendCredentials());
    assert.deepEqual(chain.slice(1), [fingerprintOf(intermediatePem("a1"))]);
    assert.equal(checkoutAgent.current()?.certChain.length, 3);
  });

  it(`rotating replica A's intermediate, by restart and in place, under ${RATE} req/s fails no request`, async (t) => {
    const served: string[] = [checkoutAgent.current()!.serialNumber];
    /** checkout's agent renews at replica A; its new certificate must chain through `intermediate` and reach Envoy. */
    const renewThrough = async (intermediate: string) => {
      await checkoutAgent.renewNow();
      const current = checkoutAgent.current()!;
      assert.ok(!served.includes(current.serialNumber), "a new certificate");
      served.push(current.serialNumber);
      assert.equal(fingerprintOf(current.certChain[1]!), fingerprintOf(intermediatePem(intermediate)));
      await eventually(async () => (await envoyCerts(serverEnvoy)).leafSerials.includes(current.serialNumber.replace(/^0+/, "")), `checkout's Envoy serves the ${intermediate} certificate`);
      // A new connection meets the new chain, trusted through the root alone.
      await eventually(async () => (await servedChain(8080, await frontendCredentials()))[1] === fingerprintOf(intermediatePem(intermediate)), `checkout's Envoy sends ${intermediate}`);
    };
    let loadRunning = true;
    const load = fixedRateLoad(outboundUrl + "/load", RATE, LOAD_SECONDS, { host: CHECKOUT_HOST }).finally(() => { loadRunning = false; });
    await sleep(1500);
    // checkout's bootstrap token is gone by now (tokens are for the first certificate), so replica A must accept
    // checkout's current certificate as its credential each time: its chain meets the new one's at the root.
    writeFileSync(tokenFile, formatTokenFile([frontendToken]));

    // 1. The operator mints a new intermediate from the same root and restarts replica A with it, on the same port.
    await runCaIntermediate({ rootDir: join(dir, "root"), out: join(dir, "a2"), name: "a2", print });
    const port = replicas.a!.port;
    await replicas.a!.close();
    replicas.a = null;
    install(join(dir, "a2"), join(dir, "a-live"));
    replicas.a = await startReplica(join(dir, "a-live"), port);
    await renewThrough("a2");

    // 2. Then a third one, copied over the files the running replica watches: it switches without a restart.
    await runCaIntermediate({ rootDir: join(dir, "root"), out: join(dir, "a3"), name: "a3", print });
    install(join(dir, "a3"), join(dir, "a-live"));
    await eventually(async () => replicas.a!.ca.signingCertPem === intermediatePem("a3"), "replica A reloads its intermediate");
    await renewThrough("a3");
    assert.ok(loadRunning, "both switches happened under load");

    const result = await load;
    t.diagnostic(`${result.total} requests in ${result.seconds.toFixed(1)} s, ${result.failures.length} failed; checkout certificates: ${served.length}`);
    assert.deepEqual(result.failures.slice(0, 5), [], `${result.failures.length} of ${result.total} requests failed`);
    assert.ok(result.total / result.seconds >= RATE * 0.9, `achieved ${(result.total / result.seconds).toFixed(0)} req/s`);
    assert.equal((await call("/orders")).status, 200);
  });
});

describe("as-mesh control with an intermediate minted by as-mesh ca", { timeout: 90_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "as-mesh-ca-cli-"));
  const folder = new MeshFolder();
  let control: ChildProcess | null = null;
  let output = "";

  after(async () => {
    const child = control;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGKILL");
      await exited;
    }
    folder.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("signs with the replica's intermediate, and switches when its --ca-key / --ca-cert-chain files are replaced", async () => {
    const cli = (...args: string[]) => promisify(execFile)(process.execPath, [join(projectRoot, "control", "as-mesh.mjs"), ...args], { timeout: 60_000 });
    const minted = await cli("ca", "root", "--out", join(dir, "root"), "--ttl", "3650d");
    assert.match(minted.stdout, /root CA: O=cluster\.local, CN=as-mesh root CA/);
    await cli("ca", "intermediate", "--root-dir", join(dir, "root"), "--out", join(dir, "a1"), "--name", "a1");
    await cli("ca", "intermediate", "--root-dir", join(dir, "root"), "--out", join(dir, "a2"), "--name", "a2", "--ttl", "30d");
    const refused = await cli("ca", "intermediate", "--root-dir", join(dir, "root"), "--out", join(dir, "a1")).then(() => "", (error: { stderr: string }) => error.stderr);
    assert.match(refused, /already exists; keys are never overwritten/);
    install(join(dir, "a1"), join(dir, "live"));
    const { token, entry } = generateToken({ namespace: "shop", serviceAccount: "checkout" });
    writeFileSync(join(dir, "tokens.yaml"), formatTokenFile([entry]));
    folder.write("services.yaml", "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: { name: checkout, namespace: shop }\n"
      + "spec: { hosts: [checkout.shop.svc.cluster.local], ports: [{ number: 8080, name: http, protocol: HTTP }], resolution: STATIC }\n");
    const [xds, admin, caPort] = [await freePort(), await freePort(), await freePort()];
    control = spawn(process.execPath, [
      join(projectRoot, "control", "as-mesh.mjs"), "control", "--config", folder.dir,
      "--xds", `127.0.0.1:${xds}`, "--admin", `127.0.0.1:${admin}`, "--startup-grace", "0", "--log-level", "info",
      "--ca-key", join(dir, "live", "ca-key.pem"), "--ca-cert-chain", join(dir, "live", "ca-cert-chain.pem"),
      "--ca-address", `127.0.0.1:${caPort}`, "--token-file", join(dir, "tokens.yaml"),
    ], { cwd: projectRoot, stdio: ["ignore", "pipe", "pipe"] });
    control.stdout?.on("data", (chunk: Buffer) => { output += chunk.toString("utf8"); });
    control.stderr?.on("data", (chunk: Buffer) => { output += chunk.toString("utf8"); });

    const rootPem = readFileSync(join(dir, "root", "root-cert.pem"), "utf8");
    const endpoint = { address: `127.0.0.1:${caPort}`, caCertificatesPem: rootPem };
    const issue = async () => requestCertificate(endpoint, { token }, { csr: (await createKeyAndCsr()).csrPem, validityDuration: 0 });
    let chain: string[] = [];
    await eventually(async () => { chain = await issue(); return true; }, `the CA answers (output: ${output.slice(-400)})`, 60_000);
    assert.deepEqual(chain.slice(1), [intermediatePemIn(dir, "a1"), rootPem]);

    install(join(dir, "a2"), join(dir, "live"));
    // The signing certificate's expiry (the 30-day a2, not the 1-year a1) shows the switch without spending CSRs.
    const chainExpiry = async () => Number(/^citadel_server_cert_chain_expiry_seconds (\S+)$/m.exec(await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text())?.[1]);
    await eventually(async () => (await chainExpiry()) < 31 * 86_400, "the replica reloads its intermediate", 10_000);
    assert.deepEqual((await issue()).slice(1), [intermediatePemIn(dir, "a2"), rootPem]);
    assert.match(output, /reloaded the CA signing key and chain/);
  });
});

function intermediatePemIn(dir: string, name: string): string {
  return readFileSync(join(dir, name, "ca-cert.pem"), "utf8");
}

/** The operator installs a minted intermediate where a replica's --ca-key / --ca-cert-chain point. */
function install(intermediateDir: string, liveDir: string): void {
  mkdirSync(liveDir, { recursive: true, mode: 0o700 });
  for (const file of ["ca-key.pem", "ca-cert-chain.pem"]) copyFileSync(join(intermediateDir, file), join(liveDir, file));
}
