// The verified-token cache: a bounded LRU from a token's exact bytes to what verifying it established, so a
// client repeating its token costs a hash, one byte comparison and a clock check instead of a signature check.
//
// The key is the whole token. A fast 32-bit hash only picks the bucket; a hit needs the stored bytes to equal the
// presented ones, so a hash collision can never make one token pass as another. Only tokens that verified are
// inserted, so an attacker without a signing key cannot fill a bucket chain. An entry lives until a hit finds its
// token expired (the authenticator checks exp/nbf on every hit and evicts it), until it is the least recently used
// one when a new token needs room, or until the provider's keys change (the cache is cleared).

class Entry<V> {
  newer: Entry<V> | null = null; // towards the most recently used
  older: Entry<V> | null = null;
  nextInBucket: Entry<V> | null = null;

  constructor(public bytes: Uint8Array, public hash: u32, public value: V) {}
}

/** Chooses a bucket for `length` bytes at `data`; replaceable so tests can force every token into one bucket. */
export type BucketHash = (data: usize, length: i32, seed: u64) => u32;

/** Tokens longer than this are not cached by default (jwt_authn's default jwt_max_token_size too): they are rare and would crowd out the rest. */
export const MAX_CACHED_TOKEN_BYTES: i32 = 4096;

/** Token bytes → V (a reference type: what verifying the token established). */
export class TokenCache<V> {
  private buckets: StaticArray<Entry<V> | null>;
  private mask: u32;
  private newest: Entry<V> | null = null;
  private oldest: Entry<V> | null = null;
  private count: i32 = 0;

  constructor(public readonly capacity: i32, private seed: u64, private hash: BucketHash = hashBytes, private maxTokenBytes: i32 = MAX_CACHED_TOKEN_BYTES) {
    let buckets: i32 = 16;
    while (buckets < capacity * 2) buckets <<= 1;
    this.buckets = new StaticArray<Entry<V> | null>(buckets);
    this.mask = <u32>(buckets - 1);
  }

  get size(): i32 {
    return this.count;
  }

  /** The value cached for exactly these `length` bytes at `pointer` (now the most recently used), or null. */
  lookup(pointer: usize, length: i32): V | null {
    const entry = this.find(pointer, length, this.hash(pointer, length, this.seed));
    if (entry === null) return null;
    this.touch(entry);
    return entry.value;
  }

  /** Caches a verified token (a copy of its bytes), evicting the least recently used entry when full. */
  insert(token: Uint8Array, value: V): void {
    if (this.capacity < 1 || token.length > this.maxTokenBytes) return;
    const hash = this.hash(token.dataStart, token.length, this.seed);
    const existing = this.find(token.dataStart, token.length, hash);
    if (existing !== null) {
      existing.value = value;
      this.touch(existing);
      return;
    }
    if (this.count >= this.capacity) this.remove(this.oldest!);
    const entry = new Entry<V>(token.slice(), hash, value);
    const slot = <i32>(hash & this.mask);
    entry.nextInBucket = unchecked(this.buckets[slot]);
    unchecked((this.buckets[slot] = entry));
    this.linkNewest(entry);
    this.count++;
  }

  /** Drops the entry for these bytes, if any (e.g. its token expired). */
  evict(pointer: usize, length: i32): void {
    const entry = this.find(pointer, length, this.hash(pointer, length, this.seed));
    if (entry !== null) this.remove(entry);
  }

  clear(): void {
    const buckets = this.buckets;
    for (let i = 0; i < buckets.length; i++) unchecked((buckets[i] = null));
    this.newest = null;
    this.oldest = null;
    this.count = 0;
  }

  private find(pointer: usize, length: i32, hash: u32): Entry<V> | null {
    let entry = unchecked(this.buckets[<i32>(hash & this.mask)]);
    while (entry !== null) {
      const stored = entry.bytes;
      if (entry.hash == hash && stored.length == length &&
          memory.compare(stored.dataStart, pointer, <usize>length) == 0) {
        return entry;
      }
      entry = entry.nextInBucket;
    }
    return null;
  }

  private remove(entry: Entry<V>): void {
    const slot = <i32>(entry.hash & this.mask);
    let previous: Entry<V> | null = null;
    let current = unchecked(this.buckets[slot]);
    while (current !== null && current !== entry) {
      previous = current;
      current = current.nextInBucket;
    }
    if (current === null) return;
    if (previous === null) unchecked((this.buckets[slot] = entry.nextInBucket));
    else previous.nextInBucket = entry.nextInBucket;
    entry.nextInBucket = null;
    this.unlink(entry);
    this.count--;
  }

  private touch(entry: Entry<V>): void {
    if (this.newest === entry) return;
    this.unlink(entry);
    this.linkNewest(entry);
  }

  private linkNewest(entry: Entry<V>): void {
    entry.newer = null;
    entry.older = this.newest;
    const newest = this.newest;
    if (newest !== null) newest.newer = entry;
    else this.oldest = entry;
    this.newest = entry;
  }

  private unlink(entry: Entry<V>): void {
    const newer = entry.newer;
    const older = entry.older;
    if (newer !== null) newer.older = older;
    else this.newest = older;
    if (older !== null) older.newer = newer;
    else this.oldest = newer;
    entry.newer = null;
    entry.older = null;
  }
}

/** A fast, seeded, non-cryptographic hash of bytes, eight at a time. Only ever used to choose a bucket. */
export function hashBytes(data: usize, length: i32, seed: u64): u32 {
  let h: u64 = seed ^ (<u64>length * 0x9e3779b97f4a7c15);
  const end = data + <usize>length;
  let p = data;
  while (p + 8 <= end) {
    h = (h ^ load<u64>(p)) * 0xff51afd7ed558ccd;
    h ^= h >> 32;
    p += 8;
  }
  let tail: u64 = 0;
  let shift: u64 = 0;
  while (p < end) {
    tail |= <u64>load<u8>(p) << shift;
    shift += 8;
    p++;
  }
  h = (h ^ tail) * 0xc4ceb9fe1a85ec53;
  h ^= h >> 29;
  return <u32>h;
}
