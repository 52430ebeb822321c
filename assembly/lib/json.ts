// Strict JSON (RFC 8259) parser over UTF-8 bytes, used for JWT headers/claims, JWKS documents and filter config.
//
// Strictness (everything here is rejected with a message naming the byte offset, see lastJsonError()):
// - anything RFC 8259's grammar does not produce: trailing commas, leading zeros, '+1', '.5', '1.', NaN,
//   Infinity, single quotes, comments, unquoted names, a byte order mark, trailing data after the value;
// - bare control characters (< 0x20) inside strings and escapes other than \" \\ \/ \b \f \n \r \t \uXXXX;
// - invalid UTF-8 anywhere in a string: overlong forms, encoded surrogates (ED A0..BF), code points above
//   U+10FFFF, truncated sequences, stray continuation bytes;
// - \u escapes forming a lone surrogate (a high surrogate not followed by a low one, or a low one alone).
//   RFC 8259 leaves their meaning undefined and RFC 7493 (I-JSON) forbids them; rejecting them also means two
//   different documents can never decode to the same string, which matters when claims are compared;
// - nesting deeper than maxDepth (each array or object, empty ones included, is one level).
//
// Numbers become the correctly rounded IEEE double (the same value JavaScript's JSON.parse gives). Up to 19
// significant digits with a decimal exponent within ±22 (integers up to 2^53, timestamps, ordinary decimals)
// take an exact fast path; anything else takes an exact big-integer path. Magnitudes beyond the double range
// become ±Infinity and tiny ones ±0, as in JSON.parse; `isInteger()` is false for the infinities.
//
// Duplicate object member names are kept (RFC 8259 allows them); `get()` returns the last one, as JSON.parse
// does, and `hasDuplicateKeys()` lets security-sensitive callers (JOSE headers, RFC 7515 §4) reject them.
//
// The parser is iterative (an explicit stack of open containers) so a large maxDepth cannot overflow the wasm
// stack. It scans bytes once; strings are validated and measured in one pass and then written straight into a
// string of the exact length, so there is no per-character concatenation.

export const enum JsonKind {
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
}

// Objects with more members than this get a name→index map on first lookup; smaller ones are scanned.
const INDEX_THRESHOLD = 8;

export class JsonValue {
  /** Array elements, or object member values (parallel to `names`). Null for scalars and empty containers. */
  private items: Array<JsonValue> | null = null;
  /** Object member names in document order. Null unless a non-empty object. */
  private names: Array<string> | null = null;
  /** Lazily built for big objects: name → index of its last occurrence. */
  private index: Map<string, i32> | null = null;
  /** -1 not computed yet, 0 no duplicate names, 1 duplicates present. */
  private dups: i8 = -1;

  constructor(
    readonly kind: JsonKind,
    private boolValue: bool = false,
    private numValue: f64 = 0,
    private strValue: string = "",
  ) {}

  isNull(): bool {
    return this.kind == JsonKind.Null;
  }
  isBool(): bool {
    return this.kind == JsonKind.Bool;
  }
  isNumber(): bool {
    return this.kind == JsonKind.Number;
  }
  isString(): bool {
    return this.kind == JsonKind.String;
  }
  isArray(): bool {
    return this.kind == JsonKind.Array;
  }
  isObject(): bool {
    return this.kind == JsonKind.Object;
  }

  /** The boolean; false if this is not a Bool. */
  asBool(): bool {
    return this.kind == JsonKind.Bool && this.boolValue;
  }

  /** The number; NaN if this is not a Number (so a forgotten kind check fails every comparison). */
  asNumber(): f64 {
    return this.kind == JsonKind.Number ? this.numValue : NaN;
  }

  /** True for a finite Number with no fractional part (1, 1.0 and 1e3 all count). */
  isInteger(): bool {
    if (this.kind != JsonKind.Number) return false;
    const n = this.numValue;
    return isFinite(n) && Math.floor(n) == n;
  }

  /** The decoded string; "" if this is not a String. */
  asString(): string {
    return this.kind == JsonKind.String ? this.strValue : "";
  }

