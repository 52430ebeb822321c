// AuthorizationPolicy → Envoy's native RBAC HTTP filter, the way Istio builds it: one filter per action, in
// Istio's evaluation order (CUSTOM is not supported; AUDIT logs; DENY; then ALLOW), each Istio rule one RBAC policy.
//
// Identities: a principal is the peer certificate's URI SAN (`spiffe://<td>/ns/<ns>/sa/<sa>`; Istio's principal
// strings leave out `spiffe://`), a namespace is matched on that SAN. Request principals and JWT claims come from
// the as-mesh jwt-auth filter: it writes the verified token's `iss`, `sub` and the claims policies use into headers
// (claim_to_headers) after removing any such header the client sent, and RBAC matches those headers. Without a
// RequestAuthentication on the workload there is no jwt-auth filter to vouch for them, so they never match (as in
// Istio, where the request principal is then empty).
import { ecdsFilter, typed, type HttpFilterJson } from "../../envoy/builders/index.ts";
import type { PermissionJson, PolicyJson, PrincipalJson } from "../api/gen/envoy/config/rbac/v3/rbac_pb.ts";
import type { StringMatcherJson } from "../api/gen/envoy/type/matcher/v3/string_pb.ts";
import type { AuthorizationPolicy, AuthorizationRule, MeshConfig } from "../config/index.ts";
import { hasAgent } from "./mtls.ts";
import type { EnvoyResources, ProxyInfo, TranslateIssue } from "./types.ts";

const RBAC_MESSAGE = "envoy.extensions.filters.http.rbac.v3.RBAC";
const RBAC_TYPE_URL = `type.googleapis.com/${RBAC_MESSAGE}`;
/** ECDS resource names of a chain's RBAC filters: `as-mesh.rbac.<chain>.<audit|deny|allow>`. */
export const RBAC_FILTER_PREFIX = "as-mesh.rbac";

/** Headers jwt-auth writes for RBAC (and removes from every request first, so a client cannot forge them). */
export const JWT_ISSUER_HEADER = "x-as-mesh-jwt-iss";
export const JWT_SUBJECT_HEADER = "x-as-mesh-jwt-sub";

/** The header carrying one claim (a dotted path for nested claims); characters outside [a-z0-9-] are hex-escaped. */
export function jwtClaimHeader(claim: string): string {
  return `x-as-mesh-jwt-claim-${claim.replace(/[^a-z0-9-]/g, (c) => `_${c.charCodeAt(0).toString(16)}_`)}`;
}

const ANY_PRINCIPAL: PrincipalJson = { any: true };
const NO_PRINCIPAL: PrincipalJson = { notId: { any: true } };
const ANY_PERMISSION: PermissionJson = { any: true };
const NO_PERMISSION: PermissionJson = { notRule: { any: true } };

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Istio's string value: "*" any non-empty value, "x*" prefix, "*x" suffix, else exact. */
function istioString(value: string, ignoreCase = false, prefixWith = ""): StringMatcherJson {
  const flags = ignoreCase ? { ignoreCase: true } : {};
  if (value === "*") return { safeRegex: { regex: ".+" } };
  if (value.endsWith("*")) return { prefix: prefixWith + value.slice(0, -1), ...flags };
  if (value.startsWith("*")) return { suffix: value.slice(1), ...flags };
  return { exact: prefixWith + value, ...flags };
}

function orIds(ids: PrincipalJson[]): PrincipalJson {
  if (ids.length === 0) return NO_PRINCIPAL;
  return ids.length === 1 ? ids[0]! : { orIds: { ids } };
}

function andIds(ids: PrincipalJson[]): PrincipalJson {
  if (ids.length === 0) return ANY_PRINCIPAL;
  return ids.length === 1 ? ids[0]! : { andIds: { ids } };
}

function orRules(rules: PermissionJson[]): PermissionJson {
  if (rules.length === 0) return NO_PERMISSION;
  return rules.length === 1 ? rules[0]! : { orRules: { rules } };
}

function andRules(rules: PermissionJson[]): PermissionJson {
  if (rules.length === 0) return ANY_PERMISSION;
  return rules.length === 1 ? rules[0]! : { andRules: { rules } };
}

function cidr(block: string): { addressPrefix: string; prefixLen: number } {
  const [address, length] = block.split("/");
  const prefixLen = length !== undefined ? Number(length) : address!.includes(":") ? 128 : 32;
  return { addressPrefix: address!, prefixLen };
}

