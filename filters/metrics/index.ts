// Istio-style request metrics: istio_requests_total, istio_request_duration_milliseconds, istio_request_bytes and
// istio_response_bytes with Istio's label names, recorded when each request is logged (so requests answered by
// Envoy itself or by another filter are counted too). See README.md for the Envoy and bootstrap configuration.
export * from "../../assembly/abi/exports";
import { Context, PropertyPath, RootContext, getPropertyString, logInfo, registerRootContext } from "../../assembly";
import { MetricsConfig, parseConfig } from "./config";
import { LocalWorkload, RequestAttributes } from "./attributes";
import { SeriesRegistry } from "./series";

const REQUEST_DURATION = new PropertyPath(["request", "duration"]);
const REQUEST_TOTAL_SIZE = new PropertyPath(["request", "total_size"]);
const RESPONSE_TOTAL_SIZE = new PropertyPath(["response", "total_size"]);
const NANOSECONDS_PER_MILLISECOND: i64 = 1_000_000;

export class MetricsRoot extends RootContext {
  config: MetricsConfig = new MetricsConfig();
  registry: SeriesRegistry | null = null;
  attributes: RequestAttributes | null = null;
  /** Reused per request: the label values in label order. */
  values: Array<string> = new Array<string>();

  onConfigure(size: u32): bool {
    const config = parseConfig(String.UTF8.decode(this.getPluginConfiguration()));
    if (config === null) return false;
    this.config = config;
    const names = config.labelNames();
    const pluginName = getPropertyString(["plugin_name"]);
    const scope = "as-mesh.metrics/" + (pluginName !== null ? pluginName : "") + "/";
    this.registry = new SeriesRegistry(config.maxLabelSets, names, scope);
    this.attributes = new RequestAttributes(config, LocalWorkload.resolve(config));
    this.values = new Array<string>(names.length);
    logInfo("metrics: recording " + names.length.toString() + " labels (" + names.join(", ") + "), at most " +
      config.maxLabelSets.toString() + " label sets; the bootstrap needs a stats_tags entry per label (see README)");
    return true;
  }

  createContext(contextId: u32): Context {
    return new MetricsStream(contextId, this);
  }

  /** Records one finished request. */
  record(): void {
    const config = this.config;
    const attributes = this.attributes!;
    attributes.reset();
    const values = this.values;
    const dimensions = config.dimensions;
    const standard = dimensions.length;
    for (let i = 0; i < standard; i++) {
      unchecked((values[i] = attributes.value(unchecked(dimensions[i]))));
    }
    const extras = config.extraDimensions.length;
    for (let i = 0; i < extras; i++) {
      unchecked((values[standard + i] = attributes.extraValue(i)));
    }
    const series = this.registry!.lookup(values);

    series.requests.increment();
    const duration = REQUEST_DURATION.getInt();
    if (duration >= 0) series.duration.record(<u64>(duration / NANOSECONDS_PER_MILLISECOND));
    const requestBytes = REQUEST_TOTAL_SIZE.getInt();
    if (requestBytes >= 0) series.requestBytes.record(<u64>requestBytes);
    const responseBytes = RESPONSE_TOTAL_SIZE.getInt();
    if (responseBytes >= 0) series.responseBytes.record(<u64>responseBytes);
  }
}

export class MetricsStream extends Context {
  onLog(): void {
    (this.root as MetricsRoot).record();
  }
}

registerRootContext((id: u32): RootContext => new MetricsRoot(id), "metrics");
