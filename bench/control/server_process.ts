// `as-mesh control` as its own process, with its pid for /proc sampling and, on request, Node's CPU profiler.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { projectRoot } from "../../scripts/tools.ts";
import { freePort, type ControlEndpoints } from "../../tests/harness/control_mesh.ts";

export interface ServerProcessOptions {
  configDir: string;
  /** Write a .cpuprofile here when the server exits (node --cpu-prof). */
  cpuProfileDir?: string;
  logLevel?: string;
  /** Extra Node flags for the server (e.g. --heapsnapshot-signal=SIGUSR2 when looking for memory). */
  nodeArgs?: string[];
}

export class ServerProcess {
  private child: ChildProcess | null = null;
  private output = "";
  endpoints!: ControlEndpoints;

  constructor(private readonly options: ServerProcessOptions) {}

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  /** The last lines the server wrote (for errors). */
  get log(): string {
    return this.output;
  }

  async start(): Promise<void> {
    const xdsPort = await freePort();
    const httpPort = await freePort();
    this.endpoints = {
      xds: { host: "127.0.0.1", port: xdsPort },
      http: { host: "127.0.0.1", port: httpPort },
      adminUrl: `http://127.0.0.1:${httpPort}`,
    };
    const profile = this.options.cpuProfileDir ? ["--cpu-prof", "--cpu-prof-dir", this.options.cpuProfileDir] : [];
    this.child = spawn(process.execPath, [
      ...profile, ...(this.options.nodeArgs ?? []), "--import", "tsx", join(projectRoot, "control", "cli.ts"), "control",
      "--config", this.options.configDir, "--xds", `127.0.0.1:${xdsPort}`, "--admin", `127.0.0.1:${httpPort}`,
      "--wasm-dir", join(projectRoot, "build"), "--log-level", this.options.logLevel ?? process.env.BENCH_SERVER_LOG_LEVEL ?? "warn", "--startup-grace", "0",
    ], { cwd: projectRoot, stdio: ["ignore", "pipe", "pipe"] });
    const collect = (chunk: Buffer) => { this.output = (this.output + chunk.toString("utf8")).slice(-20_000); };
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
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`as-mesh control was not ready in 60 s:\n${this.output}`);
  }

  async metrics(): Promise<string> {
    return (await fetch(`${this.endpoints.adminUrl}/metrics`)).text();
  }

  /** SIGINT (so a CPU profile is written), SIGKILL after 30 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGINT");
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(timer);
  }
}
