// From the runs of each variant to the numbers the report shows: medians over repeats, and the cost a filter adds
// over "no filter" taken per repeat (variant minus the no-filter run of the same round) before the median, so slow
// drift of the machine between rounds cancels out instead of landing on whichever variant ran last.
import type { VariantRun } from "./measure.ts";
import type { FilterGroup, Impl, Variant } from "./variants.ts";

export interface FixedSummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  throughput: number;
  /** Non-200 or failed requests, summed over repeats. */
  errors: number;
  /** Arrival-rate iterations k6 could not start, summed over repeats. */
  dropped: number;
  cpuUsPerRequest: number;
}

export interface SaturationSummary {
  /** Requests/s in the closed-model phase. */
  throughput: number;
  /** Worst error rate over repeats; the throughput counts only when it stays under 1 %. */
  errorRate: number;
  cpuUsPerRequest: number;
  cpuCores: number;
  /** Cold tokens reused because the pool ran out (those requests were cache-warm after all). */
  coldTokensReused: number;
}

export interface Added {
  p50: number;
  p90: number;
  p99: number;
  cpuUsPerRequest: number;
  saturationThroughput: number | null;
  rssMiB: number;
}

export interface VariantSummary {
  id: string;
  group: FilterGroup;
  impl: Impl;
  label: string;
  repeats: number;
  fixed: FixedSummary;
  saturation: SaturationSummary | null;
  rssMiB: number;
  allocatedMiB: number;
  /** Over the no-filter variant; null for "none" itself or when it did not run. */
  added: Added | null;
  /** Lowest and highest p50 over repeats: how much the machine drifted. */
  p50Range: [number, number];
  filterErrors: Record<string, number>;
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const MiB = 1024 * 1024;

export function summarize(variants: Variant[], runs: VariantRun[]): VariantSummary[] {
  const baseline = new Map<number, VariantRun>();
  for (const run of runs) if (run.variant === "none") baseline.set(run.repeat, run);
  const summaries: VariantSummary[] = [];
  for (const variant of variants) {
    const mine = runs.filter((run) => run.variant === variant.id);
    if (mine.length === 0) continue;
    const pick = (f: (run: VariantRun) => number) => median(mine.map(f));
    const saturated = mine.filter((run) => run.saturation !== null);
    const paired = mine.filter((run) => baseline.has(run.repeat));
    const delta = (f: (run: VariantRun) => number) => median(paired.map((run) => f(run) - f(baseline.get(run.repeat)!)));
    const errors: Record<string, number> = {};
    for (const run of mine) for (const [name, value] of Object.entries(run.filterErrors)) errors[name] = (errors[name] ?? 0) + value;
    summaries.push({
      id: variant.id,
      group: variant.group,
      impl: variant.impl,
      label: variant.label,
      repeats: mine.length,
      fixed: {
        p50: pick((run) => run.fixed.latencyMs.p50),
        p90: pick((run) => run.fixed.latencyMs.p90),
        p99: pick((run) => run.fixed.latencyMs.p99),
        max: pick((run) => run.fixed.latencyMs.max),
        throughput: pick((run) => run.fixed.throughput),
        errors: mine.reduce((sum, run) => sum + run.fixed.failed, 0),
        dropped: mine.reduce((sum, run) => sum + run.fixed.dropped, 0),
        cpuUsPerRequest: pick((run) => run.fixed.cpuUsPerRequest),
      },
      saturation: saturated.length === 0 ? null : {
        throughput: median(saturated.map((run) => run.saturation!.throughput)),
        errorRate: Math.max(...saturated.map((run) => run.saturation!.errorRate)),
        cpuUsPerRequest: median(saturated.map((run) => run.saturation!.cpuUsPerRequest)),
        cpuCores: median(saturated.map((run) => run.saturation!.cpuCores)),
        coldTokensReused: saturated.reduce((sum, run) => sum + run.saturation!.coldTokensReused, 0),
      },
      rssMiB: pick((run) => run.memoryAfterWarmup.rssBytes) / MiB,
      allocatedMiB: pick((run) => run.memoryAfterWarmup.allocatedBytes) / MiB,
      added: variant.id === "none" || paired.length === 0 ? null : {
        p50: delta((run) => run.fixed.latencyMs.p50),
        p90: delta((run) => run.fixed.latencyMs.p90),
        p99: delta((run) => run.fixed.latencyMs.p99),
        cpuUsPerRequest: delta((run) => run.fixed.cpuUsPerRequest),
        saturationThroughput: paired.every((run) => run.saturation && baseline.get(run.repeat)!.saturation)
          ? delta((run) => run.saturation!.throughput) : null,
        rssMiB: delta((run) => run.memoryAfterWarmup.rssBytes) / MiB,
      },
      p50Range: [Math.min(...mine.map((run) => run.fixed.latencyMs.p50)), Math.max(...mine.map((run) => run.fixed.latencyMs.p50))],
      filterErrors: errors,
    });
  }
  return summaries;
}
