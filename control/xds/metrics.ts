// xDS metrics under istiod's names, so dashboards and alerts written for Istio read this server too.
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export class XdsMetrics {
  readonly pushes: Counter<"type">;
  readonly pushTime: Histogram<"type">;
  readonly convergence: Histogram;
  readonly rejects: Counter<"type">;
  readonly connected: Gauge;
  readonly configSize: Histogram<"type">;

  constructor(readonly registry: Registry) {
    this.pushes = new Counter({ name: "pilot_xds_pushes", help: "xDS responses sent, by type.", labelNames: ["type"], registers: [registry] });
    this.pushTime = new Histogram({
      name: "pilot_xds_push_time", help: "Seconds spent building and writing one xDS response, by type.",
      labelNames: ["type"], buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1], registers: [registry],
    });
    this.convergence = new Histogram({
      name: "pilot_proxy_convergence_time", help: "Seconds from a snapshot being set to a proxy ACKing a response built from it.",
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 3, 5, 10, 20, 30], registers: [registry],
    });
    this.rejects = new Counter({ name: "pilot_total_xds_rejects", help: "xDS responses a proxy rejected (NACK), by type.", labelNames: ["type"], registers: [registry] });
    this.connected = new Gauge({ name: "pilot_xds", help: "Proxies connected to this xDS server.", registers: [registry] });
    this.configSize = new Histogram({
      name: "pilot_xds_config_size_bytes", help: "Encoded resource bytes in one xDS response, by type.",
      labelNames: ["type"], buckets: [1, 1e3, 1e4, 1e5, 1e6, 1e7], registers: [registry],
    });
  }
}
