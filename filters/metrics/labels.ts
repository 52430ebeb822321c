// Istio's label names, and how a label set is written into an Envoy stat name.
//
// proxy-wasm has no tagged metrics: a module can only define a metric by name. So, like Istio's Wasm stats filter,
// the labels travel inside the name and the bootstrap's `stats_config.stats_tags` cut them out again:
//
//   wasmcustom.reporter=.=destination;.;response_code=.=200;.;istio_requests_total
//
// A stats_tags entry `(response_code=\.=(.*?);\.;)` removes its first group from the name and keeps the second as
// the tag value; once every label is extracted the name is `wasmcustom.istio_requests_total`, and
// /stats/prometheus drops the `wasmcustom.` namespace: istio_requests_total{reporter="destination",...}.
//
// The encoding is only safe while no value contains the separators, so every value goes through `sanitize`.

export const UNKNOWN = "unknown";
/** Every label of the overflow series, once the cardinality cap is reached. */
export const OVERFLOW = "other";

/** Between a label name and its value, and after the value (Istio's separators). */
export const NAME_VALUE_SEPARATOR = "=.=";
export const LABEL_TERMINATOR = ";.;";

export const REQUESTS_TOTAL = "istio_requests_total";
export const REQUEST_DURATION = "istio_request_duration_milliseconds";
export const REQUEST_BYTES = "istio_request_bytes";
export const RESPONSE_BYTES = "istio_response_bytes";
export const HISTOGRAM_METRICS: Array<string> = [REQUEST_DURATION, REQUEST_BYTES, RESPONSE_BYTES];

/** The standard dimensions, in Istio's order; their index is the Dimension value. */
export const enum Dimension {
  Reporter,
  SourceWorkload,
  SourceWorkloadNamespace,
  SourcePrincipal,
  DestinationWorkload,
  DestinationWorkloadNamespace,
  DestinationService,
  DestinationServiceName,
  RequestProtocol,
  ResponseCode,
  ResponseFlags,
  GrpcResponseStatus,
  ConnectionSecurityPolicy,
  Count,
}

export const STANDARD_LABELS: Array<string> = [
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
];

/** The standard dimension with this label name, or -1. */
export function standardDimension(name: string): i32 {
  return STANDARD_LABELS.indexOf(name);
}

/** Prometheus' label-name rule, minus names Prometheus reserves (`__*`) or gives meaning to (`le`, `quantile`). */
export function isValidLabelName(name: string): bool {
  if (name.length == 0 || name.startsWith("__") || name == "le" || name == "quantile") return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const letter = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c == 0x5f;
    const digit = c >= 0x30 && c <= 0x39;
    if (!(letter || (digit && i > 0))) return false;
  }
  return true;
}

/**
 * Bytes a label value keeps: letters, digits and `_ - . / : @ + ~ *`. Everything else, including the separator
 * characters `=` and `;`, quotes, backslashes, control characters and non-ASCII bytes, becomes `_`, so a value can
 * neither end its label early in the stat name nor break the Prometheus exposition format.
 */
@inline
export function isSafeValueByte(c: u32): bool {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) ||
    c == 0x5f || c == 0x2d || c == 0x2e || c == 0x2f || c == 0x3a || c == 0x40 || c == 0x2b || c == 0x7e || c == 0x2a;
}

/**
 * A label value from raw bytes (a header, a property): unsafe bytes replaced, cut to `maxLength` bytes, trailing
 * dots removed (Envoy's tag extraction drops a dot before the terminator, so keeping it would make the value seen in
 * /stats and in Prometheus differ). Null or empty input gives `unknown`. The buffer is rewritten in place.
 */
export function sanitize(bytes: ArrayBuffer | null, maxLength: i32): string {
  if (bytes === null) return UNKNOWN;
  const base = changetype<usize>(bytes);
  let length = min(bytes.byteLength, maxLength);
  for (let i = 0; i < length; i++) {
    if (!isSafeValueByte(<u32>load<u8>(base + <usize>i))) store<u8>(base + <usize>i, 0x5f);
  }
  while (length > 0 && load<u8>(base + <usize>(length - 1)) == 0x2e) length--;
  if (length == 0) return UNKNOWN;
  return String.UTF8.decodeUnsafe(base, <usize>length);
}

/** Whether two buffers hold the same bytes. */
export function sameBytes(a: ArrayBuffer, b: ArrayBuffer): bool {
  const length = a.byteLength;
  return length == b.byteLength && memory.compare(changetype<usize>(a), changetype<usize>(b), <usize>length) == 0;
}

/**
 * Sanitizes through a one-entry memory: the same raw bytes as last time give the same string object back. Header
 * and certificate values mostly repeat from one request to the next, and comparing bytes costs less than
 * sanitizing and decoding them again (and an identical string object makes the label-set comparison a pointer check).
 */
