// `npm run bench`: what each filter costs per request in stock Envoy, against the same logic in Lua and against
// Envoy's native filters. Builds what it needs (k6, Envoy, the Wasm filters), runs every variant in its own pinned
// Envoy under k6, and writes bench/results/<timestamp>.{json,md,svg}. `--help` lists the options.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureEnvoy, ensureK6, projectRoot, ToolInstallError } from "../scripts/tools.ts";
import { buildAll, listModules } from "../scripts/build.ts";
import { bootstrap, httpListener } from "../envoy/bootstrap.ts";
import { startEnvoy, type EnvoyInstance } from "../tests/harness/envoy.ts";
import { renderChart } from "./lib/chart.ts";
import { describeEnvironment, type Environment } from "./lib/environment.ts";
import { createJwtFixture, type JwtAlg } from "./lib/jwt_fixture.ts";
import { profileSeconds, runVariant, type VariantRun } from "./lib/measure.ts";
import { runMicroBenchmarks, type MicroReport } from "./lib/micro.ts";
import { commandLine, parseOptions, USAGE, type BenchOptions } from "./lib/options.ts";
import { choosePinning, pinProcess } from "./lib/process_stats.ts";
import { fixedRateTable, renderReport, microTable } from "./lib/report.ts";
import { summarize, type VariantSummary } from "./lib/summary.ts";
import { writeTokenPool, type TokenPool } from "./lib/token_pool.ts";
import { allVariants, BENCH_USERS, type Variant } from "./lib/variants.ts";
import { WASM_FILTERS } from "./lib/wasm_filters.ts";
import { buildFloorModule } from "./lib/floor.ts";
import { updateResultsMarkdown } from "./lib/results_md.ts";
import { countHostCalls, type HostCallCount } from "./lib/host_calls.ts";

/** Requests/s assumed for the saturation phase when sizing the cold-token pool (more are reused, and counted). */
const SATURATION_RATE_ESTIMATE = 6000;

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  command: string;
  options: BenchOptions;
  environment: Environment;
  variants: Array<Pick<Variant, "id" | "group" | "impl" | "label" | "alg">>;
  skipped: Array<{ id: string; reason: string }>;
  runs: VariantRun[];
  summaries: VariantSummary[];
  micro: MicroReport | null;
  /** proxy-wasm host calls per request of each Wasm filter (host emulator), with the micro-benchmarks. */
  hostCalls: HostCallCount[] | null;
}

export interface BenchOutcome {
  results: BenchResults;
  jsonFile: string;
  markdownFile: string;
  chartFile: string;
  /** Problems that make the numbers untrustworthy (errors in fixed-rate runs, filter errors). */
  problems: string[];
}

function log(line: string): void {
  process.stderr.write(line + "\n");
}

function selectVariants(options: BenchOptions): { chosen: Variant[]; skipped: Array<{ id: string; reason: string }> } {
  const all = allVariants(options.jwtAlgs);
  let wanted: Variant[];
  if (options.variants.length) {
    const unknown = options.variants.filter((id) => !all.some((v) => v.id === id));
    if (unknown.length) throw new Error(`unknown variant(s): ${unknown.join(", ")} (see --list)`);
    wanted = all.filter((v) => v.id === "none" || options.variants.includes(v.id));
  } else {
    wanted = all.filter((v) => v.id === "none" || (options.filters.includes(v.group) && options.impls.includes(v.impl)));
  }
  const chosen: Variant[] = [];
  const skipped: Array<{ id: string; reason: string }> = [];
  for (const variant of wanted) {
    const reason = variant.unavailable();
    if (reason) skipped.push({ id: variant.id, reason });
    else chosen.push(variant);
  }
  return { chosen, skipped };
}

/** The upstream for --upstream: a second Envoy answering 200 itself, on the load generator's core. */
async function startUpstreamEnvoy(core: number | null): Promise<EnvoyInstance> {
  const envoy = await startEnvoy({
    config: bootstrap({ listeners: [httpListener({
      name: "upstream", routes: [{ prefix: "/", action: { directResponse: { status: 200, body: "ok\n" } } }], httpFilters: [],
    })] }),
    concurrency: 1,
    logLevel: "warning",
  });
  if (core !== null) pinProcess(envoy.process.pid!, core);
  return envoy;
}

