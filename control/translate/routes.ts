// VirtualService http routes → Envoy routes, with Istio's defaults: no timeout, 2 retries on connection-level
// failures, 100 % for faults and mirrors without a percentage, destinations without a port taking the only port
// of the service (or the listener's), and routes to unknown hosts or subsets kept (they answer 503 until the
// target appears, as in Istio).
import {
  FAULT_FILTER_NAME, directResponse, faultConfig, fractionalPercent, headerMatcher,
  type HeaderMatchSpec, type HeaderValueOptionJson, type RedirectActionJson, type RetryPolicyJson, type RouteActionJson,
  type RouteJson, type RouteMatchJson, type WeightedCluster_ClusterWeightJson,
} from "../../envoy/builders/index.ts";
import { durationMs, durationToProtoJson, selectorMatches, type MeshConfig } from "../config/index.ts";
import type { Destination, Headers, HTTPFaultInjection, HTTPMatchRequest, HTTPRetry, HTTPRoute, StringMatch } from "../config/index.ts";
import { hashPolicy, outboundClusterName } from "./clusters.ts";
import type { ProxyInfo, TranslateIssue } from "./types.ts";

/** Istio's retry default (networking/core/route/retry): used when a route sets no `retries`. */
export const DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";
export const DEFAULT_RETRY_ATTEMPTS = 2;

export interface RouteScope {
  mesh: MeshConfig;
  /** The proxy the routes are for (sourceLabels / sourceNamespace matches). */
  proxy: ProxyInfo;
  /** "mesh" for sidecars, "<namespace>/<name>" for a gateway (match.gateways). */
  gateway: string;
  /** The port of the listener the routes serve. */
  port: number;
  warnings: TranslateIssue[];
}

function stringMatchSpec(name: string, match: StringMatch, invert = false): HeaderMatchSpec {
  if (match.exact !== undefined) return { name, exact: match.exact, invert };
  if (match.prefix !== undefined) return { name, prefix: match.prefix, invert };
  return { name, regex: match.regex ?? "", invert };
}

function routeMatch(match: HTTPMatchRequest | undefined): RouteMatchJson {
  const result: RouteMatchJson = {};
  const uri = match?.uri;
  if (uri?.exact !== undefined) result.path = uri.exact;
  else if (uri?.regex !== undefined) result.safeRegex = { regex: uri.regex };
  else result.prefix = uri?.prefix ?? "/";
  if (match?.ignoreUriCase) result.caseSensitive = false;
  const headers: HeaderMatchSpec[] = [];
  if (match?.method) headers.push(stringMatchSpec(":method", match.method));
  if (match?.authority) headers.push(stringMatchSpec(":authority", match.authority));
  if (match?.scheme) headers.push(stringMatchSpec(":scheme", match.scheme));
  for (const [name, value] of Object.entries(match?.headers ?? {})) headers.push(stringMatchSpec(name, value));
  for (const [name, value] of Object.entries(match?.withoutHeaders ?? {})) headers.push(stringMatchSpec(name, value, true));
  if (headers.length > 0) result.headers = headers.map(headerMatcher);
  const params = Object.entries(match?.queryParams ?? {});
  if (params.length > 0) {
    result.queryParameters = params.map(([name, value]) => ({
      name,
      stringMatch: value.exact !== undefined ? { exact: value.exact } : value.prefix !== undefined ? { prefix: value.prefix } : { safeRegex: { regex: value.regex ?? "" } },
    }));
  }
  return result;
}

/** Whether a match applies to this proxy and listener (port, gateways, source labels and namespace). */
function matchApplies(match: HTTPMatchRequest, scope: RouteScope, vsGateways: string[], vsNamespace: string): boolean {
  if (match.port !== undefined && match.port !== scope.port) return false;
  // As Istio: a match that names gateways is decided by them alone; otherwise by the proxy's labels and namespace.
  if (match.gateways && match.gateways.length > 0) return match.gateways.some((gateway) => qualifyGateway(gateway, vsNamespace) === scope.gateway);
  if (vsGateways.length > 0 && !vsGateways.includes(scope.gateway)) return false;
  if (match.sourceLabels && !selectorMatches(match.sourceLabels, scope.proxy.labels)) return false;
  if (match.sourceNamespace !== undefined && match.sourceNamespace !== scope.proxy.namespace) return false;
  return true;
}

