// The demo mesh's front door: starts the mesh (locally, or with docker-compose), prints where everything is and a
// token, runs the guided tour, then exits (--once, non-zero when a step failed) or serves until Ctrl-C. Whatever
// happens (a failed step, an error, Ctrl-C half-way through start-up) it tears down what it started.
import { composeUp, type ComposeMesh } from "./docker.ts";
import { startLocalMesh, type LocalMesh } from "./local_mesh.ts";
import { controlConfigSource, type ControlConfigSource } from "./control_source.ts";
import { etcdControlSource } from "./etcd_control_source.ts";
import { RECORDED } from "./prometheus_config.ts";
import {
  canaryShift, canarySplit, controlRestart, edgeTls, faultInjected, firstRequest, firstRequestAtReady, forgedToken, mintToken, mtlsIdentityInMetrics, noToken, proxyStatus,
  rateLimited, rbacDenied, runSteps, successRateQuery, waitForMesh, type Step, type TourTarget,
} from "./tour.ts";
import { envoyNames } from "../../envoy/demo/topology.ts";
import { buildAll } from "../build.ts";
import { projectRoot } from "../tools.ts";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { curlCommand, gatewayGet } from "./gateway_client.ts";

export interface MeshTourOptions {
  runner: "local" | "compose";
  once: boolean;
  /** Local runner: stay on loopback even as root. */
  loopback?: boolean;
  /** Build the filters first (default); false uses build/*.wasm as they are. */
  build?: boolean;
  /** Local runner: the mesh config in a 3-member etcd, served by two control replicas. */
  etcd?: boolean;
}

const write = (text: string) => process.stdout.write(text);

/**
 * Compose starts the containers in dependency order only: an agent retries until the control container has minted
 * its token, and its Envoy waits for the certificate. Waits (bounded) until a request through the gateway walks the
 * whole chain; returns how long that took.
 */
