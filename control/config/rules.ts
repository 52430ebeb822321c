// Per-kind rules that span fields, after the schema has checked shapes and single values. They follow
// istio/pkg/config/validation (ValidateVirtualService, ValidateDestinationRule, ...): the same conditions give an
// error here that Istio rejects, and a warning where Istio warns. Each rule reports with a path relative to `spec`.
import {
  checkCidr, checkHost, checkNamespace, checkWildcardHost, isIP, parseDurationNs,
} from "./checks.ts";
import type { FieldPath } from "./parse.ts";
import type {
  AuthorizationPolicySpec, ClientTLSSettings, ConnectionPoolSettings, Destination, GatewaySpec, Headers,
  HTTPRoute, HTTPRouteDestination, JWTRule, Kind, LoadBalancerSettings, OutlierDetection, PeerAuthenticationSpec,
  RequestAuthenticationSpec, RouteDestination, ServerTLSSettings, ServiceEntrySpec, SpecOf, TelemetrySpec,
  TrafficPolicy, VirtualServiceSpec, WasmPluginSpec, WorkloadEntrySpec, WorkloadSelector, DestinationRuleSpec,
} from "./schema.ts";

export interface RuleReporter {
  error(path: FieldPath, message: string): void;
  warn(path: FieldPath, message: string): void;
}

export interface RuleContext {
  name: string;
  namespace: string;
}

type Rule<K extends Kind> = (spec: SpecOf<K>, report: RuleReporter, context: RuleContext) => void;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const isDns1123Label = (text: string) => text.length <= 63 && DNS1123_LABEL.test(text);

// ---------------------------------------------------------------------------------------------------------------
// Protocols, as istio/pkg/config/protocol parses them (case-insensitive).

const PROTOCOLS = new Set(["GRPC", "GRPC-WEB", "HTTP", "HTTP_PROXY", "HTTP2", "HTTPS", "TCP", "TLS", "UDP", "MONGO", "REDIS", "MYSQL", "HBONE"]);
const HTTP_PROTOCOLS = new Set(["HTTP", "HTTP2", "HTTP_PROXY", "GRPC", "GRPC-WEB"]);
const TLS_PROTOCOLS = new Set(["HTTPS", "TLS"]);
const TCP_PROTOCOLS = new Set(["TCP", "HTTPS", "TLS", "MONGO", "REDIS", "MYSQL"]);

export const isHttpProtocol = (protocol: string | undefined) => HTTP_PROTOCOLS.has((protocol ?? "").toUpperCase());
export const isTlsProtocol = (protocol: string | undefined) => TLS_PROTOCOLS.has((protocol ?? "").toUpperCase());

function checkProtocol(protocol: string | undefined): string | undefined {
  if (protocol === undefined || protocol === "") return undefined;
  if (!PROTOCOLS.has(protocol.toUpperCase())) {
    return `invalid protocol ${JSON.stringify(protocol)}, supported protocols are HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TCP, TLS, MONGO, REDIS, MYSQL`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Shared pieces

// Envoy's x-envoy-retry-on and x-envoy-retry-grpc-on values, the set Istio accepts (plus HTTP status codes).
const RETRY_ON = new Set([
  "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "retriable-4xx", "refused-stream",
  "retriable-status-codes", "retriable-headers", "envoy-ratelimited", "http3-post-connect-failure",
  "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable",
]);

const GRPC_STATUS = new Set([
  "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE",
  "DATA_LOSS", "UNAUTHENTICATED",
]);

const CORS_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]);
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000A-\u001F\u007F]/;

function checkPercentage(value: number | undefined, path: FieldPath, report: RuleReporter): void {
  if (value === undefined) return;
  // The 0..100 range is the schema's; Envoy's fractional percent also cannot express less than 0.0001 %.
  if (value > 0 && value < 0.0001) report.error(path, `percentage ${value} is neither 0.0 nor in range [0.0001, 100.0]`);
}

function checkHeaderOperations(headers: Headers | undefined, path: FieldPath, report: RuleReporter): void {
  if (!headers) return;
  for (const direction of ["request", "response"] as const) {
    const operations = headers[direction];
    if (!operations) continue;
    for (const kind of ["set", "add"] as const) {
      for (const [name, value] of Object.entries(operations[kind] ?? {})) {
        const fieldPath = [...path, direction, kind, name];
        const lower = name.toLowerCase();
        const authorityAllowed = direction === "request" && (lower === ":authority" || lower === "host");
        if (!authorityAllowed && lower === "host") report.error(fieldPath, `invalid header "${name}": cannot set Host header`);
        if (CONTROL_CHARACTERS.test(value)) report.error(fieldPath, `header value ${JSON.stringify(value)} contains control characters`);
        if (!checkPercentEscapes(value)) report.error(fieldPath, `header value ${JSON.stringify(value)}: a "%" must start a %VARIABLE% or be doubled ("%%")`);
      }
    }
  }
}

/** Envoy header values treat % as the start of a %COMMAND%; a lone % is refused. */
function checkPercentEscapes(value: string): boolean {
  let index = 0;
  while (index < value.length) {
    const next = value.indexOf("%", index);
    if (next < 0) return true;
    if (value[next + 1] === "%") { index = next + 2; continue; }
    const close = value.indexOf("%", next + 1);
    if (close < 0) return false;
    if (!/^[A-Z_][A-Z0-9_]*(\(.*\))?(:[0-9]+)?$/.test(value.slice(next + 1, close))) return false;
    index = close + 1;
  }
  return true;
}

function checkDestination(destination: Destination | undefined, path: FieldPath, report: RuleReporter): void {
  if (!destination) return;
  if (destination.host === "*") report.error([...path, "host"], `invalid destination host "*" (name one service, e.g. "reviews")`);
  else {
    const problem = checkWildcardHost(destination.host);
    if (problem) report.error([...path, "host"], problem);
  }
  if (destination.subset !== undefined && !isDns1123Label(destination.subset)) {
    report.error([...path, "subset"], destination.subset === "" ? "subset name cannot be empty" : `subset name ${JSON.stringify(destination.subset)} is invalid (a DNS-1123 label such as "v1")`);
  }
  if (destination.port && destination.port.number === undefined) report.error([...path, "port", "number"], "port.number is required");
}

function checkWeights(routes: readonly (HTTPRouteDestination | RouteDestination)[] | undefined, path: FieldPath, report: RuleReporter): void {
  if (!routes) return;
  let total = 0;
  routes.forEach((route, index) => {
    const weight = route.weight ?? 0;
    if (weight < 0) report.error([...path, index, "weight"], `weight ${weight} < 0`);
    total += weight;
    checkDestination(route.destination, [...path, index, "destination"], report);
  });
  if (routes.length > 1 && total === 0) report.error(path, "total destination weight = 0 (give each destination a weight, e.g. 90 and 10)");
  else if (routes.length > 1 && total !== 100) {
    report.warn(path, `destination weights sum to ${total}, not 100; they are applied as relative shares`);
  }
}