/** Gateway names without a namespace are relative to the VirtualService's; "mesh" stays as is. */
function qualifyGateway(gateway: string, namespace: string): string {
  return gateway === "mesh" || gateway.includes("/") ? gateway : `${namespace}/${gateway}`;
}

/** Setting Host (or :authority) is a host rewrite in Envoy, as in Istio. */
function isAuthority(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === "host" || lower === ":authority";
}

function headerOptions(set: Record<string, string> | undefined, add: Record<string, string> | undefined): HeaderValueOptionJson[] {
  return [
    ...Object.entries(set ?? {}).filter(([key]) => !isAuthority(key)).map(([key, value]): HeaderValueOptionJson => ({ header: { key, value }, appendAction: "OVERWRITE_IF_EXISTS_OR_ADD" })),
    ...Object.entries(add ?? {}).map(([key, value]): HeaderValueOptionJson => ({ header: { key, value }, appendAction: "APPEND_IF_EXISTS_OR_ADD" })),
  ];
}

type HeaderTarget = Pick<RouteJson, "requestHeadersToAdd" | "requestHeadersToRemove" | "responseHeadersToAdd" | "responseHeadersToRemove">;

/** Adds header operations to a route or weighted cluster (after any already there); returns a Host it sets. */
function applyHeaders(target: HeaderTarget, headers: Headers | undefined): string | undefined {
  if (!headers) return undefined;
  const append = <T>(existing: T[] | undefined, more: T[]): T[] | undefined => more.length > 0 ? [...(existing ?? []), ...more] : existing;
  target.requestHeadersToAdd = append(target.requestHeadersToAdd, headerOptions(headers.request?.set, headers.request?.add));
  target.requestHeadersToRemove = append(target.requestHeadersToRemove, headers.request?.remove ?? []);
  target.responseHeadersToAdd = append(target.responseHeadersToAdd, headerOptions(headers.response?.set, headers.response?.add));
  target.responseHeadersToRemove = append(target.responseHeadersToRemove, headers.response?.remove ?? []);
  for (const key of ["requestHeadersToAdd", "requestHeadersToRemove", "responseHeadersToAdd", "responseHeadersToRemove"] as const) {
    if (target[key] === undefined) delete target[key];
  }
  return Object.entries(headers.request?.set ?? {}).find(([key]) => isAuthority(key))?.[1];
}

/**
 * The cluster a destination names, seen from `namespace`. A destination without a port takes the service's only
 * port, else the listener's. An unknown host or subset still yields Istio's cluster name: no such cluster exists,
 * so Envoy answers 503 for it, and the route starts working once the service or subset is defined.
 */
export function destinationCluster(mesh: MeshConfig, destination: Destination, namespace: string, listenerPort: number, path: string, warnings: TranslateIssue[]): string {
  const { host, port, service } = destinationTarget(mesh, destination, namespace, listenerPort);
  if (!service) {
    const resolved = host === destination.host ? "" : ` (${host})`;
    warnings.push({ path, message: `host ${JSON.stringify(destination.host)}${resolved} is not a known service; its route answers 503` });
  } else if (!service.ports.some((servicePort) => servicePort.number === port)) {
    warnings.push({ path, message: `service ${host} has no port ${port}; its route answers 503` });
  } else if (destination.subset !== undefined && !mesh.subset(host, destination.subset, namespace)) {
    warnings.push({ path, message: `subset ${JSON.stringify(destination.subset)} of ${host} is not defined by a DestinationRule; its route answers 503` });
  }
  return outboundClusterName(port, destination.subset, host);
}

