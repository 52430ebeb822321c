// A rule's buckets in proxy-wasm shared data, where every worker's VM sees the same values.
//
// Shared data is one flat key space per vm_id and ABI 0.2.1 cannot delete keys, so a rule owns a fixed set of
// keys: `rl:<stat_prefix>:<rule>:<slot>` for slot 0..max_buckets-1, plus `rl:<stat_prefix>:<rule>:overflow`.
// The key count therefore never exceeds max_buckets + 1 per rule, whatever the traffic.
//
// A request's identity hashes to a home slot; PROBES consecutive slots are candidates. The slot holding the
// identity is used; failing that, the first free slot, or a slot whose bucket has refilled completely (an idle
// bucket is indistinguishable from a new one, so taking it over loses nothing). When all candidates hold live
// buckets of other keys, the rule's on_table_full policy decides (shared overflow bucket, deny, or allow).
//
// Updates are read / compute / compare-and-swap: a write fails with CasMismatch when another worker wrote the
// slot in between, and the whole decision is recomputed from a fresh read, at most MAX_ATTEMPTS times.
import { SharedDataKey, WasmResult, logWarn } from "../../assembly";
import { BucketState, FREE_SLOT, encodeSlot, isFreeSlot, slotHoldsIdentity } from "./bucket";
import { Rule, TableFullPolicy } from "./config";
import { identityHash } from "./keys";

const PROBES: u32 = 4;
/** Tables up to this many slots keep their encoded keys (at most ~300 KB per rule and VM); larger ones build them. */
const KEY_CACHE_LIMIT: u32 = 4096;
export const MAX_ATTEMPTS: i32 = 32;
const NO_IDENTITY = new ArrayBuffer(0);

export const enum Verdict {
  /** The request took its tokens. */
  Allowed,
  /** Not enough tokens (or the table was full and the rule denies then). */
  Limited,
  /** Passed without a bucket: table full with on_table_full "allow". No rate-limit headers apply. */
  Unmetered,
  /** Shared data could not be updated (retries exhausted or a host error): failure_mode_deny decides. */
  Failed,
}

export class Decision {
  verdict: Verdict = Verdict.Allowed;
  /** Tokens left after this request. */
  remaining: u32 = 0;
  /** Milliseconds until the next fill. */
  resetMs: u64 = 0;
  /** Limited: milliseconds until the bucket holds enough tokens for this request. */
  retryAfterMs: u64 = 0;
  /** The request was decided by the on_table_full policy (its key had no slot of its own). */
  tableFull: bool = false;
}

/**
 * The slot a request will use: its key, version and bucket. One instance serves every request (wasm runs one
 * callback at a time), so probing allocates nothing of its own.
 */
class Probe {
  key: SharedDataKey = new SharedDataKey("");
  cas: u32 = 0;
  readonly state: BucketState = new BucketState(0, 0);
  /** When no slot is available: the candidate bucket that frees up first. */
  readonly soonestFree: BucketState = new BucketState(0, 0);
  hasSoonestFree: bool = false;
}

const probe = new Probe();

export class BucketTable {
  readonly keyPrefix: string;
  readonly overflowKey: SharedDataKey;
  private readonly probes: u32;
  /** Slot keys built so far, so the hot path encodes no key; null for tables too large to cache. */
  private readonly keys: Array<SharedDataKey | null> | null;

  constructor(public readonly rule: Rule, statPrefix: string) {
    const keyPrefix = "rl:" + statPrefix + ":" + rule.name + ":";
    this.keyPrefix = keyPrefix;
    this.overflowKey = new SharedDataKey(keyPrefix + "overflow");
    this.probes = rule.maxBuckets < PROBES ? rule.maxBuckets : PROBES;
    this.keys = rule.maxBuckets <= KEY_CACHE_LIMIT ? new Array<SharedDataKey | null>(<i32>rule.maxBuckets) : null;
  }

  slotKey(slot: u32): SharedDataKey {
    const keys = this.keys;
    if (keys === null) return new SharedDataKey(this.keyPrefix + slot.toString());
    const cached = unchecked(keys[slot]);
    if (cached !== null) return cached;
    const key = new SharedDataKey(this.keyPrefix + slot.toString());
    unchecked((keys[slot] = key));
    return key;
  }

  /**
   * Creates every slot key that does not exist yet, as a free slot. Done at configuration time so that the
   * request path always has a version (cas) to write against: two workers creating the same missing key at
   * once would otherwise both succeed and one update would be lost.
   */
  createSlots(): void {
    for (let slot: u32 = 0; slot < this.rule.maxBuckets; slot++) createIfMissing(new SharedDataKey(this.keyPrefix + slot.toString()));
    createIfMissing(this.overflowKey);
  }

