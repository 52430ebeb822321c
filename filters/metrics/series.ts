// The series this filter writes to, one per distinct label set, and the cardinality cap on them.
//
// Every label set becomes four Envoy stats (a counter and three histograms) that live until Envoy restarts, so an
// unbounded label (a client-chosen header, a hostile :authority) would grow Envoy's memory and every scrape without
// end. The cap counts distinct label sets across all worker threads: each VM remembers the sets it has seen, and a
// set seen for the first time is admitted through shared data (one counter, advanced with compare-and-swap, plus a
// marker key per admitted set, so a set admitted by another worker is not counted twice). Once the cap is reached,
// new sets are recorded into the overflow series, whose every label is `other`, and counted.
import { Counter, Gauge, Histogram, SharedData, SharedDataKey, WasmResult, logError, logWarn } from "../../assembly";
import { LABEL_TERMINATOR, NAME_VALUE_SEPARATOR, OVERFLOW, REQUESTS_TOTAL, REQUEST_BYTES, REQUEST_DURATION, RESPONSE_BYTES } from "./labels";

/** Prometheus: as_mesh_metrics_overflow_total — requests recorded into the overflow series. */
export const OVERFLOW_COUNTER = "as_mesh_metrics_overflow_total";
/** Prometheus: as_mesh_metrics_label_sets — distinct label sets admitted so far (all workers). */
export const LABEL_SETS_GAUGE = "as_mesh_metrics_label_sets";

const CAS_ATTEMPTS = 16;

/** The four metrics of one label set. */
export class Series {
  readonly requests: Counter;
  readonly duration: Histogram;
  readonly requestBytes: Histogram;
  readonly responseBytes: Histogram;

  constructor(labels: string) {
    this.requests = new Counter(labels + REQUESTS_TOTAL);
    this.duration = new Histogram(labels + REQUEST_DURATION);
    this.requestBytes = new Histogram(labels + REQUEST_BYTES);
    this.responseBytes = new Histogram(labels + RESPONSE_BYTES);
  }
}

/** `name=.=value;.;` for each label, in order: the part of the stat name before the metric's own name. */
export function encodeLabels(names: Array<string>, values: Array<string>): string {
  const parts = new Array<string>(names.length * 4);
  for (let i = 0; i < names.length; i++) {
    parts[i * 4] = names[i];
    parts[i * 4 + 1] = NAME_VALUE_SEPARATOR;
    parts[i * 4 + 2] = values[i];
    parts[i * 4 + 3] = LABEL_TERMINATOR;
  }
  return parts.join("");
}

/**
 * The values alone, joined by `|`: a shorter map key than the stat name (no label names, no separators), still
 * unambiguous because a sanitized value never contains `|`.
 */
export function labelSetKey(values: Array<string>): string {
  return values.join("|");
}

export class SeriesRegistry {
  private readonly seen: Map<string, Series> = new Map<string, Series>();
  // Consecutive requests usually share a label set: the last admitted one is compared value by value (most values
  // are the same string objects, so most comparisons are a pointer check) before any key is built.
  private lastValues: Array<string> = new Array<string>();
  private lastSeries: Series | null = null;
  private overflowSeries: Series | null = null;
  private readonly overflowCount: Counter;
  private readonly labelSets: Gauge;
  private readonly countKey: SharedDataKey;
  private readonly markerPrefix: string;
  // The shared count never goes down (shared data keys cannot be deleted), so once it has reached the cap no new
  // set can be admitted anywhere: from then on only sets other workers admitted earlier need a look-up.
  private full: bool = false;

  /**
   * `labelNames`: the label names in stat-name order (for the overflow series); `scope`: the shared-data key
   * prefix of this filter configuration, so two configurations keep separate caps.
   */
  constructor(readonly cap: i32, private readonly labelNames: Array<string>, scope: string) {
    this.overflowCount = new Counter(OVERFLOW_COUNTER);
    this.labelSets = new Gauge(LABEL_SETS_GAUGE);
    this.countKey = new SharedDataKey(scope + "label-sets");
    this.markerPrefix = scope + "label-set/";
    const current = this.countKey.get();
    if (current === null) {
      // Before any traffic: every worker's configure races only with the others' configure, all writing 0.
      this.countKey.set(String.UTF8.encode("0"), 0);
    } else {
      this.labelSets.set(<u64>parseCount(current.value));
    }
  }

  /** The series for a label set (`values` in label order): its own, or the overflow series past the cap. */
  lookup(values: Array<string>): Series {
    const last = this.lastSeries;
    if (last !== null && sameValues(values, this.lastValues)) return last;
    const key = labelSetKey(values);
    const seen = this.seen;
    let series: Series;
    if (seen.has(key)) {
      series = seen.get(key);
    } else if (this.admit(key)) {
      series = new Series(encodeLabels(this.labelNames, values));
      seen.set(key, series);
    } else {
      this.overflowCount.increment();
      return this.overflow();
    }
    this.lastValues = values.slice(0);
    this.lastSeries = series;
    return series;
  }

  private overflow(): Series {
    let series = this.overflowSeries;
    if (series === null) {
      const values = new Array<string>(this.labelNames.length);
      values.fill(OVERFLOW);
      series = new Series(encodeLabels(this.labelNames, values));
      this.overflowSeries = series;
    }
    return series;
  }

  /** True when the set was admitted (now or earlier, by any worker); false when the cap is reached. */
  private admit(key: string): bool {
    const marker = this.markerPrefix + key;
    if (SharedData.get(marker) !== null) return true;
    if (this.full) return false;
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const entry = this.countKey.get();
      const count = entry === null ? 0 : parseCount(entry.value);
      if (count >= this.cap) {
        this.full = true;
        return false;
      }
      const next = count + 1;
      const result = this.countKey.set(String.UTF8.encode(next.toString()), entry === null ? 0 : entry.cas);
      if (result == WasmResult.Ok) {
        // Two workers meeting the same new set at once may both count it: the cap can only get stricter.
        if (SharedData.set(marker, String.UTF8.encode("1"), 0) != WasmResult.Ok) {
          logError("metrics: could not record an admitted label set in shared data");
        }
        this.labelSets.set(<u64>next);
        if (next == this.cap) {
          logWarn("metrics: reached max_label_sets (" + this.cap.toString() + "); new label sets go to the \"other\" series");
        }
        return true;
      }
      if (result != WasmResult.CasMismatch) return false; // the host call already logged why
    }
    // Contended for every attempt: record this request as overflow rather than spin on a worker thread.
    return false;
  }
}

function sameValues(a: Array<string>, b: Array<string>): bool {
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (unchecked(a[i]) != unchecked(b[i])) return false;
  }
  return true;
}

function parseCount(value: ArrayBuffer): i32 {
  const parsed = parseInt(String.UTF8.decode(value), 10);
  return isFinite(parsed) ? <i32>parsed : 0;
}
