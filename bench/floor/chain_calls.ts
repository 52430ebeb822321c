// The floor under the `chain` root: a module that makes exactly the proxy-wasm calls the chain makes per request in
// the benchmark (the host-call counts in bench/RESULTS.md) and does nothing else — no parsing, no verification, no
// decisions. What Envoy spends on it is what the calls cost on their own: entering the VM for each callback, each
// host call, and each allocation the host asks for to return bytes. A chain cannot cost less than this while it
// makes these calls. Built by the benchmark with the stub runtime (nothing is ever freed by a collector; the few
// bytes per request are handed back to the allocator at once).

@external("env", "proxy_get_header_map_value")
declare function getHeader(map: u32, keyPtr: usize, keyLen: usize, valuePtr: usize, valueLen: usize): u32;
@external("env", "proxy_add_header_map_value")
declare function addHeader(map: u32, keyPtr: usize, keyLen: usize, valuePtr: usize, valueLen: usize): u32;
@external("env", "proxy_remove_header_map_value")
declare function removeHeader(map: u32, keyPtr: usize, keyLen: usize): u32;
@external("env", "proxy_get_property")
declare function getProperty(pathPtr: usize, pathLen: usize, valuePtr: usize, valueLen: usize): u32;
@external("env", "proxy_get_shared_data")
declare function getSharedData(keyPtr: usize, keyLen: usize, valuePtr: usize, valueLen: usize, casPtr: usize): u32;
@external("env", "proxy_set_shared_data")
declare function setSharedData(keyPtr: usize, keyLen: usize, valuePtr: usize, valueLen: usize, cas: u32): u32;
@external("env", "proxy_get_current_time_nanoseconds")
declare function currentTime(resultPtr: usize): u32;
@external("env", "proxy_define_metric")
declare function defineMetric(type: u32, namePtr: usize, nameLen: usize, idPtr: usize): u32;
@external("env", "proxy_increment_metric")
declare function incrementMetric(id: u32, offset: i64): u32;
@external("env", "proxy_record_metric")
declare function recordMetric(id: u32, value: u64): u32;

const COUNTER: u32 = 0;
const HISTOGRAM: u32 = 2;
const REQUEST_HEADERS: u32 = 0;

export function proxy_abi_version_0_2_1(): void {}

export function proxy_on_memory_allocate(size: usize): usize {
  return heap.alloc(size);
}

export function proxy_on_vm_start(rootContextId: u32, size: u32): bool {
  return true;
}

/** Where the host writes a returned value's pointer and length, the clock and the CAS. */
const slots = memory.data(32);

function bytes(text: string): ArrayBuffer {
  return String.UTF8.encode(text);
}

const AUTHORIZATION = bytes("authorization");
const CONTENT_TYPE = bytes("content-type");
const CLAIM_HEADER = bytes("x-jwt-sub");
const BUCKET_KEY = bytes("as-mesh.floor.bucket");
const BUCKET_VALUE = bytes("0123456789abcdef");
// jwt-auth's per-route settings (absent in the benchmark's routes, so Envoy returns nothing).
const ROUTE_SETTINGS = bytes("xds\0route_metadata\0filter_metadata\0jwt-auth");
// The seven properties the metrics stage reads at log time (NUL-separated paths).
const PROPERTIES: ArrayBuffer[] = [
  bytes("response\0code"), bytes("response\0flags"), bytes("connection\0uri_san_peer_certificate"),
  bytes("connection\0mtls"), bytes("request\0duration"), bytes("request\0total_size"), bytes("response\0total_size"),
];
/** Four counters (requests, two jwt-auth stats, one rate-limit stat) and three histograms (duration, sizes). */
const counters = new StaticArray<u32>(4);
const histograms = new StaticArray<u32>(3);

function define(type: u32, name: string): u32 {
  const encoded = bytes(name);
  defineMetric(type, changetype<usize>(encoded), encoded.byteLength, slots);
  return load<u32>(slots);
}

export function proxy_on_configure(rootContextId: u32, size: u32): bool {
  for (let i = 0; i < 4; i++) counters[i] = define(COUNTER, "as_mesh_floor_counter_" + i.toString());
  for (let i = 0; i < 3; i++) histograms[i] = define(HISTOGRAM, "as_mesh_floor_histogram_" + i.toString());
  return true;
}

export function proxy_on_context_create(contextId: u32, parentContextId: u32): void {}

/** Hands back the bytes the host just returned (allocated through proxy_on_memory_allocate). */
function release(result: u32): void {
  if (result == 0) heap.free(load<usize>(slots));
}

export function proxy_on_request_headers(contextId: u32, headerCount: u32, endOfStream: bool): u32 {
  release(getHeader(REQUEST_HEADERS, changetype<usize>(AUTHORIZATION), AUTHORIZATION.byteLength, slots, slots + 8));
  release(getHeader(REQUEST_HEADERS, changetype<usize>(CONTENT_TYPE), CONTENT_TYPE.byteLength, slots, slots + 8));
  release(getProperty(changetype<usize>(ROUTE_SETTINGS), ROUTE_SETTINGS.byteLength, slots, slots + 8));
  currentTime(slots + 16);
  release(getSharedData(changetype<usize>(BUCKET_KEY), BUCKET_KEY.byteLength, slots, slots + 8, slots + 24));
  setSharedData(changetype<usize>(BUCKET_KEY), BUCKET_KEY.byteLength, changetype<usize>(BUCKET_VALUE), BUCKET_VALUE.byteLength, 0);
  removeHeader(REQUEST_HEADERS, changetype<usize>(CLAIM_HEADER), CLAIM_HEADER.byteLength);
  addHeader(REQUEST_HEADERS, changetype<usize>(CLAIM_HEADER), CLAIM_HEADER.byteLength, changetype<usize>(BUCKET_VALUE), BUCKET_VALUE.byteLength);
  for (let i = 0; i < 3; i++) incrementMetric(unchecked(counters[i]), 1);
  return 0;
}

export function proxy_on_response_headers(contextId: u32, headerCount: u32, endOfStream: bool): u32 {
  return 0;
}

export function proxy_on_log(contextId: u32): void {
  for (let i = 0; i < PROPERTIES.length; i++) {
    const path = unchecked(PROPERTIES[i]);
    release(getProperty(changetype<usize>(path), path.byteLength, slots, slots + 8));
  }
  incrementMetric(unchecked(counters[3]), 1);
  for (let i = 0; i < 3; i++) recordMetric(unchecked(histograms[i]), 1);
}

export function proxy_on_delete(contextId: u32): void {}
