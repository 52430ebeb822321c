// The filter's configuration: JSON in the plugin configuration, parsed and validated once in onConfigure.
// Every problem is reported with the path of the field (`rules[1].token_bucket.max_tokens must be > 0`);
// unknown fields are errors, so a typo never silently disables a limit. Field names follow Envoy's
// local_ratelimit (token_bucket, max_tokens, tokens_per_fill, fill_interval, stat_prefix,
// enable_x_ratelimit_headers) and ratelimit filter (failure_mode_deny) where Envoy has a word for the idea.
import { HeaderName } from "../../assembly";
import { JsonValue, lastJsonError, parseJson } from "../../assembly/lib/json";
import { BucketPolicy } from "./bucket";
import { parseDurationMs } from "./duration";

export const enum DescriptorKind {
  RequestHeader,
  RemoteAddress,
  PathPrefix,
  Method,
  JwtClaim,
  GenericKey,
}

/** What a rule does with a request that lacks the header its key is built from. */
export const enum MissingKeyPolicy {
  /** All such requests share one bucket of the rule (never a bypass). */
  SharedBucket,
  /** The rule does not apply; the next matching rule (or the default rule) is tried. */
  SkipRule,
}

/** What happens when every slot a new key may use holds another live bucket. */
export const enum TableFullPolicy {
  /** Keys without a slot share the rule's overflow bucket (same token bucket settings). */
  SharedBucket,
  /** Requests for keys without a slot are answered 429. */
  Deny,
  /** Requests for keys without a slot pass unmetered. */
  Allow,
}

export class DescriptorSpec {
  kind: DescriptorKind = DescriptorKind.GenericKey;
  /** request_headers / jwt_claim: the header to read (lower case). */
  header: HeaderName = new HeaderName("");
  onMissing: MissingKeyPolicy = MissingKeyPolicy.SharedBucket;
  /** remote_address: how many proxies at the right end of x-forwarded-for are trusted (0: ignore the header). */
  trustedHops: i32 = 0;
  /** path_prefix: how many leading path segments form the key. */
  segments: i32 = 1;
  /** generic_key: the constant value (UTF-8). */
  value: ArrayBuffer = new ArrayBuffer(0);
}

export class HeaderMatcher {
  readonly header: HeaderName;

  constructor(name: string, public exact: ArrayBuffer | null, public present: bool) {
    this.header = new HeaderName(name);
  }
}

export class RuleMatch {
  pathPrefix: ArrayBuffer | null = null;
  method: ArrayBuffer | null = null;
  headers: Array<HeaderMatcher> = new Array<HeaderMatcher>();
}

export class Rule {
  name: string = "";
  /** Null for the default rule, which applies when no other rule does. */
  match: RuleMatch | null = null;
  descriptors: Array<DescriptorSpec> = new Array<DescriptorSpec>();
  bucket: BucketPolicy = new BucketPolicy(1, 1, 1000);
  cost: u32 = 1;
  /** Slots of this rule in shared data; 1 when every descriptor is a constant. */
  maxBuckets: u32 = 1;
  shadowMode: bool = false;
  onTableFull: TableFullPolicy = TableFullPolicy.SharedBucket;
}

export class RateLimitConfig {
  statPrefix: string = "rate_limit";
  rules: Array<Rule> = new Array<Rule>();
  defaultRule: Rule | null = null;
  /** enable_x_ratelimit_headers: DRAFT_VERSION_03 — headers on allowed responses too, not only on 429s. */
  headersOnAllowed: bool = false;
  /** When the shared bucket cannot be read or updated: true answers 500, false lets the request through. */
  failureModeDeny: bool = false;
}

export const DEFAULT_MAX_BUCKETS: u32 = 1024;
export const MAX_MAX_BUCKETS: u32 = 65536;
export const MAX_TOTAL_BUCKETS: u32 = 262144;
const MAX_TOKENS_LIMIT: f64 = 1_000_000_000;
const MAX_FILL_INTERVAL_MS: i64 = 86_400_000;
const MAX_RULES: i32 = 64;
const MAX_DESCRIPTORS: i32 = 8;
const MAX_NAME_LENGTH: i32 = 64;
const MAX_TRUSTED_HOPS: f64 = 16;
const MAX_SEGMENTS: f64 = 32;

/** Collects every error with its field path. */
class Problems {
  list: Array<string> = new Array<string>();

