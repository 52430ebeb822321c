// Single-value checks shared by the schema and the cross-field validation. Each returns the problem as a message
// (worded for the operator, with an example of what Istio expects) or undefined when the value is fine. The rules
// follow istio/pkg/config/validation: Go-style durations of at least 1 ms in whole milliseconds, RE2 regexes, ports
// 1..65535, DNS-1123 hosts with an optional leading wildcard.

const DURATION_UNITS_NS: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, "μs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
const DURATION_PART = /([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)/y;

/** Parses a Go duration ("1h2m", "1.5s", "300ms") into nanoseconds; undefined when it is not one. */
export function parseDurationNs(text: string): number | undefined {
  if (text === "0") return 0;
  if (text.length === 0 || text.startsWith("-") || text.startsWith("+")) return undefined;
  let total = 0;
  let index = 0;
  DURATION_PART.lastIndex = 0;
  while (index < text.length) {
    DURATION_PART.lastIndex = index;
    const part = DURATION_PART.exec(text);
    if (!part || part[1] === "" || part[1] === ".") return undefined;
    total += Number(part[1]) * DURATION_UNITS_NS[part[2]!]!;
    index = DURATION_PART.lastIndex;
  }
  return total;
}

export function checkDuration(text: string): string | undefined {
  const ns = parseDurationNs(text);
  if (ns === undefined) return `${JSON.stringify(text)} is not a duration (e.g. "2s", "500ms", "1m30s")`;
  if (ns < 1e6) return `duration ${JSON.stringify(text)} must be at least 1ms`;
  if (ns % 1e6 !== 0) return `duration ${JSON.stringify(text)} must be whole milliseconds`;
  return undefined;
}

/** Milliseconds of a validated duration string. */
export function durationMs(text: string): number {
  const ns = parseDurationNs(text);
  if (ns === undefined) throw new Error(`${JSON.stringify(text)} is not a duration`);
  return Math.round(ns / 1e6);
}

/** A validated duration in proto3 JSON form ("1.500s"), the shape Envoy's Duration fields take. */
export function durationToProtoJson(text: string): string {
  const ms = durationMs(text);
  const seconds = Math.floor(ms / 1000);
  const fraction = ms % 1000;
  return fraction === 0 ? `${seconds}s` : `${seconds}.${String(fraction).padStart(3, "0")}s`;
}

// RE2, which Istio and Envoy use, has no lookaround and no backreferences; JavaScript does. Reject those so a
// regex that compiles here cannot be refused by Envoy later.
const NOT_RE2 = /\(\?<?[=!]|\\[1-9]/;

export function checkRegex(pattern: string): string | undefined {
  if (NOT_RE2.test(pattern)) return `regex ${JSON.stringify(pattern)} uses lookaround or a backreference, which RE2 (Envoy's regex engine) does not support`;
  try {
    new RegExp(pattern, "u");
  } catch (error) {
    return `regex ${JSON.stringify(pattern)} does not compile: ${(error as Error).message.replace(/^Invalid regular expression: /, "")}`;
  }
  return undefined;
}

export function checkPort(port: number): string | undefined {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `port number ${port} must be in the range 1..65535`;
  return undefined;
}

const HEADER_NAME = /^[-_A-Za-z0-9]+$/;

export function checkHeaderName(name: string): string | undefined {
  if (name === "") return "header name cannot be empty";
  if (!HEADER_NAME.test(name)) return `${JSON.stringify(name)} is not a valid header name (letters, digits, "-" and "_")`;
  return undefined;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_LABEL_ANY_CASE = /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$/;

/** A Kubernetes-style object name: a DNS-1123 subdomain (lower case, at most 253 characters). */
export function checkResourceName(name: string): string | undefined {
  if (name.length === 0) return "name cannot be empty";
  if (name.length > 253) return `name ${JSON.stringify(name)} is longer than 253 characters`;
  if (!name.split(".").every((label) => DNS1123_LABEL.test(label))) {
    return `name ${JSON.stringify(name)} must be lower case letters, digits, "-" and "." (a DNS-1123 subdomain, e.g. "ride-service")`;
  }
  return undefined;
}

export function checkNamespace(namespace: string): string | undefined {
  if (namespace.length > 63 || !DNS1123_LABEL.test(namespace)) {
    return `namespace ${JSON.stringify(namespace)} must be a DNS-1123 label (lower case letters, digits and "-", at most 63 characters)`;
  }
  return undefined;
}

/**
 * A host name whose first label may be a wildcard, as Istio's ValidateWildcardDomain: "*", "*.example.com", and the
 * partial forms "*x.example.com" / "*-x.example.com" that Istio also accepts (warning where they do not work).
 */
export function checkWildcardHost(host: string): string | undefined {
  if (host.length === 0) return "host cannot be empty";
  if (host.length > 255) return `host ${JSON.stringify(host)} is longer than 255 characters`;
  const dot = host.indexOf(".");
  const first = dot < 0 ? host : host.slice(0, dot);
  const rest = dot < 0 ? "" : host.slice(dot + 1);
  const firstWithoutWildcard = first.replace(/^\*-?/, "");
  if (first !== "*" && (first.length > 63 || !DNS1123_LABEL_ANY_CASE.test(firstWithoutWildcard))) {
    return first.includes("*") && firstWithoutWildcard.includes("*")
      ? `host ${JSON.stringify(host)}: a wildcard is only allowed at the start of the first label ("*.example.com")`
      : `host ${JSON.stringify(host)} is not a valid DNS name (label ${JSON.stringify(first)}: letters, digits and "-", at most 63 characters)`;
  }
  if (rest.includes("*")) return `host ${JSON.stringify(host)}: a wildcard is only allowed at the start of the first label ("*.example.com")`;
  return rest === "" ? undefined : checkFqdnLabels(host, rest);
}

/** A host name without wildcards. */
export function checkHost(host: string): string | undefined {
  if (host.length === 0) return "host cannot be empty";
  if (host.length > 255) return `host ${JSON.stringify(host)} is longer than 255 characters`;
  if (host.includes("*")) return `host ${JSON.stringify(host)} cannot be a wildcard here`;
  return checkFqdnLabels(host, host);
}

function checkFqdnLabels(host: string, rest: string): string | undefined {
  const trimmed = rest.endsWith(".") ? rest.slice(0, -1) : rest;
  for (const label of trimmed.split(".")) {
    if (label.length > 63 || !DNS1123_LABEL_ANY_CASE.test(label)) {
      return `host ${JSON.stringify(host)} is not a valid DNS name (label ${JSON.stringify(label)}: letters, digits and "-", at most 63 characters)`;
    }
  }
  return undefined;
}

const IPV4 = /^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}$/;

export function isIPv4(text: string): boolean {
  return IPV4.test(text);
}

export function isIPv6(text: string): boolean {
  if (!text.includes(":") || !/^[0-9a-fA-F:.]+$/.test(text)) return false;
  try {
    return new URL(`http://[${text}]/`).hostname.length > 0;
  } catch {
    return false;
  }
}

export function isIP(text: string): boolean {
  return isIPv4(text) || isIPv6(text);
}

/** An IP address or CIDR block ("10.0.0.0/8", "::1/128"). */
export function checkCidr(text: string): string | undefined {
  const [address, prefix, extra] = text.split("/");
  if (extra !== undefined || address === undefined || !isIP(address)) return `${JSON.stringify(text)} is not an IP address or CIDR block (e.g. "10.0.0.0/8")`;
  if (prefix !== undefined) {
    const bits = Number(prefix);
    const max = isIPv4(address) ? 32 : 128;
    if (!/^[0-9]+$/.test(prefix) || bits > max) return `${JSON.stringify(text)} has an invalid prefix length (0..${max})`;
  }
  return undefined;
}
