// Header maps of the current stream (or of a callout response), by name:
//   headers.request.get("authorization"), headers.response.add("x-served-by", "as-mesh"), ...
// Names are lower-case in Envoy's maps (HTTP/2 semantics); pseudo-headers (:path, :method, :status) are readable.
import * as host from "./abi/hostcalls";
import { HeaderMapType, WasmResult } from "./abi/types";
import { HeaderPair, Headers, serializeHeaders } from "./abi/pairs";

export class HeaderMap {
  // Values this map returned or was given during the current callback. Envoy cannot change the map while the
  // module runs, so a header read by several stages of a chain, or written by one and read by the next, crosses
  // to the host once; forgetCachedHeaders() clears every map when Envoy enters the module again.
  private readonly cachedNames: Array<string> = new Array<string>();
  private readonly cachedValues: Array<ArrayBuffer | null> = new Array<ArrayBuffer | null>();

  constructor(public readonly type: HeaderMapType) {}

  /** The value, or null when the header is absent. */
  get(name: string): string | null {
    const bytes = this.getBytes(name);
    return bytes ? String.UTF8.decode(bytes) : null;
  }

  /** The raw bytes of the value (no UTF-16 conversion), or null when absent. Do not modify them: they are shared. */
  getBytes(name: string): ArrayBuffer | null {
    const index = this.cachedIndex(name);
    if (index >= 0) return unchecked(this.cachedValues[index]);
    return this.remember(name, host.getHeaderMapValueBytes(this.type, name));
  }

  has(name: string): bool {
    return this.getBytes(name) != null;
  }

  /** Adds a value (a second header line when the name exists). */
  add(name: string, value: string): bool {
    const encoded = String.UTF8.encode(value);
    const ok = host.addHeaderMapValueEncoded(this.type, String.UTF8.encode(name), encoded, name) == WasmResult.Ok;
    if (ok) this.added(name, encoded);
    return ok;
  }

  /** Sets the header to exactly this value, replacing any existing ones. */
  replace(name: string, value: string): bool {
    const ok = host.replaceHeaderMapValue(this.type, name, value) == WasmResult.Ok;
    if (ok) this.set(name, String.UTF8.encode(value));
    return ok;
  }

  /** Removes every value of the header; true when the host call succeeded (absent counts as success). */
  remove(name: string): bool {
    const result = host.removeHeaderMapValue(this.type, name);
    const ok = result == WasmResult.Ok || result == WasmResult.NotFound;
    if (ok) this.set(name, null);
    return ok;
  }

  /** getBytes for a HeaderName: the name is not encoded again on each call. Do not modify the bytes. */
  getBytesOf(name: HeaderName): ArrayBuffer | null {
    const index = this.cachedIndex(name.name);
    if (index >= 0) return unchecked(this.cachedValues[index]);
    return this.remember(name.name, host.getHeaderMapValueEncoded(this.type, name.encoded, name.name));
  }

  /** add for a HeaderName and a value already UTF-8 encoded. */
  addEncoded(name: HeaderName, value: ArrayBuffer): bool {
    const ok = host.addHeaderMapValueEncoded(this.type, name.encoded, value, name.name) == WasmResult.Ok;
    if (ok) this.added(name.name, value);
    return ok;
  }

  /** remove for a HeaderName (absent counts as success). */
  removeName(name: HeaderName): bool {
    const result = host.removeHeaderMapValueEncoded(this.type, name.encoded, name.name);
    const ok = result == WasmResult.Ok || result == WasmResult.NotFound;
    if (ok) this.set(name.name, null);
    return ok;
  }

  all(): Headers {
    return host.getHeaderMapPairs(this.type);
  }

  setAll(headers: Headers): bool {
    this.forgetCached();
    return host.setHeaderMapPairs(this.type, headers) == WasmResult.Ok;
  }

  size(): u32 {
    return host.getHeaderMapSize(this.type);
  }

  /** Drops the values cached during the previous callback. */
  forgetCached(): void {
    this.cachedNames.length = 0;
    this.cachedValues.length = 0;
  }

  private cachedIndex(name: string): i32 {
    const names = this.cachedNames;
    for (let i = 0, n = names.length; i < n; i++) {
      if (unchecked(names[i]) == name) return i;
    }
    return -1;
  }

  private remember(name: string, value: ArrayBuffer | null): ArrayBuffer | null {
    this.cachedNames.push(name);
    this.cachedValues.push(value);
    return value;
  }

  private set(name: string, value: ArrayBuffer | null): void {
    const index = this.cachedIndex(name);
    if (index >= 0) unchecked((this.cachedValues[index] = value));
    else this.remember(name, value);
  }

  /** After an add: the value is known when the header was known to be absent; otherwise ask the host next time. */
  private added(name: string, value: ArrayBuffer): void {
    const index = this.cachedIndex(name);
    if (index < 0) return;
    if (unchecked(this.cachedValues[index]) === null) {
      unchecked((this.cachedValues[index] = value));
      return;
    }
    this.cachedNames.splice(index, 1);
    this.cachedValues.splice(index, 1);
  }
}

export namespace headers {
  export const request = new HeaderMap(HeaderMapType.RequestHeaders);
  export const requestTrailers = new HeaderMap(HeaderMapType.RequestTrailers);
  export const response = new HeaderMap(HeaderMapType.ResponseHeaders);
  export const responseTrailers = new HeaderMap(HeaderMapType.ResponseTrailers);
  export const httpCallResponse = new HeaderMap(HeaderMapType.HttpCallResponseHeaders);
}

/** Called by the ABI layer whenever Envoy enters the module: header values cached before may have changed since. */
export function forgetCachedHeaders(): void {
  headers.request.forgetCached();
  headers.requestTrailers.forgetCached();
  headers.response.forgetCached();
  headers.responseTrailers.forgetCached();
  headers.httpCallResponse.forgetCached();
}

/** Builds a header list for local responses and callouts: `makeHeaders([["content-type", "text/plain"]])`. */
export function makeHeaders(pairs: Array<Array<string>>): Headers {
  const out = new Array<HeaderPair>(pairs.length);
  for (let i = 0; i < pairs.length; i++) out[i] = new HeaderPair(pairs[i][0], pairs[i][1]);
  return out;
}

/**
 * A header list serialized once, for a local response sent on many requests (e.g. a 429): sending it with
 * `Context.sendPreparedLocalResponse` skips encoding every name and value again.
 */
export class PreparedHeaders {
  readonly serialized: ArrayBuffer;

  constructor(readonly headers: Headers) {
    this.serialized = serializeHeaders(headers);
  }
}

/**
 * A header name encoded once, for headers a filter reads or writes on every request: the HeaderMap methods that
 * take one (getBytesOf, addEncoded, removeName) skip encoding the name again.
 */
export class HeaderName {
  readonly encoded: ArrayBuffer;

  constructor(readonly name: string) {
    this.encoded = String.UTF8.encode(name);
  }
}