  /**
   * The elements of an Array (the value's own list, not a copy: do not modify it); a new empty array for any
   * other kind.
   */
  asArray(): Array<JsonValue> {
    const items = this.items;
    if (this.kind != JsonKind.Array || items === null) return new Array<JsonValue>();
    return items;
  }

  /** Member `key` of an Object (the last one if the name repeats); null if absent or not an Object. */
  get(key: string): JsonValue | null {
    const names = this.names;
    const items = this.items;
    if (this.kind != JsonKind.Object || names === null || items === null) return null;
    const n = names.length;
    if (n > INDEX_THRESHOLD) {
      const index = this.buildIndex();
      return index.has(key) ? unchecked(items[index.get(key)]) : null;
    }
    for (let i = n - 1; i >= 0; i--) {
      if (unchecked(names[i]) == key) return unchecked(items[i]);
    }
    return null;
  }

  /** Member names of an Object in document order, duplicates included (a copy); empty for other kinds. */
  keys(): Array<string> {
    const names = this.names;
    return names === null ? new Array<string>() : names.slice(0);
  }

  /** Member values of an Object in document order (a copy); empty for other kinds. */
  values(): Array<JsonValue> {
    const items = this.items;
    return this.kind != JsonKind.Object || items === null ? new Array<JsonValue>() : items.slice(0);
  }

  /** True if this Object has a member name more than once. */
  hasDuplicateKeys(): bool {
    const names = this.names;
    if (this.kind != JsonKind.Object || names === null) return false;
    if (this.dups < 0) {
      const n = names.length;
      let found = false;
      if (n > INDEX_THRESHOLD) {
        found = this.buildIndex().size < n;
      } else {
        for (let i = 1; i < n && !found; i++) {
          const name = unchecked(names[i]);
          for (let j = 0; j < i; j++) {
            if (unchecked(names[j]) == name) {
              found = true;
              break;
            }
          }
        }
      }
      this.dups = found ? 1 : 0;
    }
    return this.dups == 1;
  }

  private buildIndex(): Map<string, i32> {
    let index = this.index;
    if (index === null) {
      index = new Map<string, i32>();
      const names = this.names!; // only called for objects with members
      for (let i = 0, n = names.length; i < n; i++) index.set(unchecked(names[i]), i); // later ones win
      this.index = index;
    }
    return index;
  }

  // Called by the parser when a container closes: takes its members from the parser's shared stacks into
  // arrays of exactly the right size (no growth reallocations, nothing for empty containers).
  setMembers(values: Array<JsonValue>, valueStart: i32, names: Array<string>, nameStart: i32): void {
    const n = values.length - valueStart;
    if (n == 0) return;
    const items = new Array<JsonValue>(n);
    for (let i = 0; i < n; i++) unchecked((items[i] = unchecked(values[valueStart + i])));
    this.items = items;
    if (this.kind == JsonKind.Object) {
      const keys = new Array<string>(n);
      for (let i = 0; i < n; i++) unchecked((keys[i] = unchecked(names[nameStart + i])));
      this.names = keys;
    }
  }
}

// Literals are immutable, so every null/true/false in every document shares one instance.
const NULL_VALUE = new JsonValue(JsonKind.Null);
const TRUE_VALUE = new JsonValue(JsonKind.Bool, true);
const FALSE_VALUE = new JsonValue(JsonKind.Bool, false);

