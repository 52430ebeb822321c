// Ed25519 signature verification (RFC 8032 section 5.1.7), pure AssemblyScript.
//
// API: ed25519Verify(publicKey, msg, sig) -> bool, with the reason for a false in ed25519LastError(), and
// ed25519PublicKeyIsValid(publicKey) for checking a configured key (e.g. a JWK's "x") before any request.
//
// Verification policy (tests/as/ed25519.spec.ts and tests/as/ed25519_wycheproof.spec.ts check each rule):
//   - The public key and signature must be exactly 32 and 64 bytes.
//   - S (the second half of the signature) must be below the group order L; S >= L is rejected rather than
//     reduced, so a signature has one encoding (RFC 8032 section 5.1.7 step 1, Wycheproof SignatureMalleability).
//   - The public key A must decode per RFC 8032 section 5.1.3: y < p (non-canonical y >= p is rejected), x^2 must
//     have a square root, and "x = 0 with the sign bit set" is rejected.
//   - A must not have small order (8A = identity). Key generation never produces such keys, and under one [k]A
//     takes at most eight values, so a single forged (R, S) verifies for a large share of all messages; they are
//     refused outright.
//   - The check is the cofactorless equation R = [S]B - [k]A, decided by comparing the canonical encoding of the
//     computed point with the 32 bytes of R. Comparing encodings rejects every non-canonical R (y >= p, or x = 0
//     with the sign bit set) and every R that is not a curve point, because a computed point only ever encodes
//     canonically. RFC 8032 allows either the cofactored or the cofactorless equation; cofactorless is what
//     RFC 8032's reference code and the common libraries (OpenSSL, libsodium, Go) do, so tokens they accept
//     are accepted here too.
//   - R must not have small order either (checked on the computed point once it matches): an honest signer's
//     R = [r]B is never of small order, and accepting it only helps crafted signatures.
// This is the strict end of what RFC 8032 permits; anything Wycheproof labels "acceptable" is a leniency case and
// is rejected here.
//
// Everything is variable time: verification only touches public data (key, message, signature).

import {
  Fe, feNew, feOne, feZero, feCopy, feAdd, feSub, feNeg, feMul, feSq, feCarry, feInvert, feFromBytes, feToBytes,
  feBytesAreCanonical, feIsZero, feIsNegative, feSqrtRatio, feFromConstant,
} from "./field25519";
import { Sha512 } from "./sha2";

// ---------------------------------------------------------------------------------------------------------------
// Curve constants: -x^2 + y^2 = 1 + d x^2 y^2 over GF(p), d = -121665/121666. Little-endian canonical encodings,
// computed with big integers; the spec re-derives them (d * 121666 = -121665, D2 = 2d).

const D_BYTES: StaticArray<u8> = [
  0xa3, 0x78, 0x59, 0x13, 0xca, 0x4d, 0xeb, 0x75, 0xab, 0xd8, 0x41, 0x41, 0x4d, 0x0a, 0x70, 0x00,
  0x98, 0xe8, 0x79, 0x77, 0x79, 0x40, 0xc7, 0x8c, 0x73, 0xfe, 0x6f, 0x2b, 0xee, 0x6c, 0x03, 0x52,
];
const D2_BYTES: StaticArray<u8> = [
  0x59, 0xf1, 0xb2, 0x26, 0x94, 0x9b, 0xd6, 0xeb, 0x56, 0xb1, 0x83, 0x82, 0x9a, 0x14, 0xe0, 0x00,
  0x30, 0xd1, 0xf3, 0xee, 0xf2, 0x80, 0x8e, 0x19, 0xe7, 0xfc, 0xdf, 0x56, 0xdc, 0xd9, 0x06, 0x24,
];
/** d, the curve constant. Read-only. */
export const ED_D: Fe = feFromConstant(D_BYTES);
/** 2d, used by the addition formula. Read-only. */
export const ED_D2: Fe = feFromConstant(D2_BYTES);

