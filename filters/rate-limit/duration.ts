// Duration strings as operators write them in Envoy configs: "1s", "500ms", "1.5s", "2m", "1h".
// Returns whole milliseconds, or -1 when the text is not a positive duration of at least one millisecond.

const MS_PER_UNIT_MS: u64 = 1;
const MS_PER_UNIT_S: u64 = 1000;
const MS_PER_UNIT_M: u64 = 60_000;
const MS_PER_UNIT_H: u64 = 3_600_000;
// Digits accepted on each side of the decimal point: enough for any sane interval, small enough that the
// arithmetic below cannot overflow a u64.
const MAX_DIGITS: i32 = 9;

export function parseDurationMs(text: string): i64 {
  let unitLength = 0;
  let msPerUnit: u64 = 0;
  if (text.endsWith("ms")) {
    unitLength = 2;
    msPerUnit = MS_PER_UNIT_MS;
  } else if (text.endsWith("s")) {
    unitLength = 1;
    msPerUnit = MS_PER_UNIT_S;
  } else if (text.endsWith("m")) {
    unitLength = 1;
    msPerUnit = MS_PER_UNIT_M;
  } else if (text.endsWith("h")) {
    unitLength = 1;
    msPerUnit = MS_PER_UNIT_H;
  } else {
    return -1;
  }
  const digits = text.length - unitLength;
  let whole: u64 = 0;
  let fraction: u64 = 0;
  let fractionScale: u64 = 1;
  let wholeDigits = 0;
  let seenPoint = false;
  for (let i = 0; i < digits; i++) {
    const c = text.charCodeAt(i);
    if (c == 0x2e /* . */ && !seenPoint) {
      seenPoint = true;
      continue;
    }
    if (c < 0x30 || c > 0x39) return -1; // signs, spaces, exponents: not a duration
    const digit = <u64>(c - 0x30);
    if (seenPoint) {
      if (fractionScale >= 1_000_000_000) return -1;
      fraction = fraction * 10 + digit;
      fractionScale *= 10;
    } else {
      if (++wholeDigits > MAX_DIGITS) return -1;
      whole = whole * 10 + digit;
    }
  }
  if (wholeDigits == 0 || (seenPoint && fractionScale == 1)) return -1; // ".5s", "1.s", "s"
  const fractionMs = fraction * msPerUnit;
  if (fractionMs % fractionScale != 0) return -1; // finer than a millisecond
  const total = whole * msPerUnit + fractionMs / fractionScale;
  return total == 0 ? -1 : <i64>total;
}