// Exact powers of ten representable as doubles (10^22 is the largest), for the exact number fast path.
const POW10: StaticArray<f64> = [
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

// ---- parser state (the parser is not re-entrant; wasm runs one call at a time) ----
let lastError = "";
let base: usize = 0; // address of input byte 0, for error offsets
let pos: usize = 0; // next unread byte
let end: usize = 0; // one past the last byte
// Reused between calls: open arrays/objects (innermost last), for each of them where its members start on the
// two member stacks, and the members (values, and names for objects) parsed so far for all open containers.
const openStack = new Array<JsonValue>();
const startStack = new Array<i32>(); // valueStack index, nameStack index; two entries per open container
const valueStack = new Array<JsonValue>();
const nameStack = new Array<string>();

/** Why the last parseJson/parseJsonString call returned null ("" after a success). */
export function lastJsonError(): string {
  return lastError;
}

/** Parses one JSON document. Returns null on any error; see lastJsonError(). */
export function parseJson(input: Uint8Array, maxDepth: i32 = 64): JsonValue | null {
  base = input.dataStart;
  pos = base;
  end = base + <usize>input.length;
  lastError = "";
  const result = parseDocument(maxDepth);
  // Drop references to a half-built tree after an error.
  openStack.length = 0;
  startStack.length = 0;
  valueStack.length = 0;
  nameStack.length = 0;
  return result;
}

/** Parses a JSON document held in a string (it is UTF-8 encoded first; lone surrogates in it are rejected). */
export function parseJsonString(s: string, maxDepth: i32 = 64): JsonValue | null {
  return parseJson(Uint8Array.wrap(String.UTF8.encode(s)), maxDepth);
}

function fail(what: string): JsonValue | null {
  lastError = what + " at byte " + (pos - base).toString();
  return null;
}

function describeByte(c: u32): string {
  if (c >= 0x21 && c <= 0x7e) return "'" + String.fromCharCode(c) + "'";
  return "byte 0x" + (c < 0x10 ? "0" : "") + c.toString(16);
}

@inline
function skipWhitespace(): void {
  while (pos < end) {
    const c = load<u8>(pos);
    if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) return;
    pos++;
  }
}

function parseDocument(maxDepth: i32): JsonValue | null {
  const stack = openStack;
  while (true) {
    // ---- a value is expected here ----
    skipWhitespace();
    if (pos >= end) return fail("unexpected end of input, expected a value");
    const c = <u32>load<u8>(pos);
    let value: JsonValue | null = null;
    if (c == 0x7b || c == 0x5b) { // '{' or '['
      if (stack.length >= maxDepth) return fail("nesting deeper than " + maxDepth.toString() + " levels");
      pos++;
      const isObject = c == 0x7b;
      const container = new JsonValue(isObject ? JsonKind.Object : JsonKind.Array);
      skipWhitespace();
      if (pos < end && load<u8>(pos) == (isObject ? 0x7d : 0x5d)) {
        pos++; // empty container: it is complete right away
        value = container;
      } else {
        stack.push(container);
        startStack.push(valueStack.length);
        startStack.push(nameStack.length);
        if (isObject && !parseMemberName()) return null;
        continue; // now parse its first value
      }
    } else {
      value = parseScalar(c);
      if (value === null) return null;
    }

    // ---- a value is complete: add it to the innermost container, closing containers that end here ----
    while (true) {
      const depth = stack.length;
      if (depth == 0) {
        skipWhitespace();
        if (pos < end) return fail("unexpected " + describeByte(load<u8>(pos)) + " after the JSON value");
        return value;
      }
      valueStack.push(value);
      const isObject = unchecked(stack[depth - 1]).kind == JsonKind.Object;
      skipWhitespace();
      if (pos >= end) return fail(isObject ? "unterminated object" : "unterminated array");
      const d = <u32>load<u8>(pos);
      if (d == 0x2c) { // ','
        pos++;
        if (isObject && !parseMemberName()) return null;
        break; // parse the next value
      }
      if (d != (isObject ? 0x7d : 0x5d)) {
        return fail((isObject ? "expected ',' or '}', found " : "expected ',' or ']', found ") + describeByte(d));
      }
      pos++;
      // The container is complete: move its members off the shared stacks into it.
      const nameStart = startStack.pop();
      const valueStart = startStack.pop();
      const done = stack.pop();
      done.setMembers(valueStack, valueStart, nameStack, nameStart);
      valueStack.length = valueStart;
      nameStack.length = nameStart;
      value = done;
    }
  }
}

// Parses `"name" :` inside an object and pushes the name on the name stack.
function parseMemberName(): bool {
  skipWhitespace();
  if (pos >= end) {
    fail("unterminated object");
    return false;
  }
  const c = <u32>load<u8>(pos);
  if (c != 0x22) {
    fail("expected a string member name, found " + describeByte(c));
    return false;
  }
  const name = parseString();
  if (name === null) return false;
  skipWhitespace();
  if (pos >= end || load<u8>(pos) != 0x3a) { // ':'
    fail("expected ':' after member name");
    return false;
  }
  pos++;
  nameStack.push(name);
  return true;
}

