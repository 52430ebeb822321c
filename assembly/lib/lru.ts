// Least-recently-used cache keyed by string, for verified-token and parsed-JWKS caching in the filters.
//
// A Map finds entries and a doubly linked list orders them by last use (head = most recent, tail = next to be
// evicted), so get/set/delete are O(1). When full, `set` of a new key recycles the evicted tail node instead
// of allocating, so a warm cache creates no garbage per insertion beyond the caller's key and value.

class LruNode<V> {
  prev: LruNode<V> | null = null;
  next: LruNode<V> | null = null;

  constructor(public key: string, public value: V) {}
}

/** String-keyed LRU cache holding at most `capacity` entries. V must be a reference type (class or string). */
export class LruCache<V> {
  private map: Map<string, LruNode<V>> = new Map<string, LruNode<V>>();
  private head: LruNode<V> | null = null; // most recently used
  private tail: LruNode<V> | null = null; // least recently used
  /** Maximum number of entries; a capacity below 1 disables caching (set stores nothing). */
  readonly capacity: i32;

  constructor(capacity: i32) {
    if (!isReference<V>()) ERROR("LruCache<V>: V must be a reference type so get() can return null");
    this.capacity = capacity;
  }

  /** Number of entries held. */
  get size(): i32 {
    return this.map.size;
  }

  /** The value for `key` (marking it most recently used), or null if absent. */
  get(key: string): V | null {
    const map = this.map;
    if (!map.has(key)) return null;
    const node = map.get(key);
    this.moveToFront(node);
    return node.value;
  }

  /** True if `key` is cached; does not change recency. */
  has(key: string): bool {
    return this.map.has(key);
  }

  /** Stores `value` under `key` as the most recently used entry, evicting the least recently used if full. */
  set(key: string, value: V): void {
    const map = this.map;
    if (map.has(key)) {
      const node = map.get(key);
      node.value = value;
      this.moveToFront(node);
      return;
    }
    if (this.capacity < 1) return;
    if (map.size >= this.capacity) {
      // Reuse the evicted node for the new entry.
      const node = this.tail!;
      map.delete(node.key);
      node.key = key;
      node.value = value;
      this.moveToFront(node);
      map.set(key, node);
      return;
    }
    const node = new LruNode<V>(key, value);
    this.linkFront(node);
    map.set(key, node);
  }

  /** Removes `key`; returns whether it was present. */
  delete(key: string): bool {
    const map = this.map;
    if (!map.has(key)) return false;
    const node = map.get(key);
    this.unlink(node);
    map.delete(key);
    return true;
  }

  /** Removes every entry. */
  clear(): void {
    this.map.clear();
    this.head = null;
    this.tail = null;
  }

  /** Keys from most to least recently used (for diagnostics and tests). */
  keysByRecency(): Array<string> {
    const out = new Array<string>();
    let node = this.head;
    while (node !== null) {
      out.push(node.key);
      node = node.next;
    }
    return out;
  }

  private moveToFront(node: LruNode<V>): void {
    if (this.head === node) return;
    this.unlink(node);
    this.linkFront(node);
  }

  private linkFront(node: LruNode<V>): void {
    node.prev = null;
    node.next = this.head;
    const head = this.head;
    if (head !== null) head.prev = node;
    else this.tail = node;
    this.head = node;
  }

  private unlink(node: LruNode<V>): void {
    const prev = node.prev;
    const next = node.next;
    if (prev !== null) prev.next = next;
    else this.head = next;
    if (next !== null) next.prev = prev;
    else this.tail = prev;
    node.prev = null;
    node.next = null;
  }
}