function principalId(value: string): PrincipalJson {
  return { authenticated: { principalName: istioString(value, false, value === "*" || value.startsWith("*") ? "" : "spiffe://") } };
}

function namespaceId(value: string): PrincipalJson {
  const pattern = value === "*" ? "[^/]+" : value.endsWith("*") ? `${escapeRegex(value.slice(0, -1))}[^/]*`
    : value.startsWith("*") ? `[^/]*${escapeRegex(value.slice(1))}` : escapeRegex(value);
  return { authenticated: { principalName: { safeRegex: { regex: `.*/ns/${pattern}/.*` } } } };
}

function header(name: string, match: StringMatcherJson | "present"): PrincipalJson & PermissionJson {
  return { header: match === "present" ? { name, presentMatch: true } : { name, stringMatch: match } };
}

function headerValue(name: string, value: string, ignoreCase = false): PrincipalJson & PermissionJson {
  return value === "*" ? header(name, "present") : header(name, istioString(value, ignoreCase));
}

/**
 * A request principal (`<iss>/<sub>`) as matches on the issuer and subject headers. Issuers contain "/" too, so
 * every split of the value is tried: `iss + "/" + sub` equals (starts with, ends with) the value for one of them.
 */
function requestPrincipalId(value: string): PrincipalJson {
  if (value === "*") return header(JWT_SUBJECT_HEADER, "present");
  const splits = (text: string) => [...text.matchAll(/\//g)].map((match) => [text.slice(0, match.index), text.slice(match.index! + 1)] as const);
  const matcher = (name: string, text: string, kind: "exact" | "prefix" | "suffix") =>
    text === "" ? (kind === "exact" ? NO_PRINCIPAL : header(name, "present")) : header(name, { [kind]: text } as StringMatcherJson);
  if (value.endsWith("*")) {
    const text = value.slice(0, -1);
    return orIds([matcher(JWT_ISSUER_HEADER, text, "prefix"),
      ...splits(text).map(([iss, sub]) => andIds([matcher(JWT_ISSUER_HEADER, iss, "exact"), matcher(JWT_SUBJECT_HEADER, sub, "prefix")]))]);
  }
  if (value.startsWith("*")) {
    const text = value.slice(1);
    return orIds([matcher(JWT_SUBJECT_HEADER, text, "suffix"),
      ...splits(text).map(([iss, sub]) => andIds([matcher(JWT_ISSUER_HEADER, iss, "suffix"), matcher(JWT_SUBJECT_HEADER, sub, "exact")]))]);
  }
  return orIds(splits(value).map(([iss, sub]) => andIds([matcher(JWT_ISSUER_HEADER, iss, "exact"), matcher(JWT_SUBJECT_HEADER, sub, "exact")])));
}

/** The claim path of a `request.auth.claims[a][b]` key ("a.b"), or undefined when the key is malformed. */
function claimPath(key: string): string | undefined {
  const match = /^request\.auth\.claims((?:\[[^\]]+\])+)$/.exec(key);
  if (!match) return undefined;
  return [...match[1]!.matchAll(/\[([^\]]+)\]/g)].map((part) => part[1]).join(".");
}

/** The claims (dotted paths) a set of policies matches on: jwt-auth writes each into its header. */
export function claimsUsed(policies: readonly AuthorizationPolicy[]): string[] {
  const claims = new Set<string>();
  for (const policy of policies) {
    for (const rule of policy.spec.rules ?? []) {
      for (const condition of rule.when ?? []) {
        const path = condition.key === "request.auth.audiences" ? "aud" : condition.key === "request.auth.presenter" ? "azp" : claimPath(condition.key);
        if (path) claims.add(path);
      }
    }
  }
  return [...claims].sort();
}

interface Scope {
  /** Whether jwt-auth is on the chain (RequestAuthentication applies): only then are its headers trustworthy. */
  jwt: boolean;
  /** The listener port (ports and destination.port are decided here, per listener). */
  port: number;
  action: "ALLOW" | "DENY" | "AUDIT";
  path: string;
  warnings: TranslateIssue[];
}

/** A condition this translation cannot express: an ALLOW rule never matches, a DENY rule ignores it (denies more). */
function unsupported(scope: Scope, path: string, message: string): { principal?: PrincipalJson; permission?: PermissionJson } {
  scope.warnings.push({ path: `${scope.path}.${path}`, message: `${message}; ${scope.action === "DENY" ? "the condition is ignored (the rule denies more)" : "the rule never matches"}` });
  return scope.action === "DENY" ? {} : { principal: NO_PRINCIPAL };
}