function checkGatewayNames(names: readonly string[] | undefined, path: FieldPath, report: RuleReporter): void {
  names?.forEach((name, index) => {
    if (name === "mesh") return;
    const slash = name.indexOf("/");
    if (slash < 0) {
      if (name.includes(".")) {
        const [gateway, namespace] = name.split(".");
        report.warn([...path, index], `using legacy gateway name format ${JSON.stringify(name)}; prefer "${namespace}/${gateway}"`);
        const problem = checkHost(name);
        if (problem) report.error([...path, index], problem);
      } else if (!isDns1123Label(name)) {
        report.error([...path, index], `invalid gateway name ${JSON.stringify(name)} (use "name" or "namespace/name")`);
      }
      return;
    }
    const namespace = name.slice(0, slash);
    const gateway = name.slice(slash + 1);
    if (namespace === "" || gateway === "") report.error([...path, index], "config namespace and gateway name cannot be empty");
    else {
      if (!isDns1123Label(namespace)) report.error([...path, index], `invalid value for namespace: ${JSON.stringify(namespace)}`);
      if (!isDns1123Label(gateway)) report.error([...path, index], `invalid value for gateway name: ${JSON.stringify(gateway)}`);
    }
  });
}

function checkSelector(selector: WorkloadSelector | undefined, path: FieldPath, report: RuleReporter): void {
  if (!selector) return;
  const labels = selector.matchLabels ?? {};
  for (const [key, value] of Object.entries(labels)) {
    if (key === "") report.error([...path, "matchLabels"], `empty key is not supported in selector: "=${value}"`);
    if (key.includes("*") || value.includes("*")) report.error([...path, "matchLabels", key], `wildcard is not supported in selector: "${key}=${value}"`);
  }
  if (Object.keys(labels).length === 0) report.warn(path, "workload selector specified without labels (it selects every workload)");
}

function checkOneSelectorType(spec: { selector?: unknown; targetRef?: unknown; targetRefs?: unknown[] }, report: RuleReporter): void {
  const set = [spec.selector, spec.targetRef, spec.targetRefs && spec.targetRefs.length > 0 ? spec.targetRefs : undefined].filter((v) => v !== undefined);
  if (set.length > 1) report.error([], "only one of targetRefs or selector can be set");
  if (spec.targetRef !== undefined || (spec.targetRefs?.length ?? 0) > 0) {
    report.warn(spec.targetRef !== undefined ? ["targetRef"] : ["targetRefs"], "targetRef(s) name Kubernetes Gateway API objects, which as-mesh does not have; the policy selects no workload");
  }
}

function checkExportTo(exportTo: readonly string[] | undefined, path: FieldPath, report: RuleReporter, context: RuleContext, isServiceEntry: boolean): void {
  if (!exportTo || exportTo.length === 0) return;
  const seen = new Set<string>();
  exportTo.forEach((entry, index) => {
    const key = entry === "." ? context.namespace : entry;
    if (seen.has(key)) report.error([...path, index], `duplicate entries in exportTo for entry ${entry}`);
    seen.add(key);
    if (entry === "~" ? !isServiceEntry : entry !== "*" && entry !== "." && !isDns1123Label(entry)) {
      report.error([...path, index], `invalid exportTo value ${JSON.stringify(entry)} (".", "*" or a namespace)`);
    }
  });
  if (seen.has("*") && exportTo.length > 1) report.error(path, "cannot have both public (*) and non-public exportTo values for a resource");
  if (seen.has("~") && exportTo.length > 1) report.error(path, "cannot export service entry to no one (~) and someone");
}

// ---------------------------------------------------------------------------------------------------------------
// VirtualService

