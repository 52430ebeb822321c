// The parent side of a simulated fleet: a child process holding N simulated ADS clients, and the messages between
// them. Two engines speak the same messages: "go" (bench/xdsfleet, JSON lines over stdin/stdout), which reads a
// response for a fraction of the CPU a Node.js gRPC client needs, as Envoy's C++ client does, and so leaves the
// shared cores to the control service being measured; and "node" (fleet_worker.ts over the IPC channel), the
// TypeScript fleet the tests use.
import { fork, spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { ConvergenceResult } from "../../control/xds/index.ts";
import { ensureXdsFleet } from "../../scripts/tools.ts";
import { simulatedSidecarNode } from "./mesh.ts";

export type FleetProtocol = "sotw" | "delta" | "mix";
export type FleetEngine = "go" | "node";
export const FLEET_ENGINES: readonly FleetEngine[] = ["go", "node"];

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

/** How a fleet of `count` splits over the protocols: with "mix", the first half SotW, the rest delta. */
export function splitFleet(count: number, protocol: FleetProtocol): Array<{ protocol: "sotw" | "delta"; count: number; first: number }> {
  if (protocol !== "mix") return [{ protocol, count, first: 0 }];
  const sotw = Math.ceil(count / 2);
  return [{ protocol: "sotw", count: sotw, first: 0 }, { protocol: "delta", count: count - sotw, first: sotw }];
}

/** The start command as the Go fleet takes it: every proxy's node spelled out. */
function goStartCommand(command: Extract<FleetCommand, { type: "start" }>): object {
  const proxies = splitFleet(command.count, command.protocol).flatMap((part) =>
    Array.from({ length: part.count }, (_, index) => ({
      protocol: part.protocol,
      // Distinct node ids and addresses across the fleet processes of one run.
      node: { cluster: "", ...simulatedSidecarNode((command.firstIndex ?? 0) + part.first + index, command.services) },
    })));
  return { type: "start", address: command.address, proxies, streamsPerChannel: command.streamsPerChannel, timeoutMs: command.timeoutMs, quietMs: 1000 };
}

export class FleetProcess {
  private readonly child: ChildProcess;
  private readonly engine: FleetEngine;
  private readonly listeners = new Set<(message: FleetReply) => void>();
  private output = "";
  private exited = false;

  /** `cpuProfileDir` (node engine): write the simulated proxies' CPU profile there when the process exits. */
  constructor(options: { engine?: FleetEngine; cpuProfileDir?: string } = {}) {
    this.engine = options.engine ?? "go";
    const collect = (chunk: Buffer) => { this.output = (this.output + chunk.toString("utf8")).slice(-20_000); };
    if (this.engine === "go") {
      this.child = spawn(ensureXdsFleet(), [], { stdio: ["pipe", "pipe", "pipe"] });
      createInterface({ input: this.child.stdout! }).on("line", (line) => {
        let message: FleetReply;
        try {
          message = JSON.parse(line) as FleetReply;
        } catch {
          collect(Buffer.from(`${line}\n`));
          return;
        }
        for (const listener of [...this.listeners]) listener(message);
      });
    } else {
      const profile = options.cpuProfileDir ? ["--cpu-prof", "--cpu-prof-dir", join(options.cpuProfileDir, "fleet")] : [];
      this.child = fork(fileURLToPath(new URL("./fleet_worker.ts", import.meta.url)), [], {
        // A 64 MiB young generation: each response a simulated proxy reads is assembled into a fresh buffer and dies
        // at once, and with the default semi-space the scavenges this forces took a third of the simulator's CPU.
        execArgv: ["--import", "tsx", "--max-semi-space-size=64", ...profile],
        stdio: ["ignore", "pipe", "pipe", "ipc"],
      });
      this.child.stdout?.on("data", collect);
      this.child.on("message", (message: FleetReply) => { for (const listener of [...this.listeners]) listener(message); });
    }
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
      const cleanup = () => { this.listeners.delete(onMessage); this.child.off("exit", onExit); };
      this.listeners.add(onMessage);
      this.child.once("exit", onExit);
    });
  }

  private send(command: FleetCommand): void {
    if (this.engine === "node") this.child.send(command);
    else this.child.stdin!.write(`${JSON.stringify(command.type === "start" ? goStartCommand(command) : command)}\n`);
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
    if (this.engine === "go" ? this.child.stdin?.writable : this.child.connected) this.send({ type: "close" });
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}