  add(path: string, message: string): void {
    this.list.push(path + " " + message);
  }

  /** Checks that `value` is an object whose member names are all in `allowed` (a space-separated list). */
  object(value: JsonValue | null, path: string, allowed: string): bool {
    if (value === null || !value.isObject()) {
      this.add(path, "must be an object");
      return false;
    }
    if (value.hasDuplicateKeys()) this.add(path, "has a field more than once");
    const names = value.keys();
    const known = allowed.length == 0 ? new Array<string>() : allowed.split(" ");
    for (let i = 0; i < names.length; i++) {
      if (!known.includes(names[i])) this.add(join(path, names[i]), known.length == 0 ? "is not a known field (this object takes none)" :
        "is not a known field (known: " + known.join(", ") + ")");
    }
    return true;
  }
}

function join(path: string, field: string): string {
  return path.length == 0 ? field : path + "." + field;
}

function isName(text: string): bool {
  if (text.length == 0 || text.length > MAX_NAME_LENGTH) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c == 0x5f || c == 0x2d;
    if (!ok) return false;
  }
  return true;
}

/** A header name as Envoy stores it: lower case token characters. */
function isHeaderName(text: string): bool {
  if (text.length == 0 || text.length > 256) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x5f || c == 0x2e ||
      (c == 0x3a && i == 0);
    if (!ok) return false;
  }
  return true;
}

function readString(p: Problems, parent: JsonValue, field: string, path: string, required: bool): string | null {
  const value = parent.get(field);
  if (value === null) {
    if (required) p.add(join(path, field), "is required");
    return null;
  }
  if (!value.isString()) {
    p.add(join(path, field), "must be a string");
    return null;
  }
  return value.asString();
}

function readBool(p: Problems, parent: JsonValue, field: string, path: string, fallback: bool): bool {
  const value = parent.get(field);
  if (value === null) return fallback;
  if (!value.isBool()) {
    p.add(join(path, field), "must be true or false");
    return fallback;
  }
  return value.asBool();
}

/** An integer field within [min, max]; `fallback` when absent (or invalid, after recording the problem). */
function readInteger(p: Problems, parent: JsonValue, field: string, path: string, min: f64, max: f64, fallback: f64, required: bool = false): f64 {
  const value = parent.get(field);
  if (value === null) {
    if (required) p.add(join(path, field), "is required");
    return fallback;
  }
  if (!value.isInteger()) {
    p.add(join(path, field), "must be an integer");
    return fallback;
  }
  const n = value.asNumber();
  if (n < min) {
    p.add(join(path, field), min == 1 ? "must be > 0" : "must be >= " + min.toString());
    return fallback;
  }
  if (n > max) {
    p.add(join(path, field), "must be <= " + (<u64>max).toString());
    return fallback;
  }
  return n;
}

function parseBucket(p: Problems, value: JsonValue | null, path: string): BucketPolicy | null {
  if (value === null) {
    p.add(path, "is required");
    return null;
  }
  if (!p.object(value, path, "max_tokens tokens_per_fill fill_interval")) return null;
  const errors = p.list.length;
  const maxTokens = readInteger(p, value, "max_tokens", path, 1, MAX_TOKENS_LIMIT, 1, true);
  // Envoy's default for tokens_per_fill is 1.
  const perFill = readInteger(p, value, "tokens_per_fill", path, 1, MAX_TOKENS_LIMIT, 1);
  const intervalText = readString(p, value, "fill_interval", path, true);
  let intervalMs: i64 = 1000;
  if (intervalText !== null) {
    const field = join(path, "fill_interval");
    if (intervalText.startsWith("-") || intervalText == "0s" || intervalText == "0ms" || intervalText == "0") {
      p.add(field, "must be > 0 (got \"" + intervalText + "\")");
    } else {
      intervalMs = parseDurationMs(intervalText);
      if (intervalMs < 0) {
        p.add(field, "must be a positive duration with a unit, like \"1s\", \"500ms\" or \"2m\", in whole milliseconds (got \"" + intervalText + "\")");
      } else if (intervalMs > MAX_FILL_INTERVAL_MS) {
        p.add(field, "must be at most 24h (got \"" + intervalText + "\")");
      }
    }
  }
  if (p.list.length != errors) return null;
  return new BucketPolicy(<u32>maxTokens, <u32>perFill, <u64>intervalMs);
}