function checkHttpRoute(route: HTTPRoute, path: FieldPath, report: RuleReporter, isDelegate: boolean): void {
  const isRoot = !isDelegate && route.delegate !== undefined;
  const hasRoute = (route.route?.length ?? 0) > 0;
  if (isRoot) {
    if (route.redirect) report.error([...path, "redirect"], `root HTTP route must not specify redirect`);
    if (route.route) report.error([...path, "route"], `root HTTP route must not specify route`);
  } else {
    if (isDelegate && route.delegate) report.error([...path, "delegate"], "delegate HTTP route cannot contain delegate");
    if (route.redirect) {
      if (hasRoute) report.error(path, "HTTP route cannot contain both route and redirect");
      if (route.fault) report.error(path, "HTTP route cannot contain both fault and redirect");
      if (route.rewrite) report.error(path, "HTTP route rule cannot contain both rewrite and redirect");
      if (route.directResponse) report.error(path, "HTTP route rule cannot contain both direct_response and redirect");
    } else if (route.directResponse) {
      if (hasRoute) report.error(path, "HTTP route cannot contain both route and direct_response");
      if (route.fault) report.error(path, "HTTP route cannot contain both fault and direct_response");
      if (route.rewrite) report.error(path, "HTTP route rule cannot contain both rewrite and direct_response");
    } else if (!hasRoute) {
      report.error(path, "HTTP route, redirect or direct_response is required (add route: [{destination: {host: ...}}])");
    }
  }
  if (route.mirror && route.mirrors) report.error(path, "HTTP route cannot contain both mirror and mirrors");

  route.match?.forEach((match, index) => {
    const matchPath = [...path, "match", index];
    for (const field of ["scheme", "method", "authority"] as const) {
      if (match[field]?.prefix === "") report.error([...matchPath, field, "prefix"], `"${field}": prefix string match should not be empty`);
    }
    for (const field of ["headers", "queryParams"] as const) {
      for (const [name, value] of Object.entries(match[field] ?? {})) {
        if (value.prefix === "") report.error([...matchPath, field, name, "prefix"], `"${field}": prefix string match should not be empty`);
      }
    }
    if (match.sourceNamespace !== undefined && !isDns1123Label(match.sourceNamespace)) {
      report.error([...matchPath, "sourceNamespace"], `sourceNamespace match ${match.sourceNamespace} is invalid`);
    }
    checkGatewayNames(match.gateways, [...matchPath, "gateways"], report);
  });

  checkHeaderOperations(route.headers, [...path, "headers"], report);
  route.route?.forEach((destination, index) => checkHeaderOperations(destination.headers, [...path, "route", index, "headers"], report));
  checkWeights(route.route, [...path, "route"], report);

  if (route.fault) {
    const faultPath = [...path, "fault"];
    if (!route.fault.abort && !route.fault.delay) report.error(faultPath, "HTTP fault injection must have an abort and/or a delay");
    const { delay, abort } = route.fault;
    if (delay) {
      checkPercentage(delay.percentage?.value, [...faultPath, "delay", "percentage", "value"], report);
      if (delay.fixedDelay && delay.exponentialDelay) report.error([...faultPath, "delay"], "only one of fixedDelay, exponentialDelay may be set");
      if (delay.exponentialDelay) report.error([...faultPath, "delay", "exponentialDelay"], "exponentialDelay not supported yet (use fixedDelay)");
      if (!delay.fixedDelay && !delay.exponentialDelay) report.error([...faultPath, "delay"], "delay needs fixedDelay (e.g. fixedDelay: 2s)");
      if (delay.percent !== undefined) {
        report.warn([...faultPath, "delay", "percent"], `using deprecated setting "percent", use "percentage" instead`);
        if (delay.percent < 0 || delay.percent > 100) report.error([...faultPath, "delay", "percent"], `percentage ${delay.percent} is not in range 0..100`);
      }
    }
    if (abort) {
      checkPercentage(abort.percentage?.value, [...faultPath, "abort", "percentage", "value"], report);
      if (abort.httpStatus !== undefined && (abort.httpStatus < 200 || abort.httpStatus > 599)) {
        report.error([...faultPath, "abort", "httpStatus"], `HTTP status ${abort.httpStatus} is not in range 200-599`);
      }
      if (abort.grpcStatus !== undefined && !GRPC_STATUS.has(abort.grpcStatus)) {
        report.error([...faultPath, "abort", "grpcStatus"], `gRPC status ${JSON.stringify(abort.grpcStatus)} is not supported (e.g. "UNAVAILABLE", "NOT_FOUND")`);
      }
      if (abort.http2Error !== undefined) report.error([...faultPath, "abort", "http2Error"], "HTTP/2 abort fault injection not supported yet");
    }
  }

  for (const field of ["mirrorPercent", "mirror_percent"] as const) {
    const value = route[field];
    if (value === undefined) continue;
    report.warn([...path, field], `using deprecated setting "${field}", use "mirrorPercentage" instead`);
    if (value > 100) report.error([...path, field], `mirror_percent must have a max value of 100 (it has ${value})`);
  }
  if (route.mirrorPercent !== undefined && route.mirror_percent !== undefined) report.error(path, "only one of mirrorPercent, mirror_percent may be set");
  checkDestination(route.mirror, [...path, "mirror"], report);
  route.mirrors?.forEach((mirror, index) => checkDestination(mirror.destination, [...path, "mirrors", index, "destination"], report));

  if (route.redirect) {
    const redirect = route.redirect;
    const redirectPath = [...path, "redirect"];
    if (redirect.prefixRewrite !== undefined && route.match?.some((match) => match.uri && match.uri.prefix === undefined)) {
      report.error(redirectPath, "redirect prefixRewrite requires all URI matches to use prefix match type");
    }
    if (!redirect.uri && !redirect.prefixRewrite && !redirect.authority && redirect.port === undefined && !redirect.derivePort && !redirect.scheme) {
      report.error(redirectPath, "redirect must specify URI, authority, scheme, or port");
    }
    if (redirect.redirectCode !== undefined && redirect.redirectCode !== 0 && (redirect.redirectCode < 300 || redirect.redirectCode > 399)) {
      report.error([...redirectPath, "redirectCode"], `${redirect.redirectCode} is not a valid redirect code, must be 3xx`);
    }
    if (redirect.scheme !== undefined && redirect.scheme !== "" && redirect.scheme !== "http" && redirect.scheme !== "https") {
      report.error([...redirectPath, "scheme"], `invalid redirect scheme, must be "http" or "https"`);
    }
  }
  if (route.directResponse) {
    const status = route.directResponse.status;
    if (status < 200 || status > 599) report.error([...path, "directResponse", "status"], `HTTP status ${status} is not in range 200-599`);
    const body = route.directResponse.body;
    const size = (body?.string ?? body?.bytes ?? "").length;
    if (size > 1024 * 1024) report.error([...path, "directResponse", "body"], "large direct_responses may impact control plane performance, must be less than 1MB");
  }
  if (route.retries) {
    const retries = route.retries;
    const retryPath = [...path, "retries"];
    const attempts = retries.attempts ?? 0;
    if (attempts < 0) report.error([...retryPath, "attempts"], "attempts cannot be negative");
    if (attempts === 0 && (retries.perTryTimeout !== undefined || retries.retryOn !== undefined || retries.retryRemoteLocalities !== undefined)) {
      report.error(retryPath, "http retry policy configured when attempts are set to 0 (disabled); set attempts, e.g. attempts: 3");
    }
    if (retries.retryOn !== undefined && retries.retryOn !== "") {
      for (const policy of retries.retryOn.split(",")) {
        const isStatus = /^[1-5][0-9]{2}$/.test(policy);
        if (!isStatus && !RETRY_ON.has(policy)) {
          report.error([...retryPath, "retryOn"], `${JSON.stringify(policy)} is not a valid retryOn policy (e.g. "5xx,reset,connect-failure,refused-stream", or a status code)`);
        }
      }
    }
  }
  if (route.rewrite) {
    const rewrite = route.rewrite;
    if (rewrite.uri === undefined && rewrite.uriRegexRewrite === undefined && rewrite.authority === undefined) {
      report.error([...path, "rewrite"], "rewrite must specify at least one of uri, uriRegexRewrite, or authority");
    }
    if (rewrite.uriRegexRewrite && (!rewrite.uriRegexRewrite.match || !rewrite.uriRegexRewrite.rewrite)) {
      report.error([...path, "rewrite", "uriRegexRewrite"], "uriRegexRewrite requires both rewrite and match fields to be specified");
    }
  }
  const authoritySetters = [
    route.rewrite?.authority,
    ...Object.entries({ ...route.headers?.request?.set, ...route.headers?.request?.add })
      .filter(([name]) => [":authority", "host"].includes(name.toLowerCase())).map(([, value]) => value),
  ].filter((value) => value !== undefined);
  if (authoritySetters.length > 1) report.error(path, "authority header cannot be set multiple times (rewrite.authority and a host/:authority header)");
  if (route.corsPolicy) {
    const cors = route.corsPolicy;
    cors.allowMethods?.forEach((method, index) => {
      if (!CORS_METHODS.has(method)) report.error([...path, "corsPolicy", "allowMethods", index], `${JSON.stringify(method)} is not a supported HTTP method`);
    });
    if (cors.allowOrigin) report.warn([...path, "corsPolicy", "allowOrigin"], `using deprecated setting "allowOrigin", use "allowOrigins" instead`);
    if (cors.maxAge !== undefined && (parseDurationNs(cors.maxAge) ?? 0) % 1e9 !== 0) {
      report.error([...path, "corsPolicy", "maxAge"], "max_age duration is accurate only to seconds precision");
    }
  }
}

/** Hosts a VirtualService may list: domains with a leading wildcard, or IP addresses. */
function hostsOverlap(a: string, b: string): boolean {
  const matches = (pattern: string, host: string) => pattern === host || pattern === "*" ||
    (pattern.startsWith("*.") && (host.endsWith(pattern.slice(1)) || (host.startsWith("*.") && host.endsWith(pattern.slice(1)))));
  return matches(a, b) || matches(b, a);
}