export class LastValue {
  private raw: ArrayBuffer | null = null;
  private value: string = UNKNOWN;

  sanitize(raw: ArrayBuffer | null, maxLength: i32): string {
    if (raw === null) return UNKNOWN;
    const last = this.raw;
    if (last !== null && sameBytes(last, raw)) return this.value;
    this.raw = raw.slice(0);
    // sanitize rewrites its input, and header values are shared with other readers in this callback (the SDK's cache)
    this.value = sanitize(raw.slice(0), maxLength);
    return this.value;
  }
}

/** The same rule for a value that is already a string (configuration, node metadata). */
export function sanitizeString(value: string, maxLength: i32): string {
  return sanitize(String.UTF8.encode(value), maxLength);
}

// Envoy's response flags (StreamInfo::CoreResponseFlag): bit i of the `response.flags` property is flag i, and
// these are the short names Envoy's access log prints (and Istio's response_flags label carries).
const RESPONSE_FLAG_NAMES: Array<string> = [
  "LH", "UH", "UT", "LR", "UR", "UF", "UC", "UO", "NR", "DI", "FI", "RL", "UAEX", "RLSE", "DC", "URX", "SI", "IH",
  "DPE", "UMSDR", "RFCF", "NFCF", "DT", "UPE", "NC", "OM", "DF", "DO", "DR", "UDO",
];

// Envoy prints %RESPONSE_FLAGS% in the order the flags were set, but the `response.flags` property is a bitmask
// that has lost that order. The flags that come together come from the router, which marks a request's
// retries as exhausted (URX) before the flag of the failure that ends it (UF, UC, UR, ...): so URX goes first and
// the others follow in bit order, which gives Envoy's text for every combination the router produces.
const URX_BIT: u64 = <u64>1 << 15;

/** `-` when no flag is set (as in Envoy's access log), otherwise the short names joined by commas. */
export function responseFlagsLabel(flags: u64): string {
  if (flags == 0) return "-";
  let out = (flags & URX_BIT) != 0 ? "URX" : "";
  for (let i = 0; i < RESPONSE_FLAG_NAMES.length; i++) {
    const bit = <u64>1 << <u64>i;
    if (bit == URX_BIT || (flags & bit) == 0) continue;
    out += (out.length > 0 ? "," : "") + unchecked(RESPONSE_FLAG_NAMES[i]);
  }
  // A bit beyond the ones this module knows (a newer Envoy): name it by number rather than dropping it.
  const known: u64 = (<u64>1 << <u64>RESPONSE_FLAG_NAMES.length) - 1;
  if ((flags & ~known) != 0) out += (out.length > 0 ? "," : "") + "0x" + (flags & ~known).toString(16);
  return out;
}

/** The namespace in a SPIFFE identity `spiffe://<trust-domain>/ns/<namespace>/sa/<account>`, or null. */
export function spiffeNamespace(principal: string): string | null {
  if (!principal.startsWith("spiffe://")) return null;
  const start = principal.indexOf("/ns/", 9);
  if (start < 0) return null;
  const from = start + 4;
  const end = principal.indexOf("/", from);
  const namespace = end < 0 ? principal.substring(from) : principal.substring(from, end);
  return namespace.length > 0 ? namespace : null;
}

/** The host of an Istio cluster name `outbound|<port>|<subset>|<host>`, or null for any other cluster name. */
export function istioClusterHost(cluster: string): string | null {
  if (!cluster.startsWith("outbound|") && !cluster.startsWith("inbound|")) return null;
  const last = cluster.lastIndexOf("|");
  const host = cluster.substring(last + 1);
  return host.length > 0 ? host : null;
}

/** `:authority` without its port: `ratings.default:9080` → `ratings.default`, `[::1]:80` → `[::1]`. */
export function hostWithoutPort(authority: string): string {
  if (authority.startsWith("[")) {
    const close = authority.indexOf("]");
    return close < 0 ? authority : authority.substring(0, close + 1);
  }
  const colon = authority.lastIndexOf(":");
  return colon < 0 ? authority : authority.substring(0, colon);
}

/**
 * The short service name Istio shows for a host: its first DNS label (`ratings` for
 * `ratings.default.svc.cluster.local`); an IP address stays whole.
 */
export function serviceShortName(host: string): string {
  if (host == UNKNOWN || host.startsWith("[")) return host;
  let numeric = true;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || c == 0x2e)) {
      numeric = false;
      break;
    }
  }
  if (numeric) return host;
  const dot = host.indexOf(".");
  return dot <= 0 ? host : host.substring(0, dot);
}
