// Prometheus for the demo mesh: one scrape job for the Envoys (each proxy's /stats/prometheus, labelled with the
// proxy's name) and one for the control service's /metrics, plus recording rules that precompute what Istio's
// dashboards show per service: request rate, success rate (non-5xx) and p99 latency, from the destination side.
import { stringify } from "yaml";

export interface PrometheusTargets {
  /** proxy name → host:port of its admin (where /stats/prometheus is). */
  envoys: Record<string, string>;
  /** host:port of the control service's HTTP server (/metrics), when it runs: one per replica when several do. */
  control?: string | string[];
  scrapeIntervalSeconds?: number;
}

/** Recording rule names, as the tour and the README query them. */
export const RECORDED = {
  requestRate: "destination_service:istio_requests:rate1m",
  successRate: "destination_service:istio_requests:success_rate1m",
  p99: "destination_service:istio_request_duration_milliseconds:p99_1m",
} as const;

const byService = "destination_service_name, destination_workload_namespace";
const inbound = `reporter="destination"`;

export function recordingRulesYaml(): string {
  return stringify({
    groups: [{
      name: "as-mesh-services",
      rules: [
        {
          record: RECORDED.requestRate,
          expr: `sum by (${byService}) (rate(istio_requests_total{${inbound}}[1m]))`,
        },
        {
          record: RECORDED.successRate,
          expr: `sum by (${byService}) (rate(istio_requests_total{${inbound},response_code!~"5.."}[1m]))` +
            ` / sum by (${byService}) (rate(istio_requests_total{${inbound}}[1m]))`,
        },
        {
          record: RECORDED.p99,
          expr: `histogram_quantile(0.99, sum by (le, ${byService}) (rate(istio_request_duration_milliseconds_bucket{${inbound}}[1m])))`,
        },
      ],
    }],
  }, { lineWidth: 0 });
}

export function prometheusConfigYaml(targets: PrometheusTargets, rulesPath: string): string {
  const interval = `${targets.scrapeIntervalSeconds ?? 2}s`;
  const scrapeConfigs: object[] = [{
    job_name: "envoy",
    metrics_path: "/stats/prometheus",
    static_configs: Object.entries(targets.envoys).map(([proxy, address]) => ({ targets: [address], labels: { proxy } })),
  }];
  if (targets.control) {
    scrapeConfigs.push({ job_name: "control", metrics_path: "/metrics", static_configs: [{ targets: [targets.control].flat() }] });
  }
  return stringify({
    global: { scrape_interval: interval, evaluation_interval: interval },
    rule_files: [rulesPath],
    scrape_configs: scrapeConfigs,
  }, { lineWidth: 0 });
}
