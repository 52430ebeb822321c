// The control-plane benchmark over etcd: the generated bench mesh applied to a 3-member etcd with `as-mesh apply`,
// N simulated ADS clients (half SotW, half delta) spread over R `as-mesh control --etcd` replicas, each fleet in its
// own processes (at most 1,000 proxies each), and 2 real Envoys whose bootstraps list every replica. After one
// warm-up edit, each VirtualService edit applied to etcd is measured from the start of the apply to each proxy's
// last response, per replica; memory per connected proxy is each replica's RSS growth over its share of the fleet.
//   npm run bench -- control-replicas [--proxies 5000] [--services 100] [--replicas 1,2] [--changes 3] [--fleet go|node]
// With --replicas 1,2 it runs once per replica count, so the single-replica figures sit beside the replicated ones.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runApply } from "../control/commands/apply.ts";
import { startEtcdCluster, type EtcdCluster } from "../scripts/etcd.ts";
import { projectRoot } from "../scripts/tools.ts";
import { MeshFolder, syncStatus } from "../tests/harness/control_mesh.ts";
import { ControlReplica, startReplicatedProxy } from "../tests/harness/etcd.ts";
import type { EnvoyInstance } from "../tests/harness/envoy.ts";
import { FLEET_ENGINES, FleetProcess, type FleetEngine } from "./control/fleet_process.ts";
import { BENCH_NAMESPACE, CHANGED_SERVICE, serviceName, virtualServiceYaml, writeBenchMesh } from "./control/mesh.ts";
import { envoyConverged } from "./control/run.ts";

/** Real Envoys beside the simulated proxies. */
const ENVOYS = 2;
/** Simulated proxies per process. */
const FLEET_SIZE = 1000;
import { readCpuNanos, readMemory } from "./lib/process_stats.ts";

interface ReplicaFigures {
  replica: string;
  proxies: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  kibPerProxy: number;
  convergenceP50Ms: number;
  convergenceP99Ms: number;
  convergenceMaxMs: number;
  updated: number;
  cpuMsPerChange: number;
  /** CPU of the processes simulating this replica's proxies, same window (they share the machine's cores). */
  fleetCpuMsPerChange: number;
}

/** A real Envoy whose bootstrap lists every replica (it is on whichever one its ADS connection reached). */
interface EnvoyFigures {
  name: string;
  /** Per change: apply start → the Envoy's route config showing the new canary. */
  convergedMs: number[];
}

interface RunFigures {
  replicas: number;
  proxies: number;
  services: number;
  applyMs: number[];
  fleetStartMs: number;
  perReplica: ReplicaFigures[];
  envoys: EnvoyFigures[];
  /** Over every proxy of every replica and every change. */
  convergenceP99Ms: number;
  /** The same, per change. */
  changeP99Ms: number[];
  /** The unmeasured first change (see runOnce): its p99 and how long its apply took. */
  warmup: { p99Ms: number; applyMs: number };
}

const quiet = { out: () => {}, err: (text: string) => process.stderr.write(text) };
const mib = (bytes: number) => bytes / 1024 / 1024;

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

async function applyYaml(cluster: EtcdCluster, dir: string, yaml: string): Promise<void> {
  const file = join(dir, `change-${Date.now()}.yaml`);
  writeFileSync(file, yaml);
  const code = await runApply({ filename: [file], etcd: cluster.endpoints }, quiet);
  if (code !== 0) throw new Error("as-mesh apply of the bench change failed");
}

