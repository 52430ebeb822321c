// Runs one k6 phase (bench/k6/load.js) and reads the numbers the report needs out of its summary.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../../scripts/tools.ts";
import { pinnedCommand } from "./process_stats.ts";

export const K6_SCRIPT = join(projectRoot, "bench", "k6", "load.js");

export interface PhaseSpec {
  mode: "rate" | "vus";
  target: string;
  durationSeconds: number;
  rate?: number;
  vus?: number;
  tokens?: { hotFile: string; coldFile: string };
  coldShare?: number;
  coldOffset?: number;
}

export interface LatencyMs {
  avg: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface PhaseResult {
  requests: number;
  /** Requests per second over the phase. */
  throughput: number;
  /** Requests whose status was not 200, or that failed at the transport. */
  failed: number;
  errorRate: number;
  /** Arrival-rate iterations k6 could not start (no free VU): the target fell behind the rate. */
  dropped: number;
  latencyMs: LatencyMs;
  coldTokensSent: number;
  coldTokensReused: number;
  /** The k6 summary as k6 wrote it. */
  raw: unknown;
}

interface K6Metric {
  values: Record<string, number>;
}

function metric(summary: { metrics: Record<string, K6Metric> }, name: string, value: string): number {
  return summary.metrics[name]?.values[value] ?? 0;
}

export async function runK6Phase(k6: string, spec: PhaseSpec, core: number | null): Promise<PhaseResult> {
  const dir = mkdtempSync(join(tmpdir(), "as-mesh-k6-"));
  const summaryPath = join(dir, "summary.json");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    K6_NO_USAGE_REPORT: "true",
    TARGET: spec.target,
    MODE: spec.mode,
    DURATION: `${spec.durationSeconds}s`,
    RATE: String(spec.rate ?? 0),
    VUS: String(spec.vus ?? 0),
    COLD_SHARE: String(spec.coldShare ?? 0),
    COLD_OFFSET: String(spec.coldOffset ?? 0),
    SUMMARY: summaryPath,
    ...(spec.tokens ? { HOT_TOKENS: spec.tokens.hotFile, COLD_TOKENS: spec.tokens.coldFile } : {}),
  };
  const [command, args] = pinnedCommand(core, k6, ["run", "--quiet", "--no-color", "--log-output=stderr", K6_SCRIPT]);
  try {
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
      let text = "";
      child.stdout.on("data", (chunk: Buffer) => { text += chunk.toString(); });
      child.stderr.on("data", (chunk: Buffer) => { text += chunk.toString(); });
      child.on("error", reject);
      child.on("exit", (code) => {
        // k6 exits 99 when a threshold fails; this script sets none, so anything but 0 is a real failure.
        if (code === 0) resolve(text);
        else reject(new Error(`k6 exited with ${code}:\n${text.trim().split("\n").slice(-15).join("\n")}`));
      });
    });
    let summary: { metrics: Record<string, K6Metric>; state?: { testRunDurationMs?: number } };
    try {
      summary = JSON.parse(readFileSync(summaryPath, "utf8"));
    } catch {
      throw new Error(`k6 wrote no summary:\n${output.trim().split("\n").slice(-15).join("\n")}`);
    }
    const requests = metric(summary, "http_reqs", "count");
    const failed = metric(summary, "http_req_failed", "passes");
    const seconds = (summary.state?.testRunDurationMs ?? spec.durationSeconds * 1000) / 1000;
    const trend = (value: string) => metric(summary, "http_req_duration", value);
    return {
      requests,
      throughput: requests / seconds,
      failed,
      errorRate: requests > 0 ? failed / requests : 1,
      dropped: metric(summary, "dropped_iterations", "count"),
      latencyMs: {
        avg: trend("avg"), min: trend("min"), p50: trend("p(50)"), p90: trend("p(90)"), p99: trend("p(99)"),
        p999: trend("p(99.9)"), max: trend("max"),
      },
      coldTokensSent: metric(summary, "cold_tokens_sent", "count"),
      coldTokensReused: metric(summary, "cold_tokens_reused", "count"),
      raw: summary,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function k6Version(k6: string): string {
  return spawnSync(k6, ["version"], { encoding: "utf8" }).stdout.trim();
}
