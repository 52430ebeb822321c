// An in-process proxy-wasm host (ABI 0.2.1) for fast tests and micro-benchmarks, in the spirit of
// proxy-wasm-go-sdk's proxytest: it instantiates the same .wasm Envoy loads, in Node's V8, implements the host
// functions in memory and drives the callbacks in Envoy's order. It never replaces the real-Envoy tests.
import { readFileSync } from "node:fs";

export enum WasmResult {
  Ok = 0, NotFound = 1, BadArgument = 2, SerializationFailure = 3, ParseFailure = 4, BadExpression = 5,
  InvalidMemoryAccess = 6, Empty = 7, CasMismatch = 8, ResultMismatch = 9, InternalFailure = 10,
  BrokenConnection = 11, Unimplemented = 12,
}

export enum HeaderMapType {
  RequestHeaders = 0, RequestTrailers = 1, ResponseHeaders = 2, ResponseTrailers = 3,
  GrpcReceiveInitialMetadata = 4, GrpcReceiveTrailingMetadata = 5, HttpCallResponseHeaders = 6, HttpCallResponseTrailers = 7,
}

export enum BufferType {
  HttpRequestBody = 0, HttpResponseBody = 1, DownstreamData = 2, UpstreamData = 3, HttpCallResponseBody = 4,
  GrpcReceiveBuffer = 5, VmConfiguration = 6, PluginConfiguration = 7, CallData = 8,
}

export enum MetricType { Counter = 0, Gauge = 1, Histogram = 2 }
export enum LogLevel { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4, Critical = 5 }
export enum Action { Continue = 0, Pause = 1 }

export type HeaderList = Array<[string, string]>;

/**
 * Shared data visible to every emulated VM given the same store, with Envoy's compare-and-swap rule: a write
 * with a non-zero cas succeeds only while it is still the key's current version; every write gets a new version.
 */
export class SharedDataStore {
  private entries = new Map<string, { value: Uint8Array; cas: number }>();
  private nextCas = 1;
  /** When set, called before each CAS write: lets a test slip a concurrent writer in between read and write. */
  beforeSet?: (key: string) => void;

  get(key: string): { value: Uint8Array; cas: number } | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: Uint8Array, cas: number): WasmResult {
    const hook = this.beforeSet;
    if (hook && cas !== 0) {
      this.beforeSet = undefined; // the hook's own writes must not recurse
      hook(key);
      this.beforeSet = hook;
    }
    const current = this.entries.get(key);
    if (cas !== 0 && (!current || current.cas !== cas)) return WasmResult.CasMismatch;
    this.entries.set(key, { value: value.slice(), cas: this.nextCas++ });
    return WasmResult.Ok;
  }

  get size(): number {
    return this.entries.size;
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }
}

export interface Metric {
  name: string;
  type: MetricType;
  value: bigint;
  /** Every value recorded into a histogram. */
  samples: bigint[];
}

export interface LocalResponse {
  status: number;
  details: string;
  body: string;
  headers: HeaderList;
  grpcStatus: number;
}

export interface HttpCall {
  token: number;
  contextId: number;
  cluster: string;
  headers: HeaderList;
  body: string;
  trailers: HeaderList;
  timeoutMs: number;
}

export interface CalloutResponse {
  status?: number;
  headers?: HeaderList;
  body?: string | Uint8Array;
  trailers?: HeaderList;
}