function parseMissingPolicy(p: Problems, parent: JsonValue, path: string): MissingKeyPolicy {
  const text = readString(p, parent, "on_missing", path, false);
  if (text === null || text == "shared_bucket") return MissingKeyPolicy.SharedBucket;
  if (text == "skip_rule") return MissingKeyPolicy.SkipRule;
  p.add(join(path, "on_missing"), "must be \"shared_bucket\" or \"skip_rule\" (got \"" + text + "\")");
  return MissingKeyPolicy.SharedBucket;
}

const DESCRIPTOR_KINDS = "request_headers, remote_address, path_prefix, request_method, jwt_claim, generic_key";

function parseDescriptor(p: Problems, value: JsonValue, path: string): DescriptorSpec | null {
  if (!value.isObject() || value.keys().length != 1) {
    p.add(path, "must be an object with exactly one of: " + DESCRIPTOR_KINDS);
    return null;
  }
  const kind = value.keys()[0];
  const body = value.get(kind)!;
  const inner = join(path, kind);
  const spec = new DescriptorSpec();
  if (kind == "request_headers" || kind == "jwt_claim") {
    if (!p.object(body, inner, "header_name on_missing")) return null;
    spec.kind = kind == "request_headers" ? DescriptorKind.RequestHeader : DescriptorKind.JwtClaim;
    const name = readString(p, body, "header_name", inner, true);
    if (name !== null) {
      if (!isHeaderName(name)) p.add(join(inner, "header_name"), "must be a lower-case header name (got \"" + name + "\")");
      spec.header = new HeaderName(name);
    }
    spec.onMissing = parseMissingPolicy(p, body, inner);
  } else if (kind == "remote_address") {
    if (!p.object(body, inner, "xff_num_trusted_hops")) return null;
    spec.kind = DescriptorKind.RemoteAddress;
    spec.trustedHops = <i32>readInteger(p, body, "xff_num_trusted_hops", inner, 0, MAX_TRUSTED_HOPS, 0);
  } else if (kind == "path_prefix") {
    if (!p.object(body, inner, "segments")) return null;
    spec.kind = DescriptorKind.PathPrefix;
    spec.segments = <i32>readInteger(p, body, "segments", inner, 1, MAX_SEGMENTS, 1);
  } else if (kind == "request_method") {
    if (!p.object(body, inner, "")) return null;
    spec.kind = DescriptorKind.Method;
  } else if (kind == "generic_key") {
    if (!p.object(body, inner, "descriptor_value")) return null;
    spec.kind = DescriptorKind.GenericKey;
    const text = readString(p, body, "descriptor_value", inner, true);
    if (text !== null) {
      if (text.length == 0) p.add(join(inner, "descriptor_value"), "must not be empty");
      spec.value = String.UTF8.encode(text);
    }
  } else {
    p.add(path, "has unknown descriptor kind \"" + kind + "\" (known: " + DESCRIPTOR_KINDS + ")");
    return null;
  }
  return spec;
}

function parseMatch(p: Problems, value: JsonValue | null, path: string): RuleMatch | null {
  if (value === null) {
    p.add(path, "is required (use default_rule for requests no rule matches)");
    return null;
  }
  if (!p.object(value, path, "path_prefix method headers")) return null;
  const match = new RuleMatch();
  const prefix = readString(p, value, "path_prefix", path, false);
  if (prefix !== null) {
    if (!prefix.startsWith("/")) p.add(join(path, "path_prefix"), "must start with \"/\"");
    match.pathPrefix = String.UTF8.encode(prefix);
  }
  const method = readString(p, value, "method", path, false);
  if (method !== null) {
    if (method.length == 0 || method.toUpperCase() != method) p.add(join(path, "method"), "must be an upper-case method like \"GET\"");
    match.method = String.UTF8.encode(method);
  }
  const headers = value.get("headers");
  if (headers !== null) {
    const headersPath = join(path, "headers");
    if (!headers.isArray()) {
      p.add(headersPath, "must be an array");
    } else {
      const items = headers.asArray();
      for (let i = 0; i < items.length; i++) {
        const itemPath = headersPath + "[" + i.toString() + "]";
        if (!p.object(items[i], itemPath, "name exact present")) continue;
        const name = readString(p, items[i], "name", itemPath, true);
        if (name !== null && !isHeaderName(name)) p.add(join(itemPath, "name"), "must be a lower-case header name (got \"" + name + "\")");
        const exact = readString(p, items[i], "exact", itemPath, false);
        const hasPresent = items[i].get("present") !== null;
        const present = readBool(p, items[i], "present", itemPath, true);
        if ((exact === null) == !hasPresent) p.add(itemPath, "must set exactly one of exact, present");
        match.headers.push(new HeaderMatcher(name !== null ? name : "", exact !== null ? String.UTF8.encode(exact) : null, present));
      }
    }
  }
  if (match.pathPrefix === null && match.method === null && match.headers.length == 0) {
    p.add(path, "must set at least one of path_prefix, method, headers (use default_rule for a catch-all)");
  }
  return match;
}

