// The series this filter writes to, one per distinct label set, and the cardinality cap on them.
//
// Every label set becomes four Envoy stats (a counter and three histograms) that live until Envoy restarts, so an
// unbounded label (a client-chosen header, a hostile :authority) would grow Envoy's memory and every scrape without
// end. The cap counts distinct label sets across all worker threads: each VM remembers the sets it has seen, and a
// set seen for the first time is admitted through shared data (one counter, advanced with compare-and-swap, plus a
// marker key per admitted set, so a set admitted by another worker is not counted twice). Once the cap is reached,
// new sets are recorded into the overflow series, whose every label is `other`, and counted.
import { Counter, Gauge, Histogram, SharedData, WasmResult, logError, logWarn } from "../../assembly";
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
export function encodeLabels(parts: Array<string>): string {
  return parts.join("");
}

export class SeriesRegistry {
  private readonly seen: Map<string, Series> = new Map<string, Series>();
  private overflowSeries: Series | null = null;
  private readonly overflowCount: Counter;
  private readonly labelSets: Gauge;
  private readonly countKey: string;
  private readonly markerPrefix: string;

  /**
   * `labelNames`: the label names in stat-name order (for the overflow series); `scope`: the shared-data key
   * prefix of this filter configuration, so two configurations keep separate caps.
   */
  constructor(readonly cap: i32, private readonly labelNames: Array<string>, scope: string) {
    this.overflowCount = new Counter(OVERFLOW_COUNTER);
    this.labelSets = new Gauge(LABEL_SETS_GAUGE);
    this.countKey = scope + "label-sets";
    this.markerPrefix = scope + "label-set/";
    const current = SharedData.get(this.countKey);
    if (current === null) {
      // Before any traffic: every worker's configure races only with the others' configure, all writing 0.
      SharedData.set(this.countKey, String.UTF8.encode("0"), 0);
    } else {
      this.labelSets.set(<u64>parseCount(current.value));
    }
  }

  /** Series admitted by this VM. */
  get size(): i32 {
    return this.seen.size;
  }

  /** The series for an encoded label set: its own, or the overflow series once the cap is reached. */
  lookup(labels: string): Series {
    const seen = this.seen;
    if (seen.has(labels)) return seen.get(labels);
    if (this.admit(labels)) {
      const series = new Series(labels);
      seen.set(labels, series);
      return series;
    }
    this.overflowCount.increment();
    return this.overflow();
  }

  private overflow(): Series {
    let series = this.overflowSeries;
    if (series === null) {
      const parts = new Array<string>();
      for (let i = 0; i < this.labelNames.length; i++) {
        parts.push(this.labelNames[i] + NAME_VALUE_SEPARATOR + OVERFLOW + LABEL_TERMINATOR);
      }
      series = new Series(encodeLabels(parts));
      this.overflowSeries = series;
    }
    return series;
  }

  /** True when the set was admitted (now or earlier, by any worker); false when the cap is reached. */
  private admit(labels: string): bool {
    const marker = this.markerPrefix + labels;
    if (SharedData.get(marker) !== null) return true;
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const entry = SharedData.get(this.countKey);
      const count = entry === null ? 0 : parseCount(entry.value);
      if (count >= this.cap) return false;
      const next = count + 1;
      const result = SharedData.set(this.countKey, String.UTF8.encode(next.toString()), entry === null ? 0 : entry.cas);
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

function parseCount(value: ArrayBuffer): i32 {
  const parsed = parseInt(String.UTF8.decode(value), 10);
  return isFinite(parsed) ? <i32>parsed : 0;
}
