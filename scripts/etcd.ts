// A throwaway etcd cluster on loopback, for tests and the demo: Debian's etcd-server (installed on first use, with
// apt-get update only when the binary is missing), 1 or 3 members on kernel-chosen loopback ports, data in a temp
// folder. Members can be stopped and started again (same data, same ports) to test quorum loss; stop() kills every
// member and removes the folder, and the cluster is also killed when this process exits.
//   tsx scripts/etcd.ts [members]     run a cluster until Ctrl-C and print its endpoints
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./ports.ts";

export class EtcdInstallError extends Error {}

const ETCD_BINARY_CANDIDATES = ["/usr/bin/etcd", "/usr/local/bin/etcd"];

/** Path of the etcd binary: $ETCD_BIN, an installed one, or Debian's etcd-server installed now (needs root). */
export function ensureEtcd(log: (line: string) => void = (line) => process.stderr.write(line + "\n")): string {
  const override = process.env.ETCD_BIN;
  if (override) {
    if (!existsSync(override)) throw new EtcdInstallError(`ETCD_BIN=${override} does not exist`);
    return override;
  }
  const found = ETCD_BINARY_CANDIDATES.find((path) => existsSync(path));
  if (found) return found;
  log("installing etcd from Debian (etcd-server) ...");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", "--no-install-recommends", "etcd-server"]]) {
    const result = spawnSync("apt-get", args, { encoding: "utf8", env });
    if (result.status !== 0) {
      throw new EtcdInstallError(`apt-get ${args.join(" ")} failed: ${`${result.stderr ?? ""}${result.error ?? ""}`.trim().split("\n").slice(-5).join("\n")}`);
    }
  }
  const installed = ETCD_BINARY_CANDIDATES.find((path) => existsSync(path));
  if (!installed) throw new EtcdInstallError("etcd-server installed but no etcd binary found");
  return installed;
}

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  running(): boolean;
  /** Kills the member (SIGKILL: a crash, not a graceful leave). */
  kill(): Promise<void>;
  /** Starts a stopped member again on its data and ports. */
  start(): Promise<void>;
}

export interface EtcdCluster {
  members: EtcdMember[];
  /** Every member's client URL, comma-separated, as --etcd takes them. */
  endpoints: string;
  endpointList: string[];
  dataDir: string;
  stop(): Promise<void>;
}

export interface EtcdClusterOptions {
  members?: 1 | 3;
  /** Where member output goes (default: dropped). */
  log?: (member: string, line: string) => void;
}

const liveClusters = new Set<EtcdCluster>();
process.once("exit", () => {
  for (const cluster of liveClusters) for (const member of cluster.members) member.running() && void member.kill();
});

/** Starts a cluster and waits until every member answers /health. */
export async function startEtcdCluster(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  const binary = ensureEtcd();
  const count = options.members ?? 1;
  const dataDir = mkdtempSync(join(tmpdir(), "as-mesh-etcd-"));
  const specs: { name: string; clientPort: number; peerPort: number }[] = [];
  for (let i = 0; i < count; i++) specs.push({ name: `etcd${i}`, clientPort: await freePort(), peerPort: await freePort() });
  const initialCluster = specs.map((spec) => `${spec.name}=http://127.0.0.1:${spec.peerPort}`).join(",");
  const processes = new Map<string, ChildProcess>();

  const members: EtcdMember[] = specs.map((spec) => {
    const clientUrl = `http://127.0.0.1:${spec.clientPort}`;
    const peerUrl = `http://127.0.0.1:${spec.peerPort}`;
    const launch = () => {
      const child = spawn(binary, [
        "--name", spec.name,
        "--data-dir", join(dataDir, spec.name),
        "--listen-client-urls", clientUrl, "--advertise-client-urls", clientUrl,
        "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl,
        "--initial-cluster", initialCluster, "--initial-cluster-state", "new",
        "--initial-cluster-token", `as-mesh-${process.pid}`,
        // Loopback members answer in microseconds; short timeouts make leader loss and recovery quick in tests.
        "--heartbeat-interval", "50", "--election-timeout", "500",
        "--log-level", "warn",
      ], { stdio: ["ignore", "pipe", "pipe"] });
      const forward = (chunk: Buffer) => {
        for (const line of chunk.toString().split("\n")) if (line.trim()) options.log?.(spec.name, line);
      };
      child.stdout?.on("data", forward);
      child.stderr?.on("data", forward);
      processes.set(spec.name, child);
      return child;
    };
    const member: EtcdMember = {
      name: spec.name,
      clientUrl,
      peerUrl,
      running: () => { const child = processes.get(spec.name); return !!child && child.exitCode === null && child.signalCode === null; },
      async kill() {
        const child = processes.get(spec.name);
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGKILL");
        await exited;
      },
      async start() {
        if (member.running()) return;
        launch();
        await waitHealthy(clientUrl, processes.get(spec.name)!, 20_000, false);
      },
    };
    return member;
  });

  const cluster: EtcdCluster = {
    members,
    endpointList: members.map((member) => member.clientUrl),
    endpoints: members.map((member) => member.clientUrl).join(","),
    dataDir,
    async stop() {
      liveClusters.delete(cluster);
      await Promise.all(members.map((member) => member.kill()));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  liveClusters.add(cluster);
  try {
    await Promise.all(members.map((member) => member.start()));
    // A member of a new cluster is healthy only once a leader is elected, which needs a quorum up.
    await Promise.all(members.map((member) => waitHealthy(member.clientUrl, processes.get(member.name)!, 20_000, true)));
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/** Waits until the member answers /health: with a leader (requireLeader), or at all (a member rejoining). */
async function waitHealthy(clientUrl: string, child: ChildProcess, timeoutMs: number, requireLeader: boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`etcd at ${clientUrl} exited (${child.exitCode ?? child.signalCode}) before it was healthy`);
    try {
      const response = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
      const body = await response.json() as { health?: string };
      if (body.health === "true" || !requireLeader) return;
      lastError = JSON.stringify(body);
    } catch (error) {
      lastError = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`etcd at ${clientUrl} not healthy after ${timeoutMs} ms: ${lastError}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const members = process.argv[2] === "3" ? 3 : 1;
  const cluster = await startEtcdCluster({ members, log: (name, line) => process.stderr.write(`${name}: ${line}\n`) });
  process.stdout.write(`etcd cluster of ${members}: --etcd ${cluster.endpoints}\n`);
  const stop = () => void cluster.stop().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
