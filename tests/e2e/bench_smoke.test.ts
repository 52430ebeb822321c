// Keeps the benchmark from rotting: `npm run bench -- --smoke` (seconds per phase, a low rate) must run every
// variant that can run here against real Envoy under k6, with no failed request, and write the JSON, the Markdown
// report and the chart. The first run on a machine builds k6 (cached in .tools/bin and Go's caches afterwards).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../../scripts/tools.ts";
import { allVariants } from "../../bench/lib/variants.ts";
import type { BenchResults } from "../../bench/run.ts";

function runBench(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(projectRoot, "bench", "run.ts"), ...args],
      { cwd: projectRoot, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on("data", (chunk: Buffer) => { output += chunk.toString(); });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, output }));
  });
}

describe("benchmark smoke run (npm run bench -- --smoke)", () => {
  const outDir = mkdtempSync(join(tmpdir(), "as-mesh-bench-smoke-"));
  let run: { code: number | null; output: string };
  let results: BenchResults;
  let base = "";

  before(async () => {
    // npm test has built every filter already; --no-build keeps this run to the benchmark itself.
    run = await runBench(["--smoke", "--no-build", "--out", outDir]);
    const json = readdirSync(outDir).find((name) => name.endsWith(".json"));
    assert.ok(json, `the bench wrote no JSON (exit ${run.code}):\n${run.output.split("\n").slice(-40).join("\n")}`);
    base = join(outDir, json.slice(0, -".json".length));
    results = JSON.parse(readFileSync(`${base}.json`, "utf8")) as BenchResults;
  }, { timeout: 15 * 60_000 });

  after(() => rmSync(outDir, { recursive: true, force: true }));

  it("exits 0 and reports no problem", () => {
    assert.equal(run.code, 0, run.output.split("\n").slice(-40).join("\n"));
    assert.doesNotMatch(run.output, /PROBLEM:/);
  });

  it("runs every variant except those whose Wasm filter does not exist yet", () => {
    const ran = new Set(results.summaries.map((s) => s.id));
    for (const variant of allVariants(results.options.jwtAlgs)) {
      const skipped = results.skipped.find((s) => s.id === variant.id);
      if (skipped) assert.match(skipped.reason, /does not exist yet|is missing/, `${variant.id} skipped: ${skipped.reason}`);
      else assert.ok(ran.has(variant.id), `${variant.id} neither ran nor was skipped`);
    }
    for (const always of ["none", "jwt-rs256-lua", "jwt-rs256-native", "jwt-rs256-native-cache", "rate-limit-lua",
      "rate-limit-native", "metrics-lua", "chain-lua", "chain-native"]) {
      assert.ok(ran.has(always), `${always} did not run`);
    }
  });

  it("serves every fixed-rate request with 200 in every variant", () => {
    for (const s of results.summaries) {
      assert.equal(s.fixed.errors, 0, `${s.id}: ${s.fixed.errors} failed requests`);
      assert.ok(results.runs.filter((r) => r.variant === s.id).every((r) => r.fixed.requests > 0), `${s.id} sent nothing`);
      assert.deepEqual(s.filterErrors, {}, `${s.id}: filter errors`);
    }
  });

  it("measures latency, CPU per request, saturation and memory, and the cost added over no filter", () => {
    for (const s of results.summaries) {
      assert.ok(s.fixed.p50 > 0 && s.fixed.p99 >= s.fixed.p50, `${s.id}: p50 ${s.fixed.p50}, p99 ${s.fixed.p99}`);
      assert.ok(s.fixed.cpuUsPerRequest > 0, `${s.id}: no CPU measured`);
      assert.ok(s.saturation && s.saturation.throughput > 0, `${s.id}: no saturation throughput`);
      assert.ok(s.rssMiB > 0, `${s.id}: no RSS`);
      if (s.id === "none") assert.equal(s.added, null);
      else assert.ok(s.added && Number.isFinite(s.added.p50) && Number.isFinite(s.added.cpuUsPerRequest), `${s.id}: no added cost`);
    }
    assert.match(results.environment.envoyVersion, /1\.40\./);
    assert.match(results.environment.k6Version, /v1\.8\.1/);
  });

  it("sends cache-cold JWTs in the configured share of JWT requests", () => {
    const jwtRuns = results.runs.filter((r) => r.variant.startsWith("jwt-"));
    assert.ok(jwtRuns.length > 0);
    for (const run of jwtRuns) {
      const share = run.fixed.coldTokensSent / run.fixed.requests;
      assert.ok(Math.abs(share - results.options.coldShare) < 0.05, `${run.variant}: cold share ${share}`);
      assert.equal(run.fixed.coldTokensReused, 0, `${run.variant}: the cold pool ran out in the fixed-rate phase`);
    }
  });

  it("writes the Markdown report with the tables and the SVG chart", () => {
    const markdown = readFileSync(`${base}.md`, "utf8");
    for (const section of ["## Fixed arrival rate", "## Saturation", "## Memory after warm-up", "## Ratios", "## Seed figures next to ours"]) {
      assert.ok(markdown.includes(section), `report lacks ${section}`);
    }
    for (const s of results.summaries) assert.ok(markdown.includes(`| ${s.label} |`), `report lacks a row for ${s.id}`);
    assert.ok(existsSync(`${base}.svg`));
    const svg = readFileSync(`${base}.svg`, "utf8");
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.equal((svg.match(/<rect [^>]*><title>/g) ?? []).length, results.summaries.length * 3, "one bar per percentile per variant");
  });

  it("runs the host-emulator micro-benchmarks from the same command", () => {
    assert.ok(results.micro, "no micro-benchmark section");
    assert.deepEqual(results.micro.failures, []);
    const filters = new Set(results.micro.results.map((r) => r.filter));
    for (const name of readdirSync(join(projectRoot, "bench", "micro")).filter((n) => n.endsWith(".ts"))) {
      assert.ok(filters.has(name.slice(0, -3)), `bench/micro/${name} did not report`);
    }
    assert.ok(results.micro.results.every((r) => r.nsPerOp > 0));
  });
});
