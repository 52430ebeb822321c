// The rate-limit filter's pure parts: duration strings, token bucket arithmetic at its edges (long idle times,
// u64-sized clocks, a lowered max_tokens) and the slot byte layout.
import { parseDurationMs } from "../../filters/rate-limit/duration";
import {
  BucketPolicy, BucketState, SLOT_HEADER_BYTES, encodeSlot, isFreeSlot, slotHoldsIdentity,
} from "../../filters/rate-limit/bucket";

function bytes(text: string): ArrayBuffer {
  return String.UTF8.encode(text);
}

describe("parseDurationMs", () => {
  it("reads the units Envoy configs use", () => {
    expect(parseDurationMs("1s")).toBe(1000);
    expect(parseDurationMs("500ms")).toBe(500);
    expect(parseDurationMs("1.5s")).toBe(1500);
    expect(parseDurationMs("0.25s")).toBe(250);
    expect(parseDurationMs("2m")).toBe(120_000);
    expect(parseDurationMs("1h")).toBe(3_600_000);
    expect(parseDurationMs("60s")).toBe(60_000);
  });

  it("refuses what is not a positive whole number of milliseconds", () => {
    const bad = ["", "s", "10", "-1s", "+1s", "0s", "0ms", ".5s", "1.s", "1.2.3s", "1 s", "1e3ms", "0.0001s", "1.5ms",
      "1sec", "9999999999s", "1.0000000001s"];
    for (let i = 0; i < bad.length; i++) {
      expect(parseDurationMs(bad[i])).toBe(-1, bad[i]);
    }
  });
});

// Module level: spec callbacks cannot capture locals (no closures in AssemblyScript).
const policy = new BucketPolicy(10, 2, 1000);

describe("BucketState", () => {
  it("adds tokens_per_fill per whole interval and keeps the fill schedule", () => {
    const state = new BucketState(0, 5_000);
    state.refill(policy, 7_999);
    expect(state.tokens).toBe(4);
    expect(state.lastFillMs).toBe(7_000);
    expect(state.msUntilNextFill(policy, 7_999)).toBe(1);
  });

  it("caps at max_tokens after any idle time, even one that would overflow the arithmetic", () => {
    const state = new BucketState(3, 0);
    state.refill(policy, u64.MAX_VALUE - 5);
    expect(state.tokens).toBe(10);
    expect(state.isFull(policy)).toBe(true);
  });

  it("leaves the state alone when the clock is behind the last fill", () => {
    const state = new BucketState(1, 10_000);
    state.refill(policy, 2_000);
    expect(state.tokens).toBe(1);
    expect(state.lastFillMs).toBe(10_000);
  });

  it("clamps a bucket above a lowered max_tokens", () => {
    const state = new BucketState(50, 10_000);
    state.refill(policy, 10_000);
    expect(state.tokens).toBe(10);
  });

  it("says how long until enough tokens for a cost", () => {
    const state = new BucketState(1, 0);
    expect(state.msUntilAvailable(policy, 400, 1)).toBe(0);
    expect(state.msUntilAvailable(policy, 400, 2)).toBe(600); // one fill of 2
    expect(state.msUntilAvailable(policy, 400, 6)).toBe(2_600); // 5 missing: three fills
  });

  it("takes a cost only when there are enough tokens", () => {
    const state = new BucketState(3, 0);
    expect(state.tryConsume(2)).toBe(true);
    expect(state.tokens).toBe(1);
    expect(state.tryConsume(2)).toBe(false);
    expect(state.tokens).toBe(1);
  });

  it("the time to fill an empty bucket rounds up to whole fills", () => {
    expect(new BucketPolicy(10, 3, 500).timeToFullMs()).toBe(2_000);
    expect(new BucketPolicy(10, 10, 60_000).timeToFullMs()).toBe(60_000);
  });
});

describe("slot bytes", () => {
  it("round-trips a bucket and recognises its identity", () => {
    const identity = bytes("\x00client-a");
    const value = encodeSlot(new BucketState(7, 1_700_000_000_123), identity);
    expect(value.byteLength).toBe(SLOT_HEADER_BYTES + identity.byteLength);
    expect(isFreeSlot(value)).toBe(false);
    const read = new BucketState(0, 0);
    read.loadFrom(value);
    expect(read.tokens).toBe(7);
    expect(read.lastFillMs).toBe(1_700_000_000_123);
    expect(slotHoldsIdentity(value, identity)).toBe(true);
    expect(slotHoldsIdentity(value, bytes("\x00client-b"))).toBe(false);
    expect(slotHoldsIdentity(value, bytes("\x00client-"))).toBe(false);
  });

  it("treats empty and foreign values as free slots", () => {
    expect(isFreeSlot(new ArrayBuffer(0))).toBe(true);
    expect(isFreeSlot(new ArrayBuffer(SLOT_HEADER_BYTES - 1))).toBe(true);
    expect(isFreeSlot(new ArrayBuffer(SLOT_HEADER_BYTES))).toBe(true); // version byte 0
  });
});