export interface EmulatorOptions {
  pluginConfiguration?: string | object;
  vmConfiguration?: string;
  sharedData?: SharedDataStore;
  /** Initial clock in nanoseconds since the epoch (default: a fixed instant, so runs repeat exactly). */
  nowNanos?: bigint;
  logLevel?: LogLevel;
  rootId?: string;
  /** Properties by dotted path ("source.address") or NUL-joined segments. */
  properties?: Record<string, string | Uint8Array | bigint | boolean>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

class StreamState {
  maps = new Map<HeaderMapType, HeaderList>();
  bodies = new Map<BufferType, Uint8Array>();
  localResponse?: LocalResponse;
  continued: number[] = [];
  properties = new Map<string, Uint8Array>();
}

type WasmExports = Record<string, (...args: never[]) => unknown> & { memory: WebAssembly.Memory };

export class HostEmulator {
  readonly sharedData: SharedDataStore;
  readonly logs: Array<{ level: LogLevel; message: string }> = [];
  readonly metrics: Metric[] = [];
  readonly httpCalls: HttpCall[] = [];
  readonly rootContextId = 1;
  tickPeriodMs = 0;
  /** When set, proxy_http_call fails with this result, as Envoy's does for a cluster it has not initialized yet. */
  refuseHttpCalls?: WasmResult;
  /** Calls refused because of refuseHttpCalls. */
  refusedHttpCalls = 0;
  nowNanos: bigint;
  logLevel: LogLevel;
  private exports!: WasmExports;
  private readonly pluginConfiguration: Uint8Array;
  private readonly vmConfiguration: Uint8Array;
  private readonly properties = new Map<string, Uint8Array>();
  private readonly streams = new Map<number, StreamState>();
  private readonly rootState = new StreamState();
  private effectiveContext = 1;
  private nextContextId = 2;
  private nextToken = 1;
  private callResponse?: { headers: HeaderList; body: Uint8Array; trailers: HeaderList };
  private queues = new Map<number, { name: string; items: Uint8Array[] }>();

  private constructor(options: EmulatorOptions) {
    const config = options.pluginConfiguration;
    this.pluginConfiguration = encoder.encode(config === undefined ? "" : typeof config === "string" ? config : JSON.stringify(config));
    this.vmConfiguration = encoder.encode(options.vmConfiguration ?? "");
    this.sharedData = options.sharedData ?? new SharedDataStore();
    this.nowNanos = options.nowNanos ?? 1_700_000_000_000_000_000n;
    this.logLevel = options.logLevel ?? LogLevel.Info;
    this.setProperty("plugin_root_id", options.rootId ?? "");
    this.setProperty("plugin_name", options.rootId ?? "");
    for (const [path, value] of Object.entries(options.properties ?? {})) this.setProperty(path, value);
  }

  /** Instantiates a module; call `start()` next (or use `HostEmulator.start`). */
  static async load(wasm: string | Uint8Array<ArrayBuffer>, options: EmulatorOptions = {}): Promise<HostEmulator> {
    const host = new HostEmulator(options);
    const bytes = typeof wasm === "string" ? readFileSync(wasm) : wasm;
    const module = await WebAssembly.compile(bytes);
    const instance = await WebAssembly.instantiate(module, { env: host.imports(), wasi_snapshot_preview1: {} });
    host.exports = instance.exports as unknown as WasmExports;
    const initialize = host.exports._initialize;
    if (initialize) initialize();
    return host;
  }

  /** Loads, then creates the root context and runs on_vm_start and on_configure like Envoy does. */
  static async start(wasm: string | Uint8Array<ArrayBuffer>, options: EmulatorOptions = {}): Promise<HostEmulator> {
    const host = await HostEmulator.load(wasm, options);
    if (!host.configure()) {
      throw new Error(`plugin configuration rejected: ${host.logs.map((entry) => entry.message).join(" | ")}`);
    }
    return host;
  }

  /** Creates the root context and runs on_vm_start and on_configure; false when the module refused either. */
  configure(): boolean {
    this.call("proxy_on_context_create", this.rootContextId, 0);
    if (!this.call("proxy_on_vm_start", this.rootContextId, this.vmConfiguration.length)) return false;
    return Boolean(this.call("proxy_on_configure", this.rootContextId, this.pluginConfiguration.length));
  }

  setProperty(path: string, value: string | Uint8Array | bigint | boolean): void {
    this.properties.set(path.split(".").join("\0"), encodeProperty(value));
  }

