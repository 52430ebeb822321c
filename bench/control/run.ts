// One run of the control-plane benchmark: the real `as-mesh control` process over a generated mesh, N simulated ADS
// clients in a second process, a few real Envoys from the sidecar bootstrap; a VirtualService edit measured from the
// file write to the last proxy's response, with the server's CPU, memory and metrics around it.
import { loadavg } from "node:os";
import { pino } from "pino";
import { readCpuNanos, readMemory } from "../lib/process_stats.ts";
import { MeshFolder, startProxy, syncStatus } from "../../tests/harness/control_mesh.ts";
import type { EnvoyInstance } from "../../tests/harness/envoy.ts";
import { BENCH_NAMESPACE, CHANGED_SERVICE, editCanary, serviceHost, serviceName, servicePort, writeBenchMesh } from "./mesh.ts";
import { FleetProcess, type FleetEngine, type FleetProtocol } from "./fleet_process.ts";
import { ServerProcess } from "./server_process.ts";
import { bucketDelta, buckets, histogramQuantile, parseSamples, total, type Samples } from "./prometheus_text.ts";

export interface ControlBenchOptions {
  proxies: number;
  services: number;
  protocol: FleetProtocol;
  /** Real Envoys (alternately SotW and delta). */
  envoys: number;
  /** Measured VirtualService edits. */
  changes: number;
  streamsPerChannel: number;
  /** Write the server's CPU profile here (and the simulated proxies', with the node fleet). */
  cpuProfileDir?: string;
  /** What simulates the proxies (fleet_process.ts). */
  fleet: FleetEngine;
  /** How long the fleet must be silent before a change counts as converged. */
  quietMs: number;
}

export const DEFAULT_CONTROL_BENCH: ControlBenchOptions = {
  proxies: 1000, services: 100, protocol: "mix", envoys: 2, changes: 3, streamsPerChannel: 100, quietMs: 1500, fleet: "go",
};

export interface Quantiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface ChangeMeasurement {
  canaryPercent: number;
  /** Simulated proxies that received the change, of all connected. */
  updated: number;
  expected: number;
  /** File written → the proxy's last response (ms), all simulated proxies. */
  convergenceMs: Quantiles;
  byProtocol: Record<string, Quantiles & { proxies: number }>;
  /** pilot_proxy_convergence_time over the change (snapshot set → ACK), ms, estimated from the histogram's buckets. */
  serverConvergenceMs: { p50: number | null; p99: number | null; count: number };
  /** Real Envoys: ms from the file write until /config_dump showed the new weights. */
  envoyConvergedMs: number[];
  /** Server CPU over the change (file write → fleet quiet), ms. */
  serverCpuMs: number;
  /** CPU of the process simulating the proxies (decoding and ACKing what they were sent), same window. */
  fleetCpuMs?: number;
  responses: number;
  /** Resource bytes the simulated proxies received. */
  clientBytes: number;
  /** pilot_xds_config_size_bytes sum over the change, by type. */
  serverBytesByType: Record<string, number>;
  pushesByType: Record<string, number>;
}

export interface ControlBenchResult {
  startedAt: string;
  options: ControlBenchOptions;
  loadAverage: { before: number[]; after: number[] };
  groups: number;
  connect: { ms: number; serverCpuMs: number };
  memory: {
    baselineRssBytes: number;
    connectedRssBytes: number;
    rssPerProxyBytes: number;
    baselineHeapBytes: number;
    connectedHeapBytes: number;
    heapPerProxyBytes: number;
  };
  changes: ChangeMeasurement[];
  /** The worst change's numbers, for the summary. */
  summary: { p50Ms: number; p99Ms: number; serverP99Ms: number | null; rssPerProxyBytes: number; serverCpuMsPerChange: number; bytesPerChange: number };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
// Progress lines on stderr; quiet under the test runner (NODE_TEST_CONTEXT), where only failures should speak.
const logger = pino({ name: "bench-control", level: process.env.BENCH_LOG_LEVEL ?? (process.env.NODE_TEST_CONTEXT ? "warn" : "info") }, pino.destination(2));

export function quantiles(values: number[]): Quantiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted.at(-1) ?? 0 };
}

/** Median of a few RSS samples, so one allocation burst does not decide the figure. */
async function steadyRss(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(readMemory(pid).rssBytes);
    await sleep(200);
  }
  return samples.sort((a, b) => a - b)[2];
}

