// What a verified token says, in the forms jwt_authn hands upstream: audience matching, claim lookup by dotted
// path, and claim values rendered as header values (strings as-is, numbers like C++'s std::to_string, booleans
// as true/false, objects and arrays as base64 of their compact JSON with sorted member names).
import { JsonKind, JsonValue } from "../../assembly/lib/json";
import { base64Encode } from "../../assembly/lib/base64";

/** jwt_verify_lib's audience normalisation: drop an http:// or https:// prefix and one trailing slash. */
export function normalizeAudience(audience: string): string {
  if (audience.length == 0) return audience;
  let start = 0;
  if (audience.startsWith("http://")) start = 7;
  else if (audience.startsWith("https://")) start = 8;
  let end = audience.length;
  if (audience.charCodeAt(end - 1) == 0x2f) end--;
  if (start == 0 && end == audience.length) return audience;
  return end > start ? audience.substring(start, end) : "";
}

/** True when `allowed` (already normalised) is empty or shares an audience with the token. */
export function audiencesAllowed(allowed: Array<string>, tokenAudiences: Array<string>): bool {
  if (allowed.length == 0) return true;
  for (let i = 0; i < tokenAudiences.length; i++) {
    const audience = normalizeAudience(unchecked(tokenAudiences[i]));
    for (let j = 0; j < allowed.length; j++) {
      if (unchecked(allowed[j]) == audience) return true;
    }
  }
  return false;
}

/** The claim at a dotted path ("realm.roles" is member roles of member realm), or null. */
export function findClaim(payload: JsonValue, path: Array<string>): JsonValue | null {
  let current: JsonValue | null = payload;
  for (let i = 0; i < path.length; i++) {
    if (current === null || !current.isObject()) return null;
    current = current.get(unchecked(path[i]));
  }
  return current;
}

/**
 * The header value jwt_authn's claim_to_headers writes for a claim, or null when it writes none (null claims,
 * empty strings). Values a header cannot carry (control characters) are refused too: jwt_authn would make Envoy
 * fail the request with a 503, this filter leaves the header out instead.
 */
export function claimHeaderValue(value: JsonValue): string | null {
  let text: string;
  switch (value.kind) {
    case JsonKind.String: text = value.asString(); break;
    case JsonKind.Number: text = numberForHeader(value.asNumber()); break;
    case JsonKind.Bool: text = value.asBool() ? "true" : "false"; break;
    case JsonKind.Object: case JsonKind.Array: {
      const json = new Array<string>();
      writeJson(value, json);
      text = base64Encode(Uint8Array.wrap(String.UTF8.encode(json.join(""))));
      break;
    }
    default: return null;
  }
  if (text.length == 0 || !isHeaderSafe(text)) return null;
  return text;
}

function isHeaderSafe(text: string): bool {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c != 0x09) || c == 0x7f) return false;
  }
  return true;
}

// 2^64 and 2^53 as doubles.
const TWO_TO_64: f64 = 18446744073709551616.0;
const TWO_TO_53: f64 = 9007199254740992.0;

/** Like jwt_authn: a whole number in [0, 2^64) as an integer, anything else as printf("%f") would print it. */
export function numberForHeader(n: f64): string {
  if (n >= 0 && n < TWO_TO_64 && Math.floor(n) == n) return (<u64>n).toString();
  return fixedSix(n);
}

/** n with exactly six decimals, rounded half to even (std::to_string(double)). */
function fixedSix(n: f64): string {
  if (!isFinite(n)) return isNaN(n) ? "nan" : n < 0 ? "-inf" : "inf";
  const negative = n < 0 || (n == 0 && 1 / n < 0);
  const magnitude = Math.abs(n);
  let integer: string;
  let micros: u64 = 0;
  if (magnitude < TWO_TO_53) {
    let whole = Math.floor(magnitude);
    const scaled = (magnitude - whole) * 1e6;
    let rounded = Math.floor(scaled);
    const rest = scaled - rounded;
    if (rest > 0.5 || (rest == 0.5 && (<u64>rounded & 1) == 1)) rounded += 1;
    if (rounded >= 1e6) {
      rounded -= 1e6;
      whole += 1;
    }
    integer = (<u64>whole).toString();
    micros = <u64>rounded;
  } else {
    integer = exactIntegerDigits(magnitude); // every double this large is a whole number
  }
  let fraction = micros.toString();
  while (fraction.length < 6) fraction = "0" + fraction;
  return (negative ? "-" : "") + integer + "." + fraction;
}

