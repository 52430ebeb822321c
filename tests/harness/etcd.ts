// Control replicas on a shared etcd for end-to-end tests: `as-mesh control --etcd` as its own process (so a test can
// kill it), sidecars whose bootstrap lists every replica, and a steady request load that counts failures.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { sidecarBootstrap } from "../../control/translate/index.ts";
import { projectRoot } from "../../scripts/tools.ts";
import { startEnvoy, type EnvoyInstance } from "./envoy.ts";
import { freePort, get, sleep, type ControlEndpoints, type WorkloadOptions } from "./control_mesh.ts";

export class ControlReplica {
  private child: ChildProcess | null = null;
  output = "";

  private constructor(readonly name: string, readonly etcd: string, readonly xdsPort: number, readonly httpPort: number, readonly extraArgs: string[]) {}

  static async create(name: string, etcd: string, extraArgs: string[] = []): Promise<ControlReplica> {
    return new ControlReplica(name, etcd, await freePort(), await freePort(), extraArgs);
  }

  get endpoints(): ControlEndpoints {
    return {
      xds: { host: "127.0.0.1", port: this.xdsPort },
      http: { host: "127.0.0.1", port: this.httpPort },
      adminUrl: `http://127.0.0.1:${this.httpPort}`,
    };
  }

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    this.child = spawn(process.execPath, [
      "--import", "tsx", join(projectRoot, "control", "cli.ts"), "control",
      "--etcd", this.etcd, "--xds", `127.0.0.1:${this.xdsPort}`, "--admin", `127.0.0.1:${this.httpPort}`,
      "--wasm-dir", join(projectRoot, "build"), "--log-level", "info", ...this.extraArgs,
    ], { cwd: projectRoot, stdio: ["ignore", "pipe", "pipe"] });
    const collect = (chunk: Buffer) => { this.output += chunk.toString("utf8"); };
    this.child.stdout?.on("data", collect);
    this.child.stderr?.on("data", collect);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (!this.running()) throw new Error(`control replica ${this.name} exited:\n${this.output}`);
      try {
        if ((await fetch(`${this.endpoints.adminUrl}/ready`)).status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(`control replica ${this.name} was not ready in 60 s:\n${this.output}`);
  }

  /** SIGKILL: a crash, with no goodbye to etcd or the Envoys. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running()) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await exited;
  }
}

/** A sidecar whose bootstrap lists every replica: Envoy's ADS cluster fails over between them. */
export async function startReplicatedProxy(replicas: readonly ControlReplica[], options: WorkloadOptions): Promise<EnvoyInstance> {
  const config = sidecarBootstrap({
    listenPorts: { "*": 0 },
    adminPort: 0,
    ...options,
    control: replicas.map((replica) => replica.endpoints.xds),
    controlHttp: replicas[0]!.endpoints.http,
  });
  return startEnvoy({ config: config as never, readyTimeoutMs: 60_000 });
}

export interface LoadResult {
  sent: number;
  failed: number;
  failures: string[];
  bodies: Map<string, number>;
  ratePerSecond: number;
}

/** Steady GETs from `concurrency` loops until stop() is called; every non-200 or transport error is counted. */
export function startLoad(url: string, headers: Record<string, string>, concurrency = 8): { stop(): Promise<LoadResult> } {
  let running = true;
  const result: LoadResult = { sent: 0, failed: 0, failures: [], bodies: new Map(), ratePerSecond: 0 };
  const started = Date.now();
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      result.sent++;
      try {
        const answer = await get(url, headers, 5000);
        if (answer.status !== 200) {
          result.failed++;
          if (result.failures.length < 10) result.failures.push(`${answer.status} ${answer.body.slice(0, 100)}`);
        } else {
          result.bodies.set(answer.body, (result.bodies.get(answer.body) ?? 0) + 1);
        }
      } catch (error) {
        result.failed++;
        if (result.failures.length < 10) result.failures.push((error as Error).message);
      }
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      result.ratePerSecond = result.sent / ((Date.now() - started) / 1000);
      return result;
    },
  };
}
