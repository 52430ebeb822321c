// One measured run of one variant: a fresh Envoy (--concurrency 1, pinned), a warm-up at the fixed rate, memory
// after the warm-up, the measured fixed-rate phase, then the saturation phase, with Envoy's CPU time around each.
import { spawn } from "node:child_process";
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
  fixed: PhaseMeasurement;
  saturation: PhaseMeasurement | null;
  memoryAfterWarmup: MemoryMeasurement;
  memoryAtEnd: MemoryMeasurement;
  /** Script or VM failures Envoy counted (Lua errors, Wasm VM failures); should stay 0. */
  filterErrors: Record<string, number>;
  /** perf report of the saturation phase, when profiled. */
  profile?: string;
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
  profile: boolean;
  log: (line: string) => void;
}

export const LISTENER = "bench";

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

async function measuredPhase(envoy: EnvoyInstance, context: RunContext, spec: PhaseSpec, profileFile?: string): Promise<{
  phase: PhaseMeasurement; profile?: string;
}> {
  const pid = envoy.process.pid!;
  const cpuBefore = readCpuNanos(pid);
  const requestsBefore = await requestCount(envoy);
  const started = process.hrtime.bigint();
  const perf = profileFile ? startPerf(pid, spec.durationSeconds, profileFile) : null;
  const result = await runK6Phase(context.k6, spec, context.pinning.loadCore);
  const profile = perf ? await perf : undefined;
  const elapsedNs = Number(process.hrtime.bigint() - started);
  const cpuNs = readCpuNanos(pid) - cpuBefore;
  // Envoy's own count (k6's plus the stat reads, which are few): the denominator for CPU per request.
  const requests = Math.max(1, (await requestCount(envoy)) - requestsBefore);
  return {
    phase: { ...result, cpuUsPerRequest: cpuNs / requests / 1000, cpuCores: cpuNs / elapsedNs },
    profile,
  };
}

/** perf samples of Envoy with call graphs for the phase; resolves with a text report of the hottest symbols. */
function startPerf(pid: number, seconds: number, file: string): Promise<string> {
  return new Promise((resolve) => {
    const record = spawn("perf", ["record", "-F", "999", "-g", "-p", String(pid), "-o", file, "--", "sleep", String(seconds)],
      { stdio: ["ignore", "ignore", "pipe"] });
    let errors = "";
    record.stderr.on("data", (chunk: Buffer) => { errors += chunk.toString(); });
    record.on("error", (error) => resolve(`perf could not run: ${error.message}`));
    record.on("exit", (code) => {
      if (code !== 0) return resolve(`perf record failed (${code}): ${errors.trim()}`);
      const report = spawn("perf", ["report", "-i", file, "--stdio", "--no-children", "--sort", "dso,symbol",
        "--percent-limit", "0.5", "-g", "none"], { stdio: ["ignore", "pipe", "ignore"] });
      let text = "";
      report.stdout.on("data", (chunk: Buffer) => { text += chunk.toString(); });
      report.on("exit", () => resolve(text.split("\n").filter((line) => line.trim() && !line.startsWith("#")).slice(0, 60).join("\n")));
    });
  });
}

export async function runVariant(variant: Variant, repeat: number, context: RunContext, profileFile?: string): Promise<VariantRun> {
  const startedAt = new Date().toISOString();
  const envoy = await startEnvoy({ config: variantConfig(variant, context), concurrency: 1, logLevel: "warning" });
  try {
    if (context.pinning.envoyCore !== null) pinProcess(envoy.process.pid!, context.pinning.envoyCore);
    const target = envoy.url(LISTENER);
    const pool = variant.alg ? context.pools[variant.alg] : undefined;
    const tokens = pool ? { tokensFile: pool.file } : {};
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
    let saturation: PhaseMeasurement | null = null;
    let profile: string | undefined;
    if (context.saturationSeconds > 0) {
      const measured = await measuredPhase(envoy, context, {
        mode: "vus", target, durationSeconds: context.saturationSeconds, vus: context.saturationVus, ...tokens,
        coldShare: pool ? context.coldShare : 0, coldOffset: fixedCold,
      }, profileFile);
      saturation = measured.phase;
      profile = measured.profile;
    }
    return {
      variant: variant.id, repeat, startedAt,
      fixed: fixed.phase, saturation, memoryAfterWarmup, memoryAtEnd: await memory(envoy),
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