/** Every proxy connected and SYNCED on every type, and no push for 1 s. */
async function waitSettled(server: ServerProcess, proxies: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastPushes = -1;
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    const pushes = total(parseSamples(await server.metrics()), "pilot_xds_pushes");
    if (pushes !== lastPushes) {
      lastPushes = pushes;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= 1000) {
      const statuses = await syncStatus(server.endpoints);
      if (statuses.length === proxies && statuses.every((proxy) => proxy.types.every((type) => type.state === "SYNCED"))) return;
    }
    await sleep(250);
  }
  throw new Error(`the ${proxies} proxies did not all reach SYNCED in ${timeoutMs / 1000} s`);
}

/** Polls an Envoy's routes until the changed service's v2 subset carries `percent`. */
/**
 * ms from `since` until the Envoy's route config shows the canary at `percent`. Its RDS update counters are polled
 * and its config dump (a few hundred KiB of JSON, on the cores the measured processes share) read only when they move.
 */
export async function envoyConverged(envoy: EnvoyInstance, percent: number, since: number, timeoutMs: number): Promise<number> {
  const v2 = `outbound|${servicePort(CHANGED_SERVICE)}|v2|${serviceHost(CHANGED_SERVICE)}`.replace(/[|.]/g, "\\$&");
  const pattern = new RegExp(`"${v2}",\\s*"weight":\\s*${percent}\\b`);
  const deadline = since + timeoutMs;
  let updates = "";
  while (performance.now() < deadline) {
    const counted = JSON.stringify([...await envoy.stats("\\.rds\\..*\\.update_success$")]);
    if (counted !== updates) {
      updates = counted;
      if (pattern.test(await envoy.admin("/config_dump?resource=dynamic_route_configs"))) return performance.now() - since;
    }
    await sleep(25);
  }
  throw new Error(`a real Envoy did not get the ${percent} % canary within ${timeoutMs / 1000} s`);
}

function byType(after: Samples, before: Samples, name: string): Record<string, number> {
  const result: Record<string, number> = {};
  for (const type of ["cds", "eds", "lds", "rds", "ecds", "sds"]) {
    const delta = total(after, name, `type="${type}"`) - total(before, name, `type="${type}"`);
    if (delta > 0) result[type] = delta;
  }
  return result;
}

