// Network namespaces for the demo mesh, like pods: each workload gets `asm-<name>` with one veth (`eth0` inside,
// `asmv-<name>` outside) plugged into the bridge `asm-br0` in the root namespace, an address on the demo /24 and a
// default route via the bridge. Everything this module makes carries the `asm-` prefix, so a later run can find
// and remove what a crashed run left behind (processes inside the namespaces included).
import { spawnSync } from "node:child_process";
import { SUBNET, subnetAddress } from "../../envoy/demo/topology.ts";

export const BRIDGE = "asm-br0";
const NETNS_PREFIX = "asm-";
const VETH_PREFIX = "asmv-";
/** Docker's br_netfilter sends bridged frames through iptables FORWARD (policy DROP); this rule lets ours pass. */
const FORWARD_RULE = ["FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"];

export class NetnsError extends Error {}

function run(command: string, args: string[], options: { allowFailure?: boolean } = {}): string {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.status !== 0 && !options.allowFailure) {
    throw new NetnsError(`${command} ${args.join(" ")} failed: ${(result.stderr || result.stdout || String(result.error)).trim()}`);
  }
  return result.stdout ?? "";
}

/** Whether this process can make namespaces (root with `ip`); the runner falls back to loopback otherwise. */
export function canUseNetns(): boolean {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return false;
  return spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).status === 0;
}

export function namespaceName(workload: string): string {
  return `${NETNS_PREFIX}${workload}`;
}

function vethName(workload: string): string {
  const name = `${VETH_PREFIX}${workload}`;
  if (name.length > 15) throw new NetnsError(`interface name ${name} is longer than Linux's 15 characters`);
  return name;
}

/** Names of the demo's namespaces present now. */
export function listNamespaces(): string[] {
  return run("ip", ["netns", "list"], { allowFailure: true }).split("\n")
    .map((line) => line.split(" ")[0]).filter((name) => name.startsWith(NETNS_PREFIX));
}

/** Names of the demo's links (bridge and veths) present in the root namespace now. */
export function listLinks(): string[] {
  return run("ip", ["-o", "link", "show"], { allowFailure: true }).split("\n")
    .map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1] ?? "")
    .filter((name) => name === BRIDGE || name.startsWith(VETH_PREFIX));
}

function hasIptables(): boolean {
  return spawnSync("sh", ["-c", "command -v iptables"], { encoding: "utf8" }).status === 0;
}

/** Kills every process inside a namespace (a crashed run's Envoys and apps), then deletes it. */
export function removeNamespace(name: string): void {
  const pids = run("ip", ["netns", "pids", name], { allowFailure: true }).split("\n").filter(Boolean).map(Number);
  for (const pid of pids) {
    try { process.kill(pid, "SIGKILL"); } catch { /* already gone */ }
  }
  run("ip", ["netns", "delete", name], { allowFailure: true });
}

/** Removes every namespace, veth, bridge and firewall rule of the demo: at start (a crashed run) and at the end. */
export function removeAll(): void {
  for (const name of listNamespaces()) removeNamespace(name);
  // Deleting a namespace deletes its veth pair; a veth whose namespace vanished half-way may remain.
  for (const link of listLinks()) run("ip", ["link", "delete", link], { allowFailure: true });
  if (hasIptables()) {
    while (spawnSync("iptables", ["-C", ...FORWARD_RULE]).status === 0) run("iptables", ["-D", ...FORWARD_RULE], { allowFailure: true });
  }
}

export function bridgeAddress(): string {
  return subnetAddress(SUBNET.bridgeHost);
}

/** The bridge in the root namespace, holding the subnet's first address (the control service and Prometheus bind it). */
export function createBridge(): void {
  run("ip", ["link", "add", BRIDGE, "type", "bridge"]);
  run("ip", ["addr", "add", `${bridgeAddress()}/${SUBNET.bits}`, "dev", BRIDGE]);
  run("ip", ["link", "set", BRIDGE, "up"]);
  if (hasIptables()) run("iptables", ["-I", ...FORWARD_RULE], { allowFailure: true });
}

/** A namespace for one workload with its address on the bridge; returns the address. */
export function createNamespace(workload: string, host: number): string {
  const ns = namespaceName(workload);
  const veth = vethName(workload);
  const address = subnetAddress(host);
  run("ip", ["netns", "add", ns]);
  run("ip", ["link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns]);
  run("ip", ["link", "set", veth, "master", BRIDGE]);
  run("ip", ["link", "set", veth, "up"]);
  run("ip", ["-n", ns, "link", "set", "lo", "up"]);
  run("ip", ["-n", ns, "addr", "add", `${address}/${SUBNET.bits}`, "dev", "eth0"]);
  run("ip", ["-n", ns, "link", "set", "eth0", "up"]);
  run("ip", ["-n", ns, "route", "add", "default", "via", bridgeAddress()]);
  return address;
}

/** The command line that runs `command` inside a workload's namespace. */
export function inNamespace(workload: string, command: string, args: string[]): { command: string; args: string[] } {
  return { command: "ip", args: ["netns", "exec", namespaceName(workload), command, ...args] };
}
