// The combined `chain` root's configuration: one JSON object with a section per stage, each in that filter's own
// configuration format and each optional:
//   { "metrics": { ... }, "jwt_auth": { ... }, "rate_limit": { ... } }
// Each section is handed to its filter's own parser, so the chain accepts exactly what the single filters accept.
import { JsonKind, JsonValue, lastJsonError, parseJson } from "../../assembly/lib/json";

const SECTIONS = ["metrics", "jwt_auth", "rate_limit"];

export class ChainSections {
  metrics: ArrayBuffer | null = null;
  jwtAuth: ArrayBuffer | null = null;
  rateLimit: ArrayBuffer | null = null;
}

let problem = "";

/** Why the last parseChainConfig returned null. */
export function lastChainConfigProblem(): string {
  return problem;
}

/** The sections of a chain configuration as JSON text for each stage's parser, or null (see lastChainConfigProblem). */
export function parseChainConfig(bytes: ArrayBuffer): ChainSections | null {
  problem = "";
  const root = parseJson(Uint8Array.wrap(bytes));
  if (root === null) {
    problem = "configuration is not valid JSON: " + lastJsonError();
    return null;
  }
  if (!root.isObject()) {
    problem = "configuration must be a JSON object with any of \"metrics\", \"jwt_auth\", \"rate_limit\"";
    return null;
  }
  const keys = root.keys();
  for (let i = 0; i < keys.length; i++) {
    if (!SECTIONS.includes(keys[i])) {
      problem = "configuration." + keys[i] + ": unknown stage (known: " + SECTIONS.join(", ") + ")";
      return null;
    }
  }
  if (keys.length == 0) {
    problem = "configuration names no stage (any of " + SECTIONS.join(", ") + ")";
    return null;
  }
  const sections = new ChainSections();
  sections.metrics = section(root, "metrics");
  sections.jwtAuth = section(root, "jwt_auth");
  sections.rateLimit = section(root, "rate_limit");
  return sections;
}

function section(root: JsonValue, name: string): ArrayBuffer | null {
  const value = root.get(name);
  if (value === null || value.isNull()) return null;
  return String.UTF8.encode(toJson(value));
}

/** JSON text of a parsed value; numbers that are integers are written without a fraction. */
export function toJson(value: JsonValue): string {
  switch (value.kind) {
    case JsonKind.Null: return "null";
    case JsonKind.Bool: return value.asBool() ? "true" : "false";
    case JsonKind.Number: {
      const n = value.asNumber();
      if (value.isInteger() && Math.abs(n) <= 9007199254740991) return (<i64>n).toString();
      return n.toString();
    }
    case JsonKind.String: return quote(value.asString());
    case JsonKind.Array: {
      const items = value.asArray();
      const parts = new Array<string>(items.length);
      for (let i = 0; i < items.length; i++) parts[i] = toJson(items[i]);
      return "[" + parts.join(",") + "]";
    }
    default: {
      const names = value.keys();
      const values = value.values();
      const parts = new Array<string>(names.length);
      for (let i = 0; i < names.length; i++) parts[i] = quote(names[i]) + ":" + toJson(values[i]);
      return "{" + parts.join(",") + "}";
    }
  }
}

function quote(s: string): string {
  let out = "\"";
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c != 0x22 && c != 0x5c && c >= 0x20) continue;
    out += s.substring(start, i);
    if (c == 0x22) out += "\\\"";
    else if (c == 0x5c) out += "\\\\";
    else out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    start = i + 1;
  }
  return out + s.substring(start) + "\"";
}
