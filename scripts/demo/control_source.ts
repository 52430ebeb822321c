// The demo mesh on the control service: `as-mesh control` reads the run's copy of the mesh YAML (so the tour can
// edit it live) and serves ADS and the .wasm modules; each Envoy starts from what `as-mesh bootstrap` writes for
// it, the real command an operator would run. The control service runs in the root namespace, on the bridge
// address in netns mode (every namespace routes to it) or on loopback.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { projectRoot } from "../tools.ts";
import { PORTS, topology } from "../../envoy/demo/topology.ts";
import { freePort, type ProxyConfigSource, type ProxyPlan } from "./local_mesh.ts";
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
}

/** The `as-mesh bootstrap` arguments for one proxy of the demo (the config port → bound port mapping included). */
export function bootstrapArgs(proxy: ProxyPlan, control: ControlAddresses, mode: "netns" | "loopback", output: string): string[] {
  // In a namespace the proxy has the address to itself: admin on every interface so Prometheus (root namespace)
  // scrapes it. On shared loopback everything is 127.0.0.1 and each port is distinct.
  const adminAddress = mode === "netns" ? "0.0.0.0" : "127.0.0.1";
  const common = [
    "bootstrap", "--xds", control.xds, "--control-http", control.http,
    "--admin-address", adminAddress, "--admin-port", String(proxy.ports.admin), "-o", output,
  ];
  if (proxy.type === "router") {
    const gateway = topology.gateway;
    return [
      ...common, "--type", "router", "--namespace", gateway.namespace, "--service-account", gateway.serviceAccount,
      "--workload-name", gateway.name, "--labels", Object.entries(gateway.labels).map(([k, v]) => `${k}=${v}`).join(","),
      "--ip", proxy.address, "--listen-address", mode === "netns" ? "0.0.0.0" : "127.0.0.1",
      // The Gateway's plain HTTP server (config port 8080) on the port the runner gave the gateway.
      "--listen-ports", `${PORTS.gatewayHttp}=${proxy.gatewayPort ?? PORTS.gatewayHttp}`,
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

export interface ControlConfigSource extends ProxyConfigSource {
  /** Set once `start` ran. */
  addresses(): ControlAddresses;
}

/** A ProxyConfigSource that runs `as-mesh control` and bootstraps every Envoy with `as-mesh bootstrap`. */
export function controlConfigSource(): ControlConfigSource {
  let control: ControlAddresses | undefined;
  let mode: "netns" | "loopback" = "loopback";
  let runDir = "";
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
      const xdsPort = context.mode === "netns" ? PORTS.controlXds : await freePort(host);
      const httpPort = context.mode === "netns" ? PORTS.controlHttp : await freePort(host);
      control = { xds: `${host}:${xdsPort}`, http: `${host}:${httpPort}`, adminUrl: `http://${host}:${httpPort}` };
      const command = asMeshCommand([
        "control", "--config", context.meshDir, "--xds", control.xds, "--admin", control.http,
        "--wasm-dir", join(projectRoot, "build"),
        // A fresh mesh has no sidecars to wait for; they register as they start.
        "--startup-grace", "0", "--log-level", "info",
      ]);
      const started = control;
      await context.group.start({ name: "control", ...command, ready: () => answers(`${started.adminUrl}/ready`, 200), timeoutMs: 60_000 });
      return { metricsAddress: control.http };
    },
    async bootstrap(proxy: ProxyPlan) {
      const output = join(runDir, "envoy", `${proxy.name}.bootstrap.json`);
      const command = asMeshCommand(bootstrapArgs(proxy, addresses(), mode, output));
      await run(command.command, command.args, { cwd: projectRoot, timeout: 60_000 });
      return JSON.parse(readFileSync(output, "utf8")) as object;
    },
  };
}
