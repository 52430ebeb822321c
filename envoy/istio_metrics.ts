// The bootstrap settings the metrics filter (filters/metrics) needs, computed from the same configuration object
// the filter gets, so the two cannot drift:
//   - `stats_tags`: one extractor per label. The filter writes labels into the stat name
//     (`wasmcustom.reporter=.=destination;.;response_code=.=200;.;istio_requests_total`); each extractor cuts its
//     `name=.=value;.;` out of the name and keeps the value as a tag, which /stats/prometheus prints as a label.
//   - `histogram_bucket_settings`: Envoy, not the filter, decides histogram buckets, per bootstrap. A rule matches
//     the full stat name, and the filter's histogram names end with the metric name, so `suffix` selects a metric.
// Use: bootstrap({ ..., extra: { statsConfig: statsConfigForIstioMetrics(filterConfig) } }).
import type { StatsConfigJson } from "./builders/types.ts";

export const ISTIO_STANDARD_LABELS = [
  "reporter",
  "source_workload",
  "source_workload_namespace",
  "source_principal",
  "destination_workload",
  "destination_workload_namespace",
  "destination_service",
  "destination_service_name",
  "request_protocol",
  "response_code",
  "response_flags",
  "grpc_response_status",
  "connection_security_policy",
] as const;

export const ISTIO_HISTOGRAMS = [
  "istio_request_duration_milliseconds",
  "istio_request_bytes",
  "istio_response_bytes",
] as const;

export type ExtraDimension =
  | { name: string; request_header: string }
  | { name: string; response_header: string }
  | { name: string; property: string };

/** The filter's configuration (filters/metrics/config.ts validates it; see filters/metrics/README.md). */
export interface MetricsFilterConfig {
  reporter?: "source" | "destination";
  workload?: { name?: string; namespace?: string; principal?: string; service?: string; service_name?: string };
  dimensions?: string[];
  extra_dimensions?: ExtraDimension[];
  histogram_buckets?: Partial<Record<(typeof ISTIO_HISTOGRAMS)[number], number[]>>;
  max_label_sets?: number;
  max_value_length?: number;
}

/** Label names in the order the filter writes them. */
export function metricsLabelNames(config: MetricsFilterConfig = {}): string[] {
  return [...(config.dimensions ?? ISTIO_STANDARD_LABELS), ...(config.extra_dimensions ?? []).map((extra) => extra.name)];
}

/** The extractor for one label: group 1 is removed from the stat name, group 2 is the tag value. */
export function labelTagExtractor(name: string): { tagName: string; regex: string } {
  return { tagName: name, regex: `(${name}=\\.=(.*?);\\.;)` };
}

/**
 * The `stats_config` for a bootstrap with these metrics filters (several when, say, an inbound and an outbound
 * listener each carry one): the union of their labels, and their histogram buckets, which must agree because Envoy
 * keeps one bucket layout per stat name.
 */
export function statsConfigForIstioMetrics(...configs: MetricsFilterConfig[]): StatsConfigJson {
  const all = configs.length > 0 ? configs : [{}];
  const labels = [...new Set(all.flatMap((config) => metricsLabelNames(config)))];
  const buckets = new Map<string, number[]>();
  for (const config of all) {
    for (const [metric, bounds] of Object.entries(config.histogram_buckets ?? {})) {
      const earlier = buckets.get(metric);
      if (earlier && JSON.stringify(earlier) !== JSON.stringify(bounds)) {
        throw new Error(`histogram_buckets.${metric} differs between metrics filter configurations`);
      }
      buckets.set(metric, bounds);
    }
  }
  const settings: StatsConfigJson = { statsTags: labels.map(labelTagExtractor) };
  if (buckets.size > 0) {
    settings.histogramBucketSettings = [...buckets].map(([metric, bounds]) => ({ match: { suffix: metric }, buckets: bounds }));
  }
  return settings;
}
