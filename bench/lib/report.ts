// The Markdown report of a benchmark run: latency at the fixed rate and what each filter adds over no filter, CPU
// per request, saturation throughput, memory, the Wasm/Lua and Wasm/native ratios, the seed figures next to ours,
// and the host-emulator micro-benchmarks.
import type { Environment } from "./environment.ts";
import type { MicroReport } from "./micro.ts";
import type { BenchOptions } from "./options.ts";
import type { VariantSummary } from "./summary.ts";
import { PROFILE_REGIONS, type VariantRun } from "./measure.ts";
import type { HostCallCount } from "./host_calls.ts";
import type { FilterGroup } from "./variants.ts";

/** The per-request figures quoted from a public write-up of Lyft's mesh (WASM vs Lua), the question we answer. */
export const SEED_FIGURES: Array<{ group: FilterGroup; what: string; wasmMs: number; luaMs: number }> = [
  { group: "jwt", what: "auth (JWT)", wasmMs: 0.5, luaMs: 2.8 },
  { group: "rate-limit", what: "rate limit", wasmMs: 0.2, luaMs: 1.1 },
  { group: "metrics", what: "metrics", wasmMs: 0.1, luaMs: 0.8 },
  { group: "chain", what: "combined", wasmMs: 0.8, luaMs: 4.7 },
];
export const SEED_MEMORY_MB = { wasm: 25, lua: 91 };

const GROUP_TITLES: Record<FilterGroup, string> = {
  none: "no filter", jwt: "JWT", "rate-limit": "rate limit", metrics: "metrics", chain: "chain",
};

function fmt(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return value.toFixed(digits);
}

function signed(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return (value >= 0 ? "+" : "") + value.toFixed(digits);
}

/**
 * a/b for two added costs, or a dash when the denominator is within noise of zero (a ratio of noise is not a
 * finding). `floor` is the smallest denominator worth dividing by.
 */
export function ratio(a: number | null | undefined, b: number | null | undefined, floor: number): string {
  if (a === null || a === undefined || b === null || b === undefined || !Number.isFinite(a) || !Number.isFinite(b)) return "—";
  // A ratio of two costs is only a finding when both are clearly above the noise (deltas can even come out negative).
  if (a < floor || b < floor) return "— (within noise)";
  return `${(a / b).toFixed(2)}×`;
}

/** Added-latency differences smaller than this (ms) are not told apart from noise in ratios. */
const LATENCY_FLOOR_MS = 0.005;
/** Added-CPU differences smaller than this (µs per request) likewise. */
const CPU_FLOOR_US = 0.5;

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

export interface ReportInput {
  command: string;
  runs: VariantRun[];
  options: BenchOptions;
  environment: Environment;
  summaries: VariantSummary[];
  skipped: Array<{ id: string; reason: string }>;
  micro: MicroReport | null;
  hostCalls?: HostCallCount[] | null;
  jsonFile: string;
  chartFile: string;
  /** When the run started (ISO); the report's title. */
  startedAt?: string;
}

export function setupText(input: Pick<ReportInput, "options" | "environment" | "command" | "runs">): string {
  const o = input.options;
  const e = input.environment;
  const pin = e.pinning.envoyCore === null
    ? `not pinned (${e.pinning.reason})`
    : `Envoy on core ${e.pinning.envoyCore}, k6 on core ${e.pinning.loadCore}`;
  return [
    `- Command: \`${input.command}\``,
    `- Machine: ${e.cpuModel}, ${e.cores} cores, ${(e.memoryBytes / 2 ** 30).toFixed(1)} GiB, Linux ${e.kernel}; ${pin}`,
    `- Envoy ${e.envoyVersion}, --concurrency ${o.concurrency ?? 1}; ${e.k6Version}; commit ${e.gitCommit}`,
    `- Route: ${o.upstream ? "loopback upstream (a second Envoy answering directly)" : "Envoy's direct_response (isolates the filter's cost)"}`,
    `- Fixed rate ${o.rate} req/s for ${o.durationSeconds} s after a ${o.warmupSeconds} s warm-up; saturation: ` +
      (o.saturationSeconds > 0 ? `${o.saturationVus} closed-loop virtual users for ${o.saturationSeconds} s` : "skipped") +
      `; ${o.repeats} round(s), variant order rotated each round, medians reported`,
    `- Machine load (1-minute load average at the start of each run): ${loadRange(input.runs)}`,
    `- JWT token mix: ${(o.coldShare * 100).toFixed(0)} % of requests carry a never-seen token (cache-cold), the rest ` +
      `reuse 16 hot tokens (cache-warm); keys RSA-2048 (RS256) / P-256 (ES256)`,
  ].join("\n");
}

function loadRange(runs: VariantRun[]): string {
  if (!runs.length) return "—";
  const loads = runs.map((run) => run.loadAverage ?? 0);
  return `${Math.min(...loads).toFixed(2)} to ${Math.max(...loads).toFixed(2)} (2 cores; the benchmark itself keeps about 1 busy)`;
}

