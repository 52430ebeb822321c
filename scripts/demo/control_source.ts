// The demo mesh on the control service: `as-mesh control` reads the run's copy of the mesh YAML (so the tour can
// edit it live) and serves ADS and the .wasm modules; each Envoy starts from what `as-mesh bootstrap` writes for
// it, the real command an operator would run. Each proxy has its `as-mesh agent` (key, certificate from the mesh
// CA, SDS on a Unix socket), so the mesh runs mTLS with SPIFFE identities and the AuthorizationPolicies can name
// them. The same CA issues the edge gateway's serving certificate (the Gateway's credentialName edge-cert), which
// the control service sends the gateway over SDS on its ADS stream. The control service (its CA included) runs in
// the root namespace, on the bridge address in netns mode (every namespace routes to it) or on loopback.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { projectRoot } from "../tools.ts";
import { PORTS, TRUST_DOMAIN, topology } from "../../envoy/demo/topology.ts";
import { CA_SERVER_NAME, prepareCaFiles, type CaFiles } from "./mesh_ca.ts";
import { freePort, type ProxyConfigSource, type ProxyContext, type ProxyPlan } from "./local_mesh.ts";
import { answers } from "./processes.ts";

const run = promisify(execFile);

/** `as-mesh <args>` as this checkout runs it (what `npx as-mesh` runs). */
export function asMeshCommand(args: string[]): { command: string; args: string[] } {
  return { command: process.execPath, args: ["--import", "tsx", join(projectRoot, "control", "cli.ts"), ...args] };
}

/** The control service's addresses once started. */
export interface ControlAddresses {
  xds: string;
  http: string;
  adminUrl: string;
  /** The mesh CA's issuance API (host:port). */
  ca: string;
}

/** Where a proxy's agent serves SDS (a path in the run's directory, reachable from every network namespace). */
export function sdsSocketPath(runDir: string, proxyName: string): string {
  return join(runDir, "agents", proxyName, "sds.sock");
}

/** The `as-mesh bootstrap` arguments for one proxy of the demo (the config port → bound port mapping included). */
export function bootstrapArgs(proxy: ProxyPlan, control: ControlAddresses, mode: "netns" | "loopback", output: string, sdsSocket: string): string[] {
  // In a namespace the proxy has the address to itself: admin on every interface so Prometheus (root namespace)
  // scrapes it. On loopback each workload has its own 127.0.77.x address (and distinct ports).
  const adminAddress = mode === "netns" ? "0.0.0.0" : proxy.address;
  const common = [
    "bootstrap", "--xds", control.xds, "--control-http", control.http,
    "--admin-address", adminAddress, "--admin-port", String(proxy.ports.admin), "-o", output,
    "--sds-socket", sdsSocket, "--trust-domain", TRUST_DOMAIN,
  ];
  if (proxy.type === "router") {
    const gateway = topology.gateway;
    return [
      ...common, "--type", "router", "--namespace", gateway.namespace, "--service-account", gateway.serviceAccount,
      "--workload-name", gateway.name, "--labels", Object.entries(gateway.labels).map(([k, v]) => `${k}=${v}`).join(","),
      "--ip", proxy.address, "--listen-address", mode === "netns" ? "0.0.0.0" : proxy.address,
      // The Gateway's HTTPS server (port 8443 in the mesh config) on the port the runner gave the gateway.
      "--listen-ports", `${PORTS.gatewayHttps}=${proxy.gatewayHttpsPort ?? PORTS.gatewayHttps}`,
    ];
  }
  const workload = proxy.workload;
  if (!workload) throw new Error(`sidecar ${proxy.name} has no workload`);
  return [
    ...common, "--type", "sidecar", "--namespace", workload.namespace, "--service-account", workload.serviceAccount,
    "--workload-name", workload.name, "--labels", Object.entries(workload.labels).map(([k, v]) => `${k}=${v}`).join(","),
    "--ip", proxy.address,
    "--inbound-ports", `http=${proxy.ports.inbound}`, "--app-ports", `http=${proxy.ports.app}`,
    // The app reaches its sidecar's outbound where envoy/demo/app.mjs is told (SIDECAR_OUTBOUND); the config keeps
    // the service port 8080 as the listener and route table name.
    "--listen-address", "127.0.0.1", "--listen-ports", `${PORTS.app}=${proxy.ports.outbound}`,
  ];
}

/**
 * Runs `as-mesh bootstrap` for a proxy into the run's folder and returns the bootstrap. With several control
 * replicas each gets its own --xds, so the Envoy's ADS cluster holds them all.
 */
