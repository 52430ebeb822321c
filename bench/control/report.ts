// The control-plane benchmark's Markdown: the figures against their targets, per change, and what they extrapolate to.
import type { ControlBenchResult } from "./run.ts";

export const TARGETS = { p99Ms: 1000, rssPerProxyBytes: 0.5 * 2 ** 20 };

const ms = (value: number | null) => (value === null ? "–" : value < 10 ? value.toFixed(1) : Math.round(value).toLocaleString("en-US"));
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 3 : 1);
const kib = (bytes: number) => Math.round(bytes / 1024).toLocaleString("en-US");

export function renderControlReport(result: ControlBenchResult, command: string): string {
  const { options, memory, summary } = result;
  const verdict = (ok: boolean) => (ok ? "meets" : "**misses**");
  const proxiesPerGiB = memory.rssPerProxyBytes > 0 ? Math.floor(2 ** 30 / memory.rssPerProxyBytes) : null;
  // A core's second spent only on pushes: how many proxies it can bring one change to, per second.
  const proxiesPerCoreSecond = summary.serverCpuMsPerChange > 0 ? Math.floor(options.proxies * 1000 / summary.serverCpuMsPerChange) : null;
  const lines = [
    `\`${command}\` (${result.startedAt.slice(0, 16).replace("T", " ")} UTC): ${options.proxies.toLocaleString("en-US")} simulated ADS clients ` +
      `(${options.protocol === "mix" ? "half SotW, half delta" : options.protocol}, ${options.streamsPerChannel} streams per gRPC channel, in their own process) ` +
      `and ${options.envoys} real Envoys, ${options.services} services, ${result.groups} proxy groups. ` +
      `Load average (1 min) ${result.loadAverage.before[0].toFixed(1)} before, ${result.loadAverage.after[0].toFixed(1)} after.`,
    "",
    "| | measured | target |",
    "|---|---|---|",
    `| config change → all ACKed, p50 / p99 (file write → last response, worst change) | ${ms(summary.p50Ms)} / ${ms(summary.p99Ms)} ms | p99 < ${TARGETS.p99Ms} ms: ${verdict(summary.p99Ms < TARGETS.p99Ms)} |`,
    `| \`pilot_proxy_convergence_time\` p99 (snapshot set → ACK, from buckets) | ${ms(summary.serverP99Ms)} ms | |`,
    `| RSS per connected proxy ((RSS with N − RSS with 0) / N) | ${mib(memory.rssPerProxyBytes)} MiB | ≤ 0.5 MiB: ${verdict(memory.rssPerProxyBytes <= TARGETS.rssPerProxyBytes)} |`,
    `| JS heap per connected proxy | ${mib(memory.heapPerProxyBytes)} MiB | |`,
    `| server RSS with 0 / N proxies | ${mib(memory.baselineRssBytes)} / ${mib(memory.connectedRssBytes)} MiB | |`,
    `| server CPU per change (push to every proxy) | ${ms(summary.serverCpuMsPerChange)} ms | |`,
    `| bytes pushed per change (resources received by the simulated proxies) | ${kib(summary.bytesPerChange)} KiB | |`,
    `| connect: all proxies synced / server CPU | ${ms(result.connect.ms)} ms / ${ms(result.connect.serverCpuMs)} ms | |`,
    "",
    "| change | updated | p50 ms | p90 ms | p99 ms | max ms | SotW p99 | delta p99 | server p50 / p99 ms | real Envoys ms | server CPU ms | simulated proxies' CPU ms | responses | KiB (client) | KiB (server, by type) |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...result.changes.map((change) => `| ${100 - change.canaryPercent}/${change.canaryPercent} | ${change.updated}/${change.expected} | ` +
      `${ms(change.convergenceMs.p50)} | ${ms(change.convergenceMs.p90)} | ${ms(change.convergenceMs.p99)} | ${ms(change.convergenceMs.max)} | ` +
      `${ms(change.byProtocol.sotw?.p99 ?? null)} | ${ms(change.byProtocol.delta?.p99 ?? null)} | ` +
      `${ms(change.serverConvergenceMs.p50)} / ${ms(change.serverConvergenceMs.p99)} | ${change.envoyConvergedMs.map(ms).join(", ") || "–"} | ` +
      `${ms(change.serverCpuMs)} | ${ms(change.fleetCpuMs ?? null)} | ${change.responses} | ${kib(change.clientBytes)} | ` +
      `${Object.entries(change.serverBytesByType).map(([type, bytes]) => `${type} ${kib(bytes)}`).join(", ")} |`),
    "",
    `Extrapolated: ${proxiesPerGiB === null ? "–" : proxiesPerGiB.toLocaleString("en-US")} connected proxies per GiB of RSS; ` +
      `${proxiesPerCoreSecond === null ? "–" : proxiesPerCoreSecond.toLocaleString("en-US")} proxies brought one change per core-second of server CPU.`,
  ];
  return lines.join("\n") + "\n";
}