const virtualService: Rule<"VirtualService"> = (spec: VirtualServiceSpec, report, context) => {
  const hosts = spec.hosts ?? [];
  const isDelegate = hosts.length === 0;
  if (isDelegate) {
    if ((spec.gateways?.length ?? 0) > 0) report.error(["gateways"], "delegate virtual service must have no gateways specified");
    if ((spec.tls?.length ?? 0) > 0) report.error(["tls"], "delegate virtual service must have no tls route specified");
    if ((spec.tcp?.length ?? 0) > 0) report.error(["tcp"], "delegate virtual service must have no tcp route specified");
    report.warn([], `no hosts: this VirtualService is a delegate and applies only where another VirtualService's http[].delegate names "${context.name}"; add hosts (e.g. hosts: [${context.name}]) to route traffic with it`);
  }
  checkGatewayNames(spec.gateways, ["gateways"], report);
  const appliesToMesh = !spec.gateways || spec.gateways.length === 0 || spec.gateways.includes("mesh");
  let allValid = true;
  hosts.forEach((host, index) => {
    const problem = checkWildcardHost(host);
    if (problem && !isIP(host)) { report.error(["hosts", index], problem); allValid = false; }
    else if (appliesToMesh && host === "*") {
      report.error(["hosts", index], "wildcard host * is not allowed for virtual services bound to the mesh gateway");
      allValid = false;
    }
  });
  if (allValid) {
    for (let i = 0; i < hosts.length; i++) {
      for (let j = i + 1; j < hosts.length; j++) {
        if (hostsOverlap(hosts[i]!, hosts[j]!)) report.error(["hosts", j], `duplicate hosts in virtual service: ${hosts[i]} & ${hosts[j]}`);
      }
    }
  }
  if (!spec.http?.length && !spec.tcp?.length && !spec.tls?.length) report.error([], "http, tcp or tls must be provided in virtual service");
  spec.http?.forEach((route, index) => checkHttpRoute(route, ["http", index], report, isDelegate));
  spec.tls?.forEach((route, index) => {
    if (route.match.length === 0) report.error(["tls", index, "match"], "TLS route must have at least one match condition");
    route.match.forEach((match, matchIndex) => {
      if (match.sniHosts.length === 0) report.error(["tls", index, "match", matchIndex, "sniHosts"], "TLS match must have at least one SNI host");
      match.destinationSubnets?.forEach((subnet, subnetIndex) => {
        const problem = checkCidr(subnet);
        if (problem) report.error(["tls", index, "match", matchIndex, "destinationSubnets", subnetIndex], problem);
      });
    });
    if (!route.route?.length) report.error(["tls", index], "TLS route is required");
    checkWeights(route.route, ["tls", index, "route"], report);
  });
  spec.tcp?.forEach((route, index) => {
    route.match?.forEach((match, matchIndex) => match.destinationSubnets?.forEach((subnet, subnetIndex) => {
      const problem = checkCidr(subnet);
      if (problem) report.error(["tcp", index, "match", matchIndex, "destinationSubnets", subnetIndex], problem);
    }));
    if (!route.route?.length) report.error(["tcp", index], "TCP route is required");
    checkWeights(route.route, ["tcp", index, "route"], report);
  });
  checkExportTo(spec.exportTo, ["exportTo"], report, context, false);

  // As Istio's analyzer: a rule after one that matches everything is never used.
  const http = spec.http ?? [];
  const catchAll = http.findIndex((route) => !route.match || route.match.length === 0 ||
    route.match.some((match) => Object.keys(match).every((key) => key === "name" || (key === "uri" && match.uri?.prefix === "/"))));
  if (catchAll >= 0) {
    for (let index = catchAll + 1; index < http.length; index++) {
      report.warn(["http", index], `virtualService rule http[${index}] not used (http[${catchAll}] matches every request before it)`);
    }
  }
};

// ---------------------------------------------------------------------------------------------------------------
// DestinationRule

function isPrime(value: number): boolean {
  if (value > 0 && value < 4) return true;
  if (value % 2 === 0) return false;
  for (let factor = 3; factor * factor <= value; factor += 2) if (value % factor === 0) return false;
  return true;
}

function checkOutlierDetection(outlier: OutlierDetection | undefined, path: FieldPath, report: RuleReporter): void {
  if (!outlier) return;
  if (outlier.consecutiveErrors !== undefined && outlier.consecutiveErrors !== 0) {
    report.warn([...path, "consecutiveErrors"], "outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead");
  }
  if (!outlier.splitExternalLocalOriginErrors && (outlier.consecutiveLocalOriginFailures ?? 0) > 0) {
    report.error([...path, "consecutiveLocalOriginFailures"], "outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false");
  }
  for (const field of ["maxEjectionPercent", "minHealthPercent"] as const) {
    const value = outlier[field];
    if (value !== undefined && (value < 0 || value > 100)) report.error([...path, field], `percentage ${value} is not in range 0..100`);
  }
  for (const field of ["consecutiveLocalOriginFailures", "consecutiveGatewayErrors", "consecutive5xxErrors"] as const) {
    const value = outlier[field];
    if (value !== undefined && value < 0) report.error([...path, field], `${field} must be non-negative`);
  }
}

function checkConnectionPool(pool: ConnectionPoolSettings | undefined, path: FieldPath, report: RuleReporter): void {
  if (!pool) return;
  if (!pool.http && !pool.tcp) { report.error(path, "connection pool must have at least one field (tcp or http)"); return; }
  const http = pool.http;
  if (http) {
    for (const field of ["http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection", "maxRetries", "maxConcurrentStreams"] as const) {
      const value = http[field];
      if (value !== undefined && value < 0) report.error([...path, "http", field], `${field} must be non-negative`);
    }
    if (http.h2UpgradePolicy === "UPGRADE" && http.useClientProtocol) {
      report.error([...path, "http"], "use client protocol must not be true when H2UpgradePolicy is UPGRADE");
    }
    if (http.http2KeepAlive) {
      if (!http.http2KeepAlive.interval) report.error([...path, "http", "http2KeepAlive"], "http2 keepalive interval is required");
      if (!http.http2KeepAlive.timeout) report.error([...path, "http", "http2KeepAlive"], "http2 keepalive timeout is required");
    }
  }
  if (pool.tcp?.maxConnections !== undefined && pool.tcp.maxConnections < 0) {
    report.error([...path, "tcp", "maxConnections"], "max connections must be non-negative");
  }
}

function checkLoadBalancer(lb: LoadBalancerSettings | undefined, path: FieldPath, report: RuleReporter): void {
  const hash = lb?.consistentHash;
  if (hash) {
    if (hash.minimumRingSize !== undefined && hash.minimumRingSize !== 0) {
      report.warn([...path, "consistentHash", "minimumRingSize"], "consistent hash minimumRingSize is deprecated, use consistentHash.ringHash.minimumRingSize instead");
    }
    const names = new Set<string>();
    hash.httpCookie?.attributes?.forEach((attribute, index) => {
      if (names.has(attribute.name)) report.error([...path, "consistentHash", "httpCookie", "attributes", index], `duplicate cookie attribute name: ${attribute.name}`);
      names.add(attribute.name);
    });
    if (hash.httpCookie && hash.httpCookie.name === "") report.error([...path, "consistentHash", "httpCookie", "name"], "name required for HttpCookie");
    if (hash.maglev) {
      const size = hash.maglev.tableSize ?? 0;
      const maglevPath = [...path, "consistentHash", "maglev", "tableSize"];
      if (size === 0) report.error(maglevPath, "tableSize must be set for maglev");
      else if (size >= 5000011) report.error(maglevPath, "tableSize must be less than 5000011 for maglev");
      else if (!isPrime(size)) report.error(maglevPath, "tableSize must be a prime number for maglev (e.g. 65537)");
    }
  }
  if (lb?.localityLbSetting && lb.zoneAwareLbSetting) report.error(path, "only one of localityLbSetting and zoneAwareLbSetting can be set");
}

function checkClientTls(tls: ClientTLSSettings | undefined, path: FieldPath, report: RuleReporter): void {
  if (!tls) return;
  if (tls.insecureSkipVerify) {
    if (tls.mode === "SIMPLE" && (tls.caCertificates || tls.credentialName || tls.subjectAltNames)) {
      report.error(path, "cannot specify caCertificates or credentialName or subjectAltNames when insecureSkipVerify is set true");
    }
    if (tls.mode === "MUTUAL" && (tls.caCertificates || tls.subjectAltNames)) {
      report.error(path, "cannot specify caCertificates or subjectAltNames when insecureSkipVerify is set true");
    }
  }
  if ((tls.mode === "SIMPLE" || tls.mode === "MUTUAL") && tls.credentialName) {
    if (tls.clientCertificate || tls.caCertificates || tls.privateKey || tls.caCrl) {
      report.error(path, "cannot specify client certificates or CA certificate or CA CRL if credentialName is set");
    }
    return;
  }
  if (tls.mode === "MUTUAL") {
    if (!tls.clientCertificate) report.error(path, "client certificate required for mutual tls (or set credentialName)");
    if (!tls.privateKey) report.error(path, "private key required for mutual tls (or set credentialName)");
  }
}

