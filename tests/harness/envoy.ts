// Starts a real Envoy for a test: writes the bootstrap, runs the binary on loopback ephemeral ports with its own
// base id, waits for admin /ready, and reports the bound listener URLs. When Envoy refuses the configuration (a
// .wasm that fails to load, a plugin configuration the filter rejects) it exits; the error thrown then carries
// Envoy's own messages instead of a timeout.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureEnvoy } from "../../scripts/tools.ts";
import type { Json } from "../../envoy/bootstrap.ts";

export interface StartEnvoyOptions {
  config: Json;
  concurrency?: number;
  logLevel?: "trace" | "debug" | "info" | "warning" | "error";
  /** e.g. "wasm:debug" */
  componentLogLevel?: string;
  readyTimeoutMs?: number;
  extraArgs?: string[];
}

export class EnvoyStartError extends Error {}

export class EnvoyInstance {
  private output = "";
  private exited: { code: number | null; signal: string | null } | null = null;
  readonly listeners = new Map<string, string>();
  adminUrl = "";

  constructor(readonly process: ChildProcess, readonly workDir: string) {
    const collect = (chunk: Buffer) => {
      this.output += chunk.toString("utf8");
      if (this.output.length > 4_000_000) this.output = this.output.slice(-2_000_000);
    };
    process.stdout?.on("data", collect);
    process.stderr?.on("data", collect);
    process.on("exit", (code, signal) => { this.exited = { code, signal }; });
  }

  get log(): string {
    return this.output;
  }

  get hasExited(): boolean {
    return this.exited !== null;
  }

  logTail(lines = 60): string {
    return this.output.trimEnd().split("\n").slice(-lines).join("\n");
  }

  /** Lines Envoy logged at error or critical level, and filters' own warnings: what to show when start-up fails. */
  errorLines(): string[] {
    return this.output.split("\n").filter((line) => /\]\[(critical|error)\]|\]\[warning\]\[wasm\]/.test(line));
  }

  /** URL of a listener by name (the only one when name is omitted). */
  url(name?: string): string {
    if (name === undefined) {
      if (this.listeners.size !== 1) throw new Error(`Envoy has ${this.listeners.size} listeners; name one`);
      return [...this.listeners.values()][0];
    }
    const found = this.listeners.get(name);
    if (!found) throw new Error(`no listener named ${name} (have: ${[...this.listeners.keys()].join(", ")})`);
    return found;
  }

  async admin(path: string): Promise<string> {
    const response = await fetch(this.adminUrl + path);
    return response.text();
  }

  /** Counters and gauges from /stats as a name → value map (histograms omitted). */
  async stats(filter?: string): Promise<Map<string, number>> {
    const text = await this.admin("/stats" + (filter ? `?filter=${encodeURIComponent(filter)}` : ""));
    const result = new Map<string, number>();
    for (const line of text.split("\n")) {
      const match = /^(\S+): (\d+)$/.exec(line);
      if (match) result.set(match[1], Number(match[2]));
    }
    return result;
  }

  async stop(): Promise<void> {
    if (!this.exited) {
      const exited = new Promise<void>((resolve) => this.process.once("exit", () => resolve()));
      this.process.kill("SIGTERM");
      const timer = setTimeout(() => this.process.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.workDir, { recursive: true, force: true });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startEnvoy(options: StartEnvoyOptions): Promise<EnvoyInstance> {
  const binary = ensureEnvoy();
  const workDir = mkdtempSync(join(tmpdir(), "as-mesh-envoy-"));
  const configPath = join(workDir, "envoy.json");
  const adminAddressPath = join(workDir, "admin-address");
  writeFileSync(configPath, JSON.stringify(options.config, null, 2));
  const args = [
    "-c", configPath,
    "--disable-hot-restart", "--use-dynamic-base-id",
    "--concurrency", String(options.concurrency ?? 1),
    "--admin-address-path", adminAddressPath,
    "--log-level", options.logLevel ?? "info",
    ...(options.componentLogLevel ? ["--component-log-level", options.componentLogLevel] : []),
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  const envoy = new EnvoyInstance(child, workDir);
  try {
    await waitUntilReady(envoy, adminAddressPath, options.readyTimeoutMs ?? 30_000);
  } catch (error) {
    await envoy.stop();
    throw error;
  }
  return envoy;
}

async function waitUntilReady(envoy: EnvoyInstance, adminAddressPath: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (envoy.hasExited) {
      const errors = envoy.errorLines();
      throw new EnvoyStartError(
        "Envoy exited during start-up" +
        (errors.length ? ":\n" + errors.join("\n") : "; log tail:\n" + envoy.logTail(30)));
    }
    if (!envoy.adminUrl && existsSync(adminAddressPath)) {
      const address = readFileSync(adminAddressPath, "utf8").trim();
      if (address) envoy.adminUrl = `http://${address}`;
    }
    if (envoy.adminUrl) {
      try {
        const response = await fetch(envoy.adminUrl + "/ready");
        if (response.status === 200) {
          await readListeners(envoy);
          return;
        }
      } catch {
        // admin not accepting yet
      }
    }
    await sleep(50);
  }
  throw new EnvoyStartError(`Envoy was not ready after ${timeoutMs} ms; log tail:\n${envoy.logTail(30)}`);
}

interface ListenerStatus {
  name: string;
  local_address?: { socket_address?: { address: string; port_value: number } };
}

async function readListeners(envoy: EnvoyInstance): Promise<void> {
  const body = JSON.parse(await envoy.admin("/listeners?format=json")) as { listener_statuses?: ListenerStatus[] };
  for (const status of body.listener_statuses ?? []) {
    const socket = status.local_address?.socket_address;
    if (socket) envoy.listeners.set(status.name, `http://${socket.address}:${socket.port_value}`);
  }
}

/**
 * Wraps a test body so that a failure also shows what Envoy logged: the thrown error's message gets the log tail.
 */
export function withEnvoyLog<T>(getEnvoy: () => EnvoyInstance | undefined, body: () => Promise<T>): () => Promise<T> {
  return async () => {
    try {
      return await body();
    } catch (error) {
      const envoy = getEnvoy();
      if (envoy && error instanceof Error) {
        error.message += `\n--- Envoy log tail ---\n${envoy.logTail(40)}`;
      }
      throw error;
    }
  };
}
