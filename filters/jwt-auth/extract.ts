// Finding tokens in a request, as jwt_authn's extractor does: in a header after a value prefix ("Bearer "), in
// a query parameter, or in a cookie. Header values and :path are read once per request, as bytes; a token is a view into
// those bytes, never a string.
import { HeaderName, headers } from "../../assembly";
import { Location } from "./config";

/**
 * The request headers of the current stream, each read from the host at most once. One instance serves every
 * request (wasm runs one callback at a time); `reset` starts the next request.
 */
export const PATH = new HeaderName(":path");

export class RequestView {
  private names: Array<HeaderName> = new Array<HeaderName>();
  private values: Array<Uint8Array | null> = new Array<Uint8Array | null>();
  private pathBytes: Uint8Array | null = null;
  private pathRead: bool = false;

  reset(): void {
    this.names.length = 0;
    this.values.length = 0;
    this.pathBytes = null;
    this.pathRead = false;
  }

  header(name: HeaderName): Uint8Array | null {
    const names = this.names;
    for (let i = 0, n = names.length; i < n; i++) {
      const seen = unchecked(names[i]);
      if (seen === name || seen.name == name.name) return unchecked(this.values[i]);
    }
    const raw = headers.request.getBytesOf(name);
    let value: Uint8Array | null = null;
    if (raw !== null) value = Uint8Array.wrap(raw);
    names.push(name);
    this.values.push(value);
    return value;
  }

  path(): Uint8Array | null {
    if (!this.pathRead) {
      this.pathBytes = this.header(PATH);
      this.pathRead = true;
    }
    return this.pathBytes;
  }

  /** Records a new :path after this filter rewrote it. */
  pathRewritten(path: Uint8Array): void {
    this.pathBytes = path;
    this.pathRead = true;
  }
}

/**
 * A token found in a request: bytes [start, end) of `source` (a header value or a decoded query parameter), and
 * the location it came from. Kept as a range so the cached path never allocates a view of it.
 */
export class FoundToken {
  source: Uint8Array = new Uint8Array(0);
  start: i32 = 0;
  end: i32 = 0;
  present: bool = false;

  constructor(public location: i32) {}

  @inline get pointer(): usize {
    return this.source.dataStart + <usize>this.start;
  }

  @inline get length(): i32 {
    return this.end - this.start;
  }

  /** The token as its own array view (for parsing and caching, off the cached path). */
  bytes(): Uint8Array {
    return this.source.subarray(this.start, this.end);
  }

  set(source: Uint8Array, start: i32, end: i32): void {
    this.source = source;
    this.start = start;
    this.end = end;
    this.present = true;
  }
}

/** Base64url characters and the dot: what a compact JWS is made of. */
@inline function isTokenByte(c: u32): bool {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x5f || c == 0x2e;
}

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): i32 {
  const n = needle.length;
  const last = haystack.length - n;
  if (n == 0) return 0;
  const first = unchecked(needle[0]);
  for (let i = 0; i <= last; i++) {
    if (unchecked(haystack[i]) != first) continue;
    if (memory.compare(haystack.dataStart + <usize>i, needle.dataStart, <usize>n) == 0) return i;
  }
  return -1;
}

/**
 * Finds the token in a header value, like jwt_authn: the prefix may appear anywhere in the value; the token
 * starts at the first base64url-or-dot character after it and runs to the end of the value (the parser judges the
 * rest). Without such a character the whole value is the token (and will fail to parse). No prefix: the whole
 * value. False when the prefix is not in the value.
 */
export function tokenInHeaderValue(value: Uint8Array, prefix: Uint8Array, out: FoundToken): bool {
  if (prefix.length == 0) {
    out.set(value, 0, value.length);
    return true;
  }
  const at = indexOfBytes(value, prefix);
  if (at < 0) return false;
  for (let i = at + prefix.length; i < value.length; i++) {
    if (isTokenByte(unchecked(value[i]))) {
      out.set(value, i, value.length);
      return true;
    }
  }
  out.set(value, 0, value.length);
  return true;
}

function hexValue(c: u32): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>c - 0x30;
  if (c >= 0x41 && c <= 0x46) return <i32>c - 0x37;
  if (c >= 0x61 && c <= 0x66) return <i32>c - 0x57;
  return -1;
}

/** Percent-decodes bytes[start, end) (an invalid escape is kept as-is, as Envoy does). */
export function percentDecode(bytes: Uint8Array, start: i32, end: i32): Uint8Array {
  let escapes = false;
  for (let i = start; i < end; i++) if (unchecked(bytes[i]) == 0x25) { escapes = true; break; }
  if (!escapes) return bytes.subarray(start, end);
  const out = new Uint8Array(end - start);
  let o = 0;
  for (let i = start; i < end; i++) {
    const c = unchecked(bytes[i]);
    if (c == 0x25 && i + 2 < end) {
      const hi = hexValue(unchecked(bytes[i + 1]));
      const lo = hexValue(unchecked(bytes[i + 2]));
      if (hi >= 0 && lo >= 0) {
        out[o++] = <u8>((hi << 4) | lo);
        i += 2;
        continue;
      }
    }
    out[o++] = c;
  }
  return out.subarray(0, o);
}