export function fixedRateTable(summaries: VariantSummary[]): string {
  return table(
    ["variant", "p50 ms", "p90 ms", "p99 ms", "max ms", "added p50 ms", "added p99 ms", "Envoy CPU µs/req", "added CPU µs/req", "errors", "dropped"],
    summaries.map((s) => [
      s.label, fmt(s.fixed.p50), fmt(s.fixed.p90), fmt(s.fixed.p99), fmt(s.fixed.max, 2),
      signed(s.added?.p50), signed(s.added?.p99), fmt(s.fixed.cpuUsPerRequest, 1), signed(s.added?.cpuUsPerRequest, 1),
      String(s.fixed.errors), String(s.fixed.dropped),
    ]));
}

/** Below this many busy cores Envoy was not the bottleneck of the closed-model phase: k6 was. */
const SATURATED_CORES = 0.85;

export function saturationTable(summaries: VariantSummary[]): string {
  return table(
    ["variant", "k6 req/s", "error rate", "Envoy cores busy", "limited by", "Envoy CPU µs/req", "capacity req/s per Envoy core"],
    summaries.filter((s) => s.saturation).map((s) => {
      const sat = s.saturation!;
      return [
        s.label,
        sat.throughput.toFixed(0),
        `${(sat.errorRate * 100).toFixed(2)} %` + (sat.errorRate >= 0.01 ? " (≥ 1 %: not a valid maximum)" : ""),
        fmt(sat.cpuCores, 2),
        sat.cpuCores >= SATURATED_CORES ? "Envoy" : "k6 (Envoy had headroom)",
        fmt(sat.cpuUsPerRequest, 1),
        (1e6 / sat.cpuUsPerRequest).toFixed(0),
      ];
    }));
}

export function memoryTable(summaries: VariantSummary[]): string {
  return table(
    ["variant", "RSS MiB", "added RSS MiB", "tcmalloc allocated MiB"],
    summaries.map((s) => [s.label, fmt(s.rssMiB, 1), signed(s.added?.rssMiB, 1), fmt(s.allocatedMiB, 1)]));
}

export function ratioTable(summaries: VariantSummary[]): string {
  const rows: string[][] = [];
  const groups = [...new Set(summaries.map((s) => s.group))].filter((g) => g !== "none");
  for (const group of groups) {
    const inGroup = summaries.filter((s) => s.group === group);
    for (const wasm of inGroup.filter((s) => s.impl === "wasm")) {
      const prefix = wasm.id.replace(/-wasm$/, "");
      const peers = inGroup.filter((s) => s.impl !== "wasm" && s.id.startsWith(prefix));
      for (const peer of peers) {
        rows.push([
          `${wasm.label} / ${peer.label}`,
          ratio(wasm.added?.cpuUsPerRequest, peer.added?.cpuUsPerRequest, CPU_FLOOR_US),
          ratio(wasm.added?.p50, peer.added?.p50, LATENCY_FLOOR_MS),
          ratio(wasm.added?.p99, peer.added?.p99, LATENCY_FLOOR_MS),
          wasm.saturation && peer.saturation ? `${(peer.saturation.cpuUsPerRequest / wasm.saturation.cpuUsPerRequest).toFixed(2)}×` : "—",
        ]);
      }
    }
  }
  return table(["Wasm / other", "added CPU per request", "added p50", "added p99", "capacity per core (higher: Wasm serves more)"], rows);
}

export function seedTable(summaries: VariantSummary[]): string {
  const find = (group: FilterGroup, impl: "wasm" | "lua") =>
    summaries.find((s) => s.group === group && s.impl === impl);
  const rows = SEED_FIGURES.map((seed) => {
    const wasm = find(seed.group, "wasm");
    const lua = find(seed.group, "lua");
    const ours = (s: VariantSummary | undefined) => s?.added
      ? `${signed(s.added.p50)} ms p50 · ${signed(s.added.p99)} ms p99 · ${signed(s.added.cpuUsPerRequest, 1)} µs CPU`
      : "not run";
    return [seed.what, `${seed.wasmMs} ms`, `${seed.luaMs} ms`, ours(wasm), ours(lua)];
  });
  const wasmChain = find("chain", "wasm");
  const luaChain = find("chain", "lua");
  rows.push(["memory", `${SEED_MEMORY_MB.wasm} MB`, `${SEED_MEMORY_MB.lua} MB`,
    wasmChain?.added ? `${signed(wasmChain.added.rssMiB, 1)} MiB RSS (chain)` : "not run",
    luaChain?.added ? `${signed(luaChain.added.rssMiB, 1)} MiB RSS (chain)` : "not run"]);
  return table(["per request", "seed: WASM", "seed: Lua", "ours: Wasm (added over no filter)", "ours: Lua (added over no filter)"], rows);
}

const REGION_TITLES: Record<(typeof PROFILE_REGIONS)[number], string> = {
  envoy: "Envoy C++ (incl. proxy-wasm host, V8 runtime, LuaJIT interpreter)",
  jit: "JIT code (Wasm module / LuaJIT traces)",
  kernel: "kernel (loopback TCP, syscalls)",
  libc: "libc",
  other: "other",
};

