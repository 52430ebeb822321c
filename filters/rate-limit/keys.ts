// Which rule applies to a request, and the identity of the bucket it draws from.
//
// A rule's descriptors each contribute one part: a header value, the client address, the first path segments,
// the method, a claim header set by jwt-auth, or a constant. The identity is the parts, each length-prefixed so
// no two different requests can produce the same bytes. Identities are stored inside bucket slots to detect
// two keys hashing to one slot; an identity longer than MAX_RAW_IDENTITY (a hostile 50 KB header, say) is
// replaced by its SHA-256, which keeps every slot small while still telling keys apart.
//
// Everything works on the header bytes as the host returns them: no UTF-16 strings on the hot path.
import { HeaderName, PropertyPath, headers } from "../../assembly";
import { sha256 } from "../../assembly/lib/sha2";
import { DescriptorKind, DescriptorSpec, HeaderMatcher, MissingKeyPolicy, Rule, RuleMatch } from "./config";

export const MAX_RAW_IDENTITY: i32 = 128;
const TAG_RAW: u8 = 0;
const TAG_HASHED: u8 = 1;
/** Length field of a part whose header was absent (shared_bucket policy): no real value has this length. */
const MISSING_PART: u32 = 0xffffffff;

const SOURCE_ADDRESS = new PropertyPath(["source", "address"]);
const PATH = new HeaderName(":path");
const METHOD = new HeaderName(":method");
const FORWARDED_FOR = new HeaderName("x-forwarded-for");
const EMPTY = new ArrayBuffer(0);

/**
 * The request's pseudo-headers, read from the host at most once each. One instance serves every request (wasm
 * runs one callback at a time); `reset` starts a new one.
 */
export class RequestView {
  private path: ArrayBuffer | null = null;
  private pathEnd: i32 = 0;
  private method: ArrayBuffer | null = null;

  reset(): void {
    this.path = null;
    this.method = null;
  }

  /** The raw :path bytes (query string included); see `pathLength`. */
  pathBytes(): ArrayBuffer {
    const cached = this.path;
    if (cached !== null) return cached;
    const raw = headers.request.getBytesOf(PATH);
    const path = raw === null ? EMPTY : raw;
    this.path = path;
    this.pathEnd = lengthWithoutQuery(path);
    return path;
  }

  /** Bytes of :path before the query string or fragment. */
  pathLength(): i32 {
    this.pathBytes();
    return this.pathEnd;
  }

  methodBytes(): ArrayBuffer {
    const cached = this.method;
    if (cached !== null) return cached;
    const raw = headers.request.getBytesOf(METHOD);
    const method = raw === null ? EMPTY : raw;
    this.method = method;
    return method;
  }
}

function isRootPrefix(prefix: ArrayBuffer): bool {
  return prefix.byteLength == 1 && load<u8>(changetype<usize>(prefix)) == 0x2f; // "/"
}

function lengthWithoutQuery(path: ArrayBuffer): i32 {
  const base = changetype<usize>(path);
  const length = path.byteLength;
  for (let i = 0; i < length; i++) {
    const c = load<u8>(base + i);
    if (c == 0x3f /* ? */ || c == 0x23 /* # */) return i;
  }
  return length;
}

function bytesEqual(a: ArrayBuffer, b: ArrayBuffer): bool {
  return a.byteLength == b.byteLength && memory.compare(changetype<usize>(a), changetype<usize>(b), a.byteLength) == 0;
}

function startsWith(value: ArrayBuffer, valueLength: i32, prefix: ArrayBuffer): bool {
  return valueLength >= prefix.byteLength &&
    memory.compare(changetype<usize>(value), changetype<usize>(prefix), prefix.byteLength) == 0;
}

function headerMatches(matcher: HeaderMatcher): bool {
  const value = headers.request.getBytesOf(matcher.header);
  const exact = matcher.exact;
  if (exact !== null) return value !== null && bytesEqual(value, exact);
  return (value !== null) == matcher.present;
}

