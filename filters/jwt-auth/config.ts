// The plugin configuration: JSON with the field names of Envoy's jwt_authn (JwtAuthentication), parsed and
// checked once in onConfigure. Anything wrong (a missing or mistyped field, an unknown one, a JWK that does not
// load, a rule naming an undefined provider) stops the parse with one message naming the field's path, e.g.
//   providers.auth0.remote_jwks.cache_duration must be a duration such as "300s"
// and Envoy then refuses the configuration.
import { HeaderName } from "../../assembly";
import { JsonValue, parseJson, lastJsonError } from "../../assembly/lib/json";
import { Jwks, loadJwks } from "./jwks";
import { normalizeAudience } from "./claims";
import { parseDurationMs } from "./duration";
import { MAX_CACHED_TOKEN_BYTES } from "./token_cache";

// ---------------------------------------------------------------------------------------------------------------
// The typed configuration.

/** Which issuers may present a token at a location: all, or the listed ones. */
export class IssuerSet {
  allowAll: bool = false;
  issuers: Array<string> = new Array<string>();

  add(issuer: string): void {
    if (issuer.length == 0) this.allowAll = true;
    else if (!this.issuers.includes(issuer)) this.issuers.push(issuer);
  }

  allows(issuer: string): bool {
    return this.allowAll || this.issuers.includes(issuer);
  }
}

export const enum LocationKind { Header, Param, Cookie }

/** A place tokens are read from: a header (with a value prefix such as "Bearer "), a query parameter or a cookie. */
export class Location {
  /** Issuers of every provider reading this location (used when a requirement accepts any provider). */
  issuers: IssuerSet = new IssuerSet();
  prefixBytes: Uint8Array;
  /** The header name, or the parameter or cookie name, encoded once. */
  header: HeaderName;
  nameBytes: Uint8Array;

  constructor(public kind: LocationKind, public name: string, public prefix: string) {
    this.prefixBytes = Uint8Array.wrap(String.UTF8.encode(prefix));
    const header = new HeaderName(name);
    this.header = header;
    this.nameBytes = Uint8Array.wrap(header.encoded);
  }

  get isHeader(): bool {
    return this.kind == LocationKind.Header;
  }

  get isCookie(): bool {
    return this.kind == LocationKind.Cookie;
  }

  /** Header locations first, then parameters, then cookies; each group ordered by name (and prefix), like jwt_authn. */
  sortKey(): string {
    return (<i32>this.kind).toString() + ":" + this.name + "\n" + this.prefix;
  }
}

export class ClaimToHeader {
  claimPath: Array<string>;
  header: HeaderName;

  constructor(public headerName: string, public claimName: string) {
    this.claimPath = claimName.split(".");
    this.header = new HeaderName(headerName);
  }
}

export class RemoteJwksConfig {
  constructor(
    public cluster: string,
    public authority: string,
    public path: string,
    public timeoutMs: u32,
    public cacheDurationMs: u64,
    public failedRefetchMs: u64,
  ) {}
}

/** Envoy's StringMatcher (exact, prefix, suffix or contains; optionally ignore_case), for `subjects`. */
export class StringMatcher {
  constructor(public kind: string, public text: string, public ignoreCase: bool) {
    if (ignoreCase) this.text = text.toLowerCase();
  }

  matches(value: string): bool {
    const subject = this.ignoreCase ? value.toLowerCase() : value;
    if (this.kind == "exact") return subject == this.text;
    if (this.kind == "prefix") return subject.startsWith(this.text);
    if (this.kind == "suffix") return subject.endsWith(this.text);
    return subject.includes(this.text);
  }
}

export class ProviderConfig {
  issuer: string = "";
  /** `subjects`: the `sub` a token must have; null means any (or none). */
  subjects: StringMatcher | null = null;
  /** `max_lifetime` in milliseconds (0: none): a token's exp must be less than this far ahead, and present. */
  maxLifetimeMs: u64 = 0;
  /** `require_expiration`: a token without exp is refused. */
  requireExpiration: bool = false;
  /** Normalised (see normalizeAudience); empty means any audience. */
  audiences: Array<string> = new Array<string>();
  localJwks: Jwks | null = null;
  remote: RemoteJwksConfig | null = null;
  /** Indices into FilterConfig.locations, in jwt_authn's extraction order. */
  locations: Array<i32> = new Array<i32>();
  forward: bool = false;
  forwardPayloadHeader: HeaderName | null = null;
  padForwardPayloadHeader: bool = false;
  claimToHeaders: Array<ClaimToHeader> = new Array<ClaimToHeader>();
  clockSkewSeconds: u64 = 60;
  cacheSize: i32 = 100;
  /** jwt_cache_config.jwt_max_token_size: longer tokens are verified every time, not cached. */
  cacheMaxTokenBytes: i32 = MAX_CACHED_TOKEN_BYTES;

