// The ABI's serialized header map: u32 count, then (u32 keyLength, u32 valueLength) per pair, then each key and
// value followed by a NUL byte. Kept beside the host calls because it is pointer work.

export class HeaderPair {
  constructor(public key: string, public value: string) {}
}

export type Headers = Array<HeaderPair>;

export function serializeHeaders(headers: Headers): ArrayBuffer {
  const count = headers.length;
  const keys = new Array<ArrayBuffer>(count);
  const values = new Array<ArrayBuffer>(count);
  let size = 4 + 8 * count;
  for (let i = 0; i < count; i++) {
    const pair = unchecked(headers[i]);
    const key = String.UTF8.encode(pair.key);
    const value = String.UTF8.encode(pair.value);
    unchecked((keys[i] = key));
    unchecked((values[i] = value));
    size += key.byteLength + value.byteLength + 2;
  }
  const out = new ArrayBuffer(size);
  const base = changetype<usize>(out);
  store<u32>(base, count);
  let sizes = base + 4;
  let data = base + 4 + 8 * count;
  for (let i = 0; i < count; i++) {
    const key = unchecked(keys[i]);
    const value = unchecked(values[i]);
    store<u32>(sizes, key.byteLength);
    store<u32>(sizes + 4, value.byteLength);
    sizes += 8;
    memory.copy(data, changetype<usize>(key), key.byteLength);
    data += key.byteLength;
    store<u8>(data++, 0);
    memory.copy(data, changetype<usize>(value), value.byteLength);
    data += value.byteLength;
    store<u8>(data++, 0);
  }
  return out;
}

/** Parses a serialized map; a malformed buffer (sizes past its end) yields the pairs read so far. */
export function deserializeHeaders(buffer: ArrayBuffer): Headers {
  const result = new Array<HeaderPair>();
  const total = <usize>buffer.byteLength;
  if (total < 4) return result;
  const base = changetype<usize>(buffer);
  const count = <usize>load<u32>(base);
  if (<usize>4 + <usize>8 * count > total) return result;
  let sizes = base + 4;
  let data = base + 4 + 8 * count;
  const end = base + total;
  for (let i: usize = 0; i < count; i++) {
    const keyLength = <usize>load<u32>(sizes);
    const valueLength = <usize>load<u32>(sizes + 4);
    sizes += 8;
    if (data + keyLength + valueLength + 2 > end) break;
    const key = String.UTF8.decodeUnsafe(data, keyLength);
    data += keyLength + 1;
    const value = String.UTF8.decodeUnsafe(data, valueLength);
    data += valueLength + 1;
    result.push(new HeaderPair(key, value));
  }
  return result;
}
