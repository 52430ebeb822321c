// What the benchmark reads about a running Envoy from Linux: resident memory, CPU time over all its threads (so a
// phase's CPU per request can be computed), and CPU pinning with taskset.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

export interface MemorySample {
  /** Resident set size, /proc/<pid>/status VmRSS. */
  rssBytes: number;
  /** Peak resident set size so far, VmHWM. */
  peakRssBytes: number;
}

export function readMemory(pid: number): MemorySample {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  };
  return { rssBytes: kib("VmRSS"), peakRssBytes: kib("VmHWM") };
}

/**
 * CPU time the process has used so far, in nanoseconds, summed over its threads: /proc/<pid>/task/<tid>/schedstat
 * counts on-CPU time in ns (utime/stime only have clock-tick resolution). Threads that already exited are lost,
 * which is fine for Envoy, whose threads live as long as it does.
 */
export function readCpuNanos(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread exited between listing and reading
    }
  }
  return total;
}

export interface Pinning {
  /** Core Envoy runs on, or null when not pinned. */
  envoyCore: number | null;
  /** Core k6 (and the loopback upstream) run on, or null. */
  loadCore: number | null;
  /** Why there is no pinning, when there is none. */
  reason?: string;
}

export function hasTaskset(): boolean {
  return spawnSync("taskset", ["--version"], { encoding: "utf8" }).status === 0;
}

/** Envoy on core 0 and the load generator on core 1, when the machine has two cores and taskset. */
export function choosePinning(enabled: boolean): Pinning {
  if (!enabled) return { envoyCore: null, loadCore: null, reason: "disabled (--no-pin)" };
  if (!hasTaskset()) return { envoyCore: null, loadCore: null, reason: "taskset is not installed" };
  if (availableParallelism() < 2) return { envoyCore: null, loadCore: null, reason: "fewer than two cores" };
  return { envoyCore: 0, loadCore: 1 };
}

/** Moves every thread of a running process onto one core (threads it starts later inherit the affinity). */
export function pinProcess(pid: number, core: number): void {
  const result = spawnSync("taskset", ["--all-tasks", "--cpu-list", "--pid", String(core), String(pid)], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`taskset could not pin pid ${pid} to core ${core}: ${result.stderr.trim()}`);
}

/** The command prefix that starts a program on a core, or nothing. */
export function pinnedCommand(core: number | null, command: string, args: string[]): [string, string[]] {
  if (core === null) return [command, args];
  return ["taskset", ["--cpu-list", String(core), command, ...args]];
}