async function waitForFirstAnswer(target: TourTarget, timeoutMs = 90_000): Promise<number> {
  const started = Date.now();
  const token = await mintToken(target, "readiness");
  let last = "";
  while (Date.now() - started < timeoutMs) {
    try {
      const response = await gatewayGet(target.gateway, "/rides", { authorization: `Bearer ${token}` }, 5000);
      if (response.status === 200) return Date.now() - started;
      last = `${response.status} ${response.body.slice(0, 120)}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`the gateway did not answer 200 within ${timeoutMs} ms: ${last}`);
}

export async function runMeshTour(options: MeshTourOptions): Promise<number> {
  const modules = ["metrics", "jwt-auth", "rate-limit"];
  if (options.build ?? true) await buildAll(modules);
  else {
    const missing = modules.filter((name) => !existsSync(join(projectRoot, "build", `${name}.wasm`)));
    if (missing.length) throw new Error(`--no-build, but build/ has no ${missing.map((name) => `${name}.wasm`).join(", ")}; run npm run build`);
  }
  let teardown: (() => Promise<void>) | undefined;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    write("\nstopping the mesh ...\n");
    void (teardown?.() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  let target: TourTarget;
  let describe: string;
  let steps: Step[];
  if (options.runner === "local") {
    const etcd = options.etcd ? etcdControlSource() : undefined;
    const source: ControlConfigSource = etcd ?? controlConfigSource();
    const mesh: LocalMesh = await startLocalMesh({ loopback: options.loopback, configSource: source });
    teardown = mesh.stop;
    target = { ...mesh, controlAdminUrl: source.addresses().adminUrl };
    const replicaAdmins = etcd?.replicas().map((replica) => replica.adminUrl);
    steps = [
      firstRequestAtReady(mesh.firstAnswer), firstRequest, edgeTls, noToken, forgedToken, rateLimited,
      canarySplit(500, [0.06, 0.14]),
      canaryShift(etcd ? etcd.meshFiles(mesh.meshDir) : mesh.meshDir, [50, 50], 200, [0.38, 0.62]),
      faultInjected, rbacDenied, mtlsIdentityInMetrics,
      proxyStatus(envoyNames(), replicaAdmins),
      successRateQuery,
    ];
    const control = etcd
      ? etcd.replicas().map(({ adminUrl }, index) => `  control ${"ab"[index]}   ${adminUrl}   (as-mesh proxy-status --admin ${adminUrl})\n`).join("") +
        `  etcd        ${etcd.etcdEndpoints()}   (3 members: the mesh config both replicas serve)\n` +
        `  mesh YAML   ${mesh.meshDir}   (edit a file, then: npx as-mesh apply -f <file> --etcd ${etcd.etcdEndpoints()})\n`
      : `  control     ${source.addresses().adminUrl}   (as-mesh proxy-status --admin ${source.addresses().adminUrl})\n` +
        `  mesh YAML   ${mesh.meshDir}   (edit it: the control service pushes the change live)\n`;
    describe = `local mesh (${mesh.mode === "netns" ? "one network namespace per workload on bridge asm-br0" : "loopback ports"}` +
      `${etcd ? "; two control replicas on a 3-member etcd" : ""})\n` +
      Object.entries(mesh.envoyAdmins).map(([name, url]) => `  envoy admin  ${name.padEnd(12)} ${url}\n`).join("") +
      control +
      `  logs and generated config: ${mesh.runDir}\n`;
  } else {
    const mesh: ComposeMesh = await composeUp({ ephemeralPorts: options.once });
    teardown = async () => mesh.down();
    target = mesh;
    // The same mesh as the local runner's, on the control service: the same steps but the one timed at the
    // gateway's readiness (compose starts the containers; the tour first waits for a 200, see waitForFirstAnswer).
    steps = [
      firstRequest, edgeTls, noToken, forgedToken, rateLimited,
      canarySplit(500, [0.06, 0.14]),
      canaryShift(mesh.meshFiles, [50, 50], 200, [0.38, 0.62]),
      faultInjected, rbacDenied, mtlsIdentityInMetrics,
      controlRestart(() => mesh.restart("control"), envoyNames().length),
      proxyStatus(envoyNames()),
      successRateQuery,
    ];
    describe = "docker-compose mesh on the control service (project asm-demo; `docker-compose -p asm-demo ps`)\n" +
      `  control     ${mesh.controlAdminUrl}   (as-mesh proxy-status --admin ${mesh.controlAdminUrl})\n` +
      `  mesh YAML   ${mesh.meshFiles.describe("")}   (the control container's copy: edits apply live)\n`;
  }
  if (interrupted) return 130;

  try {
    // Every Envoy and the control service scraped healthy (Prometheus reaches each at its fixed address).
    await waitForMesh(target, envoyNames().length + (options.runner === "compose" ? 1 : 0));
    if (options.runner === "compose") write(`the mesh answered its first request ${await waitForFirstAnswer(target)} ms after every Envoy was up\n`);
    const token = await mintToken(target, "alice");
    write(`
as-mesh demo mesh: ${describe}
  gateway     ${target.gateway.url}   (at ${target.gateway.address}; edge: TLS → metrics → jwt-auth → rate-limit, then ride v1/v2 → driver → payment)
  mesh root   ${target.gateway.rootFile}   (the CA that issued the gateway's certificate)
  issuer      ${target.issuerUrl}       (the demo's identity provider: ${target.issuerUrl}/demo/token?sub=NAME)
  prometheus  ${target.prometheusUrl}   (try: ${RECORDED.successRate})

A token for subject "alice" (valid 1 h):
  TOKEN=${token}
  ${curlCommand(target.gateway, "/rides", `-H "Authorization: Bearer $TOKEN"`)}

The tour:
`);
    const ok = await runSteps(target, steps, write);
    write(ok ? "\ndemo mesh: every step answered as expected\n" : "\ndemo mesh: some steps did not answer as expected\n");
    if (options.once) return ok ? 0 : 1;
    write("\nServing; press Ctrl-C to stop (everything started is removed).\n");
    await new Promise<never>(() => { /* until a signal ends the process */ });
    return 0;
  } finally {
    if (!interrupted) await teardown();
  }
}
