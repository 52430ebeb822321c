// Typed wrappers over the raw host functions. This is the one place that passes pointers to the host and takes
// ownership of the memory the host hands back (allocated through proxy_on_memory_allocate, see exports.ts).
// Every wrapper looks at the host's status: expected outcomes (NotFound, CasMismatch) are returned to the caller,
// anything else is logged with the call that failed.
import * as raw from "./imports";
import { BufferType, HeaderMapType, LogLevel, MetricType, StreamType, WasmResult, resultName } from "./types";
import { Headers, deserializeHeaders, serializeHeaders } from "./pairs";

// Scratch slots the host writes return values into: [0] data pointer, [8] size / u64 values, [16] cas / flags.
// Host calls never re-enter the module except through the allocator, which does not touch these slots.
const slots: usize = memory.data(24);

@inline function clearSlots(): void {
  store<u64>(slots, 0);
  store<u64>(slots, 0, 8);
  store<u64>(slots, 0, 16);
}

/** Takes the buffer the host just returned (allocated pinned by `allocateForHost`) and releases the pin. */
function takeReturnedBuffer(): ArrayBuffer {
  const ptr = load<usize>(slots);
  if (ptr == 0) return new ArrayBuffer(0);
  __unpin(ptr);
  return changetype<ArrayBuffer>(ptr);
}

// A fixed buffer for small values read the moment the host returns them (a property's integer or flag): handing the
// host this instead of a new GC object saves an allocation, a pin and later a collection for every such read.
const SCRATCH_BYTES: usize = 16;
const scratch: usize = memory.data(<i32>SCRATCH_BYTES);
/** Set just around a host call whose value is read at once; the allocator then hands out `scratch` if it fits. */
let returnIntoScratch = false;

/** Memory handed to the host: a pinned ArrayBuffer, so the host's bytes become an ordinary GC object. */
export function allocateForHost(size: usize): usize {
  if (returnIntoScratch) {
    returnIntoScratch = false;
    if (size <= SCRATCH_BYTES) return scratch;
  }
  const ptr = __new(size, idof<ArrayBuffer>());
  __pin(ptr);
  return ptr;
}

/**
 * Asks for a property whose bytes are read at once, where the slots point: in `scratch` when they fit, else in a
 * GC buffer that releaseInPlace unpins (so it is collected). Either way they must not be kept. Returns false when
 * the property is absent (or the host failed, which is logged).
 */
function readPropertyInPlace(serialized: ArrayBuffer, name: string): bool {
  clearSlots();
  returnIntoScratch = true;
  const result = raw.proxy_get_property(changetype<usize>(serialized), serialized.byteLength, slots, slots + 8);
  returnIntoScratch = false;
  if (result == WasmResult.Ok) return true;
  if (result != WasmResult.NotFound) report("get_property(" + name + ")", result);
  return false;
}

/** Releases the bytes readPropertyInPlace left in the slots, once they have been read. */
function releaseInPlace(): void {
  const ptr = load<usize>(slots);
  if (ptr != 0 && ptr != scratch) __unpin(ptr);
}

/** An integer property (8 bytes, little-endian), or `fallback` when absent or not 8 bytes long. */
export function getPropertyInt(serialized: ArrayBuffer, name: string, fallback: i64): i64 {
  if (!readPropertyInPlace(serialized, name)) return fallback;
  const ptr = load<usize>(slots);
  const value = ptr != 0 && load<u32>(slots, 8) == 8 ? load<i64>(ptr) : fallback;
  releaseInPlace();
  return value;
}

/** A boolean property (one byte); false when absent. */
export function getPropertyBool(serialized: ArrayBuffer, name: string): bool {
  if (!readPropertyInPlace(serialized, name)) return false;
  const ptr = load<usize>(slots);
  const value = ptr != 0 && load<u32>(slots, 8) == 1 && load<u8>(ptr) != 0;
  releaseInPlace();
  return value;
}

function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

function report(call: string, result: u32): void {
  if (result != WasmResult.Ok) {
    const message = "proxy-wasm host call " + call + " failed: " + resultName(<WasmResult>result);
    const bytes = utf8(message);
    raw.proxy_log(LogLevel.Error, changetype<usize>(bytes), bytes.byteLength);
  }
}

// ---- logging and time ----

export function log(level: LogLevel, message: string): void {
  const bytes = utf8(message);
  raw.proxy_log(level, changetype<usize>(bytes), bytes.byteLength);
}

export function getLogLevel(): LogLevel {
  clearSlots();
  const result = raw.proxy_get_log_level(slots);
  if (result != WasmResult.Ok) return LogLevel.Info;
  return <LogLevel>load<u32>(slots);
}