// The base point B: y = 4/5 with x even ("positive"), RFC 8032 section 5.1.
const BASE_ENCODING: StaticArray<u8> = [
  0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
  0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
];

// The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian bytes and 32-bit words.
const L_BYTES: StaticArray<u8> = [
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];
const L_WORDS: StaticArray<u32> = [0x5cf5d3ed, 0x5812631a, 0xa2f79cd6, 0x14def9de, 0, 0, 0, 0x10000000, 0];

// ---------------------------------------------------------------------------------------------------------------
// Points.
//
// Extended coordinates (Hisil, Wong, Carter, Dawson 2008): (X : Y : Z : T) with x = X/Z, y = Y/Z, x*y = T/Z.
// All four are carried field elements. The unified addition and the doubling below are complete on this curve
// (a = -1 is a square mod p and d is not), so there are no special cases such as P + P or P + identity.

class Point {
  X: Fe = feNew();
  Y: Fe = feNew();
  Z: Fe = feNew();
  T: Fe = feNew();
}

// A point prepared as the right-hand operand of additions: (Y + X, Y - X, 2Z, 2dT). The first three are loose,
// 2dT is carried; each is a valid feMul operand.
class Cached {
  ypx: Fe = feNew();
  ymx: Fe = feNew();
  z2: Fe = feNew();
  t2d: Fe = feNew();
}

// The four values E, F, G, H that both formulas end with; the result is (EF : GH : FG : EH). Keeping them
// separate lets a doubling that is followed by another doubling skip the product for T. All four are loose.
class Completed {
  E: Fe = feNew();
  F: Fe = feNew();
  G: Fe = feNew();
  H: Fe = feNew();
}

function setIdentity(p: Point): void {
  feZero(p.X);
  feOne(p.Y);
  feOne(p.Z);
  feZero(p.T);
}

function toCached(out: Cached, p: Point): void {
  feAdd(out.ypx, p.Y, p.X);
  feSub(out.ymx, p.Y, p.X);
  feAdd(out.z2, p.Z, p.Z);
  feMul(out.t2d, p.T, ED_D2);
}

// out = EF, GH, FG and, when withT, EH. T is needed only when the next operation is an addition.
function fromCompleted(out: Point, c: Completed, withT: bool): void {
  feMul(out.X, c.E, c.F);
  feMul(out.Y, c.G, c.H);
  feMul(out.Z, c.F, c.G);
  if (withT) feMul(out.T, c.E, c.H);
}

const DA = feNew();
const DB = feNew();
const DC = feNew();

// 2P ("dbl-2008-hwcd" with a = -1), reading only X, Y, Z. With A = X^2, B = Y^2, C = 2Z^2 the textbook values are
// E = (X+Y)^2 - A - B, G = B - A, F = G - C, H = -A - B; negating all four leaves the products EF, GH, FG, EH
// unchanged and saves negations:  E = A + B - (X+Y)^2,  G = A - B,  F = A - B + 2Z^2,  H = A + B.
function pointDouble(out: Completed, p: Point): void {
  feSq(DA, p.X);
  feSq(DB, p.Y);
  feSq(DC, p.Z);
  feAdd(out.H, DA, DB); //             H = A + B (loose)
  feAdd(out.E, p.X, p.Y);
  feSq(out.E, out.E); //               (X+Y)^2
  feSub(out.E, out.H, out.E); //       E = A + B - (X+Y)^2 (loose: a + b - c)
  feSub(out.G, DA, DB); //             G = A - B (loose)
  feAdd(out.F, out.G, DC);
  feAdd(out.F, out.F, DC); //          F = A - B + 2 Z^2: four terms, so carry it back
  feCarry(out.F);
}

const AA = feNew();
const AB = feNew();
const AC = feNew();
const AD = feNew();