  constructor(public name: string, public index: i32) {}
}

export const enum RequirementKind { AllowAll, Provider, Any, All, AllowMissing, AllowMissingOrFailed }

export class Requirement {
  providerIndex: i32 = -1;
  /** provider_and_audiences: these audiences instead of the provider's. */
  audiences: Array<string> | null = null;
  children: Array<Requirement> = new Array<Requirement>();
  /** requires_any only: its allow_missing / allow_missing_or_failed members. */
  allowMissing: bool = false;
  allowMissingOrFailed: bool = false;

  constructor(public kind: RequirementKind) {}
}

export class HeaderMatcher {
  exact: string | null = null;
  prefix: string | null = null;
  /** present_match: true matches when the header exists, false when it does not. */
  present: i8 = -1;
  invert: bool = false;
  header: HeaderName;

  constructor(public name: string) {
    this.header = new HeaderName(name);
  }
}

export class Rule {
  /** Exactly one of prefix / path is set. */
  prefix: Uint8Array | null = null;
  path: Uint8Array | null = null;
  headers: Array<HeaderMatcher> = new Array<HeaderMatcher>();

  constructor(public requirement: Requirement) {}

  /** A prefix of "/" with no header condition matches every request without reading :path. */
  matchesEverything(): bool {
    const prefix = this.prefix;
    return prefix !== null && prefix.length == 1 && prefix[0] == 0x2f && this.headers.length == 0;
  }
}

export class FilterConfig {
  providers: Array<ProviderConfig> = new Array<ProviderConfig>();
  locations: Array<Location> = new Array<Location>();
  rules: Array<Rule> = new Array<Rule>();
  /** `requirement_map`: named requirements a route selects through its metadata (see route_settings.ts). */
  requirementMap: Map<string, Requirement> = new Map<string, Requirement>();
  /** The names of requirement_map, in configuration order (for the answer to an unknown name). */
  requirementNames: Array<string> = new Array<string>();
  statPrefix: string = "jwt_auth";
  bypassCorsPreflight: bool = false;
  /** Headers this filter writes (claim_to_headers, forward_payload_header): removed from every request first. */
  outputHeaders: Array<HeaderName> = new Array<HeaderName>();
  /** All locations (for allow_missing / allow_missing_or_failed, which read every provider's locations). */
  allLocations: Array<i32> = new Array<i32>();

  providerIndex(name: string): i32 {
    for (let i = 0; i < this.providers.length; i++) if (this.providers[i].name == name) return i;
    return -1;
  }

  hasRemoteJwks(): bool {
    for (let i = 0; i < this.providers.length; i++) if (this.providers[i].remote !== null) return true;
    return false;
  }