function parseScalar(c: u32): JsonValue | null {
  if (c == 0x22) {
    const s = parseString();
    return s === null ? null : new JsonValue(JsonKind.String, false, 0, s);
  }
  if (c == 0x2d || c - 0x30 < 10) return parseNumber();
  // Literals: compare four bytes at once (little-endian loads).
  if (c == 0x74) { // true
    if (end - pos >= 4 && load<u32>(pos) == 0x65757274) {
      pos += 4;
      return TRUE_VALUE;
    }
  } else if (c == 0x66) { // false
    if (end - pos >= 5 && load<u32>(pos + 1) == 0x65736c61) {
      pos += 5;
      return FALSE_VALUE;
    }
  } else if (c == 0x6e) { // null
    if (end - pos >= 4 && load<u32>(pos) == 0x6c6c756e) {
      pos += 4;
      return NULL_VALUE;
    }
  } else if (c == 0xef && end - pos >= 3 && load<u8>(pos + 1) == 0xbb && load<u8>(pos + 2) == 0xbf) {
    return fail("byte order mark is not allowed");
  }
  return fail("unexpected " + describeByte(c) + ", expected a value");
}

// ---- numbers ----

function parseNumber(): JsonValue | null {
  let negative = false;
  if (load<u8>(pos) == 0x2d) {
    negative = true;
    pos++;
  }
  // Grammar: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  // While checking it, accumulate the first 19 significant digits (they always fit in a u64).
  let mantissa: u64 = 0;
  let sigDigits = 0; // significant digits seen (leading zeros excluded)
  let exp10: i32 = 0; // decimal exponent that applies to `mantissa`
  const intStart = pos;
  if (pos >= end || <u32>load<u8>(pos) - 0x30 >= 10) return fail("expected a digit in number");
  if (load<u8>(pos) == 0x30) {
    pos++;
    if (pos < end && <u32>load<u8>(pos) - 0x30 < 10) return fail("leading zero in number");
  } else {
    while (pos < end) {
      const d = <u32>load<u8>(pos) - 0x30;
      if (d >= 10) break;
      if (sigDigits < 19) mantissa = mantissa * 10 + d;
      else exp10++; // a digit beyond the mantissa still scales it
      sigDigits++;
      pos++;
    }
  }
  const intEnd = pos;
  let fracStart = pos;
  let fracEnd = pos;
  if (pos < end && load<u8>(pos) == 0x2e) {
    pos++;
    fracStart = pos;
    if (pos >= end || <u32>load<u8>(pos) - 0x30 >= 10) return fail("expected a digit after '.' in number");
    while (pos < end) {
      const d = <u32>load<u8>(pos) - 0x30;
      if (d >= 10) break;
      if (sigDigits == 0 && d == 0) {
        exp10--; // a leading zero of the fraction only shifts the exponent
      } else {
        if (sigDigits < 19) {
          mantissa = mantissa * 10 + d;
          exp10--;
        }
        sigDigits++;
      }
      pos++;
    }
    fracEnd = pos;
  }
  let exponent: i32 = 0;
  if (pos < end && (load<u8>(pos) | 0x20) == 0x65) { // 'e' or 'E'
    pos++;
    let expNegative = false;
    if (pos < end && (load<u8>(pos) == 0x2b || load<u8>(pos) == 0x2d)) {
      expNegative = load<u8>(pos) == 0x2d;
      pos++;
    }
    if (pos >= end || <u32>load<u8>(pos) - 0x30 >= 10) return fail("expected a digit in number exponent");
    while (pos < end) {
      const d = <u32>load<u8>(pos) - 0x30;
      if (d >= 10) break;
      if (exponent < 100000000) exponent = exponent * 10 + <i32>d; // past this the result is 0 or ±Infinity
      pos++;
    }
    if (expNegative) exponent = -exponent;
  }

  let value: f64;
  if (sigDigits == 0) {
    value = 0;
  } else if (sigDigits <= 19 && mantissa <= (<u64>1 << 53) && exp10 + exponent >= -22 && exp10 + exponent <= 22) {
    // Fast path (Clinger): the mantissa and the power of ten are both exact doubles, so a single IEEE multiply
    // or divide is correctly rounded.
    const e = exp10 + exponent;
    const m = <f64>mantissa;
    value = e < 0 ? m / unchecked(POW10[-e]) : m * unchecked(POW10[e]);
  } else {
    value = decimalToDouble(intStart, intEnd, fracStart, fracEnd, exponent);
  }
  return new JsonValue(JsonKind.Number, false, negative ? -value : value);
}