function destinationTarget(mesh: MeshConfig, destination: Destination, namespace: string, listenerPort: number) {
  const service = mesh.serviceByHost(destination.host, namespace);
  const host = service?.host ?? mesh.resolveHost(destination.host, namespace);
  const port = destination.port?.number ?? (service?.ports.length === 1 ? service.ports[0]!.number : listenerPort);
  return { host, port, service };
}

/**
 * Istio's retry policy: its default when `retries` is absent; `attempts` of 0 (or a `retries` without attempts,
 * which Istio reads as 0) turns retries off; otherwise the default with the given fields replaced. Istio's
 * previous_hosts retry predicate is left out (its type is not in the generated API).
 */
export function retryPolicy(retries: HTTPRetry | undefined): RetryPolicyJson | undefined {
  if (retries && (retries.attempts ?? 0) <= 0) return undefined;
  const policy: RetryPolicyJson = {
    numRetries: retries?.attempts ?? DEFAULT_RETRY_ATTEMPTS,
    retryOn: DEFAULT_RETRY_ON,
    retriableStatusCodes: [503],
    hostSelectionRetryMaxAttempts: "5",
  };
  if (retries?.retryOn) {
    // Numbers in retryOn are status codes; they replace the default 503 (as in Istio).
    const retryOn: string[] = [];
    const codes: number[] = [];
    for (const entry of retries.retryOn.split(",").map((item) => item.trim()).filter(Boolean)) {
      if (/^[1-5][0-9]{2}$/.test(entry)) codes.push(Number(entry));
      else retryOn.push(entry);
    }
    if (codes.length > 0 && !retryOn.includes("retriable-status-codes")) retryOn.push("retriable-status-codes");
    policy.retryOn = retryOn.join(",");
    if (codes.length > 0) policy.retriableStatusCodes = codes;
    else delete policy.retriableStatusCodes;
  }
  if (retries?.perTryTimeout) policy.perTryTimeout = durationToProtoJson(retries.perTryTimeout);
  if (retries?.backoff) policy.retryBackOff = { baseInterval: durationToProtoJson(retries.backoff) };
  return policy;
}

const GRPC_CODES: Record<string, number> = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
};

function faultPerFilterConfig(fault: HTTPFaultInjection, path: string, warnings: TranslateIssue[]) {
  const delay = fault.delay;
  const abort = fault.abort;
  const spec: Parameters<typeof faultConfig>[0] = {};
  if (delay?.fixedDelay) {
    spec.delay = { fixedDelayMs: durationMs(delay.fixedDelay), percent: delay.percentage?.value ?? delay.percent ?? 100 };
  } else if (delay?.exponentialDelay) {
    warnings.push({ path: `${path}.fault.delay.exponentialDelay`, message: "exponential delays are not supported (Istio does not implement them either); no delay is injected" });
  }
  const abortPercent = abort?.percentage?.value ?? 100;
  const grpcStatus = abort?.grpcStatus !== undefined ? GRPC_CODES[abort.grpcStatus] ?? (/^[0-9]+$/.test(abort.grpcStatus) ? Number(abort.grpcStatus) : undefined) : undefined;
  if (abort?.httpStatus !== undefined) spec.abort = { httpStatus: abort.httpStatus, percent: abortPercent };
  else if (grpcStatus !== undefined) spec.abort = { grpcStatus, percent: abortPercent };
  else if (abort) warnings.push({ path: `${path}.fault.abort`, message: "only httpStatus and grpcStatus aborts are translated; this abort is left out" });
  return faultConfig(spec);
}

const REDIRECT_CODES: Record<number, NonNullable<RedirectActionJson["responseCode"]>> = {
  301: "MOVED_PERMANENTLY", 302: "FOUND", 303: "SEE_OTHER", 307: "TEMPORARY_REDIRECT", 308: "PERMANENT_REDIRECT",
};