export async function runControlBench(options: ControlBenchOptions): Promise<ControlBenchResult> {
  if (options.proxies < 0 || options.proxies > 65_000) throw new Error("--proxies must be between 0 and 65000");
  if (options.services < 1 || options.services > 1000) throw new Error("--services must be between 1 and 1000");
  const startedAt = new Date().toISOString();
  const loadBefore = loadavg();
  const folder = new MeshFolder();
  const server = new ServerProcess({ configDir: folder.dir, cpuProfileDir: options.cpuProfileDir });
  const envoys: EnvoyInstance[] = [];
  let fleet: FleetProcess | null = null;
  try {
    writeBenchMesh(folder, options.services);
    await server.start();
    await sleep(1000);
    const baselineRssBytes = await steadyRss(server.pid);
    const baselineHeapBytes = total(parseSamples(await server.metrics()), "nodejs_heap_size_used_bytes");
    logger.info({ services: options.services, baselineRssMiB: +(baselineRssBytes / 2 ** 20).toFixed(1) }, "control service ready");

    for (let index = 0; index < options.envoys; index++) {
      envoys.push(await startProxy(server.endpoints, {
        namespace: BENCH_NAMESPACE, ip: `127.0.9.${index + 1}`, labels: { app: serviceName(CHANGED_SERVICE), version: "v1" },
        serviceAccount: serviceName(CHANGED_SERVICE), delta: index % 2 === 1,
      }));
    }

    const connectCpu = readCpuNanos(server.pid);
    fleet = new FleetProcess({ engine: options.fleet, cpuProfileDir: options.cpuProfileDir });
    const connectMs = await fleet.start({
      address: `127.0.0.1:${server.endpoints.xds.port}`, count: options.proxies, services: options.services,
      protocol: options.protocol, streamsPerChannel: options.streamsPerChannel, timeoutMs: 300_000,
    });
    await waitSettled(server, options.proxies + options.envoys, 300_000);
    const connectServerCpuMs = (readCpuNanos(server.pid) - connectCpu) / 1e6;
    const connectedRssBytes = await steadyRss(server.pid);
    const settledSamples = parseSamples(await server.metrics());
    const connectedHeapBytes = total(settledSamples, "nodejs_heap_size_used_bytes");
    const groups = new Set((await syncStatus(server.endpoints)).map((proxy) => proxy.group)).size;
    logger.info({ proxies: options.proxies, connectMs: Math.round(connectMs), groups, rssMiB: +(connectedRssBytes / 2 ** 20).toFixed(1) }, "fleet connected and synced");

    const changes: ChangeMeasurement[] = [];
    for (let change = 1; change <= options.changes; change++) {
      const percent = change * 10;
      const before = parseSamples(await server.metrics());
      const cpuBefore = readCpuNanos(server.pid);
      const fleetCpuBefore = readCpuNanos(fleet.pid);
      let envoyWatch: Promise<number[]> = Promise.resolve([]);
      const fleets = await fleet.measure(async () => {
        const writtenAt = performance.now();
        editCanary(folder, percent);
        envoyWatch = Promise.all(envoys.map((envoy) => envoyConverged(envoy, percent, writtenAt, 60_000)));
      }, options.quietMs, 120_000);
      const serverCpuMs = (readCpuNanos(server.pid) - cpuBefore) / 1e6;
      const fleetCpuMs = (readCpuNanos(fleet.pid) - fleetCpuBefore) / 1e6;
      const envoyConvergedMs = await envoyWatch;
      const after = parseSamples(await server.metrics());
      const convergence = bucketDelta(buckets(after, "pilot_proxy_convergence_time"), buckets(before, "pilot_proxy_convergence_time"));
      const toMs = (seconds: number | null) => seconds === null ? null : seconds * 1000;
      const latencies = fleets.flatMap(({ result }) => result.latenciesMs);
      const byProtocol: ChangeMeasurement["byProtocol"] = {};
      for (const { protocol, result } of fleets) byProtocol[protocol] = { ...quantiles(result.latenciesMs), proxies: result.updated };
      const measurement: ChangeMeasurement = {
        canaryPercent: percent,
        updated: fleets.reduce((sum, { result }) => sum + result.updated, 0),
        expected: options.proxies,
        convergenceMs: quantiles(latencies),
        byProtocol,
        serverConvergenceMs: {
          p50: toMs(histogramQuantile(convergence, 0.5)), p99: toMs(histogramQuantile(convergence, 0.99)), count: convergence.at(-1)?.[1] ?? 0,
        },
        envoyConvergedMs,
        serverCpuMs,
        fleetCpuMs,
        responses: fleets.reduce((sum, { result }) => sum + result.responses, 0),
        clientBytes: fleets.reduce((sum, { result }) => sum + result.bytes, 0),
        serverBytesByType: byType(after, before, "pilot_xds_config_size_bytes_sum"),
        pushesByType: byType(after, before, "pilot_xds_pushes"),
      };
      changes.push(measurement);
      logger.info({ change, p50: Math.round(measurement.convergenceMs.p50), p99: Math.round(measurement.convergenceMs.p99), updated: measurement.updated, serverCpuMs: Math.round(serverCpuMs), fleetCpuMs: Math.round(fleetCpuMs), envoys: envoyConvergedMs.map(Math.round) }, "change converged");
      await sleep(500);
    }

    const rssPerProxyBytes = options.proxies > 0 ? (connectedRssBytes - baselineRssBytes) / options.proxies : 0;
    const worst = changes.reduce((a, b) => (b.convergenceMs.p99 > a.convergenceMs.p99 ? b : a), changes[0]);
    return {
      startedAt,
      options,
      loadAverage: { before: loadBefore, after: loadavg() },
      groups,
      connect: { ms: connectMs, serverCpuMs: connectServerCpuMs },
      memory: {
        baselineRssBytes, connectedRssBytes, rssPerProxyBytes,
        baselineHeapBytes, connectedHeapBytes, heapPerProxyBytes: options.proxies > 0 ? (connectedHeapBytes - baselineHeapBytes) / options.proxies : 0,
      },
      changes,
      summary: {
        p50Ms: worst?.convergenceMs.p50 ?? 0,
        p99Ms: worst?.convergenceMs.p99 ?? 0,
        serverP99Ms: worst?.serverConvergenceMs.p99 ?? null,
        rssPerProxyBytes,
        serverCpuMsPerChange: changes.length ? changes.reduce((sum, c) => sum + c.serverCpuMs, 0) / changes.length : 0,
        bytesPerChange: changes.length ? changes.reduce((sum, c) => sum + c.clientBytes, 0) / changes.length : 0,
      },
    };
  } catch (error) {
    logger.error({ serverLog: server.log.slice(-4000) }, "control benchmark failed");
    throw error;
  } finally {
    await fleet?.close();
    await Promise.all(envoys.map((envoy) => envoy.stop()));
    await server.stop();
    folder.cleanup();
  }
}
