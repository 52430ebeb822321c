// The HTTP filter chain of a listener: WasmPlugins by phase and priority, the as-mesh jwt-auth filter for
// RequestAuthentication, the as-mesh metrics filter, and the fault filter. Every Wasm filter reaches Envoy by ECDS:
// the listener names it (configDiscovery) and the TypedExtensionConfig holding its Wasm config is a separate
// resource, so a plugin's config changes without draining the listener.
import {
  ecdsFilter, faultFilter, isIpAddress, loadAssignment, wasmConfig, MessageType, typed,
  type AnyJson, type ClusterJson, type HttpFilterJson,
} from "../../envoy/builders/index.ts";
import { durationToProtoJson, type JWTRule, type MeshConfig, type WasmPlugin } from "../config/index.ts";
import { outboundClusterName } from "./clusters.ts";
import { JWT_ISSUER_HEADER, JWT_SUBJECT_HEADER, authorizationFilters, claimsUsed, jwtClaimHeader } from "./rbac.ts";
import { CONTROL_HTTP_CLUSTER, type EnvoyResources, type ProxyInfo, type TranslateContext } from "./types.ts";

/** Where a chain sits: a sidecar's outbound (CLIENT) or inbound (SERVER) side, or a gateway (SERVER, as in Istio). */
export type ListenerClass = "outbound" | "inbound" | "gateway";

export const WASM_TYPE_URL = `type.googleapis.com/${MessageType.wasm}`;
const RBAC_MESSAGE = "envoy.extensions.filters.http.rbac.v3.RBAC";
export const RBAC_TYPE_URL = `type.googleapis.com/${RBAC_MESSAGE}`;
/** ECDS resource names of the built-in filters. */
export const JWT_AUTH_FILTER = "as-mesh.jwt-auth";
export const METRICS_FILTER_PREFIX = "as-mesh.metrics";

const PHASE_ORDER = { AUTHN: 0, AUTHZ: 1, STATS: 2, UNSPECIFIED_PHASE: 3 } as const;

/** The module a WasmPlugin url names: `as-mesh://<module>`, or the exact url of a module the service serves. */
function moduleFor(url: string, context: TranslateContext): { url: string; sha256: string } | undefined {
  const match = /^as-mesh:\/\/([A-Za-z0-9._-]+)$/.exec(url);
  if (match) return context.wasmModules[match[1]!];
  return Object.values(context.wasmModules).find((module) => module.url === url);
}

function pluginApplies(plugin: WasmPlugin, listenerClass: ListenerClass, port: number): boolean {
  const matches = plugin.spec.match ?? [];
  if (matches.length === 0) return true;
  const mode = listenerClass === "outbound" ? "CLIENT" : "SERVER";
  return matches.some((match) => {
    const modeOk = !match.mode || match.mode === "UNDEFINED" || match.mode === "CLIENT_AND_SERVER" || match.mode === mode;
    const portOk = !match.ports?.length || match.ports.some((selector) => selector.number === port);
    return modeOk && portOk;
  });
}

/** A filter that refuses every request: what a fail-closed plugin becomes when its module cannot be delivered. */
function denyAll(): AnyJson {
  return typed(RBAC_MESSAGE, { rules: { action: "ALLOW", policies: {} } });
}

interface ChainEntry { phase: number; priority: number; name: string; filter: HttpFilterJson }