function timestamp(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
}

export async function runBench(argv: string[]): Promise<BenchOutcome | null> {
  const options = parseOptions(argv);
  if (options.help) {
    process.stdout.write(USAGE);
    return null;
  }
  if (options.report) return rewriteReports(options.report, options.resultsMd);
  const command = commandLine(argv);
  const startedAt = new Date();
  const outDir = resolve(options.outDir ?? join(projectRoot, "bench", "results"));
  mkdirSync(outDir, { recursive: true });
  const base = join(outDir, timestamp(startedAt));

  const envoyBinary = ensureEnvoy(log);
  process.env.ENVOY_BIN = envoyBinary;
  if (options.build && !options.microOnly) {
    const present = new Set(listModules().map((m) => m.name));
    const filters = [...WASM_FILTERS, "as-mesh"].filter((name) => present.has(name));
    if (filters.length) {
      log(`building ${filters.join(", ")} ...`);
      await buildAll(filters);
    }
    await buildFloorModule();
  }
  const { chosen, skipped } = selectVariants(options);
  if (options.list) {
    for (const v of chosen) process.stdout.write(`${v.id.padEnd(28)} ${v.label}\n`);
    for (const s of skipped) process.stdout.write(`${s.id.padEnd(28)} (cannot run: ${s.reason})\n`);
    return null;
  }

  const k6 = options.microOnly ? "" : ensureK6(log);
  const pinning = choosePinning(options.pin);
  const environment = describeEnvironment(envoyBinary, k6 || "true", pinning);
  const runs: VariantRun[] = [];
  const problems: string[] = [];
  const work = mkdtempSync(join(tmpdir(), "as-mesh-bench-"));
  let upstream: EnvoyInstance | undefined;
  try {
    if (!options.microOnly) {
      for (const s of skipped) log(`skipping ${s.id}: ${s.reason}`);
      const fixture = await createJwtFixture();
      const pools: Partial<Record<JwtAlg, TokenPool>> = {};
      const algs = [...new Set(chosen.map((v) => v.alg).filter((a): a is JwtAlg => a !== undefined))];
      const closedSeconds = options.saturationSeconds + (options.profile ? profileSeconds(options) : 0);
      const cold = Math.ceil(options.coldShare * (options.rate * options.durationSeconds + SATURATION_RATE_ESTIMATE * closedSeconds));
      for (const alg of algs) {
        log(`minting ${cold} cold + hot ${alg} tokens ...`);
        pools[alg] = await writeTokenPool(fixture, alg, cold, BENCH_USERS, work);
      }
      if (options.upstream) upstream = await startUpstreamEnvoy(pinning.loadCore);
      const upstreamPort = upstream ? Number(new URL(upstream.url("upstream")).port) : null;
      const context = {
        k6, fixture, pools, pinning, upstreamPort, log,
        rate: options.rate, warmupSeconds: options.warmupSeconds, durationSeconds: options.durationSeconds,
        saturationSeconds: options.saturationSeconds, saturationVus: options.saturationVus,
        coldShare: options.coldShare, profile: options.profile, concurrency: options.concurrency,
      };
      for (let repeat = 0; repeat < options.repeats; repeat++) {
        // Rotate the order each round, so a drifting machine does not always favour the same variants.
        const order = chosen.map((_, i) => chosen[(i + repeat) % chosen.length]);
        for (const variant of order) {
          log(`round ${repeat + 1}/${options.repeats}: ${variant.id} ...`);
          const profiled = options.profile && repeat === 0;
          const run = await runVariant(variant, repeat, context, profiled ? join(work, `${variant.id}.perf.data`) : undefined);
          runs.push(run);
          log(`  p50 ${run.fixed.latencyMs.p50.toFixed(3)} ms, p99 ${run.fixed.latencyMs.p99.toFixed(3)} ms, ` +
            `${run.fixed.cpuUsPerRequest.toFixed(1)} µs CPU/req, errors ${run.fixed.failed}` +
            (run.saturation ? `; saturation ${run.saturation.throughput.toFixed(0)} req/s` : ""));
        }
      }
    }
    const micro = options.micro
      ? await runMicroBenchmarks(options.microIterations, log)
      : null;
    let hostCalls: HostCallCount[] | null = null;
    if (options.micro) {
      try {
        hostCalls = await countHostCalls();
      } catch (error) {
        problems.push(`counting host calls failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }

    const summaries = summarize(chosen, runs);
    for (const s of summaries) {
      if (s.fixed.errors > 0) problems.push(`${s.id}: ${s.fixed.errors} failed requests in the fixed-rate phase`);
      if (Object.keys(s.filterErrors).length) problems.push(`${s.id}: filter errors ${JSON.stringify(s.filterErrors)}`);
    }
    if (micro) for (const f of micro.failures) problems.push(`micro-benchmark ${f.filter} failed: ${f.error}`);

    const results: BenchResults = {
      startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), command, options, environment,
      variants: chosen.map(({ id, group, impl, label, alg }) => ({ id, group, impl, label, alg })),
      skipped, runs, summaries, micro, hostCalls,
    };
    writeFileSync(`${base}.json`, JSON.stringify(results, null, 1));
    return { ...writeReports(results, base, options.resultsMd), problems };
  } finally {
    await upstream?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** The Markdown report, the chart and the profiles of a run (and RESULTS.md when asked), next to its JSON. */
function writeReports(results: BenchResults, base: string, resultsMd: boolean): Omit<BenchOutcome, "problems"> {
  const { summaries, micro, runs } = results;
  const jsonFile = `${base}.json`;
  const markdownFile = `${base}.md`;
  const chartFile = `${base}.svg`;
  const report = renderReport({
    ...results,
    jsonFile: relative(projectRoot, jsonFile), chartFile: relative(projectRoot, chartFile),
  });
  writeFileSync(markdownFile, report);
  if (summaries.length) {
    writeFileSync(chartFile, renderChart(summaries, `as-mesh: cost per request in Envoy ${results.environment.envoyVersion.split("/")[1] ?? ""}`));
  }
  if (resultsMd) updateResultsMarkdown(results, { jsonFile, chartFile, report });
  const profiles = profilesOf(runs);
  if (profiles) writeFileSync(`${base}-profiles.txt`, profiles);

  if (summaries.length) process.stdout.write("\n" + fixedRateTable(summaries) + "\n");
  if (micro) process.stdout.write("\n" + microTable(micro) + "\n");
  process.stdout.write(`\nresults: ${relative(projectRoot, jsonFile)}\nreport:  ${relative(projectRoot, markdownFile)}\n` +
    (summaries.length ? `chart:   ${relative(projectRoot, chartFile)}\n` : ""));
  return { results, jsonFile, markdownFile, chartFile };
}

/** --report FILE: the reports of an earlier run again, from its JSON (after a change to the report's layout). */
function rewriteReports(file: string, resultsMd: boolean): BenchOutcome {
  const results = JSON.parse(readFileSync(file, "utf8")) as BenchResults;
  return { ...writeReports(results, resolve(file).replace(/\.json$/, ""), resultsMd), problems: [] };
}

function profilesOf(runs: VariantRun[]): string | null {
  const profiled = runs.filter((run) => run.profile);
  if (!profiled.length) return null;
  return profiled.map((run) => `=== ${run.variant}: ${run.profile!.samples ? `${run.profile!.samples} samples, ` : ""}` +
    `${run.profile!.cpuUsPerRequest.toFixed(1)} µs Envoy CPU per request (perf report --sort dso) ===\n${run.profile!.report}\n`).join("\n");
}

const controlPlaneBench = process.argv[2] === "control" || process.argv[2] === "control-replicas";
if (controlPlaneBench && process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // `npm run bench -- control …`: the control-plane benchmark, with its own options (bench/control.ts);
  // `npm run bench -- control-replicas …`: the same over etcd and several replicas (bench/control_replicas.ts).
  const bench = process.argv[2] === "control" ? import("./control.ts") : import("./control_replicas.ts");
  bench.then((module) => module.main(process.argv.slice(3))).catch((error: unknown) => {
    log(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
} else if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runBench(process.argv.slice(2)).then((outcome) => {
    process.exit(outcome && outcome.problems.length ? 2 : 0);
  }, (error: unknown) => {
    if (error instanceof ToolInstallError) {
      log(`error: ${error.message}`);
      process.exit(1);
    }
    log(`error: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    process.exit(1);
  });
}