// ---- exact decimal to double conversion (slow path) ----
//
// Used when the fast path cannot be exact: more than 19 significant digits, a mantissa above 2^53, or a
// decimal exponent outside ±22. It takes an estimate and then corrects it by comparing the exact decimal value
// with the halfway points between neighbouring doubles, using big integers (32-bit limbs), so the result is
// the correctly rounded (ties-to-even) double. The standard library's parseFloat is not used because it can
// be far off for long mantissas.
//
// Sizes: at most MAX_DIGITS significant digits are kept (a halfway point between doubles has at most 767
// significant digits, so digits past 800 can only matter through being non-zero, which is kept as a final
// '1' digit). Values are pruned to 0 or Infinity unless 10^-324 <= value < 10^310. The largest big integer is
// then (2M+1)·5^1125 shifted left by at most 2100 bits, under 4900 bits; LIMBS gives 6144 bits.

const MAX_DIGITS = 800;
const LIMBS = 192;
const bigD = new StaticArray<u32>(LIMBS); // the decimal digits D times 5^E when E >= 0
const bigP = new StaticArray<u32>(LIMBS); // 5^-E when E < 0, else 1
const bigA = new StaticArray<u32>(LIMBS); // scratch
const bigB = new StaticArray<u32>(LIMBS); // scratch
let lenD = 0;
let lenP = 0;

// a = a * mul + add, returning the new length (lengths never include high zero limbs).
function bigMulSmall(a: StaticArray<u32>, len: i32, mul: u32, add: u32): i32 {
  let carry = <u64>add;
  for (let i = 0; i < len; i++) {
    const t = <u64>unchecked(a[i]) * mul + carry; // < 2^64: (2^32-1)^2 + (2^32-1) fits
    unchecked((a[i] = <u32>t));
    carry = t >>> 32;
  }
  if (carry != 0) {
    if (len >= LIMBS) throw new Error("json number: big integer overflow");
    unchecked((a[len] = <u32>carry));
    len++;
  }
  return len;
}

// a = a * 5^k.
function bigMulPow5(a: StaticArray<u32>, len: i32, k: i32): i32 {
  while (k >= 13) {
    len = bigMulSmall(a, len, 1220703125, 0); // 5^13, the largest power of 5 below 2^32
    k -= 13;
  }
  let f: u32 = 1;
  for (; k > 0; k--) f *= 5;
  return f == 1 ? len : bigMulSmall(a, len, f, 0);
}

// dst = src * w for a 64-bit w (dst and src distinct), returning the new length.
function bigMulU64(dst: StaticArray<u32>, src: StaticArray<u32>, len: i32, w: u64): i32 {
  if (len + 2 > LIMBS) throw new Error("json number: big integer overflow");
  const lo = w & 0xffffffff;
  const hi = w >>> 32;
  let carry: u64 = 0;
  for (let i = 0; i < len; i++) {
    const t = <u64>unchecked(src[i]) * lo + carry;
    unchecked((dst[i] = <u32>t));
    carry = t >>> 32;
  }
  unchecked((dst[len] = <u32>carry));
  unchecked((dst[len + 1] = 0));
  carry = 0;
  for (let i = 0; i < len; i++) {
    // (2^32-1)^2 + 2·(2^32-1) = 2^64-1, so this cannot overflow.
    const t = <u64>unchecked(src[i]) * hi + <u64>unchecked(dst[i + 1]) + carry;
    unchecked((dst[i + 1] = <u32>t));
    carry = t >>> 32;
  }
  unchecked((dst[len + 1] = <u32>carry));
  let n = len + 2;
  while (n > 0 && unchecked(dst[n - 1]) == 0) n--;
  return n;
}