function wasmPluginEntry(
  plugin: WasmPlugin, context: TranslateContext, resources: EnvoyResources, timeoutMs: number,
): ChainEntry | undefined {
  const name = `${plugin.metadata.namespace}.${plugin.metadata.name}`;
  const path = `WasmPlugin/${plugin.metadata.namespace}/${plugin.metadata.name}`;
  const spec = plugin.spec;
  const entry = (filter: HttpFilterJson): ChainEntry => ({
    phase: PHASE_ORDER[spec.phase ?? "UNSPECIFIED_PHASE"], priority: spec.priority ?? 0, name, filter,
  });
  if (spec.type === "NETWORK") {
    resources.warnings.push({ path: `${path}.type`, message: "network Wasm plugins are not supported; the plugin is left out" });
    return undefined;
  }
  const module = moduleFor(spec.url, context);
  if (!module) {
    const failOpen = spec.failStrategy === "FAIL_OPEN";
    resources.warnings.push({
      path: `${path}.url`,
      message: `${JSON.stringify(spec.url)} is not a module this control service serves (as-mesh://<name>: ${Object.keys(context.wasmModules).sort().join(", ") || "none"}); ` +
        (failOpen ? "failStrategy FAIL_OPEN: the plugin is left out" : "the plugin fails closed: its requests are refused (403)"),
    });
    if (failOpen) return undefined;
    resources.extensionConfigs.set(name, { name, typedConfig: denyAll() });
    return entry(ecdsFilter(name, [WASM_TYPE_URL, RBAC_TYPE_URL], timeoutMs));
  }
  if (spec.sha256 && spec.sha256 !== module.sha256) {
    resources.warnings.push({ path: `${path}.sha256`, message: `does not match the served module's ${module.sha256}; Envoy will refuse to load it` });
  }
  const typedConfig = wasmConfig({
    name,
    rootId: spec.pluginName ?? name,
    vmId: name,
    configuration: spec.pluginConfig ?? {},
    failOpen: spec.failStrategy === "FAIL_OPEN",
    code: { remote: { url: module.url, cluster: context.controlHttpCluster ?? CONTROL_HTTP_CLUSTER, sha256: spec.sha256 ?? module.sha256 } },
  });
  resources.extensionConfigs.set(name, { name, typedConfig });
  return entry(ecdsFilter(name, [WASM_TYPE_URL, RBAC_TYPE_URL], timeoutMs));
}

/** The cluster Envoy fetches a remote JWKS over: the mesh service of the URI's host, else a DNS cluster to it. */
function jwksCluster(mesh: MeshConfig, uri: URL, namespace: string, resources: EnvoyResources): string {
  const https = uri.protocol === "https:";
  const port = uri.port ? Number(uri.port) : https ? 443 : 80;
  const service = mesh.serviceByHost(uri.hostname, namespace);
  if (service && service.ports.some((servicePort) => servicePort.number === port)) return outboundClusterName(port, undefined, service.host);
  const name = `jwks|${uri.hostname}|${port}`;
  const cluster: ClusterJson = {
    name,
    type: isIpAddress(uri.hostname) ? "STATIC" : "STRICT_DNS",
    connectTimeout: "5s",
    loadAssignment: loadAssignment(name, [{ address: uri.hostname, port }]),
  };
  if (https) {
    cluster.transportSocket = {
      name: "envoy.transport_sockets.tls",
      typedConfig: typed(MessageType.upstreamTlsContext, {
        sni: uri.hostname,
        commonTlsContext: { validationContext: { systemRootCerts: {} } },
      }),
    };
  }
  resources.clusters.set(name, cluster);
  return name;
}