function requestPrincipals(values: string[], scope: Scope): PrincipalJson {
  return scope.jwt ? orIds(values.map(requestPrincipalId)) : NO_PRINCIPAL;
}

function staticPort(values: string[], port: number): PermissionJson {
  return values.some((value) => Number(value) === port) ? ANY_PERMISSION : NO_PERMISSION;
}

type Source = NonNullable<AuthorizationRule["from"]>[number]["source"];
type Operation = NonNullable<AuthorizationRule["to"]>[number]["operation"];

function sourcePrincipal(source: Source, scope: Scope, path: string): PrincipalJson {
  const ids: PrincipalJson[] = [];
  const both = (values: string[] | undefined, notValues: string[] | undefined, build: (value: string) => PrincipalJson) => {
    if (values?.length) ids.push(orIds(values.map(build)));
    if (notValues?.length) ids.push({ notId: orIds(notValues.map(build)) });
  };
  both(source.principals, source.notPrincipals, principalId);
  both(source.namespaces, source.notNamespaces, namespaceId);
  both(source.ipBlocks, source.notIpBlocks, (block) => ({ directRemoteIp: cidr(block) }));
  both(source.remoteIpBlocks, source.notRemoteIpBlocks, (block) => ({ remoteIp: cidr(block) }));
  both(source.serviceAccounts, source.notServiceAccounts, (account) => {
    const [namespace, name] = account.includes("/") ? account.split("/", 2) : ["[^/]+", account];
    return { authenticated: { principalName: { safeRegex: { regex: `spiffe://[^/]+/ns/${namespace === "[^/]+" ? namespace : escapeRegex(namespace!)}/sa/${escapeRegex(name!)}` } } } };
  });
  if (source.requestPrincipals?.length) ids.push(requestPrincipals(source.requestPrincipals, scope));
  if (source.notRequestPrincipals?.length) ids.push({ notId: requestPrincipals(source.notRequestPrincipals, scope) });
  if (source.trustDomains?.length || source.notTrustDomains?.length) {
    const result = unsupported(scope, `${path}.trustDomains`, "trustDomains are not supported");
    if (result.principal) ids.push(result.principal);
  }
  return andIds(ids);
}

function operationPermission(operation: Operation, scope: Scope): PermissionJson {
  const rules: PermissionJson[] = [];
  const both = (values: string[] | undefined, notValues: string[] | undefined, build: (value: string) => PermissionJson) => {
    if (values?.length) rules.push(orRules(values.map(build)));
    if (notValues?.length) rules.push({ notRule: orRules(notValues.map(build)) });
  };
  both(operation.methods, operation.notMethods, (method) => headerValue(":method", method));
  both(operation.hosts, operation.notHosts, (host) => headerValue(":authority", host, true));
  both(operation.paths, operation.notPaths, (path) => path === "*" ? ANY_PERMISSION : { urlPath: { path: istioString(path) } });
  if (operation.ports?.length) rules.push(staticPort(operation.ports, scope.port));
  if (operation.notPorts?.length) rules.push({ notRule: staticPort(operation.notPorts, scope.port) });
  return andRules(rules);
}

/** One `when` condition, as a principal (about the caller) or a permission (about the request). */
function condition(key: string, values: string[], scope: Scope, path: string): { principal?: PrincipalJson; permission?: PermissionJson } {
  const header = /^request\.headers\[(.+)\]$/.exec(key);
  if (header) return { principal: orIds(values.map((value) => headerValue(header[1]!.toLowerCase(), value))) };
  const claim = key === "request.auth.audiences" ? "aud" : key === "request.auth.presenter" ? "azp" : claimPath(key);
  if (claim) return { principal: scope.jwt ? orIds(values.map((value) => headerValue(jwtClaimHeader(claim), value))) : NO_PRINCIPAL };
  switch (key) {
    case "request.auth.principal": return { principal: requestPrincipals(values, scope) };
    case "source.ip": return { principal: orIds(values.map((block) => ({ directRemoteIp: cidr(block) }))) };
    case "remote.ip": return { principal: orIds(values.map((block) => ({ remoteIp: cidr(block) }))) };
    case "source.namespace": return { principal: orIds(values.map(namespaceId)) };
    case "source.principal": return { principal: orIds(values.map(principalId)) };
    case "destination.ip": return { permission: orRules(values.map((block) => ({ destinationIp: cidr(block) }))) };
    case "destination.port": return { permission: staticPort(values, scope.port) };
    case "connection.sni": return { permission: orRules(values.map((value) => ({ requestedServerName: istioString(value) }))) };
    default: return unsupported(scope, path, `condition key ${JSON.stringify(key)} is not supported`);
  }
}

