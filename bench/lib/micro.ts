// Runs the filters' host-emulator micro-benchmarks, bench/micro/<filter>.ts, from the bench command. Each exports
// `default async function run({ iterations }) → [{ case, nsPerOp, targetNs? }]` (ns per callback path).
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { projectRoot } from "../../scripts/tools.ts";

export interface MicroResult {
  filter: string;
  case: string;
  nsPerOp: number;
  targetNs?: number;
}

export interface MicroReport {
  results: MicroResult[];
  /** Benchmarks that failed to run, with the error. */
  failures: Array<{ filter: string; error: string }>;
}

type MicroRun = (options: { iterations?: number }) => Promise<Array<{ case: string; nsPerOp: number; targetNs?: number }>>;

export const microDir = join(projectRoot, "bench", "micro");

export function listMicroBenchmarks(): string[] {
  if (!existsSync(microDir)) return [];
  return readdirSync(microDir).filter((name) => name.endsWith(".ts")).map((name) => name.slice(0, -3)).sort();
}

export async function runMicroBenchmarks(iterations?: number, log: (line: string) => void = () => {}): Promise<MicroReport> {
  const report: MicroReport = { results: [], failures: [] };
  for (const filter of listMicroBenchmarks()) {
    log(`micro-benchmark ${filter} ...`);
    try {
      const module = (await import(pathToFileURL(join(microDir, `${filter}.ts`)).href)) as { default?: MicroRun };
      if (typeof module.default !== "function") throw new Error("has no default export run()");
      const rows = await module.default(iterations === undefined ? {} : { iterations });
      for (const row of rows) {
        if (typeof row.case !== "string" || !Number.isFinite(row.nsPerOp)) throw new Error(`returned a malformed row: ${JSON.stringify(row)}`);
        report.results.push({ filter, case: row.case, nsPerOp: row.nsPerOp, targetNs: row.targetNs });
      }
    } catch (error) {
      report.failures.push({ filter, error: error instanceof Error ? error.message.split("\n")[0] : String(error) });
    }
  }
  return report;
}