  /** Advances the clock (and fires due ticks when a tick period is set and `fireTicks` is true). */
  advanceTime(milliseconds: number, fireTicks = false): void {
    if (!fireTicks || this.tickPeriodMs === 0) {
      this.nowNanos += BigInt(Math.round(milliseconds * 1e6));
      return;
    }
    let remaining = milliseconds;
    while (remaining >= this.tickPeriodMs) {
      this.nowNanos += BigInt(this.tickPeriodMs) * 1_000_000n;
      remaining -= this.tickPeriodMs;
      this.tick();
    }
    this.nowNanos += BigInt(Math.round(remaining * 1e6));
  }

  tick(): void {
    this.call("proxy_on_tick", this.rootContextId);
  }

  newStream(properties: Record<string, string | Uint8Array | bigint | boolean> = {}): Stream {
    const id = this.nextContextId++;
    const state = new StreamState();
    for (const [path, value] of Object.entries(properties)) state.properties.set(path.split(".").join("\0"), encodeProperty(value));
    this.streams.set(id, state);
    this.call("proxy_on_context_create", id, this.rootContextId);
    return new Stream(this, id, state);
  }

  /** Answers a dispatched callout: Envoy delivers it to the root context. */
  respondToHttpCall(token: number, response: CalloutResponse | null): void {
    const call = this.httpCalls.find((entry) => entry.token === token);
    if (!call) throw new Error(`no http call with token ${token}`);
    if (response === null) {
      this.call("proxy_on_http_call_response", this.rootContextId, token, 0, 0, 0);
      return;
    }
    const headers: HeaderList = [[":status", String(response.status ?? 200)], ...(response.headers ?? [])];
    const body = typeof response.body === "string" ? encoder.encode(response.body) : response.body ?? new Uint8Array();
    const trailers = response.trailers ?? [];
    this.callResponse = { headers, body, trailers };
    try {
      this.effectiveContext = this.rootContextId;
      this.call("proxy_on_http_call_response", this.rootContextId, token, headers.length, body.length, trailers.length);
    } finally {
      this.callResponse = undefined;
    }
  }

  metric(name: string): Metric | undefined {
    return this.metrics.find((metric) => metric.name === name);
  }

  metricValue(name: string): number {
    const metric = this.metric(name);
    if (!metric) throw new Error(`metric ${name} was never defined (have: ${this.metrics.map((m) => m.name).join(", ")})`);
    return Number(metric.value);
  }

  /** Whether the module exports `name` (Envoy skips a callback the module does not export). */
  hasExport(name: string): boolean {
    return typeof this.exports[name] === "function";
  }

  /** Calls an export in a given context, as Envoy does (the context becomes the effective one). */
  call(name: string, ...args: Array<number | bigint>): number {
    const fn = this.exports[name] as unknown as ((...a: Array<number | bigint>) => number) | undefined;
    if (!fn) return 0;
    if (typeof args[0] === "number" && name !== "proxy_on_memory_allocate") this.effectiveContext = args[0];
    return fn(...args) as number;
  }

  // ---- memory helpers ----

  private get memory(): DataView {
    return new DataView(this.exports.memory.buffer);
  }

  private bytes(ptr: number, size: number): Uint8Array {
    return new Uint8Array(this.exports.memory.buffer, ptr, size).slice();
  }

  private text(ptr: number, size: number): string {
    return decoder.decode(new Uint8Array(this.exports.memory.buffer, ptr, size));
  }

  /** Copies bytes into module memory allocated by the module and stores pointer/size at the return slots. */
  private returnBytes(data: Uint8Array, ptrSlot: number, sizeSlot: number): WasmResult {
    const ptr = Number(this.call("proxy_on_memory_allocate", data.length));
    new Uint8Array(this.exports.memory.buffer, ptr, data.length).set(data);
    this.memory.setUint32(ptrSlot, ptr, true);
    this.memory.setUint32(sizeSlot, data.length, true);
    return WasmResult.Ok;
  }

  private stateOf(contextId: number): StreamState {
    return this.streams.get(contextId) ?? this.rootState;
  }

