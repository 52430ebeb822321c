// Hex helpers for specs (test vectors are hex strings). Specs only: bad hex aborts with a message naming it,
// which fails the spec loudly instead of comparing against garbage.

function nibble(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30; // 0-9
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10; // a-f
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10; // A-F
  return -1;
}

/** Decodes an even-length hex string (either case). Aborts on odd length or a non-hex character. */
export function hexToBytes(s: string): Uint8Array {
  if (s.length & 1) throw new Error("hexToBytes: odd length: " + s);
  const out = new Uint8Array(s.length >>> 1);
  for (let i = 0; i < out.length; i++) {
    const hi = nibble(s.charCodeAt(2 * i));
    const lo = nibble(s.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) throw new Error("hexToBytes: not hex: " + s);
    out[i] = <u8>((hi << 4) | lo);
  }
  return out;
}

const DIGITS = "0123456789abcdef";

/** Lower-case hex of all bytes. */
export function bytesToHex(bytes: Uint8Array): string {
  const parts = new Array<string>(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    parts[i] = DIGITS.charAt(b >>> 4) + DIGITS.charAt(b & 15);
  }
  return parts.join("");
}