export function getCurrentTimeNanoseconds(): u64 {
  clearSlots();
  report("get_current_time_nanoseconds", raw.proxy_get_current_time_nanoseconds(slots));
  return load<u64>(slots);
}

export function setTickPeriodMilliseconds(period: u32): WasmResult {
  const result = raw.proxy_set_tick_period_milliseconds(period);
  report("set_tick_period_milliseconds", result);
  return <WasmResult>result;
}

// ---- properties ----

function serializePath(path: Array<string>): ArrayBuffer {
  return utf8(path.join("\0"));
}

/** The raw bytes of a property, or null when the host has no such property. */
export function getProperty(path: Array<string>): ArrayBuffer | null {
  return getPropertySerialized(serializePath(path), path.join("."));
}

/** A property path in the form the host takes (segments joined by NUL), for callers that serialize it once. */
export function serializePropertyPath(path: Array<string>): ArrayBuffer {
  return serializePath(path);
}

/** getProperty for a path serialized by serializePropertyPath; `name` only labels a failure in the log. */
export function getPropertySerialized(serialized: ArrayBuffer, name: string): ArrayBuffer | null {
  clearSlots();
  const result = raw.proxy_get_property(changetype<usize>(serialized), serialized.byteLength, slots, slots + 8);
  if (result == WasmResult.Ok) return takeReturnedBuffer();
  if (result != WasmResult.NotFound) report("get_property(" + name + ")", result);
  return null;
}

export function setProperty(path: Array<string>, value: ArrayBuffer): WasmResult {
  const encoded = serializePath(path);
  const result = raw.proxy_set_property(changetype<usize>(encoded), encoded.byteLength, changetype<usize>(value), value.byteLength);
  if (result != WasmResult.Ok) report("set_property(" + path.join(".") + ")", result);
  return <WasmResult>result;
}

// ---- header maps ----

export function getHeaderMapPairs(map: HeaderMapType): Headers {
  clearSlots();
  const result = raw.proxy_get_header_map_pairs(map, slots, slots + 8);
  if (result != WasmResult.Ok) {
    report("get_header_map_pairs", result);
    return new Array();
  }
  return deserializeHeaders(takeReturnedBuffer());
}

export function setHeaderMapPairs(map: HeaderMapType, headers: Headers): WasmResult {
  const encoded = serializeHeaders(headers);
  const result = raw.proxy_set_header_map_pairs(map, changetype<usize>(encoded), encoded.byteLength);
  report("set_header_map_pairs", result);
  return <WasmResult>result;
}

export function getHeaderMapSize(map: HeaderMapType): u32 {
  clearSlots();
  const result = raw.proxy_get_header_map_size(map, slots);
  report("get_header_map_size", result);
  return load<u32>(slots);
}

/** A header's value as raw bytes; null when absent (or when the map is not available in this callback). */
export function getHeaderMapValueBytes(map: HeaderMapType, key: string): ArrayBuffer | null {
  return getHeaderMapValueEncoded(map, utf8(key), key);
}

export function addHeaderMapValue(map: HeaderMapType, key: string, value: string): WasmResult {
  return addHeaderMapValueEncoded(map, utf8(key), utf8(value), key);
}

export function replaceHeaderMapValue(map: HeaderMapType, key: string, value: string): WasmResult {
  const k = utf8(key);
  const v = utf8(value);
  const result = raw.proxy_replace_header_map_value(map, changetype<usize>(k), k.byteLength, changetype<usize>(v), v.byteLength);
  if (result != WasmResult.Ok) report("replace_header_map_value(" + key + ")", result);
  return <WasmResult>result;
}

export function removeHeaderMapValue(map: HeaderMapType, key: string): WasmResult {
  return removeHeaderMapValueEncoded(map, utf8(key), key);
}

/** getHeaderMapValueBytes for a name already UTF-8 encoded (see HeaderName); `name` only labels a failure. */
export function getHeaderMapValueEncoded(map: HeaderMapType, encodedKey: ArrayBuffer, name: string): ArrayBuffer | null {
  clearSlots();
  const result = raw.proxy_get_header_map_value(map, changetype<usize>(encodedKey), encodedKey.byteLength, slots, slots + 8);
  if (result == WasmResult.Ok) return takeReturnedBuffer();
  if (result != WasmResult.NotFound) report("get_header_map_value(" + name + ")", result);
  return null;
}

