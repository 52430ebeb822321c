// The metrics filter's configuration: JSON, parsed and validated once in onConfigure. Every problem is reported
// with the path of the field (`metrics: extra_dimensions[1].name must ...`); any problem rejects the whole
// configuration, so Envoy refuses it instead of running with half of it.
//
// {
//   "reporter": "destination",                    // or "source"; default: from the listener's traffic_direction
//   "workload": { "name": "ratings-v1", "namespace": "default", "principal": "spiffe://cluster.local/ns/default/sa/ratings",
//                 "service": "ratings.default.svc.cluster.local", "service_name": "ratings" },
//   "dimensions": ["reporter", "response_code", ...],   // default: all of Istio's standard labels
//   "extra_dimensions": [ { "name": "api_version", "request_header": "x-api-version" },
//                         { "name": "route", "property": "xds.route_name" } ],
//   "histogram_buckets": { "istio_request_duration_milliseconds": [1, 5, 10, 50, 100, 500, 1000] },
//   "max_label_sets": 1000,
//   "max_value_length": 128
// }
import { JsonValue, lastJsonError, parseJsonString } from "../../assembly/lib/json";
import { HeaderName, PropertyPath, logError } from "../../assembly";
import { Dimension, HISTOGRAM_METRICS, STANDARD_LABELS, isValidLabelName, standardDimension } from "./labels";

export const DEFAULT_MAX_LABEL_SETS: i32 = 1000;
export const LIMIT_MAX_LABEL_SETS: i32 = 100_000;
export const DEFAULT_MAX_VALUE_LENGTH: i32 = 128;
export const LIMIT_MAX_VALUE_LENGTH: i32 = 1024;
export const LIMIT_EXTRA_DIMENSIONS: i32 = 16;
export const LIMIT_BUCKETS: i32 = 64;

export const enum ReporterMode {
  /** Decided per request from `xds.listener_direction`: INBOUND → destination, OUTBOUND → source. */
  FromListener,
  Source,
  Destination,
}

export const enum ExtraSource {
  RequestHeader,
  ResponseHeader,
  Property,
}

export class ExtraDimension {
  constructor(
    public name: string,
    public source: ExtraSource,
    /** Header name (lower case) or dotted property path. */
    public key: string,
    public header: HeaderName | null,
    public property: PropertyPath | null,
  ) {}
}

/** This workload's identity; empty fields fall back to node metadata, then to `unknown`. */
export class WorkloadIdentity {
  name: string = "";
  namespace: string = "";
  principal: string = "";
  service: string = "";
  serviceName: string = "";
}

export class HistogramBuckets {
  constructor(public metric: string, public bounds: Array<f64>) {}
}

export class MetricsConfig {
  reporter: ReporterMode = ReporterMode.FromListener;
  workload: WorkloadIdentity = new WorkloadIdentity();
  /** Standard dimensions to emit, in label order. */
  dimensions: Array<Dimension> = new Array<Dimension>();
  extraDimensions: Array<ExtraDimension> = new Array<ExtraDimension>();
  buckets: Array<HistogramBuckets> = new Array<HistogramBuckets>();
  maxLabelSets: i32 = DEFAULT_MAX_LABEL_SETS;
  maxValueLength: i32 = DEFAULT_MAX_VALUE_LENGTH;

  /** Every label name in the order it appears in the stat name. */
  labelNames(): Array<string> {
    const names = new Array<string>();
    for (let i = 0; i < this.dimensions.length; i++) names.push(STANDARD_LABELS[this.dimensions[i]]);
    for (let i = 0; i < this.extraDimensions.length; i++) names.push(this.extraDimensions[i].name);
    return names;
  }
}

const TOP_LEVEL_FIELDS: Array<string> = [
  "reporter", "workload", "dimensions", "extra_dimensions", "histogram_buckets", "max_label_sets", "max_value_length",
];
const WORKLOAD_FIELDS: Array<string> = ["name", "namespace", "principal", "service", "service_name"];
const EXTRA_SOURCES: Array<string> = ["request_header", "response_header", "property"];

/** Collects every configuration problem with the path of the field it concerns. */
class Problems {
  list: Array<string> = new Array<string>();
  add(path: string, message: string): void {
    this.list.push(path + " " + message);
  }
}

/** Parses and validates; logs each problem (`metrics: <field> <problem>`) and returns null when there is any. */
export function parseConfig(text: string): MetricsConfig | null {
  const problems = new Problems();
  const config = new MetricsConfig();
  // An empty configuration means every default.
  const trimmed = text.trim();
  const root = parseJsonString(trimmed.length > 0 ? trimmed : "{}");
  if (root === null) {
    problems.add("configuration", "is not valid JSON: " + lastJsonError());
  } else if (!root.isObject()) {
    problems.add("configuration", "must be a JSON object");
  } else {
    readRoot(root, config, problems);
  }
  for (let i = 0; i < problems.list.length; i++) logError("metrics: " + problems.list[i]);
  return problems.list.length == 0 ? config : null;
}

