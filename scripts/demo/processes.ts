// The demo's child processes: each one started with a name, its output kept in a log file under the run's
// directory (and its tail in memory, to show when something fails), stopped with SIGTERM then SIGKILL. A
// ProcessGroup stops everything it started, in reverse order, whatever happened.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { join } from "node:path";

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** Resolves true once the process is serving (polled every 100 ms until timeoutMs). */
  ready?: () => Promise<boolean>;
  /** Or: ready once a line of its output matches (for a process not reachable from here, e.g. bound to a namespace's loopback). */
  readyLine?: RegExp;
  timeoutMs?: number;
}

export class ManagedProcess {
  private tail: string[] = [];
  private exit: { code: number | null; signal: string | null } | null = null;

  constructor(readonly name: string, readonly child: ChildProcess, readonly logPath: string, log: WriteStream) {
    const collect = (chunk: Buffer) => {
      log.write(chunk);
      this.tail.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      if (this.tail.length > 200) this.tail = this.tail.slice(-100);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    child.on("exit", (code, signal) => {
      this.exit = { code, signal };
      log.end();
    });
  }

  get exited(): boolean {
    return this.exit !== null;
  }

  hasLogged(pattern: RegExp): boolean {
    return this.tail.some((line) => pattern.test(line));
  }

  logTail(lines = 20): string {
    return this.tail.slice(-lines).join("\n");
  }

  describeExit(): string {
    return this.exit ? `exited with ${this.exit.signal ?? `code ${this.exit.code}`}` : "running";
  }

  async stop(graceMs = 5000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

export class ProcessStartError extends Error {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ProcessGroup {
  readonly processes: ManagedProcess[] = [];

  constructor(readonly logDir: string) {}

  async start(options: StartOptions): Promise<ManagedProcess> {
    const logPath = join(this.logDir, `${options.name}.log`);
    const log = createWriteStream(logPath);
    const child = spawn(options.command, options.args, {
      env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"],
    });
    const managed = new ManagedProcess(options.name, child, logPath, log);
    this.processes.push(managed);
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", () => resolve());
      child.once("error", (error) => reject(new ProcessStartError(`${options.name}: ${error.message}`)));
    });
    const ready = options.ready ?? (options.readyLine ? async () => managed.hasLogged(options.readyLine as RegExp) : undefined);
    if (!ready) return managed;
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    while (Date.now() < deadline) {
      if (managed.exited) {
        throw new ProcessStartError(`${options.name} ${managed.describeExit()} during start-up:\n${managed.logTail()}`);
      }
      if (await ready().catch(() => false)) return managed;
      await sleep(100);
    }
    throw new ProcessStartError(`${options.name} was not ready after ${options.timeoutMs ?? 30_000} ms:\n${managed.logTail()}`);
  }

  /** Processes that stopped on their own: a mesh with one of these is broken. */
  casualties(): ManagedProcess[] {
    return this.processes.filter((p) => p.exited);
  }

  async stopAll(): Promise<void> {
    for (const managed of [...this.processes].reverse()) await managed.stop();
  }

  /** Last resort on process exit: SIGKILL whatever is still running (synchronous, no waiting). */
  killAllNow(): void {
    for (const managed of this.processes) if (!managed.exited) managed.child.kill("SIGKILL");
  }
}

/** true when `url` answers with a status below 500 (any HTTP answer means it is listening). */
export async function answers(url: string, expectStatus?: number): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await response.arrayBuffer();
    return expectStatus === undefined ? response.status < 500 : response.status === expectStatus;
  } catch {
    return false;
  }
}