function checkTrafficPolicy(policy: TrafficPolicy | undefined, path: FieldPath, report: RuleReporter): void {
  if (!policy) return;
  if (Object.keys(policy).length === 0) { report.error(path, "traffic policy must have at least one field"); return; }
  if (policy.tunnel && policy.proxyProtocol) { report.error(path, "tunnel and proxyProtocol must not be set together"); return; }
  checkOutlierDetection(policy.outlierDetection, [...path, "outlierDetection"], report);
  checkConnectionPool(policy.connectionPool, [...path, "connectionPool"], report);
  checkLoadBalancer(policy.loadBalancer, [...path, "loadBalancer"], report);
  checkClientTls(policy.tls, [...path, "tls"], report);
  if (policy.tunnel) {
    const { protocol, targetHost } = policy.tunnel;
    if (protocol !== undefined && protocol !== "" && protocol !== "CONNECT" && protocol !== "POST") report.error([...path, "tunnel", "protocol"], `tunnel protocol must be "CONNECT" or "POST"`);
    if (checkHost(targetHost) && !isIP(targetHost)) report.error([...path, "tunnel", "targetHost"], "tunnel target host must be valid FQDN or IP address");
  }
  policy.portLevelSettings?.forEach((settings, index) => {
    const settingsPath = [...path, "portLevelSettings", index];
    if (!settings.port) report.error(settingsPath, "portTrafficPolicy must have valid port");
    if (!settings.outlierDetection && !settings.connectionPool && !settings.loadBalancer && !settings.tls) {
      report.error(settingsPath, "port traffic policy must have at least one field");
    }
    checkOutlierDetection(settings.outlierDetection, [...settingsPath, "outlierDetection"], report);
    checkConnectionPool(settings.connectionPool, [...settingsPath, "connectionPool"], report);
    checkLoadBalancer(settings.loadBalancer, [...settingsPath, "loadBalancer"], report);
    checkClientTls(settings.tls, [...settingsPath, "tls"], report);
  });
}

const destinationRule: Rule<"DestinationRule"> = (spec: DestinationRuleSpec, report, context) => {
  const problem = checkWildcardHost(spec.host);
  if (problem) report.error(["host"], problem);
  checkTrafficPolicy(spec.trafficPolicy, ["trafficPolicy"], report);
  const names = new Set<string>();
  spec.subsets?.forEach((subset, index) => {
    if (names.has(subset.name)) report.error(["subsets", index, "name"], `duplicate subset names: ${subset.name}`);
    names.add(subset.name);
    if (!isDns1123Label(subset.name)) report.error(["subsets", index, "name"], subset.name === "" ? "subset name cannot be empty" : `subset name is invalid: ${subset.name} (a DNS-1123 label such as "v1")`);
    checkTrafficPolicy(subset.trafficPolicy, ["subsets", index, "trafficPolicy"], report);
  });
  checkExportTo(spec.exportTo, ["exportTo"], report, context, false);
  checkSelector(spec.workloadSelector, ["workloadSelector"], report);
};

// ---------------------------------------------------------------------------------------------------------------
// Gateway

function checkGatewayHost(host: string, path: FieldPath, report: RuleReporter): void {
  const slash = host.indexOf("/");
  let dnsName = host;
  if (slash >= 0) {
    const namespace = host.slice(0, slash);
    dnsName = host.slice(slash + 1);
    if (namespace === "" || dnsName === "") { report.error(path, "config namespace and dnsName in host entry cannot be empty"); return; }
    if (namespace !== "*" && namespace !== "." && !isDns1123Label(namespace)) report.error(path, `invalid namespace value ${JSON.stringify(namespace)} in gateway`);
  }
  if (dnsName !== "*" && !dnsName.includes(".")) report.error(path, `short names (non FQDN) are not allowed: ${JSON.stringify(dnsName)} (e.g. "app.example.com")`);
  else if (checkWildcardHost(dnsName) && !isIP(dnsName)) report.error(path, checkWildcardHost(dnsName)!);
}

function checkServerTls(tls: ServerTLSSettings, path: FieldPath, report: RuleReporter): void {
  if (tls.mode === "ISTIO_MUTUAL") {
    for (const field of ["serverCertificate", "privateKey", "caCertificates", "credentialName"] as const) {
      if (tls[field]) report.error([...path, field], `ISTIO_MUTUAL TLS cannot have associated ${field}`);
    }
    return;
  }
  if (tls.mode === "PASSTHROUGH" || tls.mode === "AUTO_PASSTHROUGH") {
    if (tls.serverCertificate || tls.privateKey || tls.caCertificates || tls.credentialName || tls.credentialNames?.length || tls.tlsCertificates?.length) {
      report.warn(path, `${tls.mode} mode does not use certificates, they will be ignored`);
    }
  }
  const sources = [tls.serverCertificate && tls.privateKey, tls.credentialName, tls.credentialNames?.length, tls.tlsCertificates?.length].filter(Boolean).length;
  if (sources > 1) report.error(path, "only one of credentialName, credentialNames, serverCertificate/privateKey, tlsCertificates should be specified");
  const needsCertificate = tls.mode === "SIMPLE" || tls.mode === "MUTUAL" || tls.mode === "OPTIONAL_MUTUAL";
  if (needsCertificate && (tls.credentialName || tls.credentialNames?.length)) return;
  if (needsCertificate) {
    const prefix = tls.mode === "SIMPLE" ? "SIMPLE TLS" : "MUTUAL TLS";
    if (tls.mode !== "SIMPLE" && !tls.caCertificates) report.error(path, `${prefix} requires a client CA bundle (caCertificates)`);
    const certificates = tls.tlsCertificates?.length ? tls.tlsCertificates : [{ serverCertificate: tls.serverCertificate, privateKey: tls.privateKey }];
    for (const certificate of certificates) {
      if (!certificate.serverCertificate) report.error(path, `${prefix} requires a server certificate (set credentialName, or serverCertificate and privateKey)`);
      if (!certificate.privateKey) report.error(path, `${prefix} requires a private key`);
    }
  }
  if (tls.caCrl && tls.credentialName) report.error([...path, "caCrl"], "CRL is not supported with credentialName. CRL has to be specified in the credential");
  if (tls.caCrl && tls.mode === "SIMPLE") report.error([...path, "caCrl"], "CRL is not supported with SIMPLE TLS");
}

