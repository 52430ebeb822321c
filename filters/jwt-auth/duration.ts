// Durations as protobuf's JSON mapping writes them ("300s", "1.5s"), the form Envoy configurations use.

/** "300s" → 300000, "1.5s" → 1500, "0.001s" → 1; -1 for anything else (including below a millisecond). */
export function parseDurationMs(text: string): i64 {
  const length = text.length;
  if (length < 2 || text.charCodeAt(length - 1) != 0x73) return -1; // 's'
  let whole: i64 = 0;
  let millis: i64 = 0;
  let digits = 0;
  let i = 0;
  for (; i < length - 1; i++) {
    const c = text.charCodeAt(i);
    if (c == 0x2e) break;
    if (c < 0x30 || c > 0x39 || digits >= 12) return -1;
    whole = whole * 10 + (c - 0x30);
    digits++;
  }
  if (digits == 0) return -1;
  if (i < length - 1) {
    // fractional seconds: up to nine digits, the first three count
    let fractionDigits = 0;
    for (i++; i < length - 1; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x30 || c > 0x39 || fractionDigits >= 9) return -1;
      if (fractionDigits < 3) millis = millis * 10 + (c - 0x30);
      fractionDigits++;
    }
    if (fractionDigits == 0) return -1;
    for (let k = min(fractionDigits, 3); k < 3; k++) millis *= 10;
  }
  const total = whole * 1000 + millis;
  return total > 0 ? total : -1;
}