async function runOnce(replicaCount: number, proxies: number, services: number, changes: number, engine: FleetEngine): Promise<RunFigures> {
  const cluster = await startEtcdCluster({ members: 3 });
  const folder = new MeshFolder();
  const scratch = mkdtempSync(join(tmpdir(), "as-mesh-bench-replicas-"));
  const replicas: ControlReplica[] = [];
  const fleets: FleetProcess[] = [];
  const envoys: EnvoyInstance[] = [];
  /** The replica each fleet process talks to. */
  const replicaOfFleet: number[] = [];
  try {
    writeBenchMesh(folder, services);
    // In batches: one etcd transaction takes at most --max-txn-ops (128) operations.
    const files = readdirSync(folder.dir).filter((name) => name.endsWith(".yaml")).map((name) => join(folder.dir, name));
    for (let at = 0; at < files.length; at += 20) {
      if ((await runApply({ filename: files.slice(at, at + 20), etcd: cluster.endpoints }, quiet)) !== 0) throw new Error("applying the bench mesh failed");
    }
    for (let i = 0; i < replicaCount; i++) {
      const replica = await ControlReplica.create(String.fromCharCode(65 + i), cluster.endpoints, ["--startup-grace", "0", "--log-level", "warn"]);
      replicas.push(replica);
      await replica.start();
    }
    // Real Envoys from the sidecar bootstrap, each listing every replica, as workloads of the changed service.
    for (let index = 0; index < ENVOYS; index++) {
      envoys.push(await startReplicatedProxy(index % 2 === 0 ? replicas : [...replicas].reverse(), {
        namespace: BENCH_NAMESPACE, ip: `127.0.9.${index + 1}`, labels: { app: serviceName(CHANGED_SERVICE), version: "v1" },
        serviceAccount: serviceName(CHANGED_SERVICE), delta: index % 2 === 1,
      }));
    }
    const rssBefore = replicas.map((replica) => readMemory(replica.pid).rssBytes);
    const share = Math.floor(proxies / replicaCount);
    const started = performance.now();
    // At most FLEET_SIZE simulated proxies per process: one process holding thousands of gRPC streams spends most of
    // its time collecting garbage, and the simulator, not the replica, would set the pace.
    const starts: Array<Promise<number>> = [];
    replicas.forEach((replica, index) => {
      const count = index === replicaCount - 1 ? proxies - share * (replicaCount - 1) : share;
      for (let offset = 0; offset < count; offset += FLEET_SIZE) {
        const fleet = new FleetProcess({ engine });
        fleets.push(fleet);
        replicaOfFleet.push(index);
        starts.push(fleet.start({
          address: `127.0.0.1:${replica.xdsPort}`, count: Math.min(FLEET_SIZE, count - offset), services, protocol: "mix",
          streamsPerChannel: 100, timeoutMs: 300_000, firstIndex: index * share + offset,
        }));
      }
    });
    await Promise.all(starts);
    const fleetStartMs = performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const rssAfter = replicas.map((replica) => readMemory(replica.pid).rssBytes);
    const connected = await Promise.all(replicas.map(async (replica) => (await syncStatus(replica.endpoints)).length));

    const latencies: number[][] = replicas.map(() => []);
    const updated = replicas.map(() => 0);
    const cpu = replicas.map(() => 0);
    const fleetCpu = replicas.map(() => 0);
    const applyMs: number[] = [];
    const envoyConvergence: number[][] = envoys.map(() => []);
    const changeP99Ms: number[] = [];
    let warmup: RunFigures["warmup"] = { p99Ms: 0, applyMs: 0 };
    // Change 0 warms up: the replicas have just pushed the connect storm's config, and their push path for an edit
    // runs unoptimized by V8 the first time. It is reported on its own, not counted in the figures.
    for (let change = 0; change <= changes; change++) {
      // Every fleet starts its clocks, then the one apply runs: a barrier over the fleets' "change" requests.
      let arrived = 0;
      let release: () => void = () => {};
      const applied = new Promise<void>((resolve) => { release = resolve; });
      const cpuBefore = replicas.map((replica) => readCpuNanos(replica.pid));
      const fleetCpuBefore = fleets.map((fleet) => readCpuNanos(fleet.pid));
      const percent = change === 0 ? 5 : (change * 10) % 100;
      let envoyWatch: Promise<number[]> = Promise.resolve([]);
      const arrive = async () => {
        if (++arrived === fleets.length) {
          const at = performance.now();
          envoyWatch = Promise.all(envoys.map((envoy) => envoyConverged(envoy, percent, at, 60_000)));
          await applyYaml(cluster, scratch, virtualServiceYaml(CHANGED_SERVICE, percent));
          applyMs.push(performance.now() - at);
          release();
        }
        await applied;
      };
      const results = await Promise.all(fleets.map((fleet) => fleet.measure(arrive, 1500, 120_000)));
      await envoyWatch;
      if (change === 0) {
        const all = results.flatMap((byProtocol) => byProtocol.flatMap(({ result }) => result.latenciesMs)).sort((a, b) => a - b);
        warmup = { p99Ms: Math.round(quantile(all, 0.99)), applyMs: Math.round(applyMs.pop()!) };
        continue;
      }
      (await envoyWatch).forEach((ms, index) => envoyConvergence[index]!.push(Math.round(ms)));
      const thisChange: number[] = [];
      results.forEach((byProtocol, fleetIndex) => {
        const index = replicaOfFleet[fleetIndex]!;
        for (const { result } of byProtocol) {
          latencies[index]!.push(...result.latenciesMs);
          thisChange.push(...result.latenciesMs);
          updated[index]! += result.updated;
        }
        fleetCpu[index]! += (readCpuNanos(fleets[fleetIndex]!.pid) - fleetCpuBefore[fleetIndex]!) / 1e6;
      });
      replicas.forEach((replica, index) => { cpu[index]! += (readCpuNanos(replica.pid) - cpuBefore[index]!) / 1e6; });
      changeP99Ms.push(Math.round(quantile(thisChange.sort((a, b) => a - b), 0.99)));
    }
    const perReplica = replicas.map((replica, index): ReplicaFigures => {
      const sorted = [...latencies[index]!].sort((a, b) => a - b);
      return {
        replica: replica.name,
        proxies: connected[index]!,
        rssBeforeMiB: Number(mib(rssBefore[index]!).toFixed(1)),
        rssAfterMiB: Number(mib(rssAfter[index]!).toFixed(1)),
        kibPerProxy: Number(((rssAfter[index]! - rssBefore[index]!) / 1024 / Math.max(1, connected[index]!)).toFixed(1)),
        convergenceP50Ms: Math.round(quantile(sorted, 0.5)),
        convergenceP99Ms: Math.round(quantile(sorted, 0.99)),
        convergenceMaxMs: Math.round(sorted[sorted.length - 1] ?? Number.NaN),
        updated: Math.round(updated[index]! / changes),
        cpuMsPerChange: Math.round(cpu[index]! / changes),
        fleetCpuMsPerChange: Math.round(fleetCpu[index]! / changes),
      };
    });
    const all = latencies.flat().sort((a, b) => a - b);
    return {
      replicas: replicaCount, proxies, services, applyMs: applyMs.map(Math.round), fleetStartMs: Math.round(fleetStartMs),
      perReplica, envoys: envoyConvergence.map((convergedMs, index) => ({ name: `envoy-${index + 1}`, convergedMs })),
      convergenceP99Ms: Math.round(quantile(all, 0.99)), changeP99Ms, warmup,
    };
  } finally {
    await Promise.all(envoys.map((envoy) => envoy.stop()));
    await Promise.all(fleets.map((fleet) => fleet.close()));
    await Promise.all(replicas.map((replica) => replica.kill()));
    await cluster.stop();
    folder.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  }
}

