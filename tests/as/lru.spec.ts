import { LruCache } from "../../assembly/lib/lru";

class Box {
  constructor(public n: i32) {}
}

function valueOf(cache: LruCache<Box>, key: string): i32 {
  const v = cache.get(key);
  return v === null ? -1 : v.n;
}

function order(cache: LruCache<Box>): string {
  return cache.keysByRecency().join(",");
}

describe("LruCache", () => {
  it("evicts the least recently inserted entry when full", () => {
    const c = new LruCache<Box>(3);
    c.set("a", new Box(1));
    c.set("b", new Box(2));
    c.set("c", new Box(3));
    expect(c.size).toBe(3);
    c.set("d", new Box(4));
    expect(c.size).toBe(3);
    expect(c.has("a")).toBe(false);
    expect(order(c)).toBe("d,c,b");
    c.set("e", new Box(5));
    expect(c.has("b")).toBe(false);
    expect(order(c)).toBe("e,d,c");
  });

  it("get refreshes recency, so the entry read survives the next eviction", () => {
    const c = new LruCache<Box>(3);
    c.set("a", new Box(1));
    c.set("b", new Box(2));
    c.set("c", new Box(3));
    expect(valueOf(c, "a")).toBe(1);
    expect(order(c)).toBe("a,c,b");
    c.set("d", new Box(4));
    expect(c.has("b")).toBe(false);
    expect(valueOf(c, "a")).toBe(1);
    expect(valueOf(c, "c")).toBe(3);
    expect(order(c)).toBe("c,a,d");
  });

  it("a miss returns null and changes nothing; has() does not refresh", () => {
    const c = new LruCache<Box>(2);
    c.set("a", new Box(1));
    c.set("b", new Box(2));
    expect(c.get("zzz")).toBeNull();
    expect(c.has("a")).toBe(true);
    expect(order(c)).toBe("b,a");
    c.set("c", new Box(3));
    expect(c.has("a")).toBe(false);
  });

  it("overwriting replaces the value, keeps the size and refreshes recency", () => {
    const c = new LruCache<Box>(3);
    c.set("a", new Box(1));
    c.set("b", new Box(2));
    c.set("c", new Box(3));
    c.set("a", new Box(10));
    expect(c.size).toBe(3);
    expect(order(c)).toBe("a,c,b");
    c.set("d", new Box(4));
    expect(valueOf(c, "a")).toBe(10);
    expect(c.has("b")).toBe(false);
  });

  it("delete removes an entry and frees its slot", () => {
    const c = new LruCache<Box>(3);
    c.set("a", new Box(1));
    c.set("b", new Box(2));
    c.set("c", new Box(3));
    expect(c.delete("b")).toBe(true);
    expect(c.delete("b")).toBe(false);
    expect(c.delete("never")).toBe(false);
    expect(c.size).toBe(2);
    expect(c.get("b")).toBeNull();
    expect(order(c)).toBe("c,a");
    c.set("d", new Box(4)); // fits without evicting
    expect(order(c)).toBe("d,c,a");
    expect(c.delete("d")).toBe(true); // head
    expect(c.delete("a")).toBe(true); // tail
    expect(order(c)).toBe("c");
    expect(c.delete("c")).toBe(true); // last one
    expect(c.size).toBe(0);
    expect(order(c)).toBe("");
    c.set("e", new Box(5));
    expect(order(c)).toBe("e");
  });

  it("works with capacity 1", () => {
    const c = new LruCache<Box>(1);
    c.set("a", new Box(1));
    expect(valueOf(c, "a")).toBe(1);
    c.set("b", new Box(2));
    expect(c.size).toBe(1);
    expect(c.get("a")).toBeNull();
    expect(valueOf(c, "b")).toBe(2);
    c.set("b", new Box(3));
    expect(valueOf(c, "b")).toBe(3);
    expect(c.delete("b")).toBe(true);
    expect(c.size).toBe(0);
    c.set("c", new Box(4));
    expect(valueOf(c, "c")).toBe(4);
  });

  it("stores nothing with capacity 0", () => {
    const c = new LruCache<Box>(0);
    c.set("a", new Box(1));
    expect(c.size).toBe(0);
    expect(c.get("a")).toBeNull();
  });

  it("clear empties the cache and it stays usable", () => {
    const c = new LruCache<string>(2);
    c.set("a", "x");
    c.set("b", "y");
    c.clear();
    expect(c.size).toBe(0);
    expect(c.get("a")).toBeNull();
    c.set("c", "z");
    expect(c.get("c")).toBe("z");
    expect(c.keysByRecency().join(",")).toBe("c");
  });

  it("matches a simple list model over many random operations", () => {
    // Model: array of keys, most recent first, values in a parallel array.
    const cap = 5;
    const c = new LruCache<Box>(cap);
    const keys = new Array<string>();
    const vals = new Array<i32>();
    let x: u32 = 12345;
    let mismatches = 0;
    for (let step = 0; step < 5000; step++) {
      x = x * 1103515245 + 12345;
      const op = (x >>> 16) % 4;
      const key = "k" + ((x >>> 8) % 9).toString();
      const idx = keys.indexOf(key);
      if (op == 0) { // get
        const want = idx < 0 ? -1 : vals[idx];
        if (idx >= 0) {
          keys.splice(idx, 1);
          vals.splice(idx, 1);
          keys.unshift(key);
          vals.unshift(want);
        }
        if (valueOf(c, key) != want) mismatches++;
      } else if (op == 3) { // delete
        if (idx >= 0) {
          keys.splice(idx, 1);
          vals.splice(idx, 1);
        }
        if (c.delete(key) != (idx >= 0)) mismatches++;
      } else { // set
        const v = <i32>step;
        if (idx >= 0) {
          keys.splice(idx, 1);
          vals.splice(idx, 1);
        } else if (keys.length == cap) {
          keys.pop();
          vals.pop();
        }
        keys.unshift(key);
        vals.unshift(v);
        c.set(key, new Box(v));
      }
      if (c.size != keys.length || order(c) != keys.join(",")) {
        if (mismatches == 0) log("diverged at step " + step.toString() + ": " + order(c) + " vs " + keys.join(","));
        mismatches++;
      }
    }
    expect(mismatches).toBe(0);
  });
});
