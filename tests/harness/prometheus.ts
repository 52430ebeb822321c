// A real Prometheus for end-to-end tests: installs Debian's `prometheus` package when the binary is absent
// (idempotent; apt-get only runs when needed), then runs it on a loopback port with a generated configuration and
// a temporary storage directory, and answers PromQL through its HTTP API.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Installing failed: apt-get ran and did not produce a prometheus binary. */
export class PrometheusInstallError extends Error {}
/** This machine cannot install it at all (no apt-get, not root): the only reason a test may skip. */
export class PrometheusUnavailableError extends Error {}

const candidates = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"];

function findPrometheus(): string | null {
  if (process.env.PROMETHEUS_BIN) return existsSync(process.env.PROMETHEUS_BIN) ? process.env.PROMETHEUS_BIN : null;
  for (const path of candidates) if (existsSync(path)) return path;
  const which = spawnSync("sh", ["-c", "command -v prometheus"], { encoding: "utf8" });
  const found = which.stdout.trim();
  return which.status === 0 && found ? found : null;
}

function run(command: string, args: string[]): { ok: boolean; output: string } {
  const result = spawnSync(command, args, {
    encoding: "utf8", maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? ""}${result.error ?? ""}` };
}

/**
 * Path of the prometheus binary: $PROMETHEUS_BIN, one already on the machine, or Debian's package installed now
 * with `apt-get update && apt-get install -y --no-install-recommends prometheus` (needs root and Debian's mirror).
 */
export function ensurePrometheus(log: (line: string) => void = (line) => process.stderr.write(line + "\n")): string {
  const existing = findPrometheus();
  if (existing) return existing;
  if (process.env.PROMETHEUS_BIN) throw new PrometheusInstallError(`PROMETHEUS_BIN=${process.env.PROMETHEUS_BIN} does not exist`);
  if (!run("sh", ["-c", "command -v apt-get"]).ok) {
    throw new PrometheusUnavailableError("prometheus is not installed and apt-get is not available to install it (set PROMETHEUS_BIN)");
  }
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    throw new PrometheusUnavailableError("prometheus is not installed and installing Debian's package needs root (set PROMETHEUS_BIN)");
  }
  log("installing Debian's prometheus package (apt-get) ...");
  // Wait for another apt run (a parallel test, an engineer) instead of failing on its lock.
  const lock = ["-o", "DPkg::Lock::Timeout=300"];
  const update = run("apt-get", [...lock, "update"]);
  if (!update.ok) throw new PrometheusInstallError(`apt-get update failed:\n${tail(update.output)}`);
  const install = run("apt-get", [...lock, "install", "-y", "--no-install-recommends", "prometheus"]);
  const installed = findPrometheus();
  if (!install.ok || !installed) throw new PrometheusInstallError(`apt-get install prometheus failed:\n${tail(install.output)}`);
  log(`installed ${run(installed, ["--version"]).output.split("\n")[0]}`);
  return installed;
}

function tail(text: string, lines = 10): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface ScrapeTarget {
  job: string;
  /** host:port */
  address: string;
  metricsPath: string;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export class PrometheusInstance {
  private output = "";

  constructor(readonly process: ChildProcess, readonly url: string, readonly workDir: string) {
    const collect = (chunk: Buffer) => {
      this.output += chunk.toString("utf8");
      if (this.output.length > 1_000_000) this.output = this.output.slice(-500_000);
    };
    process.stdout?.on("data", collect);
    process.stderr?.on("data", collect);
  }

  logTail(lines = 30): string {
    return this.output.trimEnd().split("\n").slice(-lines).join("\n");
  }

  /** An instant PromQL query; throws when Prometheus answers with an error. */
  async query(promql: string): Promise<PromSample[]> {
    const response = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await response.json()) as { status: string; error?: string; data?: { result: PromSample[] } };
    if (body.status !== "success") throw new Error(`PromQL ${promql} failed: ${body.error ?? response.status}`);
    return body.data?.result ?? [];
  }

  /** Scrape targets as Prometheus sees them (health "up"/"down", last error). */
  async targets(): Promise<Array<{ health: string; lastError: string; scrapeUrl: string }>> {
    const response = await fetch(`${this.url}/api/v1/targets`);
    const body = (await response.json()) as { data: { activeTargets: Array<{ health: string; lastError: string; scrapeUrl: string }> } };
    return body.data.activeTargets;
  }

  async stop(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.process.once("exit", () => resolve()));
      this.process.kill("SIGTERM");
      const timer = setTimeout(() => this.process.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.workDir, { recursive: true, force: true });
  }
}

export interface StartPrometheusOptions {
  targets: ScrapeTarget[];
  scrapeIntervalSeconds?: number;
  readyTimeoutMs?: number;
}

/** Starts Prometheus on 127.0.0.1 (a free port) scraping the given targets; resolves once /-/ready answers. */
export async function startPrometheus(options: StartPrometheusOptions): Promise<PrometheusInstance> {
  const binary = ensurePrometheus();
  const interval = `${options.scrapeIntervalSeconds ?? 1}s`;
  const config = [
    "global:",
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    "scrape_configs:",
    ...options.targets.flatMap((target) => [
      `  - job_name: ${JSON.stringify(target.job)}`,
      `    metrics_path: ${JSON.stringify(target.metricsPath)}`,
      `    scrape_timeout: ${interval}`,
      "    static_configs:",
      `      - targets: [${JSON.stringify(target.address)}]`,
    ]),
  ].join("\n") + "\n";
  // The port is chosen free, then bound by Prometheus: another process can take it in between, so retry.
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await launch(binary, config, options.readyTimeoutMs ?? 60_000);
    } catch (error) {
      lastError = error as Error;
      if (!/address already in use/.test(lastError.message)) throw lastError;
    }
  }
  throw lastError;
}

async function launch(binary: string, config: string, readyTimeoutMs: number): Promise<PrometheusInstance> {
  const workDir = mkdtempSync(join(tmpdir(), "as-mesh-prometheus-"));
  const configPath = join(workDir, "prometheus.yml");
  writeFileSync(configPath, config);
  const port = await freePort();
  const child = spawn(binary, [
    `--config.file=${configPath}`,
    `--storage.tsdb.path=${join(workDir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=warn",
  ], { stdio: ["ignore", "pipe", "pipe"] });
  const instance = new PrometheusInstance(child, `http://127.0.0.1:${port}`, workDir);
  const deadline = Date.now() + readyTimeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      const tailText = instance.logTail();
      await instance.stop();
      throw new Error(`prometheus exited during start-up:\n${tailText}`);
    }
    try {
      if ((await fetch(`${instance.url}/-/ready`)).status === 200) return instance;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const tailText = instance.logTail();
  await instance.stop();
  throw new Error(`prometheus was not ready after ${readyTimeoutMs} ms:\n${tailText}`);
}

// ---- the text exposition format (what Envoy's /stats/prometheus serves) ----

export interface ExpositionSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const METRIC_NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
const SAMPLE_LINE = new RegExp(`^(${METRIC_NAME})(?:\\{(${LABEL}(?:,${LABEL})*)?,?\\})? (\\S+)(?: -?\\d+)?$`);
const COMMENT_LINE = new RegExp(`^# (?:TYPE ${METRIC_NAME} (?:counter|gauge|histogram|summary|untyped)|HELP ${METRIC_NAME} .*)$`);
const FLOAT = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$/;

function unescapeLabelValue(value: string): string {
  return value.replace(/\\(.)/g, (_match, char: string) => (char === "n" ? "\n" : char));
}

/**
 * Parses the text exposition format strictly: every line must be a sample, a TYPE/HELP comment or empty, or this
 * throws naming the line. Label values are unescaped.
 */
export function parseExposition(text: string): ExpositionSample[] {
  const samples: ExpositionSample[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === "" || COMMENT_LINE.test(line)) continue;
    const match = SAMPLE_LINE.exec(line);
    if (!match || !FLOAT.test(match[3])) {
      throw new Error(`line ${i + 1} is not valid Prometheus text exposition: ${JSON.stringify(line.slice(0, 300))}`);
    }
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? "").matchAll(new RegExp(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"`, "g"))) {
      labels[label[1]] = unescapeLabelValue(label[2]);
    }
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** Samples of a metric whose labels include all of `labels`. */
export function samplesOf(samples: ExpositionSample[], name: string, labels: Record<string, string> = {}): ExpositionSample[] {
  return samples.filter((sample) => sample.name === name &&
    Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
}