function readRoot(root: JsonValue, config: MetricsConfig, problems: Problems): void {
  rejectUnknownFields(root, TOP_LEVEL_FIELDS, "", problems);
  if (root.hasDuplicateKeys()) problems.add("configuration", "has a field more than once");

  const reporter = root.get("reporter");
  if (reporter !== null) {
    const value = reporter.asString();
    if (!reporter.isString() || (value != "source" && value != "destination")) {
      problems.add("reporter", "must be \"source\" or \"destination\"");
    } else {
      config.reporter = value == "source" ? ReporterMode.Source : ReporterMode.Destination;
    }
  }

  const workload = root.get("workload");
  if (workload !== null) readWorkload(workload, config.workload, problems);

  const dimensions = root.get("dimensions");
  if (dimensions === null) {
    for (let i = 0; i < <i32>Dimension.Count; i++) config.dimensions.push(<Dimension>i);
  } else {
    readDimensions(dimensions, config, problems);
  }

  const extras = root.get("extra_dimensions");
  if (extras !== null) readExtraDimensions(extras, config, problems);

  const buckets = root.get("histogram_buckets");
  if (buckets !== null) readBuckets(buckets, config, problems);

  config.maxLabelSets = readInt(root, "max_label_sets", DEFAULT_MAX_LABEL_SETS, 1, LIMIT_MAX_LABEL_SETS, problems);
  config.maxValueLength = readInt(root, "max_value_length", DEFAULT_MAX_VALUE_LENGTH, 8, LIMIT_MAX_VALUE_LENGTH, problems);

  checkLabelNamesCannotOverlap(config, problems);
}

function rejectUnknownFields(object: JsonValue, known: Array<string>, path: string, problems: Problems): void {
  const keys = object.keys();
  for (let i = 0; i < keys.length; i++) {
    if (!known.includes(keys[i])) {
      problems.add(path.length > 0 ? path + "." + keys[i] : keys[i], "is not a known field (known: " + known.join(", ") + ")");
    }
  }
}

function readWorkload(workload: JsonValue, identity: WorkloadIdentity, problems: Problems): void {
  if (!workload.isObject()) {
    problems.add("workload", "must be an object");
    return;
  }
  rejectUnknownFields(workload, WORKLOAD_FIELDS, "workload", problems);
  identity.name = readString(workload, "name", "workload", problems);
  identity.namespace = readString(workload, "namespace", "workload", problems);
  identity.principal = readString(workload, "principal", "workload", problems);
  identity.service = readString(workload, "service", "workload", problems);
  identity.serviceName = readString(workload, "service_name", "workload", problems);
}

function readString(object: JsonValue, field: string, path: string, problems: Problems): string {
  const value = object.get(field);
  if (value === null) return "";
  if (!value.isString() || value.asString().length == 0) {
    problems.add(path + "." + field, "must be a non-empty string");
    return "";
  }
  return value.asString();
}

function readInt(object: JsonValue, field: string, fallback: i32, low: i32, high: i32, problems: Problems): i32 {
  const value = object.get(field);
  if (value === null) return fallback;
  if (!value.isInteger() || value.asNumber() < <f64>low || value.asNumber() > <f64>high) {
    problems.add(field, "must be an integer from " + low.toString() + " to " + high.toString());
    return fallback;
  }
  return <i32>value.asNumber();
}

function readDimensions(dimensions: JsonValue, config: MetricsConfig, problems: Problems): void {
  if (!dimensions.isArray()) {
    problems.add("dimensions", "must be an array of label names");
    return;
  }
  const items = dimensions.asArray();
  for (let i = 0; i < items.length; i++) {
    const path = "dimensions[" + i.toString() + "]";
    const item = items[i];
    const dimension = item.isString() ? standardDimension(item.asString()) : -1;
    if (dimension < 0) {
      problems.add(path, "must be one of Istio's labels (" + STANDARD_LABELS.join(", ") + ")");
    } else if (config.dimensions.includes(<Dimension>dimension)) {
      problems.add(path, "repeats \"" + item.asString() + "\"");
    } else {
      config.dimensions.push(<Dimension>dimension);
    }
  }
}