// P + Q, or P - Q when negate ("add-2008-hwcd-3" with k = 2d). With Q cached:
//   A = (Y1 - X1)(Y2 - X2), B = (Y1 + X1)(Y2 + X2), C = T1 * 2d T2, D = Z1 * 2 Z2,
//   E = B - A, F = D - C, G = D + C, H = B + A.
// -Q = (-X2, Y2, Z2, -T2) swaps Y2 + X2 with Y2 - X2 and negates C, which swaps F and G.
function pointAdd(out: Completed, p: Point, q: Cached, negate: bool): void {
  feSub(AA, p.Y, p.X);
  feAdd(AB, p.Y, p.X);
  if (negate) {
    feMul(AA, AA, q.ypx);
    feMul(AB, AB, q.ymx);
  } else {
    feMul(AA, AA, q.ymx);
    feMul(AB, AB, q.ypx);
  }
  feMul(AC, p.T, q.t2d);
  feMul(AD, p.Z, q.z2);
  feSub(out.E, AB, AA);
  feAdd(out.H, AB, AA);
  if (negate) {
    feAdd(out.F, AD, AC);
    feSub(out.G, AD, AC);
  } else {
    feSub(out.F, AD, AC);
    feAdd(out.G, AD, AC);
  }
}

const U = feNew();
const V = feNew();
const Y2 = feNew();

/**
 * Decodes a 32-byte point encoding at src[offset..) into out (RFC 8032 section 5.1.3). Returns false when y >= p,
 * when (y^2 - 1) / (d y^2 + 1) has no square root, or when x = 0 but the sign bit is set.
 */
function decodePoint(out: Point, src: Uint8Array, offset: i32): bool {
  if (!feBytesAreCanonical(src, offset)) return false;
  const sign = (src[offset + 31] >> 7) != 0;
  feFromBytes(out.Y, src, offset);
  feOne(out.Z);
  feSq(Y2, out.Y);
  feSub(U, Y2, out.Z); //              u = y^2 - 1
  feMul(V, Y2, ED_D);
  feAdd(V, V, out.Z); //               v = d y^2 + 1 (never 0: -1/d is not a square)
  if (!feSqrtRatio(out.X, U, V)) return false;
  if (feIsZero(out.X)) {
    if (sign) return false;
  } else if (feIsNegative(out.X) != sign) {
    feNeg(out.X, out.X);
    feCarry(out.X);
  }
  feMul(out.T, out.X, out.Y);
  return true;
}

const ENC_ZI = feNew();
const ENC_X = feNew();
const ENC_Y = feNew();

/** Writes the canonical encoding of p to dst[offset..offset+32): y little-endian, bit 255 = sign of x. */
function encodePoint(dst: Uint8Array, offset: i32, p: Point): void {
  feInvert(ENC_ZI, p.Z);
  feMul(ENC_X, p.X, ENC_ZI);
  feMul(ENC_Y, p.Y, ENC_ZI);
  feToBytes(dst, offset, ENC_Y);
  if (feIsNegative(ENC_X)) dst[offset + 31] |= 0x80;
}

const SMALL_P = new Point();
const SMALL_C = new Completed();

// True when 8P is the identity, i.e. P is one of the eight points of small order. The group has order 8L, so 8P
// lies in the prime-order subgroup, whose only point with x = 0 is the identity: checking X = 0 suffices.
function hasSmallOrder(p: Point): bool {
  pointDouble(SMALL_C, p);
  fromCompleted(SMALL_P, SMALL_C, false);
  pointDouble(SMALL_C, SMALL_P);
  fromCompleted(SMALL_P, SMALL_C, false);
  pointDouble(SMALL_C, SMALL_P);
  fromCompleted(SMALL_P, SMALL_C, false);
  return feIsZero(SMALL_P.X);
}

// ---------------------------------------------------------------------------------------------------------------
// Scalars mod L.

/** True when the 32 little-endian bytes at src[offset..) encode an integer below L. */
function scalarIsCanonical(src: Uint8Array, offset: i32): bool {
  for (let i = 31; i >= 0; i--) {
    const a = src[offset + i];
    const b = unchecked(L_BYTES[i]);
    if (a != b) return a < b;
  }
  return false; // equal to L
}