const gateway: Rule<"Gateway"> = (spec: GatewaySpec, report, context) => {
  if (!isDns1123Label(context.name)) report.error([], `invalid gateway name: ${JSON.stringify(context.name)} (a DNS-1123 label, no dots)`);
  if (spec.servers.length === 0) report.error(["servers"], "gateway must have at least one server");
  const portNames = new Set<string>();
  spec.servers.forEach((server, index) => {
    const path = ["servers", index];
    if (server.hosts.length === 0) report.error([...path, "hosts"], "server config must contain at least one host");
    server.hosts.forEach((host, hostIndex) => checkGatewayHost(host, [...path, "hosts", hostIndex], report));
    const protocolProblem = checkProtocol(server.port.protocol);
    if (protocolProblem) report.error([...path, "port", "protocol"], protocolProblem);
    if (server.port.targetPort !== undefined) report.error([...path, "port", "targetPort"], "targetPort has no impact on Gateways");
    if (server.port.name === "") report.error([...path, "port", "name"], "port name must be set");
    if (portNames.has(server.port.name)) report.error([...path, "port", "name"], `port names in servers must be unique: duplicate name ${server.port.name}`);
    portNames.add(server.port.name);
    if (server.bind !== undefined && server.bind !== "" && !server.bind.startsWith("unix://") && !isIP(server.bind)) {
      report.error([...path, "bind"], `${JSON.stringify(server.bind)} is not a valid IP address`);
    }
    if (server.tls) checkServerTls(server.tls, [...path, "tls"], report);
    if (!protocolProblem) {
      if (isTlsProtocol(server.port.protocol) && !server.tls) {
        report.error([...path, "tls"], "server must have TLS settings for HTTPS/TLS protocols (e.g. tls: {mode: SIMPLE, credentialName: my-cert})");
      } else if (!isTlsProtocol(server.port.protocol) && server.tls) {
        const redirectOnly = server.tls.httpsRedirect && !server.tls.caCertificates && !server.tls.privateKey && !server.tls.serverCertificate;
        if (!isHttpProtocol(server.port.protocol)) report.error([...path, "tls"], "server cannot have TLS settings for non HTTPS/TLS ports");
        else if (!redirectOnly) report.error([...path, "tls"], "server cannot have TLS settings for plain text HTTP ports");
      }
      if (!isHttpProtocol(server.port.protocol) && server.tls?.httpsRedirect) {
        report.warn([...path, "tls", "httpsRedirect"], "tls.httpsRedirect should only be used with http servers");
      }
    }
  });
};

// ---------------------------------------------------------------------------------------------------------------
// ServiceEntry, WorkloadEntry

function checkWorkloadAddress(entry: WorkloadEntrySpec, path: FieldPath, report: RuleReporter, allowFqdn: boolean): void {
  const address = entry.address ?? "";
  if (address === "") {
    if (!entry.network) report.error([...path, "address"], "address is required");
    else report.warn([...path, "address"], `address is unset with network ${JSON.stringify(entry.network)}`);
    return;
  }
  if (address.startsWith("unix://")) {
    if (!address.slice(7).startsWith("/") && !address.slice(7).startsWith("@")) report.error([...path, "address"], `${address.slice(7)} is not an absolute path to a file`);
    else if (address.endsWith("/")) report.error([...path, "address"], `UDS may not be a dir: ${address}`);
    if (entry.ports && Object.keys(entry.ports).length > 0) report.error([...path, "ports"], `unix endpoint ${address} must not include ports`);
  } else if (!isIP(address)) {
    if (!allowFqdn) report.error([...path, "address"], `endpoint address ${JSON.stringify(address)} is not a valid IP address`);
    else if (checkHost(address)) report.error([...path, "address"], `endpoint address ${JSON.stringify(address)} is not a valid FQDN or an IP address`);
  }
}

function checkEndpointPorts(entry: WorkloadEntrySpec, path: FieldPath, report: RuleReporter, servicePorts: Set<string> | undefined): void {
  for (const [name, port] of Object.entries(entry.ports ?? {})) {
    if (servicePorts && !servicePorts.has(name)) report.error([...path, "ports", name], `endpoint port ${port} is not defined by the service entry (no port named ${JSON.stringify(name)})`);
    if (!isDns1123Label(name)) report.error([...path, "ports", name], `invalid port name: ${name}`);
  }
}

const workloadEntry: Rule<"WorkloadEntry"> = (spec, report) => {
  checkWorkloadAddress(spec, [], report, true);
  checkEndpointPorts(spec, [], report, undefined);
};

const serviceEntry: Rule<"ServiceEntry"> = (spec: ServiceEntrySpec, report, context) => {
  const resolution = spec.resolution ?? "NONE";
  if (spec.workloadSelector && spec.endpoints) report.error([], "only one of workloadSelector or endpoints is allowed in a ServiceEntry");
  for (const [key, value] of Object.entries(spec.workloadSelector?.labels ?? {})) {
    if (key.includes("*") || value.includes("*")) report.error(["workloadSelector", "labels", key], `wildcard is not supported in selector: "${key}=${value}"`);
  }
  if (spec.workloadSelector && Object.keys(spec.workloadSelector.labels ?? {}).length === 0) {
    report.warn(["workloadSelector"], "workloadSelector without labels selects every workload in the namespace");
  }
  if (spec.hosts.length === 0) report.error(["hosts"], "service entry must have at least one host");
  spec.hosts.forEach((host, index) => {
    if (host === "*") { report.error(["hosts", index], `invalid host * (name the external host, e.g. "api.example.com")`); return; }
    const problem = checkWildcardHost(host);
    if (problem) report.error(["hosts", index], problem);
    else if (resolution !== "DYNAMIC_DNS" && host.includes("*") && !host.startsWith("*.")) report.warn(["hosts", index], `partial wildcard ${JSON.stringify(host)} not allowed`);
  });
  let cidr = false;
  spec.addresses?.forEach((address, index) => {
    cidr ||= address.includes("/");
    const problem = checkCidr(address);
    if (problem) report.error(["addresses", index], problem);
  });
  if (cidr && resolution !== "NONE" && resolution !== "STATIC") report.error(["addresses"], "CIDR addresses are allowed only for NONE/STATIC resolution types");
  const portNames = new Set<string>();
  const portNumbers = new Set<number>();
  spec.ports?.forEach((port, index) => {
    if (portNames.has(port.name)) report.error(["ports", index, "name"], `service entry port name ${JSON.stringify(port.name)} already defined`);
    if (portNumbers.has(port.number)) report.error(["ports", index, "number"], `service entry port ${port.number} already defined`);
    portNames.add(port.name);
    portNumbers.add(port.number);
    if (!isDns1123Label(port.name)) report.error(["ports", index, "name"], `invalid port name: ${port.name}`);
    const protocolProblem = checkProtocol(port.protocol);
    if (protocolProblem) report.error(["ports", index, "protocol"], protocolProblem);
  });
  switch (resolution) {
    case "NONE":
      if (spec.endpoints?.length) report.error(["endpoints"], "no endpoints should be provided for resolution type NONE");
      break;
    case "STATIC":
      spec.endpoints?.forEach((endpoint, index) => {
        checkWorkloadAddress(endpoint, ["endpoints", index], report, false);
        checkEndpointPorts(endpoint, ["endpoints", index], report, portNames);
      });
      break;
    case "DNS":
    case "DNS_ROUND_ROBIN":
      if (!spec.endpoints?.length) {
        const bad = spec.hosts.find((host) => checkHost(host.startsWith("*.") ? host.slice(2) : host) !== undefined);
        if (bad !== undefined) report.error(["hosts"], `hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode ${resolution}`);
      }
      if (resolution === "DNS_ROUND_ROBIN" && (spec.endpoints?.length ?? 0) > 1) report.error(["endpoints"], `there must only be 0 or 1 endpoint for resolution mode ${resolution}`);
      spec.endpoints?.forEach((endpoint, index) => {
        if (endpoint.address && !isIP(endpoint.address) && checkHost(endpoint.address)) {
          report.error(["endpoints", index, "address"], `endpoint address ${JSON.stringify(endpoint.address)} is not a valid FQDN or an IP address`);
        }
        checkEndpointPorts(endpoint, ["endpoints", index], report, portNames);
      });
      break;
    case "DYNAMIC_DNS":
      spec.hosts.forEach((host, index) => {
        if (!host.startsWith("*")) report.error(["hosts", index], `host must be wildcarded for resolution mode ${resolution}`);
      });
      if (spec.addresses?.length) report.error(["addresses"], `addresses cannot be set for resolution type ${resolution}`);
      if (spec.endpoints?.length) report.error(["endpoints"], `endpoints cannot be set for resolution type ${resolution}`);
      break;
  }
  if (resolution !== "NONE" && spec.hosts.length > 1 && spec.ports?.some((port) => !isHttpProtocol(port.protocol) && !isTlsProtocol(port.protocol))) {
    report.error(["hosts"], "multiple hosts provided with non-HTTP, non-TLS ports");
  }
  if (spec.addresses?.length && (resolution === "DNS" || resolution === "DNS_ROUND_ROBIN") && spec.hosts.length > 1 &&
    spec.ports?.some((port) => TCP_PROTOCOLS.has((port.protocol ?? "").toUpperCase()))) {
    report.warn(["hosts"], "service entry can not have more than one host specified simultaneously with address and tcp port");
  }
  checkExportTo(spec.exportTo, ["exportTo"], report, context, true);
};