  /** The first provider with this issuer, else the first without an issuer (jwt_authn's findByIssuer). */
  providerForIssuer(issuer: string): ProviderConfig | null {
    for (let i = 0; i < this.providers.length; i++) if (this.providers[i].issuer == issuer) return this.providers[i];
    if (issuer.length > 0) {
      for (let i = 0; i < this.providers.length; i++) if (this.providers[i].issuer.length == 0) return this.providers[i];
    }
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing. The first problem found is kept in `error` and everything after it is skipped.

export const MAX_CACHE_SIZE: i32 = 100_000;
const MAX_REQUIREMENT_DEPTH: i32 = 8;

class Parser {
  error: string = "";

  get failed(): bool {
    return this.error.length > 0;
  }

  fail(path: string, problem: string): void {
    if (this.error.length == 0) this.error = path + " " + problem;
  }

  /** Reports members outside `known`. */
  onlyKnown(value: JsonValue, path: string, known: Array<string>): void {
    const names = value.keys();
    for (let i = 0; i < names.length; i++) {
      if (!known.includes(names[i])) {
        this.fail(join(path, names[i]), "is not a known field here (known: " + known.join(", ") + ")");
        return;
      }
    }
    if (value.hasDuplicateKeys()) this.fail(path, "has a field more than once");
  }

  object(value: JsonValue | null, path: string): JsonValue | null {
    if (value === null) return null;
    if (!value.isObject()) {
      this.fail(path, "must be an object");
      return null;
    }
    return value;
  }

  string(parent: JsonValue, name: string, path: string, fallback: string = ""): string {
    const value = parent.get(name);
    if (value === null) return fallback;
    if (!value.isString()) {
      this.fail(join(path, name), "must be a string");
      return fallback;
    }
    return value.asString();
  }

  requiredString(parent: JsonValue, name: string, path: string): string {
    if (parent.get(name) === null) {
      this.fail(join(path, name), "is required");
      return "";
    }
    const text = this.string(parent, name, path);
    if (!this.failed && text.length == 0) this.fail(join(path, name), "must not be empty");
    return text;
  }

  bool(parent: JsonValue, name: string, path: string): bool {
    const value = parent.get(name);
    if (value === null) return false;
    if (!value.isBool()) {
      this.fail(join(path, name), "must be true or false");
      return false;
    }
    return value.asBool();
  }

  /** A whole number in [min, max]; `fallback` when absent. */
  integer(parent: JsonValue, name: string, path: string, min: f64, max: f64, fallback: f64): f64 {
    const value = parent.get(name);
    if (value === null) return fallback;
    if (!value.isInteger() || value.asNumber() < min || value.asNumber() > max) {
      this.fail(join(path, name), "must be a whole number from " + (<i64>min).toString() + " to " + (<i64>max).toString());
      return fallback;
    }
    return value.asNumber();
  }

  stringArray(parent: JsonValue, name: string, path: string): Array<string> {
    const out = new Array<string>();
    const value = parent.get(name);
    if (value === null) return out;
    if (!value.isArray()) {
      this.fail(join(path, name), "must be an array of strings");
      return out;
    }
    const items = value.asArray();
    for (let i = 0; i < items.length; i++) {
      if (!items[i].isString()) {
        this.fail(join(path, name) + "[" + i.toString() + "]", "must be a string");
        return out;
      }
      out.push(items[i].asString());
    }
    return out;
  }

  /** A protobuf JSON duration ("300s", "1.5s") in milliseconds; `fallback` when absent. */
  duration(parent: JsonValue, name: string, path: string, fallbackMs: u64): u64 {
    const value = parent.get(name);
    if (value === null) return fallbackMs;
    const ms = value.isString() ? parseDurationMs(value.asString()) : -1;
    if (ms <= 0) {
      this.fail(join(path, name), "must be a positive duration such as \"300s\" or \"0.5s\"");
      return fallbackMs;
    }
    return <u64>ms;
  }

  /** A header name this filter may write or read: an RFC 9110 token, stored lower-case. */
  headerName(text: string, path: string): string {
    if (!isToken(text)) this.fail(path, "must be a header name (letters, digits and !#$%&'*+-.^_`|~), got \"" + text + "\"");
    return text.toLowerCase();
  }
}

function join(path: string, name: string): string {
  return path.length == 0 ? name : path + "." + name;
}

function isToken(text: string): bool {
  if (text.length == 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
      "!#$%&'*+-.^_`|~".indexOf(String.fromCharCode(c)) >= 0;
    if (!ok) return false;
  }
  return true;
}

let configError = "";

/** Why the last parseConfig returned null. */
export function lastConfigError(): string {
  return configError;
}

const TOP_FIELDS = ["providers", "rules", "requirement_map", "stat_prefix", "bypass_cors_preflight"];
const PROVIDER_FIELDS = [
  "issuer", "audiences", "subjects", "max_lifetime", "require_expiration", "local_jwks", "remote_jwks", "from_headers",
  "from_params", "from_cookies", "forward", "forward_payload_header", "pad_forward_payload_header", "claim_to_headers",
  "clock_skew_seconds", "jwt_cache_config",
];

/** Parses the plugin configuration; null (see lastConfigError) when anything in it is wrong. */
export function parseConfig(bytes: Uint8Array): FilterConfig | null {
  configError = "";
  const p = new Parser();
  const config = new FilterConfig();
  const root = parseJson(bytes, 32);
  if (root === null) {
    configError = "configuration is not valid JSON: " + lastJsonError();
    return null;
  }
  if (!root.isObject()) {
    configError = "configuration must be a JSON object with \"providers\" and \"rules\"";
    return null;
  }
  p.onlyKnown(root, "", TOP_FIELDS);
  const statPrefix = p.string(root, "stat_prefix", "", "jwt_auth");
  if (!p.failed && !isStatName(statPrefix)) p.fail("stat_prefix", "must use only a-z, 0-9, '_' and '.'");
  config.statPrefix = statPrefix;
  config.bypassCorsPreflight = p.bool(root, "bypass_cors_preflight", "");

  const providers = p.object(root.get("providers"), "providers");
  if (providers === null && !p.failed) p.fail("providers", "is required (an object of named providers)");
  if (providers !== null) {
    const names = providers.keys();
    if (names.length == 0) p.fail("providers", "must define at least one provider");
    if (providers.hasDuplicateKeys()) p.fail("providers", "defines a provider name twice");
    for (let i = 0; i < names.length && !p.failed; i++) {
      parseProvider(p, config, names[i], providers.get(names[i])!, "providers." + names[i]);
    }
  }

  const requirementMap = p.object(root.get("requirement_map"), "requirement_map");
  if (requirementMap !== null && !p.failed) {
    const names = requirementMap.keys();
    if (names.length == 0) p.fail("requirement_map", "must name at least one requirement");
    if (requirementMap.hasDuplicateKeys()) p.fail("requirement_map", "defines a requirement name twice");
    for (let i = 0; i < names.length && !p.failed; i++) {
      const requirement = parseRequirement(p, config, requirementMap.get(names[i])!, "requirement_map." + names[i], 0);
      if (requirement === null) break;
      config.requirementMap.set(names[i], requirement);
      config.requirementNames.push(names[i]);
    }
  }

  // rules may be left out when routes select requirements by name (requirement_map), as in jwt_authn.
  const rules = root.get("rules");
  if (!p.failed) {
    if (rules === null && requirementMap !== null) {
      // no rules: a route without jwt-auth metadata is not checked
    } else if (rules === null || !rules.isArray() || rules.asArray().length == 0) {
      p.fail("rules", "is required (an array of {match, requires}) unless requirement_map is given");
    } else {
      const items = rules.asArray();
      for (let i = 0; i < items.length && !p.failed; i++) {
        const rule = parseRule(p, config, items[i], "rules[" + i.toString() + "]");
        if (rule !== null) config.rules.push(rule);
      }
    }
  }
  if (p.failed) {
    configError = p.error;
    return null;
  }
  for (let i = 0; i < config.locations.length; i++) config.allLocations.push(i);
  sortLocations(config, config.allLocations);
  return config;
}

function isStatName(text: string): bool {
  if (text.length == 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x5f || c == 0x2e)) return false;
  }
  return true;
}