function routeAction(http: HTTPRoute, namespace: string, scope: RouteScope, path: string, route: RouteJson, authority: string | undefined): RouteActionJson {
  const destinations = (http.route ?? []).filter((destination) => destination.weight === undefined || destination.weight > 0 || (http.route ?? []).length === 1);
  const action: RouteActionJson = { timeout: http.timeout ? durationToProtoJson(http.timeout) : "0s" };
  const clusterOf = (destination: Destination, index: number) =>
    destinationCluster(scope.mesh, destination, namespace, scope.port, `${path}.route[${index}].destination`, scope.warnings);
  let hostRewrite = http.rewrite?.authority ?? authority;
  if (destinations.length === 1) {
    action.cluster = clusterOf(destinations[0]!.destination, 0);
    // A single destination's header operations join the route's, after them (Istio's order).
    hostRewrite ??= applyHeaders(route, destinations[0]!.headers);
  } else {
    action.weightedClusters = {
      clusters: destinations.map((destination, index): WeightedCluster_ClusterWeightJson => {
        const entry: WeightedCluster_ClusterWeightJson = { name: clusterOf(destination.destination, index), weight: destination.weight ?? 0 };
        const clusterAuthority = applyHeaders(entry, destination.headers);
        if (clusterAuthority) entry.hostRewriteLiteral = clusterAuthority;
        return entry;
      }),
    };
  }
  const retries = retryPolicy(http.retries);
  if (retries) action.retryPolicy = retries;
  // Consistent hashing needs the route to say what to hash; with several destinations only when they agree.
  const hashes = destinations.map(({ destination }) => {
    const { host, port } = destinationTarget(scope.mesh, destination, namespace, scope.port);
    return JSON.stringify(hashPolicy(scope.mesh, host, destination.subset, port, scope.proxy.namespace) ?? null);
  });
  if (hashes.length > 0 && hashes.every((hash) => hash === hashes[0]) && hashes[0] !== "null") action.hashPolicy = JSON.parse(hashes[0]!) as RouteActionJson["hashPolicy"];
  if (http.rewrite?.uriRegexRewrite) {
    action.regexRewrite = { pattern: { regex: http.rewrite.uriRegexRewrite.match ?? "" }, substitution: http.rewrite.uriRegexRewrite.rewrite ?? "" };
  } else if (http.rewrite?.uri) {
    action.prefixRewrite = http.rewrite.uri;
  }
  if (hostRewrite) action.hostRewriteLiteral = hostRewrite;
  const mirrors = [
    ...(http.mirror ? [{ destination: http.mirror, percent: http.mirrorPercentage?.value ?? http.mirrorPercent ?? 100 }] : []),
    ...(http.mirrors ?? []).map((mirror) => ({ destination: mirror.destination, percent: mirror.percentage?.value ?? 100 })),
  ].filter((mirror) => mirror.percent > 0);
  if (mirrors.length > 0) {
    action.requestMirrorPolicies = mirrors.map((mirror, index) => ({
      cluster: destinationCluster(scope.mesh, mirror.destination, namespace, scope.port, `${path}.mirrors[${index}].destination`, scope.warnings),
      runtimeFraction: { defaultValue: fractionalPercent(mirror.percent) },
    }));
  }
  return action;
}

function redirectAction(http: HTTPRoute, scope: RouteScope, path: string): RedirectActionJson {
  const spec = http.redirect!;
  const redirect: RedirectActionJson = {};
  if (spec.uri !== undefined) redirect.pathRedirect = spec.uri;
  if (spec.authority !== undefined) redirect.hostRedirect = spec.authority;
  if (spec.scheme !== undefined) redirect.schemeRedirect = spec.scheme;
  // FROM_REQUEST_PORT: routes are built per listener port, so the request's port is that port.
  const port = spec.port ?? (spec.derivePort === "FROM_REQUEST_PORT" ? scope.port : undefined);
  const scheme = spec.scheme ?? "http";
  if (port !== undefined && !(port === 80 && scheme === "http") && !(port === 443 && scheme === "https")) redirect.portRedirect = port;
  const code = REDIRECT_CODES[spec.redirectCode ?? 301];
  if (code) redirect.responseCode = code;
  else {
    scope.warnings.push({ path: `${path}.redirect.redirectCode`, message: `Envoy cannot redirect with ${spec.redirectCode}; 301 is used` });
    redirect.responseCode = "MOVED_PERMANENTLY";
  }
  return redirect;
}

