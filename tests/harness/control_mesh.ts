// A mesh for end-to-end tests: the real control service (in this process, or as the `as-mesh control` command)
// over a temporary folder of mesh YAML, and real Envoys started from `as-mesh bootstrap`'s builder. Workloads get
// their own loopback addresses (127.0.x.y), so inbound listeners on the same service port do not collide; the
// outbound listeners bind kernel-chosen ports, read back from Envoy's admin API.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { ControlService } from "../../control/server.ts";
import type { GatewayCredentials } from "../../control/credentials.ts";
import type { CertificateRecords } from "../../control/ca/workload_status.ts";
import { FolderStore } from "../../control/store/index.ts";
import { loadWasmModules } from "../../control/admin/wasm_modules.ts";
import { sidecarBootstrap, type SidecarBootstrapOptions } from "../../control/translate/index.ts";
import type { ProxySyncStatus } from "../../control/xds/index.ts";
import { projectRoot } from "../../scripts/tools.ts";
import { startEnvoy, type EnvoyInstance } from "./envoy.ts";

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A folder of mesh YAML that tests edit the way an operator would. */
export class MeshFolder {
  readonly dir = mkdtempSync(join(tmpdir(), "as-mesh-config-"));

  write(file: string, yaml: string): void {
    // Write then rename, as editors do, so the store never reads half a file.
    const temporary = join(this.dir, `.${file}.tmp`);
    writeFileSync(temporary, yaml);
    renameSync(temporary, join(this.dir, file));
  }

  remove(file: string): void {
    rmSync(join(this.dir, file), { force: true });
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface ControlEndpoints {
  xds: { host: string; port: number };
  http: { host: string; port: number };
  adminUrl: string;
}

/** The control service in this process, on ephemeral loopback ports. */
export async function startControlInProcess(
  folder: MeshFolder, options: { debounceMs?: number; certificates?: CertificateRecords; gatewayCredentials?: GatewayCredentials } = {},
): Promise<{ service: ControlService; endpoints: ControlEndpoints }> {
  const service = new ControlService({
    store: new FolderStore(folder.dir, { debounceMs: 20, resyncIntervalMs: 1000 }),
    xdsAddress: "127.0.0.1:0",
    adminAddress: "127.0.0.1:0",
    wasmModules: loadWasmModules(join(projectRoot, "build"), ["jwt-auth", "rate-limit", "metrics"]),
    debounce: { quietMs: options.debounceMs ?? 50, maxMs: 2000 },
    startupGraceMs: 0,
    certificates: options.certificates,
    gatewayCredentials: options.gatewayCredentials,
    logger: pino({ level: process.env.CONTROL_TEST_LOG_LEVEL ?? "silent" }),
  });
  await service.start();
  const adminPort = Number(new URL(service.adminUrl).port);
  return {
    service,
    endpoints: { xds: { host: "127.0.0.1", port: service.xdsPort }, http: { host: "127.0.0.1", port: adminPort }, adminUrl: service.adminUrl },
  };
}

/** A free loopback port (for a control service that must come back on the same address). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `as-mesh control` as its own process, so a test can kill it. */
export class ControlProcess {
  private child: ChildProcess | null = null;
  output = "";

  constructor(readonly folder: MeshFolder, readonly xdsPort: number, readonly httpPort: number) {}

  get endpoints(): ControlEndpoints {
    return {
      xds: { host: "127.0.0.1", port: this.xdsPort },
      http: { host: "127.0.0.1", port: this.httpPort },
      adminUrl: `http://127.0.0.1:${this.httpPort}`,
    };
  }

  async start(): Promise<void> {
    this.child = spawn(process.execPath, [
      "--import", "tsx", join(projectRoot, "control", "cli.ts"), "control",
      "--config", this.folder.dir, "--xds", `127.0.0.1:${this.xdsPort}`, "--admin", `127.0.0.1:${this.httpPort}`,
      "--wasm-dir", join(projectRoot, "build"), "--log-level", "info",
    ], { cwd: projectRoot, stdio: ["ignore", "pipe", "pipe"] });
    const collect = (chunk: Buffer) => { this.output += chunk.toString("utf8"); };
    this.child.stdout?.on("data", collect);
    this.child.stderr?.on("data", collect);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`as-mesh control exited:\n${this.output}`);
      try {
        if ((await fetch(`${this.endpoints.adminUrl}/ready`)).status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(`as-mesh control was not ready in 60 s:\n${this.output}`);
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await exited;
  }
}

export interface WorkloadOptions extends Omit<SidecarBootstrapOptions, "control" | "controlHttp"> {
  delta?: boolean;
}

/** An Envoy from the sidecar bootstrap, connected to the control service; ready once its first config arrived. */
export async function startProxy(control: ControlEndpoints, options: WorkloadOptions): Promise<EnvoyInstance> {
  const config = sidecarBootstrap({
    listenPorts: { "*": 0 },
    adminPort: 0,
    ...options,
    control: [control.xds],
    controlHttp: control.http,
  });
  return startEnvoy({ config: config as never, readyTimeoutMs: 60_000 });
}

/** Envoy's listeners again (the set changes as config arrives). */
export async function refreshListeners(envoy: EnvoyInstance): Promise<void> {
  const body = JSON.parse(await envoy.admin("/listeners?format=json")) as {
    listener_statuses?: Array<{ name: string; local_address?: { socket_address?: { address: string; port_value: number } } }>;
  };
  for (const status of body.listener_statuses ?? []) {
    const socket = status.local_address?.socket_address;
    if (socket) envoy.listeners.set(status.name, `http://${socket.address}:${socket.port_value}`);
  }
}

export interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** A GET with a Host header of the test's choosing (fetch does not let a caller set Host). */
export function get(url: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { headers, agent: false, timeout: timeoutMs }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), headers: response.headers }));
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on("error", reject);
    request.end();
  });
}

export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting until ${what}${lastError ? ` (last error: ${String(lastError)})` : ""}`);
}

export async function syncStatus(control: ControlEndpoints): Promise<ProxySyncStatus[]> {
  return (await (await fetch(`${control.adminUrl}/debug/syncz`)).json()) as ProxySyncStatus[];
}