/** The index of the location (shared between providers that read the same place), created on first use. */
function locationIndex(config: FilterConfig, kind: LocationKind, name: string, prefix: string): i32 {
  for (let i = 0; i < config.locations.length; i++) {
    const location = config.locations[i];
    if (location.kind == kind && location.name == name && location.prefix == prefix) return i;
  }
  config.locations.push(new Location(kind, name, prefix));
  return config.locations.length - 1;
}

function sortLocations(config: FilterConfig, indices: Array<i32>): void {
  // Insertion sort: a provider reads a handful of locations at most.
  for (let i = 1; i < indices.length; i++) {
    const current = indices[i];
    const key = config.locations[current].sortKey();
    let j = i - 1;
    while (j >= 0 && config.locations[indices[j]].sortKey() > key) {
      indices[j + 1] = indices[j];
      j--;
    }
    indices[j + 1] = current;
  }
}

function addOutputHeader(config: FilterConfig, name: HeaderName): void {
  for (let i = 0; i < config.outputHeaders.length; i++) if (config.outputHeaders[i].name == name.name) return;
  config.outputHeaders.push(name);
}

function parseProvider(p: Parser, config: FilterConfig, name: string, value: JsonValue, path: string): void {
  if (p.object(value, path) === null) return;
  p.onlyKnown(value, path, PROVIDER_FIELDS);
  const provider = new ProviderConfig(name, config.providers.length);
  provider.issuer = p.string(value, "issuer", path);
  const audiences = p.stringArray(value, "audiences", path);
  for (let i = 0; i < audiences.length; i++) provider.audiences.push(normalizeAudience(audiences[i]));
  const subjects = value.get("subjects");
  if (subjects !== null) provider.subjects = parseStringMatcher(p, subjects, path + ".subjects");
  if (value.get("max_lifetime") !== null) provider.maxLifetimeMs = p.duration(value, "max_lifetime", path, 0);
  provider.requireExpiration = p.bool(value, "require_expiration", path);
  if (p.failed) return;

  const local = value.get("local_jwks");
  const remote = value.get("remote_jwks");
  if (local !== null && remote !== null) p.fail(path, "must have either local_jwks or remote_jwks, not both");
  else if (local === null && remote === null) p.fail(path, "needs local_jwks or remote_jwks");
  else if (local !== null) provider.localJwks = parseLocalJwks(p, local, path + ".local_jwks");
  else provider.remote = parseRemoteJwks(p, remote!, path + ".remote_jwks");
  if (p.failed) return;

  // Token locations: from_headers, from_params and from_cookies, or jwt_authn's defaults (Authorization: Bearer,
  // access_token).
  const fromHeaders = value.get("from_headers");
  const fromParams = p.stringArray(value, "from_params", path);
  const fromCookies = p.stringArray(value, "from_cookies", path);
  if (fromHeaders !== null) {
    if (!fromHeaders.isArray()) {
      p.fail(path + ".from_headers", "must be an array of {name, value_prefix}");
      return;
    }
    const items = fromHeaders.asArray();
    for (let i = 0; i < items.length && !p.failed; i++) {
      const itemPath = path + ".from_headers[" + i.toString() + "]";
      if (p.object(items[i], itemPath) === null) return;
      p.onlyKnown(items[i], itemPath, ["name", "value_prefix"]);
      const headerName = p.headerName(p.requiredString(items[i], "name", itemPath), itemPath + ".name");
      const prefix = p.string(items[i], "value_prefix", itemPath);
      if (!p.failed) provider.locations.push(locationIndex(config, LocationKind.Header, headerName, prefix));
    }
  }
  for (let i = 0; i < fromParams.length && !p.failed; i++) {
    if (fromParams[i].length == 0) p.fail(path + ".from_params[" + i.toString() + "]", "must not be empty");
    else provider.locations.push(locationIndex(config, LocationKind.Param, fromParams[i], ""));
  }
  for (let i = 0; i < fromCookies.length && !p.failed; i++) {
    // A cookie name is an RFC 6265 token, like a header name.
    const cookie = fromCookies[i];
    if (!isToken(cookie)) p.fail(path + ".from_cookies[" + i.toString() + "]", "must be a cookie name (letters, digits and !#$%&'*+-.^_`|~), got \"" + cookie + "\"");
    else provider.locations.push(locationIndex(config, LocationKind.Cookie, cookie, ""));
  }
  if (p.failed) return;
  if (provider.locations.length == 0) {
    provider.locations.push(locationIndex(config, LocationKind.Header, "authorization", "Bearer "));
    provider.locations.push(locationIndex(config, LocationKind.Param, "access_token", ""));
  }
  for (let i = 0; i < provider.locations.length; i++) config.locations[provider.locations[i]].issuers.add(provider.issuer);
  sortLocations(config, provider.locations);

  provider.forward = p.bool(value, "forward", path);
  const payloadHeader = p.string(value, "forward_payload_header", path);
  if (payloadHeader.length > 0) {
    const header = new HeaderName(p.headerName(payloadHeader, path + ".forward_payload_header"));
    provider.forwardPayloadHeader = header;
    addOutputHeader(config, header);
  }
  provider.padForwardPayloadHeader = p.bool(value, "pad_forward_payload_header", path);

  const claims = value.get("claim_to_headers");
  if (claims !== null) {
    if (!claims.isArray()) {
      p.fail(path + ".claim_to_headers", "must be an array of {header_name, claim_name}");
      return;
    }
    const items = claims.asArray();
    for (let i = 0; i < items.length && !p.failed; i++) {
      const itemPath = path + ".claim_to_headers[" + i.toString() + "]";
      if (p.object(items[i], itemPath) === null) return;
      p.onlyKnown(items[i], itemPath, ["header_name", "claim_name"]);
      const headerName = p.headerName(p.requiredString(items[i], "header_name", itemPath), itemPath + ".header_name");
      const claimName = p.requiredString(items[i], "claim_name", itemPath);
      if (p.failed) return;
      const claim = new ClaimToHeader(headerName, claimName);
      provider.claimToHeaders.push(claim);
      addOutputHeader(config, claim.header);
    }
  }

  // jwt_authn treats 0 (the proto default) as "use 60 seconds".
  const skew = p.integer(value, "clock_skew_seconds", path, 0, 86400, 60);
  provider.clockSkewSeconds = skew == 0 ? 60 : <u64>skew;

  const cache = p.object(value.get("jwt_cache_config"), path + ".jwt_cache_config");
  if (cache !== null) {
    p.onlyKnown(cache, path + ".jwt_cache_config", ["jwt_cache_size", "jwt_max_token_size"]);
    const size = p.integer(cache, "jwt_cache_size", path + ".jwt_cache_config", 0, MAX_CACHE_SIZE, 100);
    provider.cacheSize = size == 0 ? 100 : <i32>size;
    // As in jwt_authn, 0 means the default (4096 bytes).
    const maxToken = p.integer(cache, "jwt_max_token_size", path + ".jwt_cache_config", 0, 65536, MAX_CACHED_TOKEN_BYTES);
    provider.cacheMaxTokenBytes = maxToken == 0 ? MAX_CACHED_TOKEN_BYTES : <i32>maxToken;
  }
  if (!p.failed) config.providers.push(provider);
}

