// Just enough of the Prometheus text format to read the control service's own metrics back: samples by name and
// labels, and quantiles estimated from histogram buckets (as histogram_quantile does).

export type Samples = Map<string, number>;

/** Every sample line as `name{labels}` → value. */
export function parseSamples(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    const value = Number(line.slice(space + 1));
    if (!Number.isNaN(value)) samples.set(line.slice(0, space), value);
  }
  return samples;
}

/** Sum of the samples named `name` (any labels), or of those whose labels include `labels`. */
export function total(samples: Samples, name: string, labels = ""): number {
  let sum = 0;
  for (const [key, value] of samples) {
    const bare = key.split("{")[0];
    if (bare === name && key.includes(labels)) sum += value;
  }
  return sum;
}

/** Cumulative bucket counts of a histogram without labels other than `le`, as [upper bound, count]. */
export function buckets(samples: Samples, name: string): Array<[number, number]> {
  const result: Array<[number, number]> = [];
  for (const [key, value] of samples) {
    const match = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\}$`).exec(key);
    if (match) result.push([match[1] === "+Inf" ? Infinity : Number(match[1]), value]);
  }
  return result.sort((a, b) => a[0] - b[0]);
}

/** Bucket counts of `after` minus `before` (what happened in between). */
export function bucketDelta(after: Array<[number, number]>, before: Array<[number, number]>): Array<[number, number]> {
  return after.map(([bound, count]) => [bound, count - (before.find(([other]) => other === bound)?.[1] ?? 0)]);
}

/** The q-quantile by linear interpolation inside the bucket holding it; null for an empty histogram. */
export function histogramQuantile(cumulative: Array<[number, number]>, q: number): number | null {
  const count = cumulative.at(-1)?.[1] ?? 0;
  if (count === 0) return null;
  const rank = q * count;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [bound, cumulativeCount] of cumulative) {
    if (cumulativeCount >= rank) {
      if (bound === Infinity) return lowerBound;
      const inBucket = cumulativeCount - lowerCount;
      return inBucket === 0 ? bound : lowerBound + (bound - lowerBound) * ((rank - lowerCount) / inBucket);
    }
    lowerBound = bound;
    lowerCount = cumulativeCount;
  }
  return lowerBound;
}