/** True when the request meets every condition of the match (all of them must hold). */
export function ruleMatches(match: RuleMatch, request: RequestView): bool {
  const prefix = match.pathPrefix;
  // Every request path Envoy routes starts with "/", so that prefix matches without reading :path from the host.
  if (prefix !== null && !isRootPrefix(prefix) && !startsWith(request.pathBytes(), request.pathLength(), prefix)) return false;
  const method = match.method;
  if (method !== null && !bytesEqual(request.methodBytes(), method)) return false;
  const matchers = match.headers;
  for (let i = 0; i < matchers.length; i++) {
    if (!headerMatches(unchecked(matchers[i]))) return false;
  }
  return true;
}

// ---- identity ----

// The parts of the identity being assembled: bytes [0, length) of each buffer (null: header absent). Reused
// across requests (wasm runs one callback at a time), so assembling allocates only the identity itself.
const partBuffers = new Array<ArrayBuffer | null>();
const partLengths = new Array<i32>();
let currentLength: i32 = 0;

/**
 * The identity bytes of the rule's bucket for this request, or null when a key header is missing and the rule
 * says to skip (the caller then tries the next rule).
 */
export function buildIdentity(rule: Rule, request: RequestView): ArrayBuffer | null {
  const specs = rule.descriptors;
  partBuffers.length = 0;
  partLengths.length = 0;
  let size = 1;
  for (let i = 0; i < specs.length; i++) {
    const spec = unchecked(specs[i]);
    const part = descriptorValue(spec, request);
    if (part === null && spec.onMissing == MissingKeyPolicy.SkipRule) return null;
    partBuffers.push(part);
    partLengths.push(currentLength);
    size += 4 + (part === null ? 0 : currentLength);
  }
  const raw = new ArrayBuffer(size);
  let at = changetype<usize>(raw);
  store<u8>(at++, TAG_RAW);
  for (let i = 0; i < partBuffers.length; i++) {
    const part = unchecked(partBuffers[i]);
    if (part === null) {
      store<u32>(at, MISSING_PART);
      at += 4;
      continue;
    }
    const length = unchecked(partLengths[i]);
    store<u32>(at, <u32>length);
    memory.copy(at + 4, changetype<usize>(part), length);
    at += 4 + length;
  }
  partBuffers.length = 0;
  return size <= MAX_RAW_IDENTITY ? raw : hashedIdentity(raw);
}

function hashedIdentity(raw: ArrayBuffer): ArrayBuffer {
  const digest = sha256(Uint8Array.wrap(raw));
  const out = new ArrayBuffer(1 + digest.length);
  store<u8>(changetype<usize>(out), TAG_HASHED);
  memory.copy(changetype<usize>(out) + 1, digest.dataStart, digest.length);
  return out;
}

/** Makes `value` (all of it) the current part. */
function whole(value: ArrayBuffer | null): ArrayBuffer | null {
  if (value !== null) currentLength = value.byteLength;
  return value;
}

/** One descriptor's value for this request (its first `currentLength` bytes); null when its header is absent. */
function descriptorValue(spec: DescriptorSpec, request: RequestView): ArrayBuffer | null {
  switch (spec.kind) {
    case DescriptorKind.RequestHeader:
    case DescriptorKind.JwtClaim:
      return whole(headers.request.getBytesOf(spec.header));
    case DescriptorKind.RemoteAddress:
      return whole(clientAddress(spec.trustedHops));
    case DescriptorKind.PathPrefix: {
      const path = request.pathBytes();
      currentLength = leadingSegmentsLength(path, request.pathLength(), spec.segments);
      return path;
    }
    case DescriptorKind.Method:
      return whole(request.methodBytes());
    default:
      return whole(spec.value);
  }
}