const STRING_MATCHER_KINDS = ["exact", "prefix", "suffix", "contains"];

/** Envoy's StringMatcher: exactly one of exact, prefix, suffix, contains (safe_regex is not implemented), plus ignore_case. */
function parseStringMatcher(p: Parser, value: JsonValue, path: string): StringMatcher | null {
  if (p.object(value, path) === null) return null;
  if (value.get("safe_regex") !== null) {
    p.fail(path + ".safe_regex", "is not supported here (use exact, prefix, suffix or contains)");
    return null;
  }
  p.onlyKnown(value, path, ["exact", "prefix", "suffix", "contains", "ignore_case"]);
  let kind = "";
  for (let i = 0; i < STRING_MATCHER_KINDS.length; i++) {
    if (value.get(STRING_MATCHER_KINDS[i]) === null) continue;
    if (kind.length > 0) p.fail(path, "must have exactly one of exact, prefix, suffix, contains");
    kind = STRING_MATCHER_KINDS[i];
  }
  if (kind.length == 0) p.fail(path, "needs one of exact, prefix, suffix, contains");
  if (p.failed) return null;
  const text = p.string(value, kind, path);
  // Envoy refuses an empty prefix, suffix or contains (they would match everything).
  if (!p.failed && kind != "exact" && text.length == 0) p.fail(path + "." + kind, "must not be empty");
  const ignoreCase = p.bool(value, "ignore_case", path);
  return p.failed ? null : new StringMatcher(kind, text, ignoreCase);
}