  private headerMap(type: HeaderMapType): HeaderList | undefined {
    if (type === HeaderMapType.HttpCallResponseHeaders) return this.callResponse?.headers;
    if (type === HeaderMapType.HttpCallResponseTrailers) return this.callResponse?.trailers;
    return this.stateOf(this.effectiveContext).maps.get(type);
  }

  private buffer(type: BufferType): Uint8Array | undefined {
    switch (type) {
      case BufferType.PluginConfiguration: return this.pluginConfiguration;
      case BufferType.VmConfiguration: return this.vmConfiguration;
      case BufferType.HttpCallResponseBody: return this.callResponse?.body;
      default: return this.stateOf(this.effectiveContext).bodies.get(type);
    }
  }

  // ---- the host functions ----

  private imports(): Record<string, (...args: never[]) => unknown> {
    const host = this;
    return {
      proxy_log(level: number, ptr: number, size: number) {
        host.logs.push({ level, message: host.text(ptr, size) });
        return WasmResult.Ok;
      },
      proxy_get_log_level(returnLevel: number) {
        host.memory.setUint32(returnLevel, host.logLevel, true);
        return WasmResult.Ok;
      },
      proxy_get_current_time_nanoseconds(returnTime: number) {
        host.memory.setBigUint64(returnTime, host.nowNanos, true);
        return WasmResult.Ok;
      },
      proxy_set_tick_period_milliseconds(period: number) {
        host.tickPeriodMs = period;
        return WasmResult.Ok;
      },
      proxy_get_property(pathPtr: number, pathSize: number, returnData: number, returnSize: number) {
        const key = host.text(pathPtr, pathSize);
        const value = host.stateOf(host.effectiveContext).properties.get(key) ?? host.properties.get(key);
        if (!value) return WasmResult.NotFound;
        return host.returnBytes(value, returnData, returnSize);
      },
      proxy_set_property(pathPtr: number, pathSize: number, valuePtr: number, valueSize: number) {
        host.stateOf(host.effectiveContext).properties.set(host.text(pathPtr, pathSize), host.bytes(valuePtr, valueSize));
        return WasmResult.Ok;
      },
      proxy_get_header_map_pairs(type: number, returnData: number, returnSize: number) {
        const map = host.headerMap(type);
        if (!map) return WasmResult.BadArgument;
        return host.returnBytes(serializePairs(map), returnData, returnSize);
      },
      proxy_set_header_map_pairs(type: number, ptr: number, size: number) {
        if (!host.headerMap(type)) return WasmResult.BadArgument;
        host.stateOf(host.effectiveContext).maps.set(type, deserializePairs(host.bytes(ptr, size)));
        return WasmResult.Ok;
      },
      proxy_get_header_map_size(type: number, returnSize: number) {
        const map = host.headerMap(type);
        if (!map) return WasmResult.BadArgument;
        host.memory.setUint32(returnSize, serializePairs(map).length, true);
        return WasmResult.Ok;
      },
      proxy_get_header_map_value(type: number, keyPtr: number, keySize: number, returnData: number, returnSize: number) {
        const map = host.headerMap(type);
        if (!map) return WasmResult.BadArgument;
        const key = host.text(keyPtr, keySize).toLowerCase();
        const values = map.filter(([name]) => name === key).map(([, value]) => value);
        if (values.length === 0) return WasmResult.NotFound;
        // Envoy joins repeated headers with a comma when one value is asked for.
        return host.returnBytes(encoder.encode(values.join(",")), returnData, returnSize);
      },
      proxy_add_header_map_value(type: number, keyPtr: number, keySize: number, valuePtr: number, valueSize: number) {
        const map = host.headerMap(type);
        if (!map) return WasmResult.BadArgument;
        map.push([host.text(keyPtr, keySize).toLowerCase(), host.text(valuePtr, valueSize)]);
        return WasmResult.Ok;
      },
      proxy_replace_header_map_value(type: number, keyPtr: number, keySize: number, valuePtr: number, valueSize: number) {
        const map = host.headerMap(type);
        if (!map) return WasmResult.BadArgument;
        const key = host.text(keyPtr, keySize).toLowerCase();
        const value = host.text(valuePtr, valueSize);
        const kept = map.filter(([name]) => name !== key);
        map.length = 0;
        map.push(...kept, [key, value]);
        return WasmResult.Ok;
      },
      proxy_remove_header_map_value(type: number, keyPtr: number, keySize: number) {
        const map = host.headerMap(type);
        if (!map) return WasmResult.BadArgument;
        const key = host.text(keyPtr, keySize).toLowerCase();
        const kept = map.filter(([name]) => name !== key);
        map.length = 0;
        map.push(...kept);
        return WasmResult.Ok;
      },
      proxy_get_buffer_bytes(type: number, start: number, maxSize: number, returnData: number, returnSize: number) {
        const buffer = host.buffer(type);
        if (!buffer) return WasmResult.NotFound;
        if (buffer.length === 0) return WasmResult.Empty;
        return host.returnBytes(buffer.subarray(start, start + Math.min(maxSize >>> 0, buffer.length)), returnData, returnSize);
      },
      proxy_get_buffer_status(type: number, returnLength: number, returnFlags: number) {
        const buffer = host.buffer(type);
        if (!buffer) return WasmResult.NotFound;
        host.memory.setUint32(returnLength, buffer.length, true);
        host.memory.setUint32(returnFlags, 0, true);
        return WasmResult.Ok;
      },
      proxy_set_buffer_bytes(type: number, start: number, size: number, ptr: number, dataSize: number) {
        const state = host.stateOf(host.effectiveContext);
        const current = state.bodies.get(type) ?? new Uint8Array();
        const data = host.bytes(ptr, dataSize);
        const next = new Uint8Array([...current.subarray(0, start), ...data, ...current.subarray(start + size)]);
        state.bodies.set(type, next);
        return WasmResult.Ok;
      },
      proxy_send_local_response(status: number, detailsPtr: number, detailsSize: number, bodyPtr: number, bodySize: number,
        headersPtr: number, headersSize: number, grpcStatus: number) {
        const state = host.streams.get(host.effectiveContext);
        if (!state) return WasmResult.BadArgument; // Envoy refuses local responses outside a stream
        state.localResponse = {
          status, details: host.text(detailsPtr, detailsSize), body: host.text(bodyPtr, bodySize),
          headers: deserializePairs(host.bytes(headersPtr, headersSize)), grpcStatus,
        };
        return WasmResult.Ok;
      },
      proxy_continue_stream(streamType: number) {
        const state = host.streams.get(host.effectiveContext);
        if (!state) return WasmResult.BadArgument;
        state.continued.push(streamType);
        return WasmResult.Ok;
      },
      proxy_close_stream() {
        return WasmResult.Ok;
      },
      proxy_set_effective_context(contextId: number) {
        if (contextId !== host.rootContextId && !host.streams.has(contextId)) return WasmResult.BadArgument;
        host.effectiveContext = contextId;
        return WasmResult.Ok;
      },
      proxy_done() {
        return WasmResult.Ok;
      },
      proxy_get_shared_data(keyPtr: number, keySize: number, returnData: number, returnSize: number, returnCas: number) {
        const entry = host.sharedData.get(host.text(keyPtr, keySize));
        if (!entry) return WasmResult.NotFound;
        host.returnBytes(entry.value, returnData, returnSize);
        host.memory.setUint32(returnCas, entry.cas, true);
        return WasmResult.Ok;
      },
      proxy_set_shared_data(keyPtr: number, keySize: number, valuePtr: number, valueSize: number, cas: number) {
        return host.sharedData.set(host.text(keyPtr, keySize), host.bytes(valuePtr, valueSize), cas);
      },
      proxy_register_shared_queue(namePtr: number, nameSize: number, returnId: number) {
        const id = host.queues.size + 1;
        host.queues.set(id, { name: host.text(namePtr, nameSize), items: [] });
        host.memory.setUint32(returnId, id, true);
        return WasmResult.Ok;
      },
      proxy_resolve_shared_queue(_vmPtr: number, _vmSize: number, namePtr: number, nameSize: number, returnId: number) {
        const name = host.text(namePtr, nameSize);
        for (const [id, queue] of host.queues) {
          if (queue.name === name) {
            host.memory.setUint32(returnId, id, true);
            return WasmResult.Ok;
          }
        }
        return WasmResult.NotFound;
      },
      proxy_enqueue_shared_queue(id: number, ptr: number, size: number) {
        const queue = host.queues.get(id);
        if (!queue) return WasmResult.NotFound;
        queue.items.push(host.bytes(ptr, size));
        return WasmResult.Ok;
      },
      proxy_dequeue_shared_queue(id: number, returnData: number, returnSize: number) {
        const queue = host.queues.get(id);
        if (!queue) return WasmResult.NotFound;
        const item = queue.items.shift();
        if (!item) return WasmResult.Empty;
        return host.returnBytes(item, returnData, returnSize);
      },
      proxy_define_metric(type: number, namePtr: number, nameSize: number, returnId: number) {
        const name = host.text(namePtr, nameSize);
        let id = host.metrics.findIndex((metric) => metric.name === name);
        if (id < 0) id = host.metrics.push({ name, type, value: 0n, samples: [] }) - 1;
        host.memory.setUint32(returnId, id, true);
        return WasmResult.Ok;
      },
      proxy_increment_metric(id: number, offset: bigint) {
        const metric = host.metrics[id];
        if (!metric || metric.type === MetricType.Histogram) return WasmResult.NotFound;
        metric.value += offset;
        return WasmResult.Ok;
      },
      proxy_record_metric(id: number, value: bigint) {
        const metric = host.metrics[id];
        if (!metric) return WasmResult.NotFound;
        const unsigned = BigInt.asUintN(64, value);
        if (metric.type === MetricType.Histogram) metric.samples.push(unsigned);
        else metric.value = unsigned;
        return WasmResult.Ok;
      },
      proxy_get_metric(id: number, returnValue: number) {
        const metric = host.metrics[id];
        if (!metric || metric.type === MetricType.Histogram) return WasmResult.NotFound;
        host.memory.setBigUint64(returnValue, BigInt.asUintN(64, metric.value), true);
        return WasmResult.Ok;
      },
      proxy_http_call(clusterPtr: number, clusterSize: number, headersPtr: number, headersSize: number,
        bodyPtr: number, bodySize: number, trailersPtr: number, trailersSize: number, timeoutMs: number, returnToken: number) {
        if (host.refuseHttpCalls !== undefined) {
          host.refusedHttpCalls++;
          return host.refuseHttpCalls;
        }
        const token = host.nextToken++;
        host.httpCalls.push({
          token, contextId: host.effectiveContext, cluster: host.text(clusterPtr, clusterSize),
          headers: deserializePairs(host.bytes(headersPtr, headersSize)), body: host.text(bodyPtr, bodySize),
          trailers: deserializePairs(host.bytes(trailersPtr, trailersSize)), timeoutMs,
        });
        host.memory.setUint32(returnToken, token, true);
        return WasmResult.Ok;
      },
    } as unknown as Record<string, (...args: never[]) => unknown>;
  }
}

/** One HTTP stream: call its phases in Envoy's order, then inspect what the filter did. */
export class Stream {
  constructor(readonly host: HostEmulator, readonly id: number, private readonly state: StreamState) {}

