// Header maps of the current stream (or of a callout response), by name:
//   headers.request.get("authorization"), headers.response.add("x-served-by", "as-mesh"), ...
// Names are lower-case in Envoy's maps (HTTP/2 semantics); pseudo-headers (:path, :method, :status) are readable.
import * as host from "./abi/hostcalls";
import { HeaderMapType, WasmResult } from "./abi/types";
import { HeaderPair, Headers, serializeHeaders } from "./abi/pairs";

export class HeaderMap {
  constructor(public readonly type: HeaderMapType) {}

  /** The value, or null when the header is absent. */
  get(name: string): string | null {
    const bytes = host.getHeaderMapValueBytes(this.type, name);
    return bytes ? String.UTF8.decode(bytes) : null;
  }

  /** The raw bytes of the value (no UTF-16 conversion), or null when absent. */
  getBytes(name: string): ArrayBuffer | null {
    return host.getHeaderMapValueBytes(this.type, name);
  }

  has(name: string): bool {
    return host.getHeaderMapValueBytes(this.type, name) != null;
  }

  /** Adds a value (a second header line when the name exists). */
  add(name: string, value: string): bool {
    return host.addHeaderMapValue(this.type, name, value) == WasmResult.Ok;
  }

  /** Sets the header to exactly this value, replacing any existing ones. */
  replace(name: string, value: string): bool {
    return host.replaceHeaderMapValue(this.type, name, value) == WasmResult.Ok;
  }

  /** Removes every value of the header; true when the host call succeeded (absent counts as success). */
  remove(name: string): bool {
    const result = host.removeHeaderMapValue(this.type, name);
    return result == WasmResult.Ok || result == WasmResult.NotFound;
  }

  /** getBytes for a HeaderName: the name is not encoded again on each call. */
  getBytesOf(name: HeaderName): ArrayBuffer | null {
    return host.getHeaderMapValueEncoded(this.type, name.encoded, name.name);
  }

  /** add for a HeaderName and a value already UTF-8 encoded. */
  addEncoded(name: HeaderName, value: ArrayBuffer): bool {
    return host.addHeaderMapValueEncoded(this.type, name.encoded, value, name.name) == WasmResult.Ok;
  }

  /** remove for a HeaderName (absent counts as success). */
  removeName(name: HeaderName): bool {
    const result = host.removeHeaderMapValueEncoded(this.type, name.encoded, name.name);
    return result == WasmResult.Ok || result == WasmResult.NotFound;
  }

  all(): Headers {
    return host.getHeaderMapPairs(this.type);
  }

  setAll(headers: Headers): bool {
    return host.setHeaderMapPairs(this.type, headers) == WasmResult.Ok;
  }

  size(): u32 {
    return host.getHeaderMapSize(this.type);
  }
}

export namespace headers {
  export const request = new HeaderMap(HeaderMapType.RequestHeaders);
  export const requestTrailers = new HeaderMap(HeaderMapType.RequestTrailers);
  export const response = new HeaderMap(HeaderMapType.ResponseHeaders);
  export const responseTrailers = new HeaderMap(HeaderMapType.ResponseTrailers);
  export const httpCallResponse = new HeaderMap(HeaderMapType.HttpCallResponseHeaders);
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