/** One Istio rule → one RBAC policy: (any `from`) and (any `to`) and every `when`. */
function rulePolicy(rule: AuthorizationRule, scope: Scope, rulePath: string): PolicyJson {
  const principals: PrincipalJson[] = [];
  const permissions: PermissionJson[] = [];
  if (rule.from?.length) principals.push(orIds(rule.from.map((from, index) => sourcePrincipal(from.source, scope, `${rulePath}.from[${index}].source`))));
  if (rule.to?.length) permissions.push(orRules(rule.to.map((to) => operationPermission(to.operation, scope))));
  (rule.when ?? []).forEach((when, index) => {
    const path = `${rulePath}.when[${index}]`;
    if (when.values?.length) {
      const { principal, permission } = condition(when.key, when.values, scope, path);
      if (principal) principals.push(principal);
      if (permission) permissions.push(permission);
    }
    if (when.notValues?.length) {
      const { principal, permission } = condition(when.key, when.notValues, scope, path);
      if (principal) principals.push({ notId: principal });
      if (permission) permissions.push({ notRule: permission });
    }
  });
  return { permissions: [andRules(permissions)], principals: [andIds(principals)] };
}

/**
 * The RBAC filters for a workload's (or gateway's) HTTP chain `chain` on `port`: AUDIT (LOG) first, then DENY, then
 * ALLOW (Istio's order after CUSTOM). An ALLOW policy without rules allows nothing; a DENY policy without rules
 * denies nothing; no ALLOW policy at all lets through what is not denied.
 *
 * The filters reach Envoy over ECDS, like the Wasm filters: a policy edit then applies to the next request on every
 * connection, also those opened before it (a filter inlined in the listener would change the filter chain, and
 * Envoy keeps serving established connections with the old chain while it drains them). Once any policy applies to
 * the proxy, all three filters are in the chain (an action without policies is a no-op), so edits never change the
 * listener. Sidecars with an agent (mesh mTLS) always have them, so even the first policy applies to established
 * connections; elsewhere the first policy and the removal of the last one change the listener.
 */
export function authorizationFilters(
  mesh: MeshConfig, proxy: ProxyInfo, chain: string, port: number, jwt: boolean, resources: EnvoyResources, timeoutMs: number,
): HttpFilterJson[] {
  const warnings = resources.warnings;
  const policies = mesh.policiesFor("AuthorizationPolicy", proxy);
  if (policies.length === 0 && !(proxy.type === "sidecar" && hasAgent(proxy))) return [];
  const byAction = { AUDIT: {} as Record<string, PolicyJson>, DENY: {} as Record<string, PolicyJson>, ALLOW: {} as Record<string, PolicyJson> };
  let allowPolicies = 0;
  for (const policy of policies) {
    const { namespace, name } = policy.metadata;
    const path = `AuthorizationPolicy/${namespace}/${name}`;
    const action = policy.spec.action ?? "ALLOW";
    if (action === "CUSTOM") {
      warnings.push({ path: `${path}.action`, message: "CUSTOM (external authorization) is not supported; this policy is not enforced" });
      continue;
    }
    if (action === "ALLOW") allowPolicies++;
    const scope: Scope = { jwt, port, action, path, warnings };
    (policy.spec.rules ?? []).forEach((rule, index) => {
      byAction[action][`ns[${namespace}]-policy[${name}]-rule[${index}]`] = rulePolicy(rule, scope, `rules[${index}]`);
    });
  }
  const configs: Array<[string, object]> = [
    ["audit", { rules: { action: "LOG", policies: byAction.AUDIT } }],
    ["deny", { rules: { action: "DENY", policies: byAction.DENY } }],
    // No ALLOW policy: an RBAC filter without rules, which allows everything.
    ["allow", allowPolicies > 0 ? { rules: { action: "ALLOW", policies: byAction.ALLOW } } : {}],
  ];
  return configs.map(([action, config]) => {
    const name = `${RBAC_FILTER_PREFIX}.${chain}.${action}`;
    resources.extensionConfigs.set(name, { name, typedConfig: typed(RBAC_MESSAGE, config) });
    return ecdsFilter(name, [RBAC_TYPE_URL], timeoutMs);
  });
}