function parseLocalJwks(p: Parser, value: JsonValue, path: string): Jwks | null {
  if (p.object(value, path) === null) return null;
  p.onlyKnown(value, path, ["inline_string"]);
  const text = p.requiredString(value, "inline_string", path);
  if (p.failed) return null;
  const loaded = loadJwks(Uint8Array.wrap(String.UTF8.encode(text)));
  // A configured key set is under the operator's control: every key must load.
  if (loaded.error.length > 0 || loaded.jwks === null) {
    p.fail(path + ".inline_string", loaded.error);
    return null;
  }
  return loaded.jwks;
}

function parseRemoteJwks(p: Parser, value: JsonValue, path: string): RemoteJwksConfig | null {
  if (p.object(value, path) === null) return null;
  p.onlyKnown(value, path, ["http_uri", "cluster", "path", "authority", "timeout", "cache_duration", "async_fetch"]);
  let cluster = "", authority = "", requestPath = "";
  let timeoutMs: u64 = 5000;
  const httpUri = p.object(value.get("http_uri"), path + ".http_uri");
  if (httpUri !== null) {
    // Envoy's form: http_uri {uri, cluster, timeout}; the URI gives the :authority and :path.
    const uriPath = path + ".http_uri";
    p.onlyKnown(httpUri, uriPath, ["uri", "cluster", "timeout"]);
    if (value.get("cluster") !== null || value.get("path") !== null || value.get("authority") !== null) {
      p.fail(path, "must use either http_uri or cluster/path, not both");
    }
    cluster = p.requiredString(httpUri, "cluster", uriPath);
    const uri = p.requiredString(httpUri, "uri", uriPath);
    if (p.failed) return null;
    const schemeEnd = uri.indexOf("://");
    if (schemeEnd <= 0) {
      p.fail(uriPath + ".uri", "must be an absolute http(s) URI, got \"" + uri + "\"");
      return null;
    }
    const rest = uri.substring(schemeEnd + 3);
    const slash = rest.indexOf("/");
    authority = slash < 0 ? rest : rest.substring(0, slash);
    requestPath = slash < 0 ? "/" : rest.substring(slash);
    if (authority.length == 0) p.fail(uriPath + ".uri", "has no host");
    timeoutMs = p.duration(httpUri, "timeout", uriPath, 5000);
  } else {
    // The short form: cluster, path (and optionally authority, timeout).
    cluster = p.requiredString(value, "cluster", path);
    requestPath = p.requiredString(value, "path", path);
    if (!p.failed && requestPath.charCodeAt(0) != 0x2f) p.fail(path + ".path", "must start with '/'");
    authority = p.string(value, "authority", path, cluster);
    timeoutMs = p.duration(value, "timeout", path, 5000);
  }
  const cacheDurationMs = p.duration(value, "cache_duration", path, 600_000);
  let failedRefetchMs: u64 = 1000;
  const asyncFetch = p.object(value.get("async_fetch"), path + ".async_fetch");
  if (asyncFetch !== null) {
    p.onlyKnown(asyncFetch, path + ".async_fetch", ["failed_refetch_duration", "fast_listener"]);
    p.bool(asyncFetch, "fast_listener", path + ".async_fetch");
    failedRefetchMs = p.duration(asyncFetch, "failed_refetch_duration", path + ".async_fetch", 1000);
  }
  if (timeoutMs > 60_000 && !p.failed) p.fail(path + ".timeout", "must be at most 60s");
  if (p.failed) return null;
  return new RemoteJwksConfig(cluster, authority, requestPath, <u32>timeoutMs, cacheDurationMs, failedRefetchMs);
}