/** A route that matches every request: later routes of the VirtualService can never be reached. */
function isCatchAll(route: RouteJson): boolean {
  const match = route.match ?? {};
  return match.prefix === "/" && !match.headers?.length && !match.queryParameters?.length;
}

/** One Envoy route per applicable match of one VirtualService http route (a route without matches matches all). */
function translateHttpRoute(http: HTTPRoute, index: number, vsNamespace: string, vsGateways: string[], scope: RouteScope, vsPath: string): RouteJson[] {
  const path = `${vsPath}.http[${index}]`;
  const matches = http.match && http.match.length > 0 ? http.match.filter((match) => matchApplies(match, scope, vsGateways, vsNamespace)) : [undefined];
  if (http.match && http.match.length > 0 && matches.length === 0) return [];
  if (!http.match?.length && vsGateways.length > 0 && !vsGateways.includes(scope.gateway)) return [];
  if (http.corsPolicy) scope.warnings.push({ path: `${path}.corsPolicy`, message: "CORS policies are not translated yet" });
  if (http.delegate) {
    scope.warnings.push({ path: `${path}.delegate`, message: "delegate VirtualServices are not supported; this route is left out" });
    return [];
  }
  return matches.map((match) => {
    const route: RouteJson = { match: routeMatch(match) };
    const name = [http.name, match?.name].filter(Boolean).join(".");
    if (name) route.name = name;
    const authority = applyHeaders(route, http.headers);
    if (http.redirect) {
      route.redirect = redirectAction(http, scope, path);
    } else if (http.directResponse) {
      const body = http.directResponse.body?.string ??
        (http.directResponse.body?.bytes !== undefined ? Buffer.from(http.directResponse.body.bytes, "base64").toString("utf8") : undefined);
      route.directResponse = directResponse(http.directResponse.status, body);
    } else {
      route.route = routeAction(http, vsNamespace, scope, path, route, authority);
    }
    if (http.fault) route.typedPerFilterConfig = { [FAULT_FILTER_NAME]: faultPerFilterConfig(http.fault, path, scope.warnings) };
    return route;
  });
}

/**
 * The routes of a VirtualService for one listener port, in its order; empty when none applies there. Like Istio,
 * nothing after a catch-all route is sent.
 */
export function virtualServiceRoutes(
  vs: { metadata: { namespace: string; name: string }; spec: { gateways?: string[]; http?: HTTPRoute[] } }, scope: RouteScope,
): RouteJson[] {
  const vsPath = `VirtualService/${vs.metadata.namespace}/${vs.metadata.name}`;
  const gateways = (vs.spec.gateways ?? []).map((gateway) => qualifyGateway(gateway, vs.metadata.namespace));
  const routes: RouteJson[] = [];
  for (const [index, http] of (vs.spec.http ?? []).entries()) {
    for (const route of translateHttpRoute(http, index, vs.metadata.namespace, gateways, scope, vsPath)) {
      routes.push(route);
      if (isCatchAll(route)) return routes;
    }
  }
  return routes;
}

/** The route a service gets when no VirtualService names it: everything to its cluster, Istio's default retries. */
export function defaultRoute(cluster: string, hash?: RouteActionJson["hashPolicy"]): RouteJson {
  const route: RouteActionJson = { cluster, timeout: "0s" };
  route.retryPolicy = retryPolicy(undefined);
  if (hash) route.hashPolicy = hash;
  return { name: "default", match: { prefix: "/" }, route };
}