  /** Takes the rule's cost from the bucket of `identity`, or says why not. */
  acquire(identity: ArrayBuffer, nowMs: u64): Decision {
    const rule = this.rule;
    const policy = rule.bucket;
    const decision = new Decision();
    const home = identityHash(identity) % rule.maxBuckets;
    const state = probe.state;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      let useIdentity = identity;
      if (!this.findSlot(identity, home, nowMs)) {
        decision.tableFull = true;
        if (rule.onTableFull == TableFullPolicy.Allow) {
          decision.verdict = Verdict.Unmetered;
          return decision;
        }
        if (rule.onTableFull == TableFullPolicy.Deny) {
          decision.verdict = Verdict.Limited;
          decision.remaining = 0;
          decision.retryAfterMs = probe.hasSoonestFree ?
            probe.soonestFree.msUntilAvailable(policy, nowMs, policy.maxTokens) : policy.fillIntervalMs;
          decision.resetMs = decision.retryAfterMs;
          return decision;
        }
        if (!this.readOverflow(nowMs)) break;
        useIdentity = NO_IDENTITY;
      }
      if (!state.tryConsume(rule.cost)) {
        // Nothing to write: refill is computed from the stored time, so a refused request costs one read.
        decision.verdict = Verdict.Limited;
        decision.remaining = state.tokens;
        decision.retryAfterMs = state.msUntilAvailable(policy, nowMs, rule.cost);
        decision.resetMs = decision.retryAfterMs;
        return decision;
      }
      const result = probe.key.set(encodeSlot(state, useIdentity), probe.cas);
      if (result == WasmResult.Ok) {
        decision.verdict = Verdict.Allowed;
        decision.remaining = state.tokens;
        decision.resetMs = state.msUntilNextFill(policy, nowMs);
        return decision;
      }
      if (result != WasmResult.CasMismatch) break; // already logged by the SDK
    }
    decision.verdict = Verdict.Failed;
    return decision;
  }

  /**
   * Points the probe at the slot this identity should use, with its version and its bucket refilled to `nowMs`.
   * Returns false when every candidate holds another key's live bucket; `probe.soonestFree` is then the candidate
   * bucket that frees up first, so a denial can say when to retry.
   */
  private findSlot(identity: ArrayBuffer, home: u32, nowMs: u64): bool {
    const rule = this.rule;
    const policy = rule.bucket;
    const state = probe.state;
    let candidateKey: SharedDataKey | null = null;
    let candidateCas: u32 = 0;
    let soonestFreeMs: u64 = u64.MAX_VALUE;
    probe.hasSoonestFree = false;
    for (let i: u32 = 0; i < this.probes; i++) {
      const key = this.slotKey((home + i) % rule.maxBuckets);
      let entry = key.get();
      if (entry === null) {
        // Not created at configuration time (e.g. max_buckets grew): create it, then read its version.
        createIfMissing(key);
        entry = key.get();
        if (entry === null) continue;
      }
      const value = entry.value;
      if (isFreeSlot(value)) {
        if (candidateKey === null) {
          candidateKey = key;
          candidateCas = entry.cas;
        }
        continue;
      }
      state.loadFrom(value);
      state.refill(policy, nowMs);
      if (slotHoldsIdentity(value, identity)) {
        probe.key = key;
        probe.cas = entry.cas;
        return true;
      }
      if (state.isFull(policy)) {
        if (candidateKey === null) {
          candidateKey = key;
          candidateCas = entry.cas;
        }
        continue;
      }
      const untilFree = state.msUntilAvailable(policy, nowMs, policy.maxTokens);
      if (untilFree < soonestFreeMs) {
        soonestFreeMs = untilFree;
        probe.soonestFree.copyFrom(state);
        probe.hasSoonestFree = true;
      }
    }
    if (candidateKey !== null) {
      probe.key = candidateKey;
      probe.cas = candidateCas;
      state.fill(policy, nowMs);
      return true;
    }
    return false;
  }

  /** Points the probe at the rule's overflow bucket; false when shared data failed. */
  private readOverflow(nowMs: u64): bool {
    let entry = this.overflowKey.get();
    if (entry === null) {
      createIfMissing(this.overflowKey);
      entry = this.overflowKey.get();
      if (entry === null) return false;
    }
    const policy = this.rule.bucket;
    const state = probe.state;
    if (isFreeSlot(entry.value)) {
      state.fill(policy, nowMs);
    } else {
      state.loadFrom(entry.value);
      state.refill(policy, nowMs);
    }
    probe.key = this.overflowKey;
    probe.cas = entry.cas;
    return true;
  }

  /**
   * Frees the idle buckets among `count` slots starting at `from` (the overflow bucket is slot maxBuckets).
   * Returns how many of the hashed slots among them still hold live buckets: the overflow bucket is swept but not
   * counted, so the count never exceeds max_buckets (its use shows in `table_full`).
   */
  sweep(from: u32, count: u32, nowMs: u64): u32 {
    const policy = this.rule.bucket;
    let live: u32 = 0;
    const end = from + count;
    for (let slot = from; slot < end; slot++) {
      const key = slot < this.rule.maxBuckets ? this.slotKey(slot) : this.overflowKey;
      const entry = key.get();
      if (entry === null || isFreeSlot(entry.value)) continue;
      const state = probe.state;
      state.loadFrom(entry.value);
      state.refill(policy, nowMs);
      if (!state.isFull(policy)) {
        if (slot < this.rule.maxBuckets) live++;
        continue;
      }
      // A concurrent update makes this CasMismatch: the bucket is in use again and stays.
      key.set(FREE_SLOT, entry.cas);
    }
    return live;
  }

  /** Number of sweepable slots: the hashed slots plus the overflow bucket. */
  get slotCount(): u32 {
    return this.rule.maxBuckets + 1;
  }
}

function createIfMissing(key: SharedDataKey): void {
  if (key.get() !== null) return;
  const result = key.set(FREE_SLOT, 0);
  if (result != WasmResult.Ok) logWarn("rate-limit: could not create shared-data key " + key.key);
}