const RED = new StaticArray<u32>(9);

/**
 * out[0..32) = the 64-byte little-endian integer h mod L.
 *
 * Horner's rule a byte at a time from the top: r = 256 r + byte, then subtract q L with q = floor(r / 2^252).
 * Writing r = q 2^252 + lo with lo < 2^252 and L = 2^252 + c (c < 2^125), r - q L = lo - q c; since r < 2^261,
 * q < 2^9, so q c < 2^134 and the difference lies in (-L, L). One conditional addition of L then gives r in
 * [0, L) again. r fits in nine 32-bit words throughout.
 */
function reduceWide(out: Uint8Array, h: Uint8Array): void {
  for (let i = 0; i < 9; i++) unchecked((RED[i] = 0));
  for (let byteIndex = 63; byteIndex >= 0; byteIndex--) {
    let carry = u64(h[byteIndex]);
    for (let i = 0; i < 9; i++) {
      const v = (u64(unchecked(RED[i])) << 8) | carry;
      unchecked((RED[i] = u32(v)));
      carry = v >> 32;
    }
    const q = i64((unchecked(RED[7]) >>> 28) | (unchecked(RED[8]) << 4));
    let borrow: i64 = 0;
    for (let i = 0; i < 9; i++) {
      const v = i64(unchecked(RED[i])) - q * i64(unchecked(L_WORDS[i])) + borrow;
      unchecked((RED[i] = u32(v)));
      borrow = v >> 32; // floor division by 2^32
    }
    if (borrow < 0) {
      // Negative (two's complement over nine words): add L back; the carry out of the top word is the sign.
      let c: u64 = 0;
      for (let i = 0; i < 9; i++) {
        const v = u64(unchecked(RED[i])) + u64(unchecked(L_WORDS[i])) + c;
        unchecked((RED[i] = u32(v)));
        c = v >> 32;
      }
    }
  }
  for (let i = 0; i < 8; i++) {
    const w = unchecked(RED[i]);
    out[4 * i] = u8(w);
    out[4 * i + 1] = u8(w >> 8);
    out[4 * i + 2] = u8(w >> 16);
    out[4 * i + 3] = u8(w >> 24);
  }
}

// Reads n <= 8 bits of the 32-byte little-endian scalar at src[offset..) starting at bit `bit`; bits past 255
// read as zero.
function scalarBits(src: Uint8Array, offset: i32, bit: i32, n: i32): i32 {
  const byte = bit >> 3;
  let v: i32 = byte < 32 ? i32(src[offset + byte]) : 0;
  if (byte + 1 < 32) v |= i32(src[offset + byte + 1]) << 8;
  return (v >> (bit & 7)) & ((1 << n) - 1);
}

/**
 * Width-w NAF of a scalar below 2^253: out[i] is the signed digit at bit i, either 0 or odd with
 * |digit| < 2^(w-1), and at least w - 1 zeros follow every non-zero digit, so a double-and-add loop does one
 * addition per ~(w + 1) bits using a table of the 2^(w-2) odd multiples.
 *
 * Scanning up with a carry c (0 or 1) that is still owed at the current bit: when bit + c is even the digit is 0
 * (if both are 1 the carry simply moves up). Otherwise the next w bits plus c form an odd value in [1, 2^w); from
 * 2^(w-1) up it is taken as value - 2^w with a carry of 1 into bit i + w. A carry can only arise when bit
 * i + w - 1 <= 252 was set, so every carry is settled by bit 253 and 256 digit slots suffice.
 */