/** addHeaderMapValue for a name and value already UTF-8 encoded; `name` only labels a failure. */
export function addHeaderMapValueEncoded(map: HeaderMapType, encodedKey: ArrayBuffer, value: ArrayBuffer, name: string): WasmResult {
  const result = raw.proxy_add_header_map_value(map, changetype<usize>(encodedKey), encodedKey.byteLength, changetype<usize>(value), value.byteLength);
  if (result != WasmResult.Ok) report("add_header_map_value(" + name + ")", result);
  return <WasmResult>result;
}

/** removeHeaderMapValue for a name already UTF-8 encoded; `name` only labels a failure. */
export function removeHeaderMapValueEncoded(map: HeaderMapType, encodedKey: ArrayBuffer, name: string): WasmResult {
  const result = raw.proxy_remove_header_map_value(map, changetype<usize>(encodedKey), encodedKey.byteLength);
  if (result != WasmResult.Ok && result != WasmResult.NotFound) report("remove_header_map_value(" + name + ")", result);
  return <WasmResult>result;
}

// ---- buffers ----

export function getBufferBytes(buffer: BufferType, start: u32, maxSize: u32): ArrayBuffer {
  clearSlots();
  const result = raw.proxy_get_buffer_bytes(buffer, start, maxSize, slots, slots + 8);
  if (result == WasmResult.Ok) return takeReturnedBuffer();
  // An empty or absent buffer (e.g. no plugin configuration) is a normal outcome, not an error.
  if (result != WasmResult.NotFound && result != WasmResult.Empty) report("get_buffer_bytes", result);
  return new ArrayBuffer(0);
}

export function getBufferLength(buffer: BufferType): u32 {
  clearSlots();
  const result = raw.proxy_get_buffer_status(buffer, slots, slots + 8);
  if (result != WasmResult.Ok) {
    if (result != WasmResult.NotFound) report("get_buffer_status", result);
    return 0;
  }
  return load<u32>(slots);
}

export function setBufferBytes(buffer: BufferType, start: u32, size: u32, data: ArrayBuffer): WasmResult {
  const result = raw.proxy_set_buffer_bytes(buffer, start, size, changetype<usize>(data), data.byteLength);
  report("set_buffer_bytes", result);
  return <WasmResult>result;
}

// ---- stream control ----

export function sendLocalResponse(statusCode: u32, details: string, body: ArrayBuffer, headers: Headers, grpcStatus: i32): WasmResult {
  return sendLocalResponseSerialized(statusCode, details, body, serializeHeaders(headers), grpcStatus);
}

/** sendLocalResponse with the header block already serialized (by serializeHeaders), for answers sent often. */
export function sendLocalResponseSerialized(statusCode: u32, details: string, body: ArrayBuffer, serializedHeaders: ArrayBuffer, grpcStatus: i32): WasmResult {
  const d = utf8(details);
  const result = raw.proxy_send_local_response(
    statusCode, changetype<usize>(d), d.byteLength, changetype<usize>(body), body.byteLength,
    changetype<usize>(serializedHeaders), serializedHeaders.byteLength, grpcStatus);
  report("send_local_response", result);
  return <WasmResult>result;
}

export function continueStream(stream: StreamType): WasmResult {
  const result = raw.proxy_continue_stream(stream);
  report("continue_stream", result);
  return <WasmResult>result;
}

export function closeStream(stream: StreamType): WasmResult {
  const result = raw.proxy_close_stream(stream);
  report("close_stream", result);
  return <WasmResult>result;
}

export function setEffectiveContext(contextId: u32): WasmResult {
  const result = raw.proxy_set_effective_context(contextId);
  report("set_effective_context", result);
  return <WasmResult>result;
}

export function done(): WasmResult {
  const result = raw.proxy_done();
  report("done", result);
  return <WasmResult>result;
}

// ---- shared data ----

/** Value and version of a shared-data entry. */
export class SharedDataEntry {
  constructor(public value: ArrayBuffer, public cas: u32) {}
}

export function getSharedData(key: string): SharedDataEntry | null {
  return getSharedDataEncoded(utf8(key), key);
}

/** Writes when `cas` is 0 or still the entry's version; otherwise returns CasMismatch and writes nothing. */
export function setSharedData(key: string, value: ArrayBuffer, cas: u32): WasmResult {
  return setSharedDataEncoded(utf8(key), value, cas, key);
}

/** getSharedData for a key already UTF-8 encoded (see SharedDataKey); `name` only labels a failure. */
export function getSharedDataEncoded(encodedKey: ArrayBuffer, name: string): SharedDataEntry | null {
  clearSlots();
  const result = raw.proxy_get_shared_data(changetype<usize>(encodedKey), encodedKey.byteLength, slots, slots + 8, slots + 16);
  if (result == WasmResult.Ok) {
    const cas = load<u32>(slots, 16);
    return new SharedDataEntry(takeReturnedBuffer(), cas);
  }
  if (result != WasmResult.NotFound) report("get_shared_data(" + name + ")", result);
  return null;
}