function table(runs: readonly RunFigures[]): string {
  const header = "| replicas | replica | proxies | RSS before → after (MiB) | KiB / proxy | convergence p50 / p99 / max (ms) | updated / change | CPU ms / change | its simulated proxies' CPU ms / change (processes of ≤ 1,000) |";
  const lines = [header, "|---|---|---|---|---|---|---|---|---|"];
  for (const run of runs) {
    for (const figures of run.perReplica) {
      lines.push(`| ${run.replicas} | ${figures.replica} | ${figures.proxies} | ${figures.rssBeforeMiB} → ${figures.rssAfterMiB} | ${figures.kibPerProxy} | ${figures.convergenceP50Ms} / ${figures.convergenceP99Ms} / ${figures.convergenceMaxMs} | ${figures.updated} | ${figures.cpuMsPerChange} | ${figures.fleetCpuMsPerChange} |`);
    }
  }
  lines.push("", "Convergence p99 over every simulated proxy, per change:", "");
  for (const run of runs) {
    lines.push(`- ${run.replicas} replica(s): ${run.changeP99Ms.join(", ")} ms (applies took ${run.applyMs.join(", ")} ms); ` +
      `the unmeasured warm-up change before them: ${run.warmup.p99Ms} ms (apply ${run.warmup.applyMs} ms)`);
  }
  lines.push("", "Real Envoys (bootstrap lists every replica), apply start → new canary in their route config, per change:", "");
  for (const run of runs) {
    for (const envoy of run.envoys) lines.push(`- ${run.replicas} replica(s), ${envoy.name}: ${envoy.convergedMs.join(", ")} ms`);
  }
  return lines.join("\n");
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      proxies: { type: "string", default: "5000" },
      services: { type: "string", default: "100" },
      replicas: { type: "string", default: "1,2" },
      changes: { type: "string", default: "3" },
      fleet: { type: "string", default: "go" },
    },
  });
  const proxies = Number(values.proxies);
  const services = Number(values.services);
  const changes = Number(values.changes);
  const counts = values.replicas.split(",").map(Number);
  if (![proxies, services, changes, ...counts].every((value) => Number.isInteger(value) && value > 0)) {
    throw new Error("--proxies, --services, --changes and --replicas take positive integers");
  }
  const engine = values.fleet as FleetEngine;
  if (!FLEET_ENGINES.includes(engine)) throw new Error(`--fleet must be ${FLEET_ENGINES.join(" or ")} (got ${values.fleet})`);
  const runs: RunFigures[] = [];
  for (const count of counts) {
    process.stderr.write(`${proxies} simulated proxies over ${count} replica(s) on a 3-member etcd ...\n`);
    const run = await runOnce(count, proxies, services, changes, engine);
    process.stderr.write(`  fleet connected in ${run.fleetStartMs} ms; warm-up change p99 ${run.warmup.p99Ms} ms; applies took ${run.applyMs.join(", ")} ms; convergence p99 ${run.convergenceP99Ms} ms (per change: ${run.changeP99Ms.join(", ")} ms)\n`);
    runs.push(run);
  }
  process.stdout.write(`${table(runs)}\n`);
  const resultsDir = join(projectRoot, "bench", "results");
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `control-replicas-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, `${JSON.stringify({ runs }, null, 2)}\n`);
  process.stderr.write(`results: ${file}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