/** One jwt-auth provider per JWT rule, in jwt_authn's words (filters/jwt-auth/README.md). */
function jwtProvider(rule: JWTRule, mesh: MeshConfig, namespace: string, resources: EnvoyResources, path: string): Record<string, unknown> | undefined {
  const provider: Record<string, unknown> = { issuer: rule.issuer };
  if (rule.audiences?.length) provider.audiences = rule.audiences;
  if (rule.jwks !== undefined) {
    provider.local_jwks = { inline_string: rule.jwks };
  } else if (rule.jwksUri !== undefined) {
    let uri: URL;
    try {
      uri = new URL(rule.jwksUri);
    } catch {
      resources.warnings.push({ path: `${path}.jwksUri`, message: `${JSON.stringify(rule.jwksUri)} is not a URL; this rule is left out` });
      return undefined;
    }
    provider.remote_jwks = {
      http_uri: { uri: rule.jwksUri, cluster: jwksCluster(mesh, uri, namespace, resources), timeout: rule.timeout ? durationToProtoJson(rule.timeout) : "5s" },
      cache_duration: "300s",
    };
  } else {
    resources.warnings.push({ path, message: "has neither jwks nor jwksUri (Istio would discover the issuer's keys via OpenID discovery, which is not supported); this rule is left out" });
    return undefined;
  }
  if (rule.fromHeaders?.length) provider.from_headers = rule.fromHeaders.map((header) => ({ name: header.name, value_prefix: header.prefix ?? "" }));
  if (rule.fromParams?.length) provider.from_params = rule.fromParams;
  if (rule.fromCookies?.length) resources.warnings.push({ path: `${path}.fromCookies`, message: "tokens in cookies are not supported by jwt-auth; the cookies are not read" });
  if (rule.forwardOriginalToken) provider.forward = true;
  if (rule.outputPayloadToHeader) provider.forward_payload_header = rule.outputPayloadToHeader;
  if (rule.outputClaimToHeaders?.length) {
    provider.claim_to_headers = rule.outputClaimToHeaders.map((claim) => ({ header_name: claim.header, claim_name: claim.claim }));
  }
  return provider;
}

/**
 * Istio's RequestAuthentication semantics with jwt-auth: a request without a token passes (an AuthorizationPolicy
 * decides whether one is required), a request with a token passes only if the token is valid for its issuer.
 */
function jwtAuthEntry(mesh: MeshConfig, proxy: ProxyInfo, context: TranslateContext, resources: EnvoyResources, timeoutMs: number): ChainEntry | undefined {
  const policies = mesh.policiesFor("RequestAuthentication", proxy);
  const providers: Record<string, unknown> = {};
  for (const policy of policies) {
    (policy.spec.jwtRules ?? []).forEach((rule, index) => {
      const path = `RequestAuthentication/${policy.metadata.namespace}/${policy.metadata.name}.jwtRules[${index}]`;
      const provider = jwtProvider(rule, mesh, proxy.namespace, resources, path);
      if (provider) providers[`${policy.metadata.namespace}.${policy.metadata.name}.${index}`] = provider;
    });
  }
  const names = Object.keys(providers);
  if (names.length === 0) return undefined;
  addAuthorizationClaimHeaders(mesh, proxy, providers);
  const module = context.wasmModules["jwt-auth"];
  let typedConfig: AnyJson;
  if (!module) {
    resources.warnings.push({ path: `RequestAuthentication (${proxy.namespace})`, message: "the jwt-auth module is not served; requests are refused until it is" });
    typedConfig = denyAll();
  } else {
    const configuration = {
      providers,
      rules: [{ match: { prefix: "/" }, requires: { requires_any: { requirements: [...names.map((name) => ({ provider_name: name })), { allow_missing: {} }] } } }],
    };
    typedConfig = wasmConfig({
      name: JWT_AUTH_FILTER, rootId: "jwt-auth", vmId: JWT_AUTH_FILTER, configuration,
      code: { remote: { url: module.url, cluster: context.controlHttpCluster ?? CONTROL_HTTP_CLUSTER, sha256: module.sha256 } },
    });
  }
  resources.extensionConfigs.set(JWT_AUTH_FILTER, { name: JWT_AUTH_FILTER, typedConfig });
  // jwt-auth runs at the start of the AUTHN phase, after AUTHN plugins (as Istio places its jwt_authn filter).
  return { phase: PHASE_ORDER.AUTHN, priority: Number.MIN_SAFE_INTEGER, name: JWT_AUTH_FILTER, filter: ecdsFilter(JWT_AUTH_FILTER, [WASM_TYPE_URL, RBAC_TYPE_URL], timeoutMs) };
}

/**
 * When AuthorizationPolicies apply, every provider also writes the token's issuer, subject and the claims the
 * policies match on into the headers RBAC reads (rbac.ts); jwt-auth removes those headers from each request first.
 */