// ---------------------------------------------------------------------------------------------------------------
// Security

function checkJwtRule(rule: JWTRule, path: FieldPath, report: RuleReporter): void {
  rule.audiences?.forEach((audience, index) => { if (audience === "") report.error([...path, "audiences", index], "audience must be non-empty string"); });
  const jwksUri = rule.jwksUri ?? rule.jwks_uri;
  const jwksUriField = rule.jwksUri !== undefined ? "jwksUri" : "jwks_uri";
  if (!rule.issuer && !jwksUri) report.error([...path, "issuer"], "issuer or jwksUri must be non-empty string");
  if ([rule.jwksUri, rule.jwks_uri, rule.jwks].filter((value) => value !== undefined).length > 1) {
    report.error(path, "only one of jwks or jwksUri can be set");
  }
  if (jwksUri !== undefined && jwksUri !== "") {
    let url: URL | undefined;
    try { url = new URL(jwksUri); } catch { /* reported below */ }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
      report.error([...path, jwksUriField], `jwksUri ${JSON.stringify(jwksUri)} is not an http(s) URL (e.g. "https://auth.example.com/.well-known/jwks.json")`);
    }
  }
  if (rule.jwks !== undefined && rule.jwks !== "") {
    let keys: unknown;
    try { keys = JSON.parse(rule.jwks); } catch (error) { report.error([...path, "jwks"], `jwks parse error: ${(error as Error).message}`); }
    if (keys !== undefined && (typeof keys !== "object" || keys === null || !Array.isArray((keys as { keys?: unknown }).keys))) {
      if (typeof keys !== "object" || keys === null || !("kty" in keys)) report.error([...path, "jwks"], `jwks parse error: expected a JSON Web Key Set ({"keys": [...]})`);
    }
  }
  rule.fromHeaders?.forEach((header, index) => { if (header.name === "") report.error([...path, "fromHeaders", index, "name"], "location header name must be non-empty string"); });
  rule.fromParams?.forEach((param, index) => { if (param === "") report.error([...path, "fromParams", index], "location query must be non-empty string"); });
  rule.fromCookies?.forEach((cookie, index) => { if (cookie === "") report.error([...path, "fromCookies", index], "cookie name must be non-empty string"); });
  rule.outputClaimToHeaders?.forEach((mapping, index) => {
    if (mapping.claim === "" || mapping.header === "") report.error([...path, "outputClaimToHeaders", index], "outputClaimToHeaders header and claim value must be non-empty string");
  });
}

const requestAuthentication: Rule<"RequestAuthentication"> = (spec: RequestAuthenticationSpec, report) => {
  checkOneSelectorType(spec, report);
  checkSelector(spec.selector, ["selector"], report);
  spec.jwtRules?.forEach((rule, index) => checkJwtRule(rule, ["jwtRules", index], report));
};

const peerAuthentication: Rule<"PeerAuthentication"> = (spec: PeerAuthenticationSpec, report) => {
  const emptySelector = !spec.selector || Object.keys(spec.selector.matchLabels ?? {}).length === 0;
  if (spec.portLevelMtls) {
    if (emptySelector) report.error(["portLevelMtls"], "mesh/namespace peer authentication cannot have port level mTLS (add a selector)");
    if (Object.keys(spec.portLevelMtls).length === 0) report.error(["portLevelMtls"], "port level mTLS, if defined, must have at least one element");
    for (const port of Object.keys(spec.portLevelMtls)) {
      const number = Number(port);
      if (number <= 0 || number > 65535) report.error(["portLevelMtls", port], "port must be in range 1..65535");
    }
  }
  checkSelector(spec.selector, ["selector"], report);
};

const SOURCE_FIELDS = ["principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals", "namespaces", "notNamespaces",
  "ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks", "serviceAccounts", "notServiceAccounts", "trustDomains", "notTrustDomains"] as const;
const OPERATION_FIELDS = ["hosts", "notHosts", "ports", "notPorts", "methods", "notMethods", "paths", "notPaths"] as const;