function readExtraDimensions(extras: JsonValue, config: MetricsConfig, problems: Problems): void {
  if (!extras.isArray()) {
    problems.add("extra_dimensions", "must be an array of {name, request_header | response_header | property}");
    return;
  }
  const items = extras.asArray();
  if (items.length > LIMIT_EXTRA_DIMENSIONS) {
    problems.add("extra_dimensions", "has " + items.length.toString() + " entries; at most " + LIMIT_EXTRA_DIMENSIONS.toString() + " are allowed");
  }
  for (let i = 0; i < items.length; i++) {
    const path = "extra_dimensions[" + i.toString() + "]";
    const item = items[i];
    if (!item.isObject()) {
      problems.add(path, "must be an object {name, request_header | response_header | property}");
      continue;
    }
    const known = new Array<string>();
    known.push("name");
    for (let s = 0; s < EXTRA_SOURCES.length; s++) known.push(EXTRA_SOURCES[s]);
    rejectUnknownFields(item, known, path, problems);

    const nameValue = item.get("name");
    const name = nameValue !== null && nameValue.isString() ? nameValue.asString() : "";
    if (!isValidLabelName(name)) {
      problems.add(path + ".name", "must be a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not __*, le or quantile)");
      continue;
    }
    if (standardDimension(name) >= 0) {
      problems.add(path + ".name", "\"" + name + "\" is one of Istio's labels; list it in dimensions instead");
      continue;
    }
    for (let j = 0; j < config.extraDimensions.length; j++) {
      if (config.extraDimensions[j].name == name) problems.add(path + ".name", "repeats \"" + name + "\"");
    }

    let sources = 0;
    let source = ExtraSource.RequestHeader;
    let key = "";
    for (let s = 0; s < EXTRA_SOURCES.length; s++) {
      const value = item.get(EXTRA_SOURCES[s]);
      if (value === null) continue;
      sources++;
      if (!value.isString() || value.asString().length == 0) {
        problems.add(path + "." + EXTRA_SOURCES[s], "must be a non-empty string");
        continue;
      }
      source = <ExtraSource>s;
      key = value.asString();
    }
    if (sources != 1) {
      problems.add(path, "must have exactly one of request_header, response_header, property");
      continue;
    }
    if (key.length == 0) continue;
    if (source != ExtraSource.Property) {
      if (!isHeaderName(key)) {
        problems.add(path + "." + EXTRA_SOURCES[source], "must be an HTTP header name");
        continue;
      }
      key = key.toLowerCase();
    }
    let header: HeaderName | null = null;
    let property: PropertyPath | null = null;
    if (source == ExtraSource.Property) property = new PropertyPath(key.split("."));
    else header = new HeaderName(key);
    config.extraDimensions.push(new ExtraDimension(name, source, key, header, property));
  }
}

/** RFC 9110 token characters (pseudo-headers such as `:authority` allowed). */
function isHeaderName(name: string): bool {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) ||
      "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)) || (c == 0x3a && i == 0);
    if (!ok) return false;
  }
  return name.length > (name.startsWith(":") ? 1 : 0);
}

function readBuckets(buckets: JsonValue, config: MetricsConfig, problems: Problems): void {
  if (!buckets.isObject()) {
    problems.add("histogram_buckets", "must be an object from histogram name to bucket bounds");
    return;
  }
  rejectUnknownFields(buckets, HISTOGRAM_METRICS, "histogram_buckets", problems);
  for (let m = 0; m < HISTOGRAM_METRICS.length; m++) {
    const metric = HISTOGRAM_METRICS[m];
    const list = buckets.get(metric);
    if (list === null) continue;
    const path = "histogram_buckets." + metric;
    if (!list.isArray() || list.asArray().length == 0 || list.asArray().length > LIMIT_BUCKETS) {
      problems.add(path, "must be an array of 1 to " + LIMIT_BUCKETS.toString() + " bucket bounds");
      continue;
    }
    const items = list.asArray();
    const bounds = new Array<f64>();
    let ok = true;
    for (let i = 0; i < items.length; i++) {
      const bound = items[i].asNumber(); // NaN when not a number
      if (!items[i].isNumber() || !isFinite(bound) || bound <= 0) {
        problems.add(path + "[" + i.toString() + "]", "must be a positive number");
        ok = false;
      } else if (i > 0 && bounds.length > 0 && bound <= bounds[bounds.length - 1]) {
        problems.add(path + "[" + i.toString() + "]", "must be greater than the bound before it");
        ok = false;
      }
      if (items[i].isNumber() && isFinite(bound)) bounds.push(bound);
    }
    if (ok) config.buckets.push(new HistogramBuckets(metric, bounds));
  }
}

/**
 * The bootstrap extracts each label with the regex `(<name>=\.=(.*?);\.;)`, which also matches inside a longer
 * label name ending the same way (`name` inside `destination_service_name`). Two such names would make Envoy read
 * one label's value for the other, so they are refused together.
 */
function checkLabelNamesCannotOverlap(config: MetricsConfig, problems: Problems): void {
  const names = config.labelNames();
  for (let i = 0; i < names.length; i++) {
    for (let j = 0; j < names.length; j++) {
      if (i != j && names[j].length > names[i].length && names[j].endsWith(names[i])) {
        problems.add(extraPath(config, names[i], names[j]),
          "\"" + names[i] + "\" cannot be used with \"" + names[j] + "\": the stats_tags regex of a label name must not match the end of another");
      }
    }
  }
}

function extraPath(config: MetricsConfig, a: string, b: string): string {
  for (let i = 0; i < config.extraDimensions.length; i++) {
    const name = config.extraDimensions[i].name;
    if (name == a || name == b) return "extra_dimensions[" + i.toString() + "].name";
  }
  return "dimensions";
}
