// Starts the demo mesh on this machine without Docker: as root, each workload (issuer, gateway, ride v1/v2,
// driver, payment) in its own network namespace on the bridge asm-br0, with fixed ports on its own address, like a
// pod; otherwise each workload on its own loopback address (127.0.77.<host>, so addresses still tell workloads
// apart, as the registry needs) with free ports. Where each Envoy's configuration comes from is a
// ProxyConfigSource: the control service (scripts/demo/control_source.ts, what `npm run demo` uses), or two control
// replicas over etcd (scripts/demo/etcd_control_source.ts, with --etcd). Prometheus runs in the root namespace.
// stop() removes every process, namespace, veth and the bridge; start() first removes what a crashed run left.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureEnvoy, projectRoot } from "../tools.ts";
import { ensurePrometheus } from "../../tests/harness/prometheus.ts";
import { PORTS, envoyNames, subnetAddress, topology, type Workload } from "../../envoy/demo/topology.ts";
import { servicesYaml } from "../../envoy/demo/mesh_services.ts";
import type { MeshPlacement } from "../../envoy/demo/placement.ts";
import { prometheusConfigYaml, recordingRulesYaml } from "./prometheus_config.ts";
import { answers, ProcessGroup } from "./processes.ts";
import { gatewayEndpoint, gatewayGet, type GatewayEndpoint } from "./gateway_client.ts";
import * as netns from "./netns.ts";
import { freePort } from "../ports.ts";

export { freePort };

export const MESH_DIR = join(projectRoot, "envoy", "demo", "mesh");

/** One proxy the runner is about to start. */
export interface ProxyPlan {
  name: string;
  type: "sidecar" | "router";
  /** The workload it fronts (sidecars only). */
  workload?: Workload;
  /** Its address as the others reach it (the namespace's IP, or its loopback address). */
  address: string;
  ports: Ports;
  /** The port the gateway's HTTPS server binds (router only). */
  gatewayHttpsPort?: number;
}

/** What runs beside a proxy is started with: the run's processes, and a command wrapped to run in its namespace. */
export interface ProxyContext {
  group: ProcessGroup;
  spawn(command: string, args: string[]): { command: string; args: string[] };
}

/**
 * Where the proxies' configuration comes from, the control service: `start` runs it (in the root namespace,
 * reachable from every namespace at `controlAddress`) before any proxy starts, and `bootstrap` gives each Envoy its
 * xDS bootstrap.
 */
export interface ProxyConfigSource {
  start(context: { group: ProcessGroup; runDir: string; meshDir: string; controlAddress: string; mode: "netns" | "loopback" }): Promise<ControlStarted>;
  bootstrap(proxy: ProxyPlan, placement: MeshPlacement): object | Promise<object>;
  /** Runs what the proxy needs beside it before its Envoy starts (the workload's agent), in its namespace. */
  beforeProxy?(proxy: ProxyPlan, context: ProxyContext): Promise<void>;
  /** Stops what `start` ran outside the process group (an etcd cluster), after the group has stopped. */
  stop?(): Promise<void>;
}

/** What the started control service tells the runner. */
export interface ControlStarted {
  /** Where Prometheus scrapes the control service (each replica's, when there are several). */
  metricsAddress: string | string[];
  /** The mesh root (PEM), which the gateway's certificate chains to. */
  meshRootFile: string;
}

export interface LocalMeshOptions {
  /** Force loopback mode even as root. */
  loopback?: boolean;
  configSource: ProxyConfigSource;
  log?: (line: string) => void;
}

export interface LocalMesh {
  mode: "netns" | "loopback";
  /** The edge gateway's HTTPS server. */
  gateway: GatewayEndpoint;
  issuerUrl: string;
  prometheusUrl: string;
  /** proxy name → admin URL */
  envoyAdmins: Record<string, string>;
  /** The run's directory: logs, generated Envoy configs, the mesh YAML the control service will read. */
  runDir: string;
  /** The mesh YAML of this run (the shared policies plus this run's registry); the tour edits it live. */
  meshDir: string;
  processes: ProcessGroup;
  /** The answer to a request with a valid token sent the moment the gateway's Envoy reported ready. */
  firstAnswer: FirstAnswer;
  stop(): Promise<void>;
}

/** A workload's own address in loopback mode (all of 127.0.0.0/8 is local on Linux). */
export function loopbackAddress(host: number): string {
  return `127.0.77.${host}`;
}

export interface FirstAnswer { status: number; body: string; afterReadyMs: number }