/** setSharedData for a key already UTF-8 encoded (see SharedDataKey); `name` only labels a failure. */
export function setSharedDataEncoded(encodedKey: ArrayBuffer, value: ArrayBuffer, cas: u32, name: string): WasmResult {
  const result = raw.proxy_set_shared_data(changetype<usize>(encodedKey), encodedKey.byteLength, changetype<usize>(value), value.byteLength, cas);
  if (result != WasmResult.Ok && result != WasmResult.CasMismatch) report("set_shared_data(" + name + ")", result);
  return <WasmResult>result;
}

// ---- shared queues ----

/** Queue id, or u32.MAX_VALUE when the host refused. */
export function registerSharedQueue(name: string): u32 {
  const n = utf8(name);
  clearSlots();
  const result = raw.proxy_register_shared_queue(changetype<usize>(n), n.byteLength, slots);
  if (result != WasmResult.Ok) report("register_shared_queue(" + name + ")", result);
  return result == WasmResult.Ok ? load<u32>(slots) : u32.MAX_VALUE;
}

/** Queue id, or u32.MAX_VALUE when no such queue exists. */
export function resolveSharedQueue(vmId: string, name: string): u32 {
  const v = utf8(vmId);
  const n = utf8(name);
  clearSlots();
  const result = raw.proxy_resolve_shared_queue(changetype<usize>(v), v.byteLength, changetype<usize>(n), n.byteLength, slots);
  if (result != WasmResult.NotFound) report("resolve_shared_queue(" + name + ")", result);
  return result == WasmResult.Ok ? load<u32>(slots) : u32.MAX_VALUE;
}

export function enqueueSharedQueue(queueId: u32, value: ArrayBuffer): WasmResult {
  const result = raw.proxy_enqueue_shared_queue(queueId, changetype<usize>(value), value.byteLength);
  report("enqueue_shared_queue", result);
  return <WasmResult>result;
}

/** The next item, or null when the queue is empty. */
export function dequeueSharedQueue(queueId: u32): ArrayBuffer | null {
  clearSlots();
  const result = raw.proxy_dequeue_shared_queue(queueId, slots, slots + 8);
  if (result == WasmResult.Ok) return takeReturnedBuffer();
  if (result != WasmResult.Empty) report("dequeue_shared_queue", result);
  return null;
}

// ---- metrics ----

/** Metric id, or u32.MAX_VALUE when the host refused the definition. */
export function defineMetric(type: MetricType, name: string): u32 {
  const n = utf8(name);
  clearSlots();
  const result = raw.proxy_define_metric(type, changetype<usize>(n), n.byteLength, slots);
  if (result != WasmResult.Ok) report("define_metric(" + name + ")", result);
  return result == WasmResult.Ok ? load<u32>(slots) : u32.MAX_VALUE;
}

export function incrementMetric(id: u32, offset: i64): WasmResult {
  const result = raw.proxy_increment_metric(id, offset);
  report("increment_metric", result);
  return <WasmResult>result;
}

export function recordMetric(id: u32, value: u64): WasmResult {
  const result = raw.proxy_record_metric(id, value);
  report("record_metric", result);
  return <WasmResult>result;
}

export function getMetric(id: u32): u64 {
  clearSlots();
  const result = raw.proxy_get_metric(id, slots);
  report("get_metric", result);
  return load<u64>(slots);
}

// ---- http callouts ----

/** Outcome of dispatching a callout: the host's status and, when Ok, the token its response will carry. */
export class HttpCallDispatch {
  constructor(public result: WasmResult, public token: u32) {}
}

export function httpCall(cluster: string, headers: Headers, body: ArrayBuffer, trailers: Headers, timeoutMilliseconds: u32): HttpCallDispatch {
  const c = utf8(cluster);
  const h = serializeHeaders(headers);
  const t = serializeHeaders(trailers);
  clearSlots();
  const result = raw.proxy_http_call(
    changetype<usize>(c), c.byteLength, changetype<usize>(h), h.byteLength,
    changetype<usize>(body), body.byteLength, changetype<usize>(t), t.byteLength,
    timeoutMilliseconds, slots);
  if (result != WasmResult.Ok) report("http_call(" + cluster + ")", result);
  return new HttpCallDispatch(<WasmResult>result, load<u32>(slots));
}

// Re-exported so the typed layer never needs to import the raw module.
export { StreamType, BufferType, HeaderMapType, MetricType, LogLevel, WasmResult };