  get localResponse(): LocalResponse | undefined {
    return this.state.localResponse;
  }

  get continued(): number[] {
    return this.state.continued;
  }

  /** Current request headers (after the filter's changes). */
  get requestHeaders(): HeaderList {
    return this.state.maps.get(HeaderMapType.RequestHeaders) ?? [];
  }

  get responseHeaders(): HeaderList {
    return this.state.maps.get(HeaderMapType.ResponseHeaders) ?? [];
  }

  requestHeader(name: string): string | undefined {
    return this.requestHeaders.find(([key]) => key === name)?.[1];
  }

  responseHeader(name: string): string | undefined {
    return this.responseHeaders.find(([key]) => key === name)?.[1];
  }

  setProperty(path: string, value: string | Uint8Array | bigint | boolean): void {
    this.state.properties.set(path.split(".").join("\0"), encodeProperty(value));
  }

  sendRequestHeaders(headers: HeaderList | Record<string, string>, endOfStream = true): Action {
    const list: HeaderList = Array.isArray(headers) ? headers.map(([k, v]) => [k.toLowerCase(), v]) :
      Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]);
    this.state.maps.set(HeaderMapType.RequestHeaders, list);
    this.state.maps.set(HeaderMapType.RequestTrailers, []);
    return this.host.call("proxy_on_request_headers", this.id, list.length, endOfStream ? 1 : 0);
  }

  sendRequestBody(body: string | Uint8Array, endOfStream = true): Action {
    const bytes = typeof body === "string" ? encoder.encode(body) : body;
    this.state.bodies.set(BufferType.HttpRequestBody, bytes);
    return this.host.call("proxy_on_request_body", this.id, bytes.length, endOfStream ? 1 : 0);
  }

  sendResponseHeaders(headers: HeaderList | Record<string, string>, endOfStream = true): Action {
    const list: HeaderList = Array.isArray(headers) ? headers.map(([k, v]) => [k.toLowerCase(), v]) :
      Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]);
    this.state.maps.set(HeaderMapType.ResponseHeaders, list);
    this.state.maps.set(HeaderMapType.ResponseTrailers, []);
    return this.host.call("proxy_on_response_headers", this.id, list.length, endOfStream ? 1 : 0);
  }

  sendResponseBody(body: string | Uint8Array, endOfStream = true): Action {
    const bytes = typeof body === "string" ? encoder.encode(body) : body;
    this.state.bodies.set(BufferType.HttpResponseBody, bytes);
    return this.host.call("proxy_on_response_body", this.id, bytes.length, endOfStream ? 1 : 0);
  }

  /** Access-log time: on_log, then on_done and on_delete, as Envoy ends a stream. */
  complete(): void {
    this.host.call("proxy_on_log", this.id);
    this.host.call("proxy_on_done", this.id);
    this.host.call("proxy_on_delete", this.id);
  }
}

