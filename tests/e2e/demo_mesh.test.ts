// The demo mesh's runners, for real: the local runner (network namespaces as root) runs the tour, serves, and on
// Ctrl-C removes every process, namespace and link it made, including a crashed run's leftovers; with --etcd it runs
// the tour on two control replicas over a 3-member etcd and stops every member and replica; the Compose
// runner brings the generated docker-compose.yml up in a real Docker engine with locally built images, passes the
// same tour and leaves no container or network behind. The generated files are checked against their generator
// and the mesh YAML against the topology.
import { describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { ensureEnvoy, projectRoot } from "../../scripts/tools.ts";
import { dockerConfigYaml, DOCKER_CONFIG_PATH } from "../../envoy/demo/mesh.ts";
import { staleComposeFiles } from "../../scripts/demo/compose.ts";
import { DockerUnavailableError, ensureDockerEngine, projectResources } from "../../scripts/demo/docker.ts";
import { canUseNetns, listLinks, listNamespaces } from "../../scripts/demo/netns.ts";
import { MESH_DIR } from "../../scripts/demo/local_mesh.ts";
import { EDGE_HOST, PORTS, envoyNames, serviceHost, spiffeId, topology } from "../../envoy/demo/topology.ts";

/** Processes a demo run starts (apps, the issuer, Envoys and Prometheus with configs in the run's directory). */
function demoProcesses(): string[] {
  const ps = spawnSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" }).stdout;
  return ps.split("\n").filter((line) => /envoy\/demo\/(app|backend)\.mjs|as-mesh-demo-/.test(line) && !/\bps -eo\b/.test(line));
}

interface Run { status: number | null; output: string }

/** Runs `scripts/demo.ts` with args; `interruptWhen` sends SIGINT once the output matches it. */
function runDemo(args: string[], options: { interruptWhen?: RegExp; timeoutMs: number }): Promise<Run> {
  return new Promise((resolve) => {
    // npm test builds the filters before the end-to-end tests; the demo need not build them again.
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/demo.ts", "--no-build", ...args], { cwd: projectRoot, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let interrupted = false;
    const collect = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (options.interruptWhen && !interrupted && options.interruptWhen.test(output)) {
        interrupted = true;
        child.kill("SIGINT");
      }
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    const timer = setTimeout(() => {
      output += `\n(test: no exit after ${options.timeoutMs} ms; SIGINT, then SIGKILL)`;
      child.kill("SIGINT");
      setTimeout(() => child.kill("SIGKILL"), 20_000).unref();
    }, options.timeoutMs);
    child.on("exit", (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}


/** Titles of the tour steps that printed BAD. */
function badSteps(output: string): string[] {
  return [...output.matchAll(/^ {2}BAD {2}(.*)$/gm)].map((match) => match[1]);
}

/**
 * The very first request, sent the moment the gateway's Envoy is ready: nothing may answer wrongly while the mesh
 * comes up (jwt-auth holds requests until its first JWKS fetch completes, as jwt_authn does).
 */
async function checkFirstRequest(t: TestContext, output: string): Promise<void> {
  await t.test("answers the very first request through a fresh gateway", () => {
    assert.match(output, /The tour:\n {2}ok {3}the very first GET \/rides, sent when the gateway reported ready\n\s+200 after \d+ ms, call chain: ride v\d → driver v1 → payment v1/);
  });
}

/**
 * Every step of the tour, the same for both runners: both run the mesh on the control service. With two control
 * replicas each proxy-status table lists the proxies connected to that replica, so together they list them all.
 */
function assertTourPassed(output: string, controlReplicas = 1): void {
  assert.match(output, /ok {3}GET \/rides through the gateway with a token\n\s+200, call chain: ride v\d → driver v1 → payment v1/);
  // The edge terminates TLS with a certificate the mesh CA issued for its host; only the mesh root verifies it.
  assert.match(output, /ok {3}TLS handshake with the gateway for rides\.demo\.as-mesh .*\n\s+TLSv1\.[23], subject alt name DNS:rides\.demo\.as-mesh, issuer O=cluster\.local.*\n\s+verified against the mesh root \S+: yes; against the system's roots: no/);
  assert.match(output, /curl --cacert \S+ --resolve rides\.demo\.as-mesh:\d+:[\d.]+ -H "Authorization: Bearer \$TOKEN" https:\/\/rides\.demo\.as-mesh:\d+\/rides/);
  assert.match(output, /ok {3}8 × GET \/book as one user \(5 per 10 s\)\n\s+200 200 200 200 200 429 429 429/);
  {
    assert.match(output, /ok {3}GET \/rides without a token \(edge-require-jwt\)\n\s+403 RBAC: access denied/);
    assert.match(output, /ok {3}GET \/rides with a forged token \(edge-jwt\)\n\s+401/);
    assert.match(output, /ok {3}500 × GET \/rides: ride v2's share in \[0\.06, 0\.14\]\n\s+v\d=\d+ v\d=\d+ \(v2 \d+\.\d %\)/);
    assert.match(output, /ok {3}canary edited to 50\/50 in .*traffic\.yaml, then 200 × GET \/rides: ride v2's share in \[0\.38, 0\.62\]/);
    assert.match(output, /ok {3}5 × GET \/rides with x-demo-fault: abort .*\n\s+503 503 503 503 503; .* without the header 200/);
    assert.match(output, /ok {3}ride → payment directly \(only driver may call payment\)\n\s+403 RBAC: access denied/);
    assert.match(output, /ok {3}source_principal in driver's and payment's metrics \(mTLS identity\)\n\s+driver ← spiffe:\/\/cluster\.local\/ns\/demo\/sa\/ride, payment ← spiffe:\/\/cluster\.local\/ns\/demo\/sa\/driver/);
    if (controlReplicas === 1) assert.match(output, /ok {3}as-mesh proxy-status --admin http:\/\/\S+\n\s+NAME .*\n(\s+(router|sidecar)~.* SYNCED .*\n){5}/);
    else {
      assert.match(output, /ok {3}as-mesh proxy-status --admin http:\/\/\S+ and as-mesh proxy-status --admin http:\/\/\S+\n/);
      const tables = output.slice(output.indexOf("as-mesh proxy-status --admin"), output.indexOf("PromQL destination_service"));
      const synced = new Set([...tables.matchAll(/^\s+(?:router|sidecar)~\S+~(\S+)\.demo~\S+ .* SYNCED .*$/gm)].map((match) => match[1]));
      assert.deepEqual([...synced].sort(), [...envoyNames()].sort(), "every proxy SYNCED on one of the replicas");
    }
  }
  // The fault step's 503s come back through ride's app (its inbound reports them), never reach driver: the abort
  // happens in ride's sidecar, on the way out.
  assert.match(output, /ok {3}PromQL destination_service:istio_requests:success_rate1m .*\n\s+driver=1\.000 payment=1\.000 ride=(0\.9\d\d|1\.000)/);
  assert.deepEqual(badSteps(output), [], "every tour step passed");
}

describe("demo mesh", () => {
  it("keeps envoy/demo/envoy.docker.yaml (the three filters in one Envoy) generated, and Envoy validates it with the built filters", () => {
    assert.equal(readFileSync(DOCKER_CONFIG_PATH, "utf8"), dockerConfigYaml(), "regenerate with: npm run demo -- --write-docker-config");
    const dir = mkdtempSync(join(tmpdir(), "as-mesh-docker-config-"));
    try {
      const local = join(dir, "envoy.yaml");
      writeFileSync(local, readFileSync(DOCKER_CONFIG_PATH, "utf8").replaceAll("/etc/envoy/wasm", join(projectRoot, "build")));
      const result = spawnSync(ensureEnvoy(), ["--mode", "validate", "-c", local, "--disable-hot-restart", "--use-dynamic-base-id"], {
        encoding: "utf8", timeout: 120_000,
      });
      const output = `${result.stdout}${result.stderr}`;
      assert.equal(result.status, 0, output.split("\n").slice(-5).join("\n"));
      assert.match(output, /configuration '.*' OK/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("keeps docker-compose.yml and envoy/demo/compose/ generated from the topology", () => {
    assert.deepEqual(staleComposeFiles(), [], "regenerate with: npx tsx scripts/demo/compose.ts --write");
  });

  it("has mesh YAML that names the topology's services, subsets and service accounts", () => {
    const documents = readdirSync(MESH_DIR).filter((file) => file.endsWith(".yaml"))
      .flatMap((file) => parseAllDocuments(readFileSync(join(MESH_DIR, file), "utf8")).map((doc) => doc.toJS() as {
        kind: string; metadata: { name: string; namespace: string }; spec: Record<string, unknown>;
      }));
    const byKind = (kind: string) => documents.filter((doc) => doc.kind === kind);
    const rideRule = byKind("DestinationRule").find((doc) => doc.metadata.name === "ride");
    const versions = topology.workloads.filter((w) => w.service === "ride").map((w) => w.version);
    assert.deepEqual((rideRule?.spec.subsets as Array<{ name: string; labels: { version: string } }>).map((s) => s.labels.version), versions);
    assert.equal(rideRule?.spec.host, serviceHost("ride"));
    // Istio's principals are SPIFFE IDs without the scheme.
    const principals = (name: string) => JSON.stringify(byKind("AuthorizationPolicy").find((doc) => doc.metadata.name === name)?.spec);
    assert.match(principals("driver-callers"), new RegExp(`"${spiffeId("ride").replace("spiffe://", "")}"`));
    assert.match(principals("payment-callers"), new RegExp(`"${spiffeId("driver").replace("spiffe://", "")}"`));
    assert.equal(byKind("PeerAuthentication")[0]?.spec.mtls && (byKind("PeerAuthentication")[0].spec.mtls as { mode: string }).mode, "STRICT");
    const canary = byKind("VirtualService").find((doc) => doc.metadata.name === "ride")?.spec.http as Array<{ route: Array<{ weight: number }> }>;
    assert.deepEqual(canary[0].route.map((r) => r.weight), [90, 10]);
    // The runners bind the Gateway's HTTPS port and clients ask for its host by name (the certificate's SAN).
    const edge = byKind("Gateway").find((doc) => doc.metadata.name === "edge")?.spec.servers as Array<{ port: { number: number; protocol: string }; hosts: string[]; tls?: { mode: string } }>;
    assert.deepEqual(edge.map((server) => [server.port.number, server.port.protocol, server.hosts, server.tls?.mode]), [[PORTS.gatewayHttps, "HTTPS", [EDGE_HOST], "SIMPLE"]]);
  });

  it("has mesh YAML (with the compose registry) that the control service validates without errors", async () => {
    const { validatePaths } = await import("../../control/config/index.ts");
    const result = await validatePaths([MESH_DIR, join(projectRoot, "envoy", "demo", "compose", "mesh")]);
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.warnings, []);
    assert.equal(result.count, 19);
  });

  it("runs the tour in one network namespace per workload and removes everything it made on Ctrl-C", { timeout: 300_000 }, async (t) => {
    if (!canUseNetns()) {
      t.skip("not root (or no `ip netns`): the runner uses loopback here; run as root to test namespaces");
      return;
    }
    // What a crashed run leaves: a namespace with a process inside.
    spawnSync("ip", ["netns", "add", "asm-crashed"]);
    const sleeper = spawn("ip", ["netns", "exec", "asm-crashed", "sleep", "600"], { stdio: "ignore" });
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(listNamespaces().includes("asm-crashed"));

    const run = await runDemo([], { interruptWhen: /Serving; press Ctrl-C/, timeoutMs: 240_000 });
    const leftovers = { namespaces: listNamespaces(), links: listLinks(), processes: demoProcesses() };
    const crashedProcessKilled = sleeper.exitCode !== null || sleeper.signalCode !== null;
    sleeper.kill("SIGKILL");
    spawnSync("ip", ["netns", "delete", "asm-crashed"]);

    assert.match(run.output, /one network namespace per workload on bridge asm-br0/, run.output);
    assert.match(run.output, /envoy admin {2}payment-v1 {3}http:\/\/10\.77\.0\.14:15000/);
    assert.match(run.output, /gateway {5}https:\/\/rides\.demo\.as-mesh:8443 +\(at 10\.77\.0\.10:8443;/);
    assertTourPassed(run.output);
    await checkFirstRequest(t, run.output);
    assert.match(run.output, /stopping the mesh/);
    assert.deepEqual(leftovers, { namespaces: [], links: [], processes: [] }, run.output.slice(-3000));
    assert.ok(crashedProcessKilled, "the crashed run's process inside asm-crashed was killed");
  });

  it("runs the tour on loopback ports (the runner without root) and exits zero with --once", { timeout: 300_000 }, async (t) => {
    const before = listNamespaces();
    const run = await runDemo(["--loopback", "--once"], { timeoutMs: 240_000 });
    // --once exits non-zero when a step failed.
    assert.equal(run.status, 0, run.output.slice(-4000));
    assert.match(run.output, /local mesh \(loopback ports\)/);
    assert.match(run.output, /gateway {5}https:\/\/rides\.demo\.as-mesh:\d+ +\(at 127\.0\.77\.10:\d+;/);
    assertTourPassed(run.output);
    await checkFirstRequest(t, run.output);
    assert.deepEqual(listNamespaces(), before, "loopback mode makes no namespace");
    assert.deepEqual(demoProcesses(), []);
  });

  it("runs the tour on two control replicas over a 3-member etcd with --etcd and leaves no process behind", { timeout: 240_000 }, async () => {
    // Loopback: quicker than namespaces, and it leaves the bridge to a namespaced run elsewhere on the machine.
    const before = listNamespaces();
    const run = await runDemo(["--etcd", "--loopback", "--once"], { timeoutMs: 200_000 });
    const endpoints = run.output.match(/^ {2}etcd {8}(\S+)/m)?.[1]?.split(",") ?? [];
    // etcd members and control replicas name an endpoint in their arguments; agents and Envoys the run's directory.
    const ps = spawnSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" }).stdout.split("\n");
    const leftovers = [...demoProcesses(), ...ps.filter((line) => endpoints.some((url) => line.includes(url)))];
    assert.equal(run.status, 0, run.output.slice(-4000));
    assert.match(run.output, /local mesh \(loopback ports; two control replicas on a 3-member etcd\)/);
    assert.match(run.output, /control a {3}http:\/\/127\.0\.0\.1:\d+ .*\n {2}control b {3}http:\/\/127\.0\.0\.1:\d+ /);
    assert.equal(endpoints.length, 3, run.output.slice(0, 3000));
    assert.match(run.output, /edit a file, then: npx as-mesh apply -f <file> --etcd http:\/\/127\.0\.0\.1:\d+,/);
    // The replicas read no folder: the canary edit reached them only through `as-mesh apply` to etcd.
    assertTourPassed(run.output, 2);
    assert.deepEqual(listNamespaces(), before, "loopback mode makes no namespace");
    assert.deepEqual(leftovers, [], "every etcd member, replica, agent and Envoy stopped");
  });

  it("runs the tour against docker-compose.yml in a real Docker engine and leaves no container, network or volume", { timeout: 600_000 }, async (t) => {
    try {
      await ensureDockerEngine();
    } catch (error) {
      if (error instanceof DockerUnavailableError) {
        process.stderr.write(`demo mesh compose test skipped: ${error.message}\n`);
        t.skip(`no Docker engine can run here: ${error.message}`);
        return;
      }
      throw error;
    }
    const run = await runDemo(["--compose", "--once"], { timeoutMs: 480_000 });
    const leftovers = projectResources();
    assert.equal(run.status, 0, run.output.slice(-4000));
    assert.match(run.output, /docker-compose mesh on the control service \(project asm-demo/);
    assert.match(run.output, /gateway {5}https:\/\/rides\.demo\.as-mesh:\d+ +\(at 127\.0\.0\.1:\d+;/);
    assert.match(run.output, /the mesh answered its first request \d+ ms after every Envoy was up/);
    assert.match(run.output, /ok {3}restart the control service under traffic \(every request answered 200\)\n\s+200×\d+ over \d+ ms; 5 of 5 proxies reconnected/);
    assertTourPassed(run.output);
    assert.deepEqual(leftovers, { containers: [], networks: [], volumes: [] });
  });
});
