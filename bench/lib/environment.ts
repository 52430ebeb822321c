// The machine and tool versions a benchmark ran with, stored next to the numbers.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, release, totalmem } from "node:os";
import { projectRoot } from "../../scripts/tools.ts";
import type { Pinning } from "./process_stats.ts";

export interface Environment {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  kernel: string;
  envoyVersion: string;
  k6Version: string;
  node: string;
  gitCommit: string;
  pinning: Pinning;
}

function firstLine(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8", cwd: projectRoot });
  return (result.stdout ?? "").trim().split("\n")[0] ?? "";
}

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    return match ? match[1].trim() : "unknown";
  } catch {
    return "unknown";
  }
}

export function describeEnvironment(envoy: string, k6: string, pinning: Pinning): Environment {
  const commit = firstLine("git", ["rev-parse", "--short", "HEAD"]);
  const dirty = spawnSync("git", ["status", "--porcelain", "--untracked-files=no"], { encoding: "utf8", cwd: projectRoot }).stdout.trim();
  return {
    cpuModel: cpuModel(),
    cores: availableParallelism(),
    memoryBytes: totalmem(),
    kernel: release(),
    envoyVersion: firstLine(envoy, ["--version"]).replace(/^.*version:\s*/, ""),
    k6Version: firstLine(k6, ["version"]),
    node: process.version,
    gitCommit: commit + (dirty ? " (with uncommitted changes)" : ""),
    pinning,
  };
}
