// The parent side of fleet_worker.ts: a child process holding N simulated ADS clients, and the messages between them.
import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ConvergenceResult } from "../../control/xds/index.ts";

export type FleetProtocol = "sotw" | "delta" | "mix";

export type FleetCommand =
  | { type: "start"; address: string; count: number; services: number; protocol: FleetProtocol; streamsPerChannel: number; timeoutMs: number; firstIndex?: number }
  | { type: "measure"; quietMs: number; timeoutMs: number }
  | { type: "changed" }
  | { type: "close" };

export type FleetReply =
  | { type: "started"; ms: number }
  | { type: "change" }
  | { type: "measured"; results: Array<{ protocol: "sotw" | "delta"; result: ConvergenceResult }> }
  | { type: "error"; message: string };

export class FleetProcess {
  private readonly child: ChildProcess;
  private output = "";
  private exited = false;

  /** `cpuProfileDir`: write the simulated proxies' CPU profile there when the process exits (node --cpu-prof). */
  constructor(cpuProfileDir?: string) {
    const profile = cpuProfileDir ? ["--cpu-prof", "--cpu-prof-dir", join(cpuProfileDir, "fleet")] : [];
    this.child = fork(fileURLToPath(new URL("./fleet_worker.ts", import.meta.url)), [], {
      // A 64 MiB young generation: each response a simulated proxy reads is assembled into a fresh buffer and dies at
      // once, and with the default semi-space the scavenges this forces took a third of the simulator's CPU.
      execArgv: ["--import", "tsx", "--max-semi-space-size=64", ...profile],
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    const collect = (chunk: Buffer) => { this.output = (this.output + chunk.toString("utf8")).slice(-20_000); };
    this.child.stdout?.on("data", collect);
    this.child.stderr?.on("data", collect);
    this.child.once("exit", () => { this.exited = true; });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  private next<T extends FleetReply["type"]>(type: T, onChange?: () => Promise<void>): Promise<Extract<FleetReply, { type: T }>> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: FleetReply) => {
        if (message.type === "change" && onChange) {
          onChange().then(() => this.send({ type: "changed" }), (error: unknown) => { cleanup(); reject(error); });
        } else if (message.type === "error") {
          cleanup();
          reject(new Error(`simulated fleet failed: ${message.message}`));
        } else if (message.type === type) {
          cleanup();
          resolve(message as Extract<FleetReply, { type: T }>);
        }
      };
      const onExit = () => { cleanup(); reject(new Error(`the simulated fleet exited:\n${this.output}`)); };
      const cleanup = () => { this.child.off("message", onMessage); this.child.off("exit", onExit); };
      this.child.on("message", onMessage);
      this.child.once("exit", onExit);
    });
  }

  private send(command: FleetCommand): void {
    this.child.send(command);
  }

  /** Connects every simulated proxy; resolves once each has its config and the fleet has been quiet for 1 s. */
  async start(options: Omit<Extract<FleetCommand, { type: "start" }>, "type">): Promise<number> {
    const started = this.next("started");
    this.send({ type: "start", ...options });
    return (await started).ms;
  }

  /** Runs `change` at the instant the fleet starts its clocks; returns what each fleet (SotW, delta) saw. */
  async measure(change: () => Promise<void>, quietMs: number, timeoutMs: number): Promise<Extract<FleetReply, { type: "measured" }>["results"]> {
    const measured = this.next("measured", change);
    this.send({ type: "measure", quietMs, timeoutMs });
    return (await measured).results;
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    if (this.child.connected) this.send({ type: "close" });
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}