/** Envoy CPU per request split by code region (perf, profiled phase), and what each variant adds over no filter. */
export function profileTable(summaries: VariantSummary[], runs: VariantRun[]): string | null {
  const profiled = summaries.map((s) => ({ s, profile: runs.find((r) => r.variant === s.id && r.profile)?.profile }))
    .filter((entry) => entry.profile);
  if (!profiled.length) return null;
  const none = profiled.find((entry) => entry.s.id === "none")?.profile;
  const us = (profile: NonNullable<VariantRun["profile"]>, region: string) => profile.shares[region] * profile.cpuUsPerRequest;
  const regions = PROFILE_REGIONS.filter((region) => profiled.some((entry) => entry.profile!.shares[region] > 0.005));
  return table(
    ["variant", "µs/req total", ...regions.map((r) => `${REGION_TITLES[r]} µs/req (added)`)],
    profiled.map(({ s, profile }) => [
      s.label,
      fmt(profile!.cpuUsPerRequest, 1),
      ...regions.map((region) => `${fmt(us(profile!, region), 1)}` +
        (none && s.id !== "none" ? ` (${signed(us(profile!, region) - us(none, region), 1)})` : "")),
    ]));
}

export function hostCallTable(counts: HostCallCount[]): string {
  const list = (record: Record<string, number>) =>
    Object.entries(record).map(([name, n]) => `${name.replace(/^proxy_/, "")}${n > 1 ? ` ×${n}` : ""}`).join(", ");
  return table(["filter", "request", "host calls", "calls into the module (callbacks, allocations)"],
    counts.map((c) => [c.filter, c.case, `${c.hostCalls}: ${list(c.calls)}`, `${c.moduleEntries}: ${list(c.entries)}`]));
}

export function microTable(micro: MicroReport): string {
  const rows = micro.results.map((r) => [r.filter, r.case, r.nsPerOp.toFixed(0), r.targetNs ? r.targetNs.toFixed(0) : "—",
    r.targetNs ? (r.nsPerOp <= r.targetNs ? "within" : "over") : "—"]);
  for (const failure of micro.failures) rows.push([failure.filter, `failed: ${failure.error}`, "—", "—", "—"]);
  return table(["filter", "case", "ns/op", "target ns", "vs target"], rows);
}

export function renderReport(input: ReportInput): string {
  const groups = [...new Set(input.summaries.map((s) => s.group))];
  const sections = [
    `# as-mesh benchmark, ${(input.startedAt ?? new Date().toISOString()).slice(0, 16).replace("T", " ")} UTC`,
    setupText(input),
    `Raw data: \`${input.jsonFile}\`; chart: \`${input.chartFile}\`.`,
    "## Fixed arrival rate\n\nLatency as k6 sees it (loopback, includes k6 and Envoy's own work); *added* = variant − no filter " +
      "in the same round, median over rounds. Envoy CPU is its on-CPU time over all threads divided by the requests it served.\n\n" +
      groups.map((g) => `### ${GROUP_TITLES[g]}\n\n${fixedRateTable(input.summaries.filter((s) => s.group === g))}`).join("\n\n"),
    "## Saturation (closed model)\n\nk6 runs on one core of this machine and needs more CPU per request than Envoy, so for " +
      "cheap variants the closed-model phase saturates k6 first (\"limited by\"). The capacity column is the throughput " +
      "one fully busy Envoy worker would reach at the CPU cost per request measured in that phase: 10⁶ / (µs per request).\n\n" +
      saturationTable(input.summaries),
    "## Memory after warm-up\n\n" + memoryTable(input.summaries),
    "## Ratios (lower than 1× means Wasm costs less)\n\n" + ratioTable(input.summaries),
    "## Seed figures next to ours\n\n" + seedTable(input.summaries),
  ];
  const profile = profileTable(input.summaries, input.runs);
  if (profile) {
    sections.push("## Where Envoy's CPU goes (perf, one profiled closed-model phase per variant)\n\n" +
      "perf samples every Envoy thread; the release binary is stripped, so samples are split by code region only. " +
      "Each region's share of samples times the phase's CPU per request gives µs per request.\n\n" + profile);
  }
  if (input.skipped.length) {
    sections.push("## Not run\n\n" + input.skipped.map((s) => `- ${s.id}: ${s.reason}`).join("\n"));
  }
  const errors = input.summaries.filter((s) => Object.keys(s.filterErrors).length);
  if (errors.length) {
    sections.push("## Filter errors Envoy counted\n\n" + errors.map((s) =>
      `- ${s.label}: ${Object.entries(s.filterErrors).map(([n, v]) => `${n}=${v}`).join(", ")}`).join("\n"));
  }
  if (input.micro) sections.push("## Host-emulator micro-benchmarks (bench/micro)\n\n" + microTable(input.micro));
  if (input.hostCalls?.length) {
    sections.push("## proxy-wasm calls per request (host emulator, the benchmark's configurations)\n\n" +
      "Every call crosses between V8 and Envoy's C++; a call that returns bytes also calls into the module to allocate them.\n\n" +
      hostCallTable(input.hostCalls));
  }
  return sections.join("\n\n") + "\n";
}