/** The exact decimal digits of a whole double >= 2^53: mantissa times a power of two, in base 10^9 limbs. */
function exactIntegerDigits(n: f64): string {
  const bits = reinterpret<u64>(n);
  const exponent = <i32>((bits >> 52) & 0x7ff) - 1075;
  const mantissa = (bits & 0xfffffffffffff) | 0x10000000000000;
  const limbs = new Array<u64>(); // little-endian base 1e9
  let m = mantissa;
  while (m > 0) {
    limbs.push(m % 1_000_000_000);
    m /= 1_000_000_000;
  }
  for (let i = 0; i < exponent; i++) {
    let carry: u64 = 0;
    for (let j = 0; j < limbs.length; j++) {
      const v = limbs[j] * 2 + carry;
      limbs[j] = v % 1_000_000_000;
      carry = v / 1_000_000_000;
    }
    if (carry > 0) limbs.push(carry);
  }
  let out = limbs[limbs.length - 1].toString();
  for (let j = limbs.length - 2; j >= 0; j--) {
    let part = limbs[j].toString();
    while (part.length < 9) part = "0" + part;
    out += part;
  }
  return out;
}

const HEX = "0123456789abcdef";

/** Compact JSON as protobuf's JSON printer writes a Struct or ListValue: members sorted by name. */
export function writeJson(value: JsonValue, out: Array<string>): void {
  switch (value.kind) {
    case JsonKind.Null: out.push("null"); break;
    case JsonKind.Bool: out.push(value.asBool() ? "true" : "false"); break;
    case JsonKind.Number: out.push(jsonNumber(value.asNumber())); break;
    case JsonKind.String: writeJsonString(value.asString(), out); break;
    case JsonKind.Array: {
      const items = value.asArray();
      out.push("[");
      for (let i = 0; i < items.length; i++) {
        if (i > 0) out.push(",");
        writeJson(items[i], out);
      }
      out.push("]");
      break;
    }
    default: {
      const names = value.keys();
      names.sort((a: string, b: string): i32 => (a < b ? -1 : a > b ? 1 : 0));
      out.push("{");
      for (let i = 0; i < names.length; i++) {
        if (i > 0) out.push(",");
        writeJsonString(names[i], out);
        out.push(":");
        writeJson(value.get(names[i])!, out);
      }
      out.push("}");
    }
  }
}

function jsonNumber(n: f64): string {
  if (Math.floor(n) == n && Math.abs(n) < TWO_TO_53) {
    if (n == 0) return "0";
    return n < 0 ? "-" + (<u64>-n).toString() : (<u64>n).toString();
  }
  return n.toString();
}

function writeJsonString(s: string, out: Array<string>): void {
  let text = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) text += "\\\"";
    else if (c == 0x5c) text += "\\\\";
    else if (c == 0x0a) text += "\\n";
    else if (c == 0x0d) text += "\\r";
    else if (c == 0x09) text += "\\t";
    else if (c == 0x08) text += "\\b";
    else if (c == 0x0c) text += "\\f";
    else if (c < 0x20 || c == 0x3c || c == 0x3e || c == 0x7f || c == 0x2028 || c == 0x2029) {
      // protobuf escapes <, > (and the line separators) so the JSON can sit inside HTML
      text += "\\u" + HEX.charAt((c >> 12) & 15) + HEX.charAt((c >> 8) & 15) + HEX.charAt((c >> 4) & 15) + HEX.charAt(c & 15);
    } else {
      text += String.fromCharCode(c);
    }
  }
  out.push(text + "\"");
}