function addAuthorizationClaimHeaders(mesh: MeshConfig, proxy: ProxyInfo, providers: Record<string, unknown>): void {
  const policies = mesh.policiesFor("AuthorizationPolicy", proxy);
  if (policies.length === 0) return;
  const outputs = [
    { header_name: JWT_ISSUER_HEADER, claim_name: "iss" },
    { header_name: JWT_SUBJECT_HEADER, claim_name: "sub" },
    ...claimsUsed(policies).map((claim) => ({ header_name: jwtClaimHeader(claim), claim_name: claim })),
  ];
  for (const provider of Object.values(providers) as Array<Record<string, unknown>>) {
    const existing = (provider.claim_to_headers as Array<{ header_name: string }> | undefined) ?? [];
    provider.claim_to_headers = [...existing, ...outputs.filter((output) => !existing.some((entry) => entry.header_name === output.header_name))];
  }
}

/** The metrics filter: reporter "destination" on inbound, "source" on outbound and at gateways (as Istio reports). */
function metricsEntry(listenerClass: ListenerClass, context: TranslateContext, resources: EnvoyResources, timeoutMs: number): ChainEntry | undefined {
  const module = context.wasmModules["metrics"];
  if (!module) return undefined;
  const reporter = listenerClass === "inbound" ? "destination" : "source";
  const name = `${METRICS_FILTER_PREFIX}.${reporter}`;
  // The workload's name and namespace come from the node metadata (WORKLOAD_NAME, NAMESPACE), so one config serves all.
  resources.extensionConfigs.set(name, {
    name,
    typedConfig: wasmConfig({
      name, rootId: "metrics", vmId: name, configuration: { reporter },
      // Telemetry must never take traffic down with it.
      failOpen: true,
      code: { remote: { url: module.url, cluster: context.controlHttpCluster ?? CONTROL_HTTP_CLUSTER, sha256: module.sha256 } },
    }),
  });
  // Istio's stats filter comes after STATS-phase plugins.
  return { phase: PHASE_ORDER.STATS, priority: Number.MIN_SAFE_INTEGER, name, filter: ecdsFilter(name, [WASM_TYPE_URL], timeoutMs) };
}

/**
 * The filters of one HTTP listener (the router is added by the connection manager builder), registering the ECDS
 * resources (and JWKS clusters) they need in `resources`. Order: AUTHN plugins, jwt-auth, AUTHZ plugins, STATS
 * plugins, metrics, plugins without a phase, then the fault filter right before the router (so telemetry and
 * authentication see injected faults as Istio's do). Within a phase, higher `priority` first, then by name.
 */
export function httpFilters(
  mesh: MeshConfig, proxy: ProxyInfo, context: TranslateContext, listenerClass: ListenerClass, port: number, resources: EnvoyResources,
): HttpFilterJson[] {
  const timeoutMs = context.ecdsInitialFetchTimeoutMs ?? 30_000;
  const entries: ChainEntry[] = [];
  for (const plugin of mesh.policiesFor("WasmPlugin", proxy)) {
    if (!pluginApplies(plugin, listenerClass, port)) continue;
    const entry = wasmPluginEntry(plugin, context, resources, timeoutMs);
    if (entry) entries.push(entry);
  }
  if (listenerClass !== "outbound") {
    const jwt = jwtAuthEntry(mesh, proxy, context, resources, timeoutMs);
    if (jwt) entries.push(jwt);
    // AuthorizationPolicy: RBAC after the AUTHZ plugins (Istio inserts those before its authorization filters),
    // in the order authorizationFilters gives (AUDIT, DENY, ALLOW).
    authorizationFilters(mesh, proxy, `${listenerClass}_${port}`, port, jwt !== undefined, resources, timeoutMs).forEach((filter, index, all) => {
      entries.push({ phase: PHASE_ORDER.AUTHZ, priority: Number.MIN_SAFE_INTEGER + all.length - index, name: filter.name!, filter });
    });
  }
  const metrics = metricsEntry(listenerClass, context, resources, timeoutMs);
  if (metrics) entries.push(metrics);
  entries.sort((a, b) => a.phase - b.phase || b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return [...entries.map((entry) => entry.filter), faultFilter()];
}