// a = a << bits.
function bigShl(a: StaticArray<u32>, len: i32, bits: i32): i32 {
  if (len == 0 || bits == 0) return len;
  const limbs = bits >>> 5;
  const r = bits & 31;
  if (len + limbs + 1 > LIMBS) throw new Error("json number: big integer overflow");
  if (r == 0) {
    for (let i = len - 1; i >= 0; i--) unchecked((a[i + limbs] = a[i]));
  } else {
    unchecked((a[len + limbs] = a[len - 1] >>> (32 - r)));
    for (let i = len - 1; i > 0; i--) unchecked((a[i + limbs] = (a[i] << r) | (a[i - 1] >>> (32 - r))));
    unchecked((a[limbs] = a[0] << r));
    len++;
  }
  for (let i = 0; i < limbs; i++) unchecked((a[i] = 0));
  len += limbs;
  while (len > 0 && unchecked(a[len - 1]) == 0) len--;
  return len;
}

function bigCmp(a: StaticArray<u32>, alen: i32, b: StaticArray<u32>, blen: i32): i32 {
  if (alen != blen) return alen < blen ? -1 : 1;
  for (let i = alen - 1; i >= 0; i--) {
    const x = unchecked(a[i]);
    const y = unchecked(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

// Sign of (D·10^E − h), where h is the point halfway between the double with bit pattern `bits` and the next
// one up: h = (2M+1)·2^(Q−1) for the double M·2^Q. Uses D·10^E = (D·5^E)·2^E.
function compareWithHalfwayAbove(bits: u64, e10: i32): i32 {
  const expField = <i32>(bits >>> 52);
  const frac = bits & 0xfffffffffffff;
  const m = expField == 0 ? frac : frac | (<u64>1 << 52);
  const q = expField == 0 ? -1074 : expField - 1075;
  memory.copy(changetype<usize>(bigA), changetype<usize>(bigD), <usize>lenD << 2);
  let lenA = lenD;
  let lenB = bigMulU64(bigB, bigP, lenP, 2 * m + 1);
  // Bring both sides to the same power of two.
  const ea = e10; // power of two on the decimal side
  const eb = q - 1; // power of two on the halfway side
  if (ea > eb) lenA = bigShl(bigA, lenA, ea - eb);
  else lenB = bigShl(bigB, lenB, eb - ea);
  return bigCmp(bigA, lenA, bigB, lenB);
}

// Estimate of m·10^e in doubles, within a few units in the last place (each step rounds once).
function estimate(m: u64, e: i32): f64 {
  let x = <f64>m;
  while (e > 22) {
    x *= 1e22;
    e -= 22;
  }
  while (e < -22) {
    x /= 1e22;
    e += 22;
  }
  return e >= 0 ? x * unchecked(POW10[e]) : x / unchecked(POW10[-e]);
}

// The correctly rounded double nearest to the unsigned decimal with integer digits [intStart, intEnd),
// fraction digits [fracStart, fracEnd) and exponent `exponent`.
function decimalToDouble(intStart: usize, intEnd: usize, fracStart: usize, fracEnd: usize, exponent: i32): f64 {
  // Collect D (significant digits as a big integer) and E so the value is D·10^E.
  let e10 = exponent - <i32>(fracEnd - fracStart);
  let nd = 0;
  let dropped = 0;
  let sticky = false;
  let head: u64 = 0; // first up to 19 digits, for the estimate
  let headDigits = 0;
  let chunk: u32 = 0;
  let chunkDigits = 0;
  lenD = 0;
  for (let part = 0; part < 2; part++) {
    let p = part == 0 ? intStart : fracStart;
    const stop = part == 0 ? intEnd : fracEnd;
    for (; p < stop; p++) {
      const d = <u32>load<u8>(p) - 0x30;
      if (nd == 0 && d == 0) continue;
      if (nd >= MAX_DIGITS) {
        dropped++;
        if (d != 0) sticky = true;
        continue;
      }
      nd++;
      if (headDigits < 19) {
        head = head * 10 + d;
        headDigits++;
      }
      chunk = chunk * 10 + d;
      if (++chunkDigits == 9) {
        lenD = bigMulSmall(bigD, lenD, 1000000000, chunk);
        chunk = 0;
        chunkDigits = 0;
      }
    }
  }
  e10 += dropped;
  if (sticky) {
    // The exact value lies strictly between D·10^E and (D+1)·10^E; appending a 1 digit keeps it there
    // without landing on a halfway point.
    chunk = chunk * 10 + 1;
    chunkDigits++;
    nd++;
    e10--;
  }
  if (chunkDigits > 0) {
    let scale: u32 = 1;
    for (let i = 0; i < chunkDigits; i++) scale *= 10;
    lenD = bigMulSmall(bigD, lenD, scale, chunk);
  }
  if (nd == 0) return 0;
  if (nd + e10 > 310) return Infinity; // value >= 10^309 > largest double
  if (nd + e10 < -323) return 0; // value < 10^-324, below half the smallest subnormal

  // Fold the power of five into one side: D·5^E when E >= 0, otherwise keep 5^-E for the other side.
  lenP = bigMulSmall(bigP, 0, 1, 1); // 1
  if (e10 >= 0) lenD = bigMulPow5(bigD, lenD, e10);
  else lenP = bigMulPow5(bigP, lenP, -e10);

  let z = estimate(head, e10 + (nd - headDigits));
  if (!isFinite(z)) z = f64.MAX_VALUE;
  let bits = reinterpret<u64>(z);
  const INF_BITS: u64 = 0x7ff0000000000000;
  // Walk to the `bits` with H(bits-1) <= value < H(bits), where H(b) is the midpoint between b and the next
  // double up; the estimate is a few units off at most. Going up never turns back down (and vice versa), so
  // this ends. Incrementing the bit pattern steps to the next double, across binades and from MAX_VALUE to
  // Infinity (value >= H(MAX_VALUE) rounds to Infinity, ties included, as IEEE ties-to-even does).
  while (bits != INF_BITS) {
    if (compareWithHalfwayAbove(bits, e10) >= 0) {
      bits++;
      continue;
    }
    if (bits == 0) break;
    const below = compareWithHalfwayAbove(bits - 1, e10);
    if (below < 0) {
      bits--;
      continue;
    }
    if (below == 0 && (bits & 1) != 0) bits--; // exactly halfway: keep the even mantissa
    break;
  }
  return reinterpret<f64>(bits);
}

// ---- strings ----

// Value of the 4 hex digits at p, or -1.
function hex4(p: usize): i32 {
  let v = 0;
  for (let i: usize = 0; i < 4; i++) {
    const c = <u32>load<u8>(p + i);
    let d: u32;
    if (c - 0x30 < 10) d = c - 0x30;
    else if ((c | 0x20) - 0x61 < 6) d = (c | 0x20) - 0x61 + 10;
    else return -1;
    v = (v << 4) | <i32>d;
  }
  return v;
}

@inline
function isContinuation(p: usize): bool {
  return (load<u8>(p) & 0xc0) == 0x80;
}

// Parses the string starting at the opening quote at `pos`; leaves `pos` after the closing quote.
function parseString(): string | null {
  const first = pos + 1;
  let p = first;
  let units = 0; // UTF-16 code units of the decoded string
  let plain = true; // only ASCII and no escapes: the bytes are the code units

  // Pass 1: validate and measure.
  while (true) {
    if (p >= end) {
      pos = p;
      fail("unterminated string");
      return null;
    }
    const c = <u32>load<u8>(p);
    if (c == 0x22) break;
    if (c < 0x80) {
      if (c == 0x5c) { // backslash
        plain = false;
        if (p + 1 >= end) {
          pos = p;
          fail("unterminated string");
          return null;
        }
        const e = <u32>load<u8>(p + 1);
        if (e == 0x75) { // \uXXXX
          const u = end - p >= 6 ? hex4(p + 2) : -1;
          if (u < 0) {
            pos = p;
            fail("invalid \\u escape (needs 4 hex digits)");
            return null;
          }
          if (u >= 0xdc00 && u <= 0xdfff) {
            pos = p;
            fail("lone low surrogate in \\u escape");
            return null;
          }
          if (u >= 0xd800 && u <= 0xdbff) {
            // A high surrogate must be followed by an escaped low surrogate.
            const lo = end - p >= 12 && load<u8>(p + 6) == 0x5c && load<u8>(p + 7) == 0x75 ? hex4(p + 8) : -1;
            if (lo < 0xdc00 || lo > 0xdfff) {
              pos = p;
              fail("lone high surrogate in \\u escape");
              return null;
            }
            units += 2;
            p += 12;
          } else {
            units++;
            p += 6;
          }
          continue;
        }
        if (e != 0x22 && e != 0x5c && e != 0x2f && e != 0x62 && e != 0x66 && e != 0x6e && e != 0x72 && e != 0x74) {
          pos = p;
          fail("invalid escape \\" + (e >= 0x21 && e <= 0x7e ? String.fromCharCode(e) : describeByte(e)));
          return null;
        }
        units++;
        p += 2;
        continue;
      }
      if (c < 0x20) {
        pos = p;
        fail("control character " + describeByte(c) + " must be escaped in a string");
        return null;
      }
      units++;
      p++;
      continue;
    }
    // Multi-byte UTF-8, validated per RFC 3629 §4 (shortest form, no surrogates, at most U+10FFFF).
    plain = false;
    const avail = end - p;
    let ok = false;
    let len: usize = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      ok = avail >= 2 && isContinuation(p + 1);
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (avail >= 3 && isContinuation(p + 1) && isContinuation(p + 2)) {
        const c1 = <u32>load<u8>(p + 1);
        ok = c == 0xe0 ? c1 >= 0xa0 : c == 0xed ? c1 <= 0x9f : true; // no overlongs, no surrogates
      }
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (avail >= 4 && isContinuation(p + 1) && isContinuation(p + 2) && isContinuation(p + 3)) {
        const c1 = <u32>load<u8>(p + 1);
        ok = c == 0xf0 ? c1 >= 0x90 : c == 0xf4 ? c1 <= 0x8f : true; // no overlongs, nothing past U+10FFFF
      }
    }
    if (!ok) {
      pos = p;
      fail("invalid UTF-8 in string");
      return null;
    }
    units += len == 4 ? 2 : 1;
    p += len;
  }
  pos = p + 1; // past the closing quote
  if (units == 0) return "";

  // Pass 2: write the code units into a string of exactly the right length.
  const out = __new(<usize>units << 1, idof<String>());
  let o = out;
  let q = first;
  if (plain) {
    for (; q < p; q++, o += 2) store<u16>(o, load<u8>(q));
    return changetype<string>(out);
  }
  while (q < p) {
    const c = <u32>load<u8>(q);
    if (c < 0x80) {
      if (c != 0x5c) {
        store<u16>(o, c);
        q++;
      } else {
        const e = <u32>load<u8>(q + 1);
        let ch: u32;
        if (e == 0x75) {
          // Surrogate pairs were checked in pass 1, so each escape is simply one code unit.
          ch = <u32>hex4(q + 2);
          q += 6;
        } else {
          ch = e == 0x62 ? 0x08 : e == 0x66 ? 0x0c : e == 0x6e ? 0x0a : e == 0x72 ? 0x0d : e == 0x74 ? 0x09 : e;
          q += 2;
        }
        store<u16>(o, ch);
      }
      o += 2;
    } else if (c < 0xe0) {
      store<u16>(o, ((c & 0x1f) << 6) | (<u32>load<u8>(q + 1) & 0x3f));
      q += 2;
      o += 2;
    } else if (c < 0xf0) {
      store<u16>(o, ((c & 0x0f) << 12) | ((<u32>load<u8>(q + 1) & 0x3f) << 6) | (<u32>load<u8>(q + 2) & 0x3f));
      q += 3;
      o += 2;
    } else {
      const cp = (((c & 0x07) << 18) | ((<u32>load<u8>(q + 1) & 0x3f) << 12) |
        ((<u32>load<u8>(q + 2) & 0x3f) << 6) | (<u32>load<u8>(q + 3) & 0x3f)) - 0x10000;
      store<u16>(o, 0xd800 | (cp >>> 10));
      store<u16>(o + 2, 0xdc00 | (cp & 0x3ff));
      q += 4;
      o += 4;
    }
  }
  return changetype<string>(out);
}