function encodeProperty(value: string | Uint8Array | bigint | boolean): Uint8Array {
  if (typeof value === "string") return encoder.encode(value);
  if (typeof value === "boolean") return new Uint8Array([value ? 1 : 0]);
  if (typeof value === "bigint") {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigInt64(0, value, true);
    return bytes;
  }
  return value;
}

export function serializePairs(pairs: HeaderList): Uint8Array {
  const encoded = pairs.map(([k, v]) => [encoder.encode(k), encoder.encode(v)] as const);
  const size = 4 + 8 * pairs.length + encoded.reduce((sum, [k, v]) => sum + k.length + v.length + 2, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, pairs.length, true);
  let offset = 4;
  for (const [k, v] of encoded) {
    view.setUint32(offset, k.length, true);
    view.setUint32(offset + 4, v.length, true);
    offset += 8;
  }
  for (const [k, v] of encoded) {
    out.set(k, offset);
    offset += k.length + 1;
    out.set(v, offset);
    offset += v.length + 1;
  }
  return out;
}

export function deserializePairs(bytes: Uint8Array): HeaderList {
  if (bytes.length < 4) return [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(0, true);
  const sizes: Array<[number, number]> = [];
  let offset = 4;
  for (let i = 0; i < count; i++) {
    sizes.push([view.getUint32(offset, true), view.getUint32(offset + 4, true)]);
    offset += 8;
  }
  const pairs: HeaderList = [];
  for (const [keySize, valueSize] of sizes) {
    const key = decoder.decode(bytes.subarray(offset, offset + keySize));
    offset += keySize + 1;
    const value = decoder.decode(bytes.subarray(offset, offset + valueSize));
    offset += valueSize + 1;
    pairs.push([key, value]);
  }
  return pairs;
}