/** One request as soon as the gateway is ready: nothing may answer wrongly while the mesh comes up. */
async function firstRequest(gateway: GatewayEndpoint, token: string): Promise<FirstAnswer> {
  const readyAt = Date.now();
  try {
    const response = await gatewayGet(gateway, "/rides", { authorization: `Bearer ${token}` }, 15_000);
    return { status: response.status, body: response.body, afterReadyMs: Date.now() - readyAt };
  } catch (error) {
    return { status: 0, body: error instanceof Error ? error.message : String(error), afterReadyMs: Date.now() - readyAt };
  }
}

export interface Ports { app: number; inbound: number; outbound: number; admin: number }

const workloadNames = (): string[] => [topology.issuer.name, topology.gateway.name, ...topology.workloads.map((w) => w.name)];

function hostOf(name: string): number {
  if (name === topology.issuer.name) return topology.issuer.host;
  if (name === topology.gateway.name) return topology.gateway.host;
  const workload = topology.workloads.find((w) => w.name === name);
  if (!workload) throw new Error(`no workload named ${name} in the topology`);
  return workload.host;
}

export async function startLocalMesh(options: LocalMeshOptions): Promise<LocalMesh> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + "\n"));
  const mode = !options.loopback && netns.canUseNetns() ? "netns" : "loopback";
  const envoy = ensureEnvoy(log);
  const prometheusBinary = ensurePrometheus(log);
  const runDir = mkdtempSync(join(tmpdir(), "as-mesh-demo-"));
  const logDir = join(runDir, "logs");
  mkdirSync(logDir);
  const group = new ProcessGroup(logDir);
  // Processes die with us even on an uncaught error; namespaces are removed by stop() or by the next start.
  const killOnExit = () => {
    group.killAllNow();
    if (mode === "netns") netns.removeAll();
  };
  process.once("exit", killOnExit);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await group.stopAll();
    await options.configSource.stop?.();
    if (mode === "netns") netns.removeAll();
    process.removeListener("exit", killOnExit);
    rmSync(runDir, { recursive: true, force: true });
  };

  try {
    const ports = new Map<string, Ports>();
    const addressOf = new Map<string, string>();
    if (mode === "netns") {
      netns.removeAll();
      netns.createBridge();
      for (const name of workloadNames()) {
        addressOf.set(name, netns.createNamespace(name, hostOf(name)));
        ports.set(name, { app: PORTS.app, inbound: PORTS.sidecarInbound, outbound: PORTS.sidecarOutbound, admin: PORTS.envoyAdmin });
      }
    } else {
      for (const name of workloadNames()) {
        addressOf.set(name, loopbackAddress(hostOf(name)));
        ports.set(name, { app: await freePort(), inbound: await freePort(), outbound: await freePort(), admin: await freePort() });
      }
    }
    const portsOf = (name: string): Ports => ports.get(name) as Ports;
    const address = (name: string): string => addressOf.get(name) as string;
    const gatewayHttpsPort = mode === "netns" ? PORTS.gatewayHttps : await freePort();
    const placement: MeshPlacement = {
      bindAddress: mode === "netns" ? "0.0.0.0" : "127.0.0.1",
      portsOf,
      inboundOf: (name) => name === topology.issuer.name
        ? { address: address(name), port: portsOf(name).app }
        : { address: address(name), port: portsOf(name).inbound },
      appAddress: "127.0.0.1",
      wasmDir: join(projectRoot, "build"),
      gatewayHttpsPort,
    };

    // The mesh configuration as the control service will read it: the shared policies plus the registry with
    // this run's addresses.
    const meshDir = join(runDir, "mesh");
    mkdirSync(meshDir);
    for (const file of readdirSync(MESH_DIR)) if (file.endsWith(".yaml")) copyFileSync(join(MESH_DIR, file), join(meshDir, file));
    writeFileSync(join(meshDir, "services.yaml"), servicesYaml({
      placeOf: (name) => placement.inboundOf(name), resolution: "STATIC",
      header: `Generated by the demo runner from envoy/demo/topology.ts for this run (${mode}).`,
    }));

    const source = options.configSource;
    const controlAddress = mode === "netns" ? netns.bridgeAddress() : "127.0.0.1";
    const control = await source.start({ group, runDir, meshDir, controlAddress, mode });
    const gateway = gatewayEndpoint(address("gateway"), gatewayHttpsPort, control.meshRootFile);

    const spawnIn = (name: string, command: string, args: string[]) =>
      mode === "netns" ? netns.inNamespace(name, command, args) : { command, args };
    const url = (name: string, port: number, path = "") => `http://${address(name)}:${port}${path}`;

    // The issuer: the demo's identity provider, serving the JWKS and minting tokens.
    const issuer = spawnIn(topology.issuer.name, process.execPath, [join(projectRoot, "envoy", "demo", "backend.mjs"), String(portsOf("issuer").app)]);
    await group.start({ name: "issuer", ...issuer, ready: () => answers(url("issuer", portsOf("issuer").app, "/.well-known/jwks.json"), 200) });

    const envoyArgs = (configPath: string) => ["-c", configPath, "--disable-hot-restart", "--use-dynamic-base-id", "--concurrency", "1", "--log-level", "warning"];
    const configDir = join(runDir, "envoy");
    mkdirSync(configDir);
    for (const w of topology.workloads) {
      const p = portsOf(w.name);
      const app = spawnIn(w.name, process.execPath, [join(projectRoot, "envoy", "demo", "app.mjs")]);
      await group.start({
        name: `${w.name}-app`, ...app, readyLine: /"listening"/,
        env: {
          APP_NAME: w.service, APP_VERSION: w.version, PORT: String(p.app), HOST: "127.0.0.1",
          NEXT_SERVICE: w.calls ? `${w.calls}.${w.namespace}.svc.cluster.local` : "",
          SIDECAR_OUTBOUND: `127.0.0.1:${p.outbound}`,
        },
      });
      const configPath = join(configDir, `${w.name}.json`);
      const plan: ProxyPlan = { name: w.name, type: "sidecar", workload: w, address: address(w.name), ports: p };
      await source.beforeProxy?.(plan, { group, spawn: (command, args) => spawnIn(w.name, command, args) });
      writeFileSync(configPath, JSON.stringify(await source.bootstrap(plan, placement), null, 2));
      const sidecar = spawnIn(w.name, envoy, envoyArgs(configPath));
      await group.start({ name: `${w.name}-sidecar`, ...sidecar, ready: () => answers(url(w.name, p.admin, "/ready"), 200) });
    }
    const gatewayConfig = join(configDir, "gateway.json");
    const gatewayPlan: ProxyPlan = { name: "gateway", type: "router", address: address("gateway"), ports: portsOf("gateway"), gatewayHttpsPort };
    await source.beforeProxy?.(gatewayPlan, { group, spawn: (command, args) => spawnIn("gateway", command, args) });
    writeFileSync(gatewayConfig, JSON.stringify(await source.bootstrap(gatewayPlan, placement), null, 2));
    // The token first, so the request can follow the gateway's readiness at once.
    const firstToken = (await (await fetch(url("issuer", portsOf("issuer").app, "/demo/token?sub=first"))).text()).trim();
    await group.start({ name: "gateway", ...spawnIn("gateway", envoy, envoyArgs(gatewayConfig)), ready: () => answers(url("gateway", portsOf("gateway").admin, "/ready"), 200) });
    const firstAnswer = await firstRequest(gateway, firstToken);

    // Prometheus in the root namespace, where it reaches every namespace through the bridge.
    const promDir = join(runDir, "prometheus");
    mkdirSync(promDir);
    const promHost = mode === "netns" ? netns.bridgeAddress() : "127.0.0.1";
    const promPort = mode === "netns" ? PORTS.prometheus : await freePort();
    const envoyAdmins: Record<string, string> = {};
    for (const name of envoyNames()) envoyAdmins[name] = `${address(name)}:${portsOf(name).admin}`;
    writeFileSync(join(promDir, "rules.yml"), recordingRulesYaml());
    writeFileSync(join(promDir, "prometheus.yml"), prometheusConfigYaml({ envoys: envoyAdmins, control: control.metricsAddress }, join(promDir, "rules.yml")));
    const prometheusUrl = `http://${promHost}:${promPort}`;
    await group.start({
      name: "prometheus", command: prometheusBinary,
      args: [`--config.file=${join(promDir, "prometheus.yml")}`, `--storage.tsdb.path=${join(promDir, "data")}`,
        `--web.listen-address=${promHost}:${promPort}`, "--log.level=warn"],
      ready: () => answers(`${prometheusUrl}/-/ready`, 200), timeoutMs: 60_000,
    });

    return {
      mode,
      gateway,
      issuerUrl: url("issuer", portsOf("issuer").app),
      prometheusUrl,
      envoyAdmins: Object.fromEntries(Object.entries(envoyAdmins).map(([name, hostPort]) => [name, `http://${hostPort}`])),
      runDir,
      meshDir,
      processes: group,
      firstAnswer,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The mesh YAML files a run hands to the control service (for `as-mesh validate` and the tour's live edit). */
export function meshFiles(runDir: string): string[] {
  return readdirSync(join(runDir, "mesh")).map((file) => join(runDir, "mesh", file));
}

export function readMeshFile(runDir: string, file: string): string {
  return readFileSync(join(runDir, "mesh", file), "utf8");
}

export { subnetAddress };