const RULE_FIELDS = "name match descriptors token_bucket cost max_buckets shadow_mode on_table_full";

function parseRule(p: Problems, value: JsonValue, path: string, isDefault: bool, defaultMaxBuckets: u32): Rule | null {
  const fields = isDefault ? "name descriptors token_bucket cost max_buckets shadow_mode on_table_full" : RULE_FIELDS;
  if (!p.object(value, path, fields)) return null;
  const rule = new Rule();
  const name = readString(p, value, "name", path, !isDefault);
  if (name !== null) {
    if (!isName(name)) p.add(join(path, "name"), "must be 1-64 characters of [A-Za-z0-9_-] (got \"" + name + "\")");
    rule.name = name;
  } else if (isDefault) {
    rule.name = "default";
  }
  if (!isDefault) rule.match = parseMatch(p, value.get("match"), join(path, "match"));

  const descriptors = value.get("descriptors");
  const descriptorsPath = join(path, "descriptors");
  if (descriptors === null) {
    p.add(descriptorsPath, "is required (use [{\"generic_key\": {\"descriptor_value\": \"all\"}}] for one bucket shared by every request)");
  } else if (!descriptors.isArray() || descriptors.asArray().length == 0) {
    p.add(descriptorsPath, "must be a non-empty array");
  } else {
    const items = descriptors.asArray();
    if (items.length > MAX_DESCRIPTORS) p.add(descriptorsPath, "must have at most " + MAX_DESCRIPTORS.toString() + " entries");
    for (let i = 0; i < items.length; i++) {
      const spec = parseDescriptor(p, items[i], descriptorsPath + "[" + i.toString() + "]");
      if (spec !== null) rule.descriptors.push(spec);
    }
  }

  const bucket = parseBucket(p, value.get("token_bucket"), join(path, "token_bucket"));
  if (bucket !== null) rule.bucket = bucket;
  rule.cost = <u32>readInteger(p, value, "cost", path, 1, MAX_TOKENS_LIMIT, 1);
  if (bucket !== null && rule.cost > bucket.maxTokens) {
    p.add(join(path, "cost"), "must be <= token_bucket.max_tokens (" + bucket.maxTokens.toString() + "), or no request could ever pass");
  }
  const maxBuckets = <u32>readInteger(p, value, "max_buckets", path, 1, <f64>MAX_MAX_BUCKETS, <f64>defaultMaxBuckets);
  rule.maxBuckets = allConstant(rule.descriptors) ? 1 : maxBuckets;
  rule.shadowMode = readBool(p, value, "shadow_mode", path, globalShadow);
  rule.onTableFull = parseTableFull(p, value, path, globalTableFull);
  return rule;
}

function allConstant(descriptors: Array<DescriptorSpec>): bool {
  for (let i = 0; i < descriptors.length; i++) {
    if (descriptors[i].kind != DescriptorKind.GenericKey) return false;
  }
  return true;
}

function parseTableFull(p: Problems, parent: JsonValue, path: string, fallback: TableFullPolicy): TableFullPolicy {
  const text = readString(p, parent, "on_table_full", path, false);
  if (text === null) return fallback;
  if (text == "shared_bucket") return TableFullPolicy.SharedBucket;
  if (text == "deny") return TableFullPolicy.Deny;
  if (text == "allow") return TableFullPolicy.Allow;
  p.add(join(path, "on_table_full"), "must be \"shared_bucket\", \"deny\" or \"allow\" (got \"" + text + "\")");
  return fallback;
}

