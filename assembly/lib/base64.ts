// Base64 (RFC 4648 §4) and base64url (§5), strict, for JWS segments and JWK members.
//
// Decoders accept exactly one encoding of each byte string, so a token cannot be altered without changing its
// bytes (JWS signs the encoded text, but kid/x5t and claim comparisons use decoded values):
// - base64url (RFC 7515 §2): alphabet A-Z a-z 0-9 - _ only, no padding, no whitespace; a length ≡ 1 (mod 4)
//   cannot come from any input and is rejected; the unused low bits of the last character must be zero.
// - standard base64: alphabet A-Z a-z 0-9 + /, padding to a multiple of 4 is required, '=' only as the last
//   one or two characters; the unused bits must be zero too.
// Decoders return null on any violation. They make one pass; the output is allocated once at its final size.

const STD_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const INVALID: u8 = 0xff;
const PAD: u32 = 0x3d; // '='

// Reverse tables, character code → 6-bit value or INVALID, built once at module start.
const STD_TABLE = buildTable(STD_ALPHABET);
const URL_TABLE = buildTable(URL_ALPHABET);

function buildTable(alphabet: string): StaticArray<u8> {
  const table = new StaticArray<u8>(256);
  for (let i = 0; i < 256; i++) table[i] = INVALID;
  for (let i = 0; i < 64; i++) table[alphabet.charCodeAt(i)] = <u8>i;
  return table;
}

/** Decodes unpadded base64url text. Null if it is not the canonical encoding of some byte string. */
export function base64UrlDecode(input: string): Uint8Array | null {
  return decode<u16>(changetype<usize>(input), input.length, URL_TABLE, false);
}

/**
 * Decodes unpadded base64url held as ASCII bytes in input[start, end) (e.g. one segment of a compact JWS
 * without copying it to a string first). Null on invalid text or a range outside `input`.
 */
export function base64UrlDecodeBytes(input: Uint8Array, start: i32, end: i32): Uint8Array | null {
  if (start < 0 || end < start || end > input.length) return null;
  return decode<u8>(input.dataStart + <usize>start, end - start, URL_TABLE, false);
}

/** Decodes padded standard base64 (as in x5c certificates). Null if not canonical. */
export function base64Decode(input: string): Uint8Array | null {
  return decode<u16>(changetype<usize>(input), input.length, STD_TABLE, true);
}

/** Encodes as base64url without padding. */
export function base64UrlEncode(data: Uint8Array): string {
  return encode(data, URL_ALPHABET, false);
}

/** Encodes as standard base64 with padding. */
export function base64Encode(data: Uint8Array): string {
  return encode(data, STD_ALPHABET, true);
}

// Value of the character (code unit of type T) at p, or INVALID. Code units above 255 (only possible when
// T is u16) are invalid; masking them to a byte would accept e.g. U+0141 as 'A'.
@inline
function sextet<T>(p: usize, table: StaticArray<u8>): u32 {
  const c = <u32>load<T>(p);
  if (sizeof<T>() > 1 && c > 0xff) return INVALID;
  return <u32>unchecked(table[c]);
}

// Decodes n characters of type T (u8 bytes or u16 string code units) starting at p.
function decode<T>(p: usize, n: i32, table: StaticArray<u8>, padded: bool): Uint8Array | null {
  const unit = sizeof<T>();
  let len = n;
  if (padded) {
    if (n & 3) return null;
    // Up to two trailing '=' stand for the missing characters of the last group; any other '=' is invalid.
    if (len > 0 && <u32>load<T>(p + <usize>(len - 1) * unit) == PAD) {
      len--;
      if (<u32>load<T>(p + <usize>(len - 1) * unit) == PAD) len--;
    }
  }
  const rem = len & 3;
  if (rem == 1) return null; // 6 bits cannot make a byte: no input encodes to this length
  const out = new Uint8Array((len >> 2) * 3 + (rem > 0 ? rem - 1 : 0));
  let o = out.dataStart;
  const fullEnd = p + <usize>(len - rem) * unit;
  while (p < fullEnd) {
    const a = sextet<T>(p, table);
    const b = sextet<T>(p + unit, table);
    const c = sextet<T>(p + 2 * unit, table);
    const d = sextet<T>(p + 3 * unit, table);
    if ((a | b | c | d) & 0x80) return null; // INVALID has the top bit set, real values never do
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    store<u8>(o, <u8>(v >>> 16));
    store<u8>(o + 1, <u8>(v >>> 8));
    store<u8>(o + 2, <u8>v);
    o += 3;
    p += 4 * unit;
  }
  if (rem == 2) {
    const a = sextet<T>(p, table);
    const b = sextet<T>(p + unit, table);
    if ((a | b) & 0x80) return null;
    if (b & 0x0f) return null; // 12 bits carry one byte; the low 4 must be zero
    store<u8>(o, <u8>((a << 2) | (b >>> 4)));
  } else if (rem == 3) {
    const a = sextet<T>(p, table);
    const b = sextet<T>(p + unit, table);
    const c = sextet<T>(p + 2 * unit, table);
    if ((a | b | c) & 0x80) return null;
    if (c & 0x03) return null; // 18 bits carry two bytes; the low 2 must be zero
    const v = (a << 12) | (b << 6) | c;
    store<u8>(o, <u8>(v >>> 10));
    store<u8>(o + 1, <u8>(v >>> 2));
  }
  return out;
}

function encode(data: Uint8Array, alphabet: string, padded: bool): string {
  const n = data.length;
  const rem = n % 3;
  const full = n - rem;
  const chars = (full / 3) * 4 + (rem == 0 ? 0 : padded ? 4 : rem + 1);
  if (chars == 0) return "";
  const out = __new(<usize>chars << 1, idof<String>());
  const abc = changetype<usize>(alphabet);
  let o = out;
  let p = data.dataStart;
  const fullEnd = p + <usize>full;
  while (p < fullEnd) {
    const v = (<u32>load<u8>(p) << 16) | (<u32>load<u8>(p + 1) << 8) | <u32>load<u8>(p + 2);
    store<u16>(o, load<u16>(abc + ((v >>> 17) & 0x7e))); // (v >>> 18) * 2: offset of a UTF-16 unit
    store<u16>(o + 2, load<u16>(abc + ((v >>> 11) & 0x7e)));
    store<u16>(o + 4, load<u16>(abc + ((v >>> 5) & 0x7e)));
    store<u16>(o + 6, load<u16>(abc + ((v << 1) & 0x7e)));
    o += 8;
    p += 3;
  }
  if (rem > 0) {
    const v = (<u32>load<u8>(p) << 16) | (rem == 2 ? <u32>load<u8>(p + 1) << 8 : 0);
    store<u16>(o, load<u16>(abc + ((v >>> 17) & 0x7e)));
    store<u16>(o + 2, load<u16>(abc + ((v >>> 11) & 0x7e)));
    if (rem == 2) store<u16>(o + 4, load<u16>(abc + ((v >>> 5) & 0x7e)));
    else if (padded) store<u16>(o + 4, PAD);
    if (padded) store<u16>(o + 6, PAD);
  }
  return changetype<string>(out);
}