/** Length of the first `count` segments of a path: "/a/b/c" with 2 gives 4 ("/a/b"). Shorter paths are kept whole. */
export function leadingSegmentsLength(path: ArrayBuffer, length: i32, count: i32): i32 {
  const base = changetype<usize>(path);
  if (length == 0 || load<u8>(base) != 0x2f) return length; // "*" or absolute-form: the whole value
  let seen = 0;
  for (let i = 1; i < length; i++) {
    if (load<u8>(base + i) == 0x2f && ++seen == count) return i;
  }
  return length;
}

// ---- client address ----

/**
 * The client address: with `trustedHops` = 0 the downstream peer (Envoy's source.address); with N > 0 the Nth
 * entry from the right of x-forwarded-for, i.e. the address the outermost trusted proxy saw. A header with
 * fewer entries, or an entry that is not an address, means the request did not come through the trusted
 * proxies as expected: the peer address is used then, so a forged header can never pick someone else's bucket.
 */
export function clientAddress(trustedHops: i32): ArrayBuffer {
  if (trustedHops > 0) {
    const forwarded = headers.request.getBytesOf(FORWARDED_FOR);
    if (forwarded !== null) {
      const entry = forwardedEntry(forwarded, trustedHops);
      if (entry !== null) return entry;
    }
  }
  const peer = SOURCE_ADDRESS.get();
  return peer === null ? EMPTY : stripPort(peer);
}

/** The Nth comma-separated entry from the right (1 = last), trimmed and checked; null when absent or invalid. */
export function forwardedEntry(header: ArrayBuffer, fromRight: i32): ArrayBuffer | null {
  const base = changetype<usize>(header);
  let end = header.byteLength;
  let index = 0;
  for (let i = header.byteLength - 1; i >= -1; i--) {
    if (i >= 0 && load<u8>(base + i) != 0x2c /* , */) continue;
    if (++index == fromRight) return plausibleAddress(header, i + 1, end);
    end = i;
  }
  return null;
}

const MAX_ADDRESS_LENGTH: i32 = 64;

/** The trimmed bytes [start, end) when they look like an IPv4/IPv6 address (optionally with a port). */
function plausibleAddress(header: ArrayBuffer, start: i32, end: i32): ArrayBuffer | null {
  const base = changetype<usize>(header);
  while (start < end && isSpace(load<u8>(base + start))) start++;
  while (end > start && isSpace(load<u8>(base + end - 1))) end--;
  if (end <= start || end - start > MAX_ADDRESS_LENGTH) return null;
  for (let i = start; i < end; i++) {
    const c = load<u8>(base + i);
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46) ||
      c == 0x2e || c == 0x3a || c == 0x5b || c == 0x5d;
    if (!ok) return null;
  }
  return stripPort(header.slice(start, end));
}

function isSpace(c: u8): bool {
  return c == 0x20 || c == 0x09;
}

/** "10.0.0.1:4242" → "10.0.0.1", "[::1]:4242" → "::1"; a bare IPv6 address is kept as it is. */
export function stripPort(address: ArrayBuffer): ArrayBuffer {
  const base = changetype<usize>(address);
  const length = address.byteLength;
  if (length == 0) return address;
  if (load<u8>(base) == 0x5b /* [ */) {
    for (let i = 1; i < length; i++) {
      if (load<u8>(base + i) == 0x5d /* ] */) return address.slice(1, i);
    }
    return address;
  }
  let colon = -1;
  for (let i = 0; i < length; i++) {
    if (load<u8>(base + i) != 0x3a) continue;
    if (colon >= 0) return address; // a second colon: IPv6 without brackets, no port
    colon = i;
  }
  return colon >= 0 ? address.slice(0, colon) : address;
}

/** FNV-1a over the identity: spreads keys over slots (not a security boundary; see the README). */
export function identityHash(identity: ArrayBuffer): u32 {
  const base = changetype<usize>(identity);
  let hash: u32 = 0x811c9dc5;
  for (let i = 0, n = identity.byteLength; i < n; i++) {
    hash ^= load<u8>(base + i);
    hash *= 0x01000193;
  }
  return hash;
}