/** Where a query parameter sits in :path: [start, end) of "name=value", and the value's range. */
export class ParamSpan {
  constructor(public start: i32, public end: i32, public valueStart: i32) {}
}

/** The first `name` parameter of the query in `path` (names compared after percent-decoding), or null. */
export function findQueryParam(path: Uint8Array, name: Uint8Array): ParamSpan | null {
  let q = path.indexOf(0x3f); // '?'
  if (q < 0) return null;
  let end = path.indexOf(0x23, q); // a fragment ends the query
  if (end < 0) end = path.length;
  let start = q + 1;
  while (start <= end) {
    let stop = start;
    while (stop < end && unchecked(path[stop]) != 0x26) stop++; // '&'
    let eq = start;
    while (eq < stop && unchecked(path[eq]) != 0x3d) eq++; // '='
    const key = percentDecode(path, start, eq);
    if (key.length == name.length && memory.compare(key.dataStart, name.dataStart, <usize>name.length) == 0) {
      return new ParamSpan(start, stop, eq < stop ? eq + 1 : stop);
    }
    start = stop + 1;
  }
  return null;
}

/** :path without the parameter at `span` (and its separating '&'); the query's other bytes are kept as sent. */
export function pathWithoutParam(path: Uint8Array, span: ParamSpan): string {
  let start = span.start;
  let end = span.end;
  if (end < path.length && path[end] == 0x26) end++; // drop the '&' after it
  else if (start > 0 && path[start - 1] == 0x26) start--; // or the one before it
  else if (start > 0 && path[start - 1] == 0x3f && (end >= path.length || path[end] == 0x23)) start--; // the only parameter: drop '?'
  const head = String.UTF8.decode(path.subarray(0, start).slice().buffer);
  const tail = String.UTF8.decode(path.subarray(end).slice().buffer);
  return head + tail;
}

const COOKIE = new HeaderName("cookie");

@inline function isCookieSpace(c: u8): bool {
  return c == 0x20 || c == 0x09;
}

/**
 * The value of cookie `name` in a Cookie header value ("a=1; b=2"), as Envoy's parseCookies reads it: pairs split at
 * ';', spaces before the name dropped, the first pair with the name wins, and a value in double quotes loses them.
 * Spaces after the value are dropped too (RFC 6265 allows them there; jwt_authn's base64 decoder skips them).
 * False when the cookie is not there.
 */
export function cookieValue(header: Uint8Array, name: Uint8Array, out: FoundToken): bool {
  const length = header.length;
  let start = 0;
  while (start <= length) {
    let end = start;
    while (end < length && unchecked(header[end]) != 0x3b) end++; // ';'
    let keyStart = start;
    while (keyStart < end && isCookieSpace(unchecked(header[keyStart]))) keyStart++;
    let eq = keyStart;
    while (eq < end && unchecked(header[eq]) != 0x3d) eq++; // '='
    if (eq < end && eq - keyStart == name.length &&
        memory.compare(header.dataStart + <usize>keyStart, name.dataStart, <usize>name.length) == 0) {
      let valueStart = eq + 1, valueEnd = end;
      while (valueEnd > valueStart && isCookieSpace(unchecked(header[valueEnd - 1]))) valueEnd--;
      if (valueEnd - valueStart >= 2 && unchecked(header[valueStart]) == 0x22 && unchecked(header[valueEnd - 1]) == 0x22) {
        valueStart++;
        valueEnd--;
      }
      out.set(header, valueStart, valueEnd);
      return true;
    }
    start = end + 1;
  }
  return false;
}

/** Looks for the token at `location`; `out.present` says whether there is one. */
export function extractToken(request: RequestView, location: Location, out: FoundToken): void {
  out.present = false;
  if (location.isHeader) {
    const value = request.header(location.header);
    if (value !== null) tokenInHeaderValue(value, location.prefixBytes, out);
    return;
  }
  if (location.isCookie) {
    const cookies = request.header(COOKIE);
    if (cookies !== null) cookieValue(cookies, location.nameBytes, out);
    return;
  }
  const path = request.path();
  if (path === null) return;
  const span = findQueryParam(path, location.nameBytes);
  if (span === null) return;
  const decoded = percentDecode(path, span.valueStart, span.end);
  out.set(decoded, 0, decoded.length);
}
