// `as-mesh bootstrap`: the Envoy bootstrap for one workload. Everything but the node's identity, the admin port
// and the way to the control service comes over xDS.
import { writeFileSync } from "node:fs";
import { sidecarBootstrap } from "../translate/index.ts";

export interface BootstrapCommandOptions {
  type: string;
  id?: string;
  namespace: string;
  serviceAccount: string;
  workloadName?: string;
  labels: Record<string, string>;
  ip: string;
  inboundPorts?: Record<string, string>;
  appPorts?: Record<string, string>;
  listenAddress?: string;
  listenPorts?: Record<string, string>;
  xds: string[];
  controlHttp?: string;
  delta?: boolean;
  adminAddress?: string;
  adminPort: number;
  sdsSocket?: string;
  trustDomain?: string;
  output?: string;
}

function hostPort(value: string, flag: string): { host: string; port: number } {
  const at = value.lastIndexOf(":");
  const port = Number(value.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${flag} "${value}" is not host:port`);
  return { host: value.slice(0, at).replace(/^\[|\]$/g, ""), port };
}

function ports(value: Record<string, string> | undefined, flag: string, allowZero = false): Record<string, number> | undefined {
  if (!value) return undefined;
  const result: Record<string, number> = {};
  for (const [name, text] of Object.entries(value)) {
    const port = Number(text);
    if (!/^[0-9]+$/.test(text) || port < (allowZero ? 0 : 1) || port > 65535) throw new Error(`${flag} ${name}=${text}: not a port number`);
    result[name] = port;
  }
  return result;
}

export async function runBootstrap(options: BootstrapCommandOptions): Promise<void> {
  if (options.type !== "sidecar" && options.type !== "router") throw new Error(`--type must be sidecar or router, not "${options.type}"`);
  const control = (options.xds.length ? options.xds : ["127.0.0.1:15010"]).map((address) => hostPort(address, "--xds"));
  const bootstrap = sidecarBootstrap({
    type: options.type,
    id: options.id,
    namespace: options.namespace,
    serviceAccount: options.serviceAccount,
    workloadName: options.workloadName,
    labels: options.labels,
    ip: options.ip,
    inboundPorts: ports(options.inboundPorts, "--inbound-ports"),
    appPorts: ports(options.appPorts, "--app-ports"),
    listenAddress: options.listenAddress,
    listenPorts: ports(options.listenPorts, "--listen-ports", true),
    control,
    controlHttp: options.controlHttp ? hostPort(options.controlHttp, "--control-http") : undefined,
    delta: options.delta ?? false,
    adminAddress: options.adminAddress,
    adminPort: options.adminPort,
    sdsSocket: options.sdsSocket,
    trustDomain: options.trustDomain,
  });
  const text = JSON.stringify(bootstrap, null, 2) + "\n";
  if (options.output) writeFileSync(options.output, text);
  else process.stdout.write(text);
}
