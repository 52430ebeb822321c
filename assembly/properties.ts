// Envoy attributes (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/advanced/attributes):
// request.path, source.address, response.code, node.metadata, plugin_root_id, ...
// A path is a list of segments, because segments may themselves contain dots (e.g. filter names in metadata).
import * as host from "./abi/hostcalls";
import { WasmResult } from "./abi/types";

/** Splits "request.url_path" into ["request", "url_path"]; use the array form when a segment contains a dot. */
export function propertyPath(dotted: string): Array<string> {
  return dotted.split(".");
}

export function getProperty(path: Array<string>): ArrayBuffer | null {
  return host.getProperty(path);
}

/** A string-valued property (addresses, paths, names), or null when absent. */
export function getPropertyString(path: Array<string>): string | null {
  const bytes = host.getProperty(path);
  return bytes ? String.UTF8.decode(bytes) : null;
}

/** An integer-valued property (response.code, request.size, durations in ns): 8 bytes little-endian. */
export function getPropertyInt(path: Array<string>, fallback: i64 = -1): i64 {
  const bytes = host.getProperty(path);
  if (!bytes || bytes.byteLength != 8) return fallback;
  return load<i64>(changetype<usize>(bytes));
}

export function getPropertyBool(path: Array<string>): bool {
  const bytes = host.getProperty(path);
  return bytes != null && bytes.byteLength == 1 && load<u8>(changetype<usize>(bytes)) != 0;
}

export function setProperty(path: Array<string>, value: string): bool {
  return host.setProperty(path, String.UTF8.encode(value)) == WasmResult.Ok;
}

/**
 * A property path serialized once, for properties read on every request: reading through it skips joining and
 * encoding the path on each call. `const RESPONSE_CODE = new PropertyPath(["response", "code"])`, then
 * `RESPONSE_CODE.getInt()`.
 */
export class PropertyPath {
  private readonly serialized: ArrayBuffer;
  readonly dotted: string;

  constructor(readonly segments: Array<string>) {
    this.serialized = host.serializePropertyPath(segments);
    this.dotted = segments.join(".");
  }

  get(): ArrayBuffer | null {
    return host.getPropertySerialized(this.serialized, this.dotted);
  }

  getString(): string | null {
    const bytes = this.get();
    return bytes ? String.UTF8.decode(bytes) : null;
  }

  /** An integer-valued property (8 bytes little-endian), or `fallback` when absent. Read without allocating. */
  getInt(fallback: i64 = -1): i64 {
    return host.getPropertyInt(this.serialized, this.dotted, fallback);
  }

  /** A boolean property; false when absent. Read without allocating. */
  getBool(): bool {
    return host.getPropertyBool(this.serialized, this.dotted);
  }
}
