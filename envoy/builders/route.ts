// Routes, virtual hosts and route configurations.
import type {
  AnyJson, DirectResponseActionJson, HeaderMatcherJson, RouteConfigurationJson, RouteJson, RouteMatchJson, VirtualHostJson,
} from "./types.ts";
import { durationMs } from "./types.ts";

/** A request match: path prefix (default "/"), exact path or RE2 regex, plus header conditions. */
export interface MatchSpec {
  prefix?: string;
  path?: string;
  regex?: string;
  headers?: HeaderMatchSpec[];
  /** Match path case-insensitively (Istio's `ignoreUriCase`). */
  ignoreCase?: boolean;
}

export type HeaderMatchSpec = { name: string; invert?: boolean } & (
  | { exact: string } | { prefix: string } | { regex: string } | { present: boolean });

export function headerMatcher(spec: HeaderMatchSpec): HeaderMatcherJson {
  const matcher: HeaderMatcherJson = { name: spec.name };
  if ("exact" in spec) matcher.stringMatch = { exact: spec.exact };
  else if ("prefix" in spec) matcher.stringMatch = { prefix: spec.prefix };
  else if ("regex" in spec) matcher.stringMatch = { safeRegex: { regex: spec.regex } };
  else matcher.presentMatch = spec.present;
  if (spec.invert) matcher.invertMatch = true;
  return matcher;
}

export function routeMatch(spec: MatchSpec): RouteMatchJson {
  const match: RouteMatchJson =
    spec.path !== undefined ? { path: spec.path } :
    spec.regex !== undefined ? { safeRegex: { regex: spec.regex } } :
    { prefix: spec.prefix ?? "/" };
  if (spec.ignoreCase) match.caseSensitive = false;
  if (spec.headers && spec.headers.length > 0) match.headers = spec.headers.map(headerMatcher);
  return match;
}

export function directResponse(status: number, body?: string): DirectResponseActionJson {
  return body === undefined ? { status } : { status, body: { inlineString: body } };
}

/** A route to a cluster, or a fixed answer from Envoy itself (isolates filter cost from the upstream). */
export type RouteAction = { cluster: string; timeoutSeconds?: number } | { directResponse: { status: number; body: string } };

export interface RouteSpec extends MatchSpec {
  action: RouteAction;
  /** Per-route filter config overrides keyed by filter name. */
  typedPerFilterConfig?: Record<string, AnyJson>;
}

/** A simple route for hand-composed Envoys: one match, one cluster or direct answer. */
export function route(spec: RouteSpec): RouteJson {
  const result: RouteJson = { match: routeMatch(spec) };
  if ("cluster" in spec.action) {
    result.route = { cluster: spec.action.cluster, timeout: durationMs((spec.action.timeoutSeconds ?? 15) * 1000) };
  } else {
    result.directResponse = directResponse(spec.action.directResponse.status, spec.action.directResponse.body);
  }
  if (spec.typedPerFilterConfig) result.typedPerFilterConfig = spec.typedPerFilterConfig;
  return result;
}

export function virtualHost(name: string, domains: string[], routes: RouteJson[]): VirtualHostJson {
  return { name, domains, routes };
}

/**
 * `validateClusters: false` (what Istio sends) keeps a route naming a cluster that has not arrived yet from making
 * Envoy reject the whole table; such a route answers 503 until the cluster exists. Left unset, Envoy's default
 * applies: checked for inline tables (a typo fails the bootstrap), unchecked for RDS.
 */
export function routeConfiguration(name: string, virtualHosts: VirtualHostJson[], options: { validateClusters?: boolean } = {}): RouteConfigurationJson {
  const config: RouteConfigurationJson = { name, virtualHosts };
  if (options.validateClusters !== undefined) config.validateClusters = options.validateClusters;
  return config;
}