const authorizationPolicy: Rule<"AuthorizationPolicy"> = (spec: AuthorizationPolicySpec, report) => {
  checkOneSelectorType(spec, report);
  checkSelector(spec.selector, ["selector"], report);
  const action = spec.action ?? "ALLOW";
  if (action === "CUSTOM") {
    if (spec.rules === undefined) report.error(["rules"], "CUSTOM action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request");
    else if (!spec.provider?.name) report.error(["provider", "name"], "`provider.name` must not be empty");
  }
  if (spec.provider && action !== "CUSTOM") report.error(["provider"], `\`provider\` must not be with non CUSTOM action, found ${action}`);
  if (action === "DENY" && spec.rules === undefined) {
    report.error(["rules"], "DENY action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request");
  }
  spec.rules?.forEach((rule, index) => {
    const path = ["rules", index];
    if (rule.from !== undefined && rule.from.length === 0) report.error([...path, "from"], "`from` must not be empty");
    rule.from?.forEach((from, fromIndex) => {
      const source = from.source;
      const sourcePath = [...path, "from", fromIndex, "source"];
      if (SOURCE_FIELDS.every((field) => (source[field]?.length ?? 0) === 0)) report.error(sourcePath, "`from.source` must not be empty");
      const identities = ["principals", "notPrincipals", "namespaces", "notNamespaces"] as const;
      if (identities.some((field) => source[field]?.length) && (source.serviceAccounts?.length || source.notServiceAccounts?.length)) {
        report.error(sourcePath, "cannot set serviceAccounts with namespaces or principals");
      }
      for (const field of SOURCE_FIELDS) {
        source[field]?.forEach((value, valueIndex) => {
          if (value === "") report.error([...sourcePath, field, valueIndex], `empty value not allowed in ${field}`);
          else if (field.toLowerCase().includes("ipblocks")) {
            const problem = checkCidr(value);
            if (problem) report.error([...sourcePath, field, valueIndex], problem);
          }
        });
      }
    });
    if (rule.to !== undefined && rule.to.length === 0) report.error([...path, "to"], "`to` must not be empty");
    rule.to?.forEach((to, toIndex) => {
      const operation = to.operation;
      const operationPath = [...path, "to", toIndex, "operation"];
      if (OPERATION_FIELDS.every((field) => (operation[field]?.length ?? 0) === 0)) report.error(operationPath, "`to.operation` must not be empty");
      for (const field of OPERATION_FIELDS) {
        operation[field]?.forEach((value, valueIndex) => {
          if (value === "") report.error([...operationPath, field, valueIndex], `empty value not allowed in ${field}`);
          else if ((field === "ports" || field === "notPorts") && !(/^[0-9]+$/.test(value) && Number(value) >= 0 && Number(value) <= 65535)) {
            report.error([...operationPath, field, valueIndex], `invalid port ${JSON.stringify(value)} (a number 0..65535, as a string)`);
          }
        });
      }
    });
    rule.when?.forEach((condition, conditionIndex) => {
      const conditionPath = [...path, "when", conditionIndex];
      if (condition.key === "") report.error([...conditionPath, "key"], "`key` must not be empty");
      else if (!condition.values?.length && !condition.notValues?.length) report.error(conditionPath, `at least one of \`values\` or \`notValues\` must be set for key ${condition.key}`);
    });
  });
};

// ---------------------------------------------------------------------------------------------------------------
// Extensions and telemetry

const wasmPlugin: Rule<"WasmPlugin"> = (spec: WasmPluginSpec, report) => {
  checkOneSelectorType(spec, report);
  checkSelector(spec.selector, ["selector"], report);
  if (spec.url === "") report.error(["url"], "url field needs to be set");
  else {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(spec.url)?.[1]?.toLowerCase() ?? "";
    // as-mesh:// names a module the control service itself serves (as-mesh://rate-limit); the rest are Istio's.
    if (!["", "file", "http", "https", "oci", "as-mesh"].includes(scheme)) report.error(["url"], `url contains unsupported scheme: ${scheme} (http, https, file, oci, or as-mesh://<module> for a module the control service serves)`);
    else if (scheme === "as-mesh" && !/^as-mesh:\/\/[a-z0-9][a-z0-9-]*$/.test(spec.url)) report.error(["url"], `${JSON.stringify(spec.url)} does not name a module: expected as-mesh://<module>, e.g. as-mesh://rate-limit`);
    else if (scheme !== "as-mesh") {
      // Without a scheme Istio reads the url as an OCI image reference, which must still parse as host/path.
      try { new URL(scheme === "" ? `http://${spec.url}` : spec.url); } catch { report.error(["url"], `failed to parse url ${JSON.stringify(spec.url)}`); }
    }
  }
  if ((spec.imagePullSecret?.length ?? 0) > 253) report.error(["imagePullSecret"], "imagePullSecret field must be less than 253 characters long");
  if ((spec.pluginName?.length ?? 0) > 256) report.error(["pluginName"], "pluginName field must be less than 255 characters long");
  const envNames = new Set<string>();
  spec.vmConfig?.env?.forEach((env, index) => {
    if (env.name === "") report.error(["vmConfig", "env", index, "name"], "spec.vmConfig.env invalid: name is required");
    if (envNames.has(env.name)) report.error(["vmConfig", "env", index, "name"], `duplicate env ${env.name}`);
    envNames.add(env.name);
    if ((env.valueFrom ?? "INLINE") !== "INLINE" && env.value) report.error(["vmConfig", "env", index, "value"], "value may only be set when valueFrom is INLINE");
  });
  spec.match?.forEach((match, index) => match.ports?.forEach((port, portIndex) => {
    if (port.number === undefined) report.error(["match", index, "ports", portIndex, "number"], "port number is required");
  }));
};

const telemetry: Rule<"Telemetry"> = (spec: TelemetrySpec, report) => {
  checkOneSelectorType(spec, report);
  checkSelector(spec.selector, ["selector"], report);
  const checkProviders = (providers: readonly { name: string }[] | undefined, path: FieldPath) =>
    providers?.forEach((provider, index) => { if (provider.name === "") report.error([...path, index, "name"], "providers.name may not be empty"); });
  spec.accessLogging?.forEach((logging, index) => checkProviders(logging.providers, ["accessLogging", index, "providers"]));
  spec.metrics?.forEach((metrics, index) => {
    checkProviders(metrics.providers, ["metrics", index, "providers"]);
    metrics.overrides?.forEach((override, overrideIndex) => {
      for (const [tag, tagOverride] of Object.entries(override.tagOverrides ?? {})) {
        const path = ["metrics", index, "overrides", overrideIndex, "tagOverrides", tag];
        if ((tagOverride.operation ?? "UPSERT") === "UPSERT" && !tagOverride.value) report.error(path, "tagOverrides.value must be set when operation is UPSERT");
        if (tagOverride.operation === "REMOVE" && tagOverride.value) report.error(path, "tagOverrides.value may only be set when operation is UPSERT");
      }
    });
  });
  if ((spec.tracing?.length ?? 0) > 1) report.warn(["tracing"], "multiple tracing is not currently supported");
  spec.tracing?.forEach((tracing, index) => {
    if ((tracing.providers?.length ?? 0) > 1) report.warn(["tracing", index, "providers"], "multiple providers is not currently supported");
    checkProviders(tracing.providers, ["tracing", index, "providers"]);
  });
  report.warn([], "Telemetry is validated but not yet applied by as-mesh (access logs, metrics and tracing keep their defaults)");
};

export const RULES: { [K in Kind]: Rule<K> } = {
  ServiceEntry: serviceEntry,
  WorkloadEntry: workloadEntry,
  VirtualService: virtualService,
  DestinationRule: destinationRule,
  Gateway: gateway,
  RequestAuthentication: requestAuthentication,
  PeerAuthentication: peerAuthentication,
  AuthorizationPolicy: authorizationPolicy,
  WasmPlugin: wasmPlugin,
  Telemetry: telemetry,
};

export { checkNamespace };

/**
 * Legacy spellings Istio's CRDs still accept, folded into the current field so translation reads one:
 * `jwks_uri` → `jwksUri`, `mirror_percent` and `mirrorPercent` → `mirrorPercentage`.
 */
export function normalizeSpec(kind: Kind, spec: unknown): void {
  if (kind === "RequestAuthentication") {
    for (const rule of (spec as RequestAuthenticationSpec).jwtRules ?? []) {
      if (rule.jwks_uri !== undefined && rule.jwksUri === undefined) rule.jwksUri = rule.jwks_uri;
      delete rule.jwks_uri;
    }
  } else if (kind === "VirtualService") {
    for (const route of (spec as VirtualServiceSpec).http ?? []) {
      const legacy = route.mirrorPercent ?? route.mirror_percent;
      if (legacy !== undefined && route.mirrorPercentage === undefined) route.mirrorPercentage = { value: legacy };
      delete route.mirrorPercent;
      delete route.mirror_percent;
    }
  }
}