function recodeWnaf(out: StaticArray<i8>, src: Uint8Array, offset: i32, w: i32): void {
  for (let i = 0; i < 256; i++) unchecked((out[i] = 0));
  let carry = 0;
  let i = 0;
  while (i < 256) {
    if (scalarBits(src, offset, i, 1) == carry) {
      i++;
      continue;
    }
    let word = scalarBits(src, offset, i, w) + carry;
    carry = (word >> (w - 1)) & 1;
    word -= carry << w;
    unchecked((out[i] = i8(word)));
    i += w;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// [S]B - [k]A.

// Window widths. B's table is built once and reused, so it can be wide; A changes per call, so its table must be
// cheap to build (7 additions for w = 5).
const WINDOW_B = 8;
const WINDOW_A = 5;

const baseTable = new StaticArray<Cached>(1 << (WINDOW_B - 2));
const keyTable = new StaticArray<Cached>(1 << (WINDOW_A - 2));
for (let i = 0; i < baseTable.length; i++) baseTable[i] = new Cached();
for (let i = 0; i < keyTable.length; i++) keyTable[i] = new Cached();
let baseTableReady = false;

const TABLE_P = new Point();
const TABLE_C = new Completed();
const TABLE_STEP = new Cached();

// table[i] = (2i + 1) P, for the odd multiples a width-w NAF digit selects.
function buildOddMultiples(table: StaticArray<Cached>, p: Point): void {
  toCached(unchecked(table[0]), p);
  pointDouble(TABLE_C, p);
  fromCompleted(TABLE_P, TABLE_C, true);
  toCached(TABLE_STEP, TABLE_P); //     2P
  feCopy(TABLE_P.X, p.X);
  feCopy(TABLE_P.Y, p.Y);
  feCopy(TABLE_P.Z, p.Z);
  feCopy(TABLE_P.T, p.T);
  for (let i = 1; i < table.length; i++) {
    pointAdd(TABLE_C, TABLE_P, TABLE_STEP, false);
    fromCompleted(TABLE_P, TABLE_C, true);
    toCached(unchecked(table[i]), TABLE_P);
  }
}

const basePoint = new Point();

function ensureBaseTable(): void {
  if (baseTableReady) return;
  const enc = new Uint8Array(32);
  for (let i = 0; i < 32; i++) enc[i] = BASE_ENCODING[i];
  // The constant is a valid encoding; the spec checks B's order and encoding.
  decodePoint(basePoint, enc, 0);
  buildOddMultiples(baseTable, basePoint);
  baseTableReady = true;
}

const nafS = new StaticArray<i8>(256);
const nafK = new StaticArray<i8>(256);
const LOOP_C = new Completed();

// out = [s]B + [k]P for 32-byte little-endian scalars below 2^253 (Straus' method: one shared doubling chain,
// each scalar in width-w NAF against its own table of odd multiples). P arrives in keyTable already.
function doubleScalarMul(out: Point, s: Uint8Array, sOffset: i32, k: Uint8Array): void {
  recodeWnaf(nafS, s, sOffset, WINDOW_B);
  recodeWnaf(nafK, k, 0, WINDOW_A);
  let top = 255;
  while (top >= 0 && unchecked(nafS[top]) == 0 && unchecked(nafK[top]) == 0) top--;
  setIdentity(out);
  for (let i = top; i >= 0; i--) {
    pointDouble(LOOP_C, out);
    const ds = i32(unchecked(nafS[i]));
    const dk = i32(unchecked(nafK[i]));
    fromCompleted(out, LOOP_C, ds != 0 || dk != 0);
    if (ds != 0) {
      pointAdd(LOOP_C, out, unchecked(baseTable[(ds < 0 ? -ds : ds) >> 1]), ds < 0);
      fromCompleted(out, LOOP_C, dk != 0);
    }
    if (dk != 0) {
      pointAdd(LOOP_C, out, unchecked(keyTable[(dk < 0 ? -dk : dk) >> 1]), dk < 0);
      fromCompleted(out, LOOP_C, false);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Verification.

const hasher = new Sha512();
const keyPoint = new Point();
const resultPoint = new Point();
const kBytes = new Uint8Array(32);
const encoded = new Uint8Array(32);
let lastError = "";

function fail(reason: string): bool {
  lastError = reason;
  return false;
}

/** Why the last ed25519Verify or ed25519PublicKeyIsValid call returned false ("" after a success). */
export function ed25519LastError(): string {
  return lastError;
}

// Decodes publicKey into keyPoint and applies the key rules of the file comment.
function loadPublicKey(publicKey: Uint8Array): bool {
  if (publicKey.length != 32) return fail("public key must be 32 bytes");
  if (!decodePoint(keyPoint, publicKey, 0)) return fail("public key is not a valid point encoding");
  if (hasSmallOrder(keyPoint)) return fail("public key has small order");
  return true;
}

/**
 * True when publicKey is an Ed25519 public key this module accepts: 32 bytes, a canonical encoding of a curve
 * point, and not of small order. Lets configuration code refuse a bad JWK up front.
 */
export function ed25519PublicKeyIsValid(publicKey: Uint8Array): bool {
  if (!loadPublicKey(publicKey)) return false;
  lastError = "";
  return true;
}

/**
 * Verifies an Ed25519 signature (RFC 8032 section 5.1.7, pure Ed25519 without context or prehash) of msg under
 * publicKey. Returns false, with the reason in ed25519LastError(), for malformed input or a wrong signature; see
 * the file comment for exactly which encodings are refused.
 */
export function ed25519Verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): bool {
  // Byte-level checks first: they are free, while decoding the key costs a square root.
  if (publicKey.length != 32) return fail("public key must be 32 bytes");
  if (sig.length != 64) return fail("signature must be 64 bytes");
  if (!scalarIsCanonical(sig, 32)) return fail("S is not below the group order");
  // An early answer for a malformed R; the encoding comparison below would refuse it anyway.
  if (!feBytesAreCanonical(sig, 0)) return fail("R is not canonically encoded");
  if (!loadPublicKey(publicKey)) return false;

  // k = SHA-512(R || A || M) mod L
  hasher.reset();
  hasher.updateRange(sig, 0, 32);
  hasher.update(publicKey);
  hasher.update(msg);
  reduceWide(kBytes, hasher.digest());

  // R' = [S]B + [k](-A); accept iff encode(R') == R.
  feNeg(keyPoint.X, keyPoint.X);
  feCarry(keyPoint.X);
  feNeg(keyPoint.T, keyPoint.T);
  feCarry(keyPoint.T);
  buildOddMultiples(keyTable, keyPoint);
  ensureBaseTable();
  doubleScalarMul(resultPoint, sig, 32, kBytes);
  encodePoint(encoded, 0, resultPoint);
  for (let i = 0; i < 32; i++) {
    if (encoded[i] != sig[i]) return fail("signature does not match");
  }
  if (hasSmallOrder(resultPoint)) return fail("R has small order");
  lastError = "";
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// Internals exposed for the specs only (not part of the verification API).

/** [s]B for a 32-byte little-endian scalar below 2^253, encoded. Test support. */
export function ed25519ScalarMultBaseForTest(s: Uint8Array): Uint8Array {
  ensureBaseTable();
  // k = 0 with an arbitrary key table: no key digits are ever used.
  const zero = new Uint8Array(32);
  doubleScalarMul(resultPoint, s, 0, zero);
  const out = new Uint8Array(32);
  encodePoint(out, 0, resultPoint);
  return out;
}

/** The 64-byte little-endian integer h mod L, as 32 bytes. Test support. */
export function ed25519ReduceForTest(h: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  reduceWide(out, h);
  return out;
}

/** Decodes then re-encodes a point; null when decoding fails. Test support. */
export function ed25519RoundTripForTest(enc: Uint8Array): Uint8Array | null {
  if (enc.length != 32 || !decodePoint(resultPoint, enc, 0)) return null;
  const out = new Uint8Array(32);
  encodePoint(out, 0, resultPoint);
  return out;
}