// Top-level defaults that rules inherit, read before the rules (module state: parsing is not re-entrant).
let globalShadow = false;
let globalTableFull = TableFullPolicy.SharedBucket;

const TOP_FIELDS = "stat_prefix rules default_rule shadow_mode enable_x_ratelimit_headers failure_mode_deny max_buckets on_table_full";

/** The parsed configuration, or null after logging every problem through `report`. */
export function parseConfig(bytes: ArrayBuffer, report: (line: string) => void): RateLimitConfig | null {
  const p = new Problems();
  const root = parseJson(Uint8Array.wrap(bytes));
  if (root === null) {
    report("configuration is not valid JSON: " + lastJsonError());
    return null;
  }
  const config = new RateLimitConfig();
  if (p.object(root, "", TOP_FIELDS)) {
    const prefix = readString(p, root, "stat_prefix", "", false);
    if (prefix !== null) {
      if (!isName(prefix)) p.add("stat_prefix", "must be 1-64 characters of [A-Za-z0-9_-] (got \"" + prefix + "\")");
      config.statPrefix = prefix;
    }
    globalShadow = readBool(p, root, "shadow_mode", "", false);
    globalTableFull = parseTableFull(p, root, "", TableFullPolicy.SharedBucket);
    config.failureModeDeny = readBool(p, root, "failure_mode_deny", "", false);
    const headers = readString(p, root, "enable_x_ratelimit_headers", "", false);
    if (headers !== null) {
      if (headers == "DRAFT_VERSION_03") config.headersOnAllowed = true;
      else if (headers != "OFF") p.add("enable_x_ratelimit_headers", "must be \"OFF\" or \"DRAFT_VERSION_03\" (got \"" + headers + "\")");
    }
    const defaultMaxBuckets = <u32>readInteger(p, root, "max_buckets", "", 1, <f64>MAX_MAX_BUCKETS, <f64>DEFAULT_MAX_BUCKETS);

    const rules = root.get("rules");
    if (rules !== null) {
      if (!rules.isArray()) {
        p.add("rules", "must be an array");
      } else {
        const items = rules.asArray();
        if (items.length > MAX_RULES) p.add("rules", "must have at most " + MAX_RULES.toString() + " entries");
        for (let i = 0; i < items.length; i++) {
          const rule = parseRule(p, items[i], "rules[" + i.toString() + "]", false, defaultMaxBuckets);
          if (rule !== null) config.rules.push(rule);
        }
      }
    }
    const fallback = root.get("default_rule");
    if (fallback !== null) config.defaultRule = parseRule(p, fallback, "default_rule", true, defaultMaxBuckets);
    if (config.rules.length == 0 && config.defaultRule === null && p.list.length == 0) {
      p.add("rules", "is empty and there is no default_rule: the filter would limit nothing");
    }
    checkUniqueNames(p, config);
    checkTotalBuckets(p, config);
  }
  for (let i = 0; i < p.list.length; i++) report(p.list[i]);
  return p.list.length == 0 ? config : null;
}

/**
 * Every slot is a shared-data key created at configuration time by every worker, so the total is bounded: it
 * keeps start-up quick and shared memory predictable (each slot holds at most 144 bytes).
 */
function checkTotalBuckets(p: Problems, config: RateLimitConfig): void {
  let total: u64 = 0;
  for (let i = 0; i < config.rules.length; i++) total += config.rules[i].maxBuckets;
  const fallback = config.defaultRule;
  if (fallback !== null) total += fallback.maxBuckets;
  if (total > <u64>MAX_TOTAL_BUCKETS) {
    p.add("max_buckets", "summed over all rules is " + total.toString() + ", more than " + MAX_TOTAL_BUCKETS.toString());
  }
}

/** Rule names key the buckets and the metrics, so two rules with one name would share both. */
function checkUniqueNames(p: Problems, config: RateLimitConfig): void {
  const seen = new Set<string>();
  for (let i = 0; i < config.rules.length; i++) {
    const name = config.rules[i].name;
    if (seen.has(name)) p.add("rules[" + i.toString() + "].name", "\"" + name + "\" is used by an earlier rule");
    seen.add(name);
  }
  const fallback = config.defaultRule;
  if (fallback !== null && seen.has(fallback.name)) p.add("default_rule.name", "\"" + fallback.name + "\" is used by a rule");
}