function parseRule(p: Parser, config: FilterConfig, value: JsonValue, path: string): Rule | null {
  if (p.object(value, path) === null) return null;
  p.onlyKnown(value, path, ["match", "requires"]);
  const requiresValue = value.get("requires");
  const requirement = requiresValue === null
    ? new Requirement(RequirementKind.AllowAll)
    : parseRequirement(p, config, requiresValue, path + ".requires", 0);
  if (requirement === null) return null;
  const rule = new Rule(requirement);

  const matchPath = path + ".match";
  const match = p.object(value.get("match"), matchPath);
  if (match === null) {
    p.fail(matchPath, "is required (prefix or path, optionally headers)");
    return null;
  }
  p.onlyKnown(match, matchPath, ["prefix", "path", "headers"]);
  const hasPrefix = match.get("prefix") !== null;
  const hasPath = match.get("path") !== null;
  if (hasPrefix == hasPath) {
    p.fail(matchPath, "needs exactly one of prefix or path");
    return null;
  }
  const text = hasPrefix ? p.string(match, "prefix", matchPath) : p.string(match, "path", matchPath);
  if (!p.failed && (text.length == 0 || text.charCodeAt(0) != 0x2f)) {
    p.fail(matchPath + (hasPrefix ? ".prefix" : ".path"), "must start with '/'");
  }
  const bytes = Uint8Array.wrap(String.UTF8.encode(text));
  if (hasPrefix) rule.prefix = bytes;
  else rule.path = bytes;

  const headers = match.get("headers");
  if (headers !== null) {
    if (!headers.isArray()) {
      p.fail(matchPath + ".headers", "must be an array of header matchers");
      return null;
    }
    const items = headers.asArray();
    for (let i = 0; i < items.length && !p.failed; i++) {
      const matcher = parseHeaderMatcher(p, items[i], matchPath + ".headers[" + i.toString() + "]");
      if (matcher !== null) rule.headers.push(matcher);
    }
  }
  return p.failed ? null : rule;
}

function parseHeaderMatcher(p: Parser, value: JsonValue, path: string): HeaderMatcher | null {
  if (p.object(value, path) === null) return null;
  p.onlyKnown(value, path, ["name", "string_match", "exact_match", "prefix_match", "present_match", "invert_match"]);
  const name = p.requiredString(value, "name", path);
  if (p.failed) return null;
  // Pseudo-headers (":method", ":authority") are allowed, like in Envoy route matching.
  const bare = name.startsWith(":") ? name.substring(1) : name;
  const matcher = new HeaderMatcher((name.startsWith(":") ? ":" : "") + p.headerName(bare, path + ".name"));
  let conditions = 0;
  const stringMatch = p.object(value.get("string_match"), path + ".string_match");
  if (stringMatch !== null) {
    p.onlyKnown(stringMatch, path + ".string_match", ["exact", "prefix"]);
    if (stringMatch.get("exact") !== null) { matcher.exact = p.string(stringMatch, "exact", path + ".string_match"); conditions++; }
    if (stringMatch.get("prefix") !== null) { matcher.prefix = p.string(stringMatch, "prefix", path + ".string_match"); conditions++; }
  }
  if (value.get("exact_match") !== null) { matcher.exact = p.string(value, "exact_match", path); conditions++; }
  if (value.get("prefix_match") !== null) { matcher.prefix = p.string(value, "prefix_match", path); conditions++; }
  if (value.get("present_match") !== null) { matcher.present = p.bool(value, "present_match", path) ? 1 : 0; conditions++; }
  if (conditions > 1) p.fail(path, "must have one condition (string_match.exact, string_match.prefix or present_match)");
  if (conditions == 0) matcher.present = 1; // Envoy: a matcher with only a name checks presence
  matcher.invert = p.bool(value, "invert_match", path);
  return p.failed ? null : matcher;
}