export async function bootstrapProxy(proxy: ProxyPlan, controls: ControlAddresses[], mode: "netns" | "loopback", runDir: string): Promise<object> {
  const output = join(runDir, "envoy", `${proxy.name}.bootstrap.json`);
  const args = bootstrapArgs(proxy, controls[0]!, mode, output, sdsSocketPath(runDir, proxy.name));
  const command = asMeshCommand([...args, ...controls.slice(1).flatMap((control) => ["--xds", control.xds])]);
  await run(command.command, command.args, { cwd: projectRoot, timeout: 60_000 });
  return JSON.parse(readFileSync(output, "utf8")) as object;
}

/** Every proxy of the demo with the identity its bootstrap token grants. */
export function proxyIdentities(): Array<{ name: string; namespace: string; serviceAccount: string }> {
  return [
    { name: topology.gateway.name, namespace: topology.gateway.namespace, serviceAccount: topology.gateway.serviceAccount },
    ...topology.workloads.map((w) => ({ name: w.name, namespace: w.namespace, serviceAccount: w.serviceAccount })),
  ];
}

/**
 * Starts a proxy's `as-mesh agent` (certificates from the CA at `ca`, tried in turn; the CA endpoint trusted with
 * `rootFile`) in the proxy's namespace, as a pod's agent runs beside its Envoy; ready once it serves SDS.
 */
export async function startAgent(proxy: ProxyPlan, context: ProxyContext, options: { runDir: string; ca: string[]; rootFile: string; tokenFile: string }): Promise<void> {
  const socket = sdsSocketPath(options.runDir, proxy.name);
  mkdirSync(join(socket, ".."), { recursive: true, mode: 0o700 });
  const agent = asMeshCommand([
    "agent", ...options.ca.flatMap((address) => ["--ca", address]), "--ca-root", options.rootFile, "--ca-server-name", CA_SERVER_NAME,
    "--token-file", options.tokenFile, "--sds-socket", socket, "--log-level", "info",
  ]);
  await context.group.start({ name: `${proxy.name}-agent`, ...context.spawn(agent.command, agent.args), ready: async () => existsSync(socket), timeoutMs: 60_000 });
}

export interface ControlConfigSource extends ProxyConfigSource {
  /** Set once `start` ran. */
  addresses(): ControlAddresses;
}

/** A ProxyConfigSource that runs `as-mesh control` and bootstraps every Envoy with `as-mesh bootstrap`. */
export function controlConfigSource(): ControlConfigSource {
  let control: ControlAddresses | undefined;
  let mode: "netns" | "loopback" = "loopback";
  let runDir = "";
  let caFiles: CaFiles | undefined;
  const addresses = (): ControlAddresses => {
    if (!control) throw new Error("the control service has not started");
    return control;
  };
  return {
    addresses,
    async start(context) {
      mode = context.mode;
      runDir = context.runDir;
      const host = context.controlAddress;
      // Every proxy's bootstrap token, before the CA reads the token file.
      caFiles = prepareCaFiles(join(context.runDir, "mesh-ca"), proxyIdentities());
      const caPort = context.mode === "netns" ? PORTS.controlCa : await freePort(host);
      const ca = `${host}:${caPort}`;
      const xdsPort = context.mode === "netns" ? PORTS.controlXds : await freePort(host);
      const httpPort = context.mode === "netns" ? PORTS.controlHttp : await freePort(host);
      control = { xds: `${host}:${xdsPort}`, http: `${host}:${httpPort}`, adminUrl: `http://${host}:${httpPort}`, ca };
      const command = asMeshCommand([
        "control", "--config", context.meshDir, "--xds", control.xds, "--admin", control.http,
        "--wasm-dir", join(projectRoot, "build"),
        // The mesh CA in the control service, as istiod runs it: a generated root in the run's CA folder.
        "--ca-dir", caFiles.caDir, "--ca-address", ca, "--token-file", caFiles.tokenFile, "--trust-domain", TRUST_DOMAIN,
        // A fresh mesh has no sidecars to wait for; they register as they start.
        "--startup-grace", "0", "--log-level", "info",
      ]);
      const started = control;
      const rootFile = caFiles.rootFile;
      // Ready once it serves and its CA has written the root the agents trust it with (the CA starts after xDS).
      await context.group.start({
        name: "control", ...command, timeoutMs: 60_000,
        ready: async () => existsSync(rootFile) && await answers(`${started.adminUrl}/ready`, 200),
      });
      // The root the gateway's certificate (edge-cert, issued by this CA) chains to.
      return { metricsAddress: control.http, meshRootFile: rootFile };
    },
    async beforeProxy(proxy, context) {
      const files = caFiles;
      const token = files?.workloadTokens.get(proxy.name);
      if (!files || !token) throw new Error(`no bootstrap token for ${proxy.name}`);
      await startAgent(proxy, context, { runDir, ca: [addresses().ca], rootFile: files.rootFile, tokenFile: token });
    },
    bootstrap: (proxy: ProxyPlan) => bootstrapProxy(proxy, [addresses()], mode, runDir),
  };
}
