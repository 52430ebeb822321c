// Token bucket arithmetic and the byte layout of a bucket slot in shared data.
//
// The bucket follows local_ratelimit's words: it holds at most `max_tokens`, and `tokens_per_fill` tokens are
// added every `fill_interval`. Nothing runs on a timer: a slot stores the token count and the time of the last
// fill, and whoever reads it next adds the fills that happened since (lazy refill). Fills are anchored at the
// moment the bucket was created, so every worker computes the same schedule from the same stored state.
//
// Slot value layout (little-endian), chosen so the hot path never parses text:
//   [0]      u8   format version (1)
//   [1..3]   u8×3 reserved (0)
//   [4..8]   u32  tokens left after the last fill
//   [8..16]  u64  time of the last fill, ms since the epoch (host clock)
//   [16..]   descriptor identity (see keys.ts), so a slot shared by two descriptors is detected
// A zero-length value is a free slot (shared data cannot delete keys, so freeing writes an empty value).

export const SLOT_HEADER_BYTES: i32 = 16;
const FORMAT_VERSION: u8 = 1;

export class BucketPolicy {
  constructor(
    public readonly maxTokens: u32,
    public readonly tokensPerFill: u32,
    public readonly fillIntervalMs: u64,
  ) {}

  /** Time for an empty bucket to fill up completely: the window advertised in RateLimit-Policy. */
  timeToFullMs(): u64 {
    const fills = (<u64>this.maxTokens + <u64>this.tokensPerFill - 1) / <u64>this.tokensPerFill;
    return fills * this.fillIntervalMs;
  }
}

/** A bucket's state at one instant, after applying the fills due by then. */
export class BucketState {
  constructor(public tokens: u32, public lastFillMs: u64) {}

  /** Makes this a new, full bucket whose fills are anchored at `nowMs`. */
  fill(policy: BucketPolicy, nowMs: u64): void {
    this.tokens = policy.maxTokens;
    this.lastFillMs = nowMs;
  }

  /** Reads the bucket stored in a non-free slot value. */
  loadFrom(value: ArrayBuffer): void {
    const base = changetype<usize>(value);
    this.tokens = load<u32>(base, 4);
    this.lastFillMs = load<u64>(base, 8);
  }

  copyFrom(other: BucketState): void {
    this.tokens = other.tokens;
    this.lastFillMs = other.lastFillMs;
  }

  /**
   * Adds the fills that happened between the last fill and `nowMs`. A clock that went backwards adds nothing
   * (the state is kept until the clock passes the stored instant again).
   */
  refill(policy: BucketPolicy, nowMs: u64): void {
    // A configuration update may have lowered max_tokens under a live bucket.
    if (this.tokens > policy.maxTokens) this.tokens = policy.maxTokens;
    if (nowMs <= this.lastFillMs) return;
    const fills = (nowMs - this.lastFillMs) / policy.fillIntervalMs;
    if (fills == 0) return;
    this.lastFillMs += fills * policy.fillIntervalMs;
    // fills * tokensPerFill can exceed u64 after a long idle time; anything past maxTokens is the same answer.
    if (fills >= <u64>policy.maxTokens) {
      this.tokens = policy.maxTokens;
      return;
    }
    const tokens = <u64>this.tokens + fills * <u64>policy.tokensPerFill;
    this.tokens = tokens >= <u64>policy.maxTokens ? policy.maxTokens : <u32>tokens;
  }

  /** True once the bucket has refilled completely: it is then indistinguishable from a new one. */
  isFull(policy: BucketPolicy): bool {
    return this.tokens >= policy.maxTokens;
  }

  /** Takes `cost` tokens when there are enough; otherwise leaves the state as it is. */
  tryConsume(cost: u32): bool {
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }

  /** Milliseconds from `nowMs` until the next fill adds tokens. */
  msUntilNextFill(policy: BucketPolicy, nowMs: u64): u64 {
    const next = this.lastFillMs + policy.fillIntervalMs;
    return next > nowMs ? next - nowMs : 0;
  }

  /** Milliseconds from `nowMs` until the bucket holds `cost` tokens (0 when it already does). */
  msUntilAvailable(policy: BucketPolicy, nowMs: u64, cost: u32): u64 {
    if (this.tokens >= cost) return 0;
    const missing = <u64>(cost - this.tokens);
    const fills = (missing + <u64>policy.tokensPerFill - 1) / <u64>policy.tokensPerFill;
    const at = this.lastFillMs + fills * policy.fillIntervalMs;
    return at > nowMs ? at - nowMs : 0;
  }
}

// ---- slot bytes ----

/** True for a free slot (never written by a bucket, or emptied by the idle sweep). */
export function isFreeSlot(value: ArrayBuffer): bool {
  return value.byteLength < SLOT_HEADER_BYTES || load<u8>(changetype<usize>(value)) != FORMAT_VERSION;
}

/** True when the slot holds the bucket of exactly this descriptor identity. */
export function slotHoldsIdentity(value: ArrayBuffer, identity: ArrayBuffer): bool {
  const length = identity.byteLength;
  if (value.byteLength != SLOT_HEADER_BYTES + length) return false;
  return memory.compare(changetype<usize>(value) + SLOT_HEADER_BYTES, changetype<usize>(identity), length) == 0;
}

/** The slot value for `state` owned by `identity`. */
export function encodeSlot(state: BucketState, identity: ArrayBuffer): ArrayBuffer {
  const length = identity.byteLength;
  const out = new ArrayBuffer(SLOT_HEADER_BYTES + length);
  const base = changetype<usize>(out);
  store<u32>(base, <u32>FORMAT_VERSION); // version byte, then three reserved zero bytes
  store<u32>(base, state.tokens, 4);
  store<u64>(base, state.lastFillMs, 8);
  memory.copy(base + SLOT_HEADER_BYTES, changetype<usize>(identity), length);
  return out;
}

export const FREE_SLOT = new ArrayBuffer(0);