const REQUIREMENT_FIELDS = ["provider_name", "provider_and_audiences", "requires_any", "requires_all", "allow_missing", "allow_missing_or_failed"];

function parseRequirement(p: Parser, config: FilterConfig, value: JsonValue, path: string, depth: i32): Requirement | null {
  if (p.object(value, path) === null) return null;
  if (depth > MAX_REQUIREMENT_DEPTH) {
    p.fail(path, "nests requirements too deeply (at most " + MAX_REQUIREMENT_DEPTH.toString() + " levels)");
    return null;
  }
  p.onlyKnown(value, path, REQUIREMENT_FIELDS);
  const names = value.keys();
  if (p.failed) return null;
  if (names.length == 0) return new Requirement(RequirementKind.AllowAll);
  if (names.length > 1) {
    p.fail(path, "must have exactly one of " + REQUIREMENT_FIELDS.join(", "));
    return null;
  }
  const kind = names[0];
  const inner = value.get(kind)!;
  const innerPath = path + "." + kind;
  if (kind == "provider_name") {
    if (!inner.isString()) {
      p.fail(innerPath, "must be a string");
      return null;
    }
    return providerRequirement(p, config, inner.asString(), innerPath);
  }
  if (kind == "provider_and_audiences") {
    if (p.object(inner, innerPath) === null) return null;
    p.onlyKnown(inner, innerPath, ["provider_name", "audiences"]);
    const requirement = providerRequirement(p, config, p.requiredString(inner, "provider_name", innerPath), innerPath + ".provider_name");
    const audiences = p.stringArray(inner, "audiences", innerPath);
    if (requirement === null || p.failed) return null;
    const normalized = new Array<string>();
    for (let i = 0; i < audiences.length; i++) normalized.push(normalizeAudience(audiences[i]));
    requirement.audiences = normalized;
    return requirement;
  }
  if (kind == "allow_missing" || kind == "allow_missing_or_failed") {
    if (p.object(inner, innerPath) === null) return null;
    p.onlyKnown(inner, innerPath, []);
    return new Requirement(kind == "allow_missing" ? RequirementKind.AllowMissing : RequirementKind.AllowMissingOrFailed);
  }
  // requires_any / requires_all: {requirements: [at least two]}
  if (p.object(inner, innerPath) === null) return null;
  p.onlyKnown(inner, innerPath, ["requirements"]);
  const list = inner.get("requirements");
  if (list === null || !list.isArray() || list.asArray().length < 2) {
    p.fail(innerPath + ".requirements", "must be an array of at least two requirements");
    return null;
  }
  const group = new Requirement(kind == "requires_any" ? RequirementKind.Any : RequirementKind.All);
  const items = list.asArray();
  for (let i = 0; i < items.length; i++) {
    const child = parseRequirement(p, config, items[i], innerPath + ".requirements[" + i.toString() + "]", depth + 1);
    if (child === null) return null;
    // In requires_any, allow_missing(_or_failed) members relax the group's verdict instead of being verified.
    if (group.kind == RequirementKind.Any && child.kind == RequirementKind.AllowMissing) group.allowMissing = true;
    else if (group.kind == RequirementKind.Any && child.kind == RequirementKind.AllowMissingOrFailed) group.allowMissingOrFailed = true;
    else group.children.push(child);
  }
  if (group.children.length == 0) {
    // Only allow_* members: the group reads every provider's locations, as a lone allow_* requirement does.
    return new Requirement(group.allowMissingOrFailed ? RequirementKind.AllowMissingOrFailed : RequirementKind.AllowMissing);
  }
  return group;
}

function providerRequirement(p: Parser, config: FilterConfig, name: string, path: string): Requirement | null {
  if (p.failed) return null;
  const index = config.providerIndex(name);
  if (index < 0) {
    p.fail(path, "names provider \"" + name + "\", which is not defined in providers");
    return null;
  }
  const requirement = new Requirement(RequirementKind.Provider);
  requirement.providerIndex = index;
  return requirement;
}
