// P-256 field arithmetic for ECDSA verification in a representation built for Wasm's 64-bit multiplier, and the
// point operations of the verification's double-scalar multiplication on top of it (ec.ts hands P-256's
// u1 G + u2 Q to this file and continues with the result).
//
// Why not the 8 x 32-bit limbs of p256.ts: a 32x32-bit product fills a u64, so every product there needs its low and
// high halves summed separately (five operations per product). Here an element is 9 digits of 29 bits: a product is
// below 2^58 and a column of up to nine of them fits an i64 as is, so a product costs a multiply and an add.
//
// Reduction is Montgomery's with R = 2^261: p = -1 mod 2^96, so -p^-1 = 1 mod 2^29 and each round's quotient digit
// is simply the column's low 29 bits; adding m p = m (2^256 - 2^224 + 2^192 + 2^96 - 1) touches four columns with
// shifted copies of m and clears the low one. Elements are kept in Montgomery form (x R mod p), so a product of two
// of them is again one.
//
// Representation invariant ("loose"): the value is in [0, 2^257), not necessarily below p, and its digits are signed
// 32-bit numbers in [-2^22, 2^29 + 2^25), digit 8 in [0, 2^25). Products leave normalized digits ([0, 2^29)) and a
// value below 2^253 + p. Sums, differences and small multiples are carried once and then fold the bits from 2^256 up
// back in (2^256 = 2^224 - 2^192 - 2^96 + 1 mod p), which nudges digits 0, 3, 6 and 7 slightly out of [0, 2^29):
// hence the signed range, which saves a second carry pass on the most frequent operations. Every product stays
// far inside i64: |digit| < 2^29.1, so a column of nine products is below 2^61.4. Zero tests and conversions out
// normalize and reduce fully.
//
// Everything here handles public data only (a signature check), so the code branches on values freely.

import { recodeWnaf } from "./wnaf";

const MASK: i64 = (1 << 29) - 1;
const MASK24: i64 = (1 << 24) - 1;
/** Bytes of one element (9 digits stored as u32) and of one Jacobian point (X, Y, Z). */
export const ELEMENT_BYTES: usize = 36;
const POINT_BYTES: usize = 3 * ELEMENT_BYTES;

// Constants (filled by p256FieldSetUp): p, 4p (for subtraction), R^2 mod p (into Montgomery form), 1 and R mod p.
const P: usize = memory.data(36);
const P4: usize = memory.data(36);
const RR: usize = memory.data(36);
const ONE_PLAIN: usize = memory.data(36);
const ONE: usize = memory.data(36);
const ZERO: usize = memory.data(36);
// Scratch for the trial subtraction of p (canonicalize).
const CANON: usize = memory.data(36);

/** Digit i of a, sign-extended (loose digits may be slightly negative). */
@inline function digit(a: usize, i: i32): i64 {
  return <i64>load<i32>(a + (<usize>i << 2));
}

/** Carries nine signed 64-bit column values into 29-bit digits at o (the value is known to be non-negative). */
@inline function storeCarried(o: usize, c0: i64, c1: i64, c2: i64, c3: i64, c4: i64, c5: i64, c6: i64, c7: i64, c8: i64): void {
  c1 += c0 >> 29; c2 += c1 >> 29; c3 += c2 >> 29; c4 += c3 >> 29; c5 += c4 >> 29; c6 += c5 >> 29; c7 += c6 >> 29;
  c8 += c7 >> 29;
  store<u32>(o, <u32>(c0 & MASK)); store<u32>(o, <u32>(c1 & MASK), 4); store<u32>(o, <u32>(c2 & MASK), 8);
  store<u32>(o, <u32>(c3 & MASK), 12); store<u32>(o, <u32>(c4 & MASK), 16); store<u32>(o, <u32>(c5 & MASK), 20);
  store<u32>(o, <u32>(c6 & MASK), 24); store<u32>(o, <u32>(c7 & MASK), 28); store<u32>(o, <u32>c8, 32);
}

/** Montgomery reduction of the 17 column sums of a product, result (loose) into o. */
@inline function reduce(o: usize, c0: i64, c1: i64, c2: i64, c3: i64, c4: i64, c5: i64, c6: i64, c7: i64, c8: i64, c9: i64, c10: i64, c11: i64, c12: i64, c13: i64, c14: i64, c15: i64, c16: i64): void {
  let m: i64;
  m = c0 & MASK; c3 += m << 9; c6 += m << 18; c7 -= m << 21; c8 += m << 24; c1 += c0 >> 29;
  m = c1 & MASK; c4 += m << 9; c7 += m << 18; c8 -= m << 21; c9 += m << 24; c2 += c1 >> 29;
  m = c2 & MASK; c5 += m << 9; c8 += m << 18; c9 -= m << 21; c10 += m << 24; c3 += c2 >> 29;
  m = c3 & MASK; c6 += m << 9; c9 += m << 18; c10 -= m << 21; c11 += m << 24; c4 += c3 >> 29;
  m = c4 & MASK; c7 += m << 9; c10 += m << 18; c11 -= m << 21; c12 += m << 24; c5 += c4 >> 29;
  m = c5 & MASK; c8 += m << 9; c11 += m << 18; c12 -= m << 21; c13 += m << 24; c6 += c5 >> 29;
  m = c6 & MASK; c9 += m << 9; c12 += m << 18; c13 -= m << 21; c14 += m << 24; c7 += c6 >> 29;
  m = c7 & MASK; c10 += m << 9; c13 += m << 18; c14 -= m << 21; c15 += m << 24; c8 += c7 >> 29;
  m = c8 & MASK; c11 += m << 9; c14 += m << 18; c15 -= m << 21; c16 += m << 24; c9 += c8 >> 29;
  storeCarried(o, c9, c10, c11, c12, c13, c14, c15, c16, 0);
}

/** o = a b / R mod p (loose). o may alias a or b. */
export function fieldMul(o: usize, a: usize, b: usize): void {
  const a0 = <i64>load<i32>(a), a1 = <i64>load<i32>(a, 4), a2 = <i64>load<i32>(a, 8), a3 = <i64>load<i32>(a, 12);
  const a4 = <i64>load<i32>(a, 16), a5 = <i64>load<i32>(a, 20), a6 = <i64>load<i32>(a, 24), a7 = <i64>load<i32>(a, 28);
  const a8 = <i64>load<i32>(a, 32);
  const b0 = <i64>load<i32>(b), b1 = <i64>load<i32>(b, 4), b2 = <i64>load<i32>(b, 8), b3 = <i64>load<i32>(b, 12);
  const b4 = <i64>load<i32>(b, 16), b5 = <i64>load<i32>(b, 20), b6 = <i64>load<i32>(b, 24), b7 = <i64>load<i32>(b, 28);
  const b8 = <i64>load<i32>(b, 32);
  const c0: i64 = a0 * b0;
  const c1: i64 = a0 * b1 + a1 * b0;
  const c2: i64 = a0 * b2 + a1 * b1 + a2 * b0;
  const c3: i64 = a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0;
  const c4: i64 = a0 * b4 + a1 * b3 + a2 * b2 + a3 * b1 + a4 * b0;
  const c5: i64 = a0 * b5 + a1 * b4 + a2 * b3 + a3 * b2 + a4 * b1 + a5 * b0;
  const c6: i64 = a0 * b6 + a1 * b5 + a2 * b4 + a3 * b3 + a4 * b2 + a5 * b1 + a6 * b0;
  const c7: i64 = a0 * b7 + a1 * b6 + a2 * b5 + a3 * b4 + a4 * b3 + a5 * b2 + a6 * b1 + a7 * b0;
  const c8: i64 = a0 * b8 + a1 * b7 + a2 * b6 + a3 * b5 + a4 * b4 + a5 * b3 + a6 * b2 + a7 * b1 + a8 * b0;
  const c9: i64 = a1 * b8 + a2 * b7 + a3 * b6 + a4 * b5 + a5 * b4 + a6 * b3 + a7 * b2 + a8 * b1;
  const c10: i64 = a2 * b8 + a3 * b7 + a4 * b6 + a5 * b5 + a6 * b4 + a7 * b3 + a8 * b2;
  const c11: i64 = a3 * b8 + a4 * b7 + a5 * b6 + a6 * b5 + a7 * b4 + a8 * b3;
  const c12: i64 = a4 * b8 + a5 * b7 + a6 * b6 + a7 * b5 + a8 * b4;
  const c13: i64 = a5 * b8 + a6 * b7 + a7 * b6 + a8 * b5;
  const c14: i64 = a6 * b8 + a7 * b7 + a8 * b6;
  const c15: i64 = a7 * b8 + a8 * b7;
  const c16: i64 = a8 * b8;
  reduce(o, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16);
}

/** o = a^2 / R mod p (loose): each cross product once, against the doubled digit. o may alias a. */
export function fieldSqr(o: usize, a: usize): void {
  const a0 = <i64>load<i32>(a), a1 = <i64>load<i32>(a, 4), a2 = <i64>load<i32>(a, 8), a3 = <i64>load<i32>(a, 12);
  const a4 = <i64>load<i32>(a, 16), a5 = <i64>load<i32>(a, 20), a6 = <i64>load<i32>(a, 24), a7 = <i64>load<i32>(a, 28);
  const a8 = <i64>load<i32>(a, 32);
  const d0 = a0 << 1, d1 = a1 << 1, d2 = a2 << 1, d3 = a3 << 1, d4 = a4 << 1, d5 = a5 << 1, d6 = a6 << 1, d7 = a7 << 1;
  const c0: i64 = a0 * a0;
  const c1: i64 = d0 * a1;
  const c2: i64 = d0 * a2 + a1 * a1;
  const c3: i64 = d0 * a3 + d1 * a2;
  const c4: i64 = d0 * a4 + d1 * a3 + a2 * a2;
  const c5: i64 = d0 * a5 + d1 * a4 + d2 * a3;
  const c6: i64 = d0 * a6 + d1 * a5 + d2 * a4 + a3 * a3;
  const c7: i64 = d0 * a7 + d1 * a6 + d2 * a5 + d3 * a4;
  const c8: i64 = d0 * a8 + d1 * a7 + d2 * a6 + d3 * a5 + a4 * a4;
  const c9: i64 = d1 * a8 + d2 * a7 + d3 * a6 + d4 * a5;
  const c10: i64 = d2 * a8 + d3 * a7 + d4 * a6 + a5 * a5;
  const c11: i64 = d3 * a8 + d4 * a7 + d5 * a6;
  const c12: i64 = d4 * a8 + d5 * a7 + a6 * a6;
  const c13: i64 = d5 * a8 + d6 * a7;
  const c14: i64 = d6 * a8 + a7 * a7;
  const c15: i64 = d7 * a8;
  const c16: i64 = a8 * a8;
  reduce(o, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16);
}

/**
 * Signed digits s0..s8 (each well inside i64) of a value in [0, 2^260) -> loose digits at o: one carry pass, then the
 * multiple of 2^256 (top, at most 15) folds back in as top * (2^224 - 2^192 - 2^96 + 1), which leaves the value
 * below 2^256 + 2^228 and digits 0, 3, 6, 7 within the loose range without another carry pass.
 */
@inline function normalize(o: usize, s0: i64, s1: i64, s2: i64, s3: i64, s4: i64, s5: i64, s6: i64, s7: i64, s8: i64): void {
  s1 += s0 >> 29; s0 &= MASK; s2 += s1 >> 29; s1 &= MASK; s3 += s2 >> 29; s2 &= MASK; s4 += s3 >> 29; s3 &= MASK;
  s5 += s4 >> 29; s4 &= MASK; s6 += s5 >> 29; s5 &= MASK; s7 += s6 >> 29; s6 &= MASK; s8 += s7 >> 29; s7 &= MASK;
  const top = s8 >> 24; // non-negative, as the value is
  s8 &= MASK24;
  s0 += top; s3 -= top << 9; s6 -= top << 18; s7 += top << 21;
  store<i32>(o, <i32>s0); store<i32>(o, <i32>s1, 4); store<i32>(o, <i32>s2, 8); store<i32>(o, <i32>s3, 12);
  store<i32>(o, <i32>s4, 16); store<i32>(o, <i32>s5, 20); store<i32>(o, <i32>s6, 24); store<i32>(o, <i32>s7, 28);
  store<i32>(o, <i32>s8, 32);
}

/** o = a + b mod p (loose). */
export function fieldAdd(o: usize, a: usize, b: usize): void {
  normalize(o,
    digit(a, 0) + digit(b, 0), digit(a, 1) + digit(b, 1), digit(a, 2) + digit(b, 2), digit(a, 3) + digit(b, 3),
    digit(a, 4) + digit(b, 4), digit(a, 5) + digit(b, 5), digit(a, 6) + digit(b, 6), digit(a, 7) + digit(b, 7),
    digit(a, 8) + digit(b, 8));
}

/** o = a - b mod p (loose), as a - b + 4p: 4p exceeds any loose b, so the value stays positive. */
export function fieldSub(o: usize, a: usize, b: usize): void {
  normalize(o,
    digit(a, 0) - digit(b, 0) + digit(P4, 0), digit(a, 1) - digit(b, 1) + digit(P4, 1),
    digit(a, 2) - digit(b, 2) + digit(P4, 2), digit(a, 3) - digit(b, 3) + digit(P4, 3),
    digit(a, 4) - digit(b, 4) + digit(P4, 4), digit(a, 5) - digit(b, 5) + digit(P4, 5),
    digit(a, 6) - digit(b, 6) + digit(P4, 6), digit(a, 7) - digit(b, 7) + digit(P4, 7),
    digit(a, 8) - digit(b, 8) + digit(P4, 8));
}

/** o = k a mod p (loose) for a small k (2 to 8): one pass instead of a chain of additions. */
export function fieldMulSmall(o: usize, a: usize, k: i64): void {
  normalize(o,
    digit(a, 0) * k, digit(a, 1) * k, digit(a, 2) * k, digit(a, 3) * k, digit(a, 4) * k, digit(a, 5) * k,
    digit(a, 6) * k, digit(a, 7) * k, digit(a, 8) * k);
}

/** x -= p in place when x >= p (digits normalized); returns whether it subtracted. */
function subtractP(x: usize): bool {
  let borrow: i64 = 0;
  for (let i = 0; i < 9; i++) {
    borrow += digit(x, i) - digit(P, i);
    store<u32>(CANON + (<usize>i << 2), <u32>(borrow & MASK));
    borrow >>= 29; // arithmetic: 0 or -1
  }
  if (borrow < 0) return false;
  memory.copy(x, CANON, ELEMENT_BYTES);
  return true;
}

/** a reduced into [0, p) in place: digits carried into [0, 2^29), then p subtracted at most twice (2^257 < 3p). */
function canonicalize(a: usize): void {
  let carry: i64 = 0;
  for (let i = 0; i < 8; i++) {
    carry += digit(a, i);
    store<i32>(a + (<usize>i << 2), <i32>(carry & MASK));
    carry >>= 29;
  }
  store<i32>(a, <i32>(carry + digit(a, 8)), 32);
  if (subtractP(a)) subtractP(a);
}

/** Whether a = 0 mod p (a loose value is then 0, p or 2p). */
export function fieldIsZero(a: usize): bool {
  // The value's low 29 bits are those of 0, p (all ones) or 2p (ones then a zero); a cheap first filter.
  const low = digit(a, 0) & MASK;
  if (low != 0 && low != MASK && low != MASK - 1) return false;
  const copy = SPARE;
  memory.copy(copy, a, ELEMENT_BYTES);
  canonicalize(copy);
  let any: i64 = 0;
  for (let i = 0; i < 9; i++) any |= digit(copy, i);
  return any == 0;
}

/** Repacks 8 little-endian u32 limbs into 9 digits of 29 bits. */
function digitsFromLimbs(o: usize, limbs: usize): void {
  let buffer: u64 = 0, held: u64 = 0, next: usize = 0;
  for (let i: usize = 0; i < 9; i++) {
    if (held < 29 && next < 8) {
      buffer |= <u64>load<u32>(limbs + (next << 2)) << held;
      held += 32;
      next++;
    }
    store<u32>(o + (i << 2), <u32>(buffer & <u64>MASK));
    buffer >>= 29;
    held = held > 29 ? held - 29 : 0;
  }
}

/** Repacks 9 digits of 29 bits (a value below 2^256) into 8 little-endian u32 limbs. */
function limbsFromDigits(o: usize, a: usize): void {
  let buffer: u64 = 0, held: u64 = 0, next: usize = 0;
  for (let i: usize = 0; i < 8; i++) {
    while (held < 32 && next < 9) {
      buffer |= <u64>load<u32>(a + (next << 2)) << held;
      held += 29;
      next++;
    }
    store<u32>(o + (i << 2), <u32>buffer);
    buffer >>= 32;
    held = held > 32 ? held - 32 : 0;
  }
}

/** o = the Montgomery form of the field element given as 8 u32 limbs (below p). */
export function fieldFromLimbs(o: usize, limbs: usize): void {
  digitsFromLimbs(SPARE, limbs);
  fieldMul(o, SPARE, RR);
}

/** Writes the element a (Montgomery form) as 8 u32 limbs, fully reduced into [0, p). */
export function fieldToLimbs(limbs: usize, a: usize): void {
  fieldMul(SPARE, a, ONE_PLAIN);
  canonicalize(SPARE);
  limbsFromDigits(limbs, SPARE);
}

let ready = false;

/**
 * Fills the constants once: p and 4p in digits, R^2 mod p by doubling 1 522 times (start-up only), 1 and R mod p.
 * p256SetBasePoint calls it; the field functions assume it ran.
 */
export function p256FieldSetUp(): void {
  if (ready) return;
  ready = true;
  // p's u32 limbs, low to high: ffffffff ffffffff ffffffff 0 0 0 1 ffffffff
  const limbs = SPARE_LIMBS;
  store<u32>(limbs, 0xffffffff); store<u32>(limbs, 0xffffffff, 4); store<u32>(limbs, 0xffffffff, 8);
  store<u32>(limbs, 0, 12); store<u32>(limbs, 0, 16); store<u32>(limbs, 0, 20); store<u32>(limbs, 1, 24);
  store<u32>(limbs, 0xffffffff, 28);
  digitsFromLimbs(P, limbs);
  let carry: i64 = 0;
  for (let i = 0; i < 9; i++) {
    carry += digit(P, i) << 2;
    store<u32>(P4 + (<usize>i << 2), <u32>(i < 8 ? carry & MASK : carry));
    carry >>= 29;
  }
  memory.fill(ONE_PLAIN, 0, ELEMENT_BYTES);
  store<u32>(ONE_PLAIN, 1);
  memory.copy(RR, ONE_PLAIN, ELEMENT_BYTES);
  for (let i = 0; i < 522; i++) {
    fieldAdd(RR, RR, RR);
    canonicalize(RR);
  }
  fieldMul(ONE, ONE_PLAIN, RR);
  memory.fill(ZERO, 0, ELEMENT_BYTES);
}

// ---------------------------------------------------------------------------------------------------------------
// Points: Jacobian (X, Y, Z) for the affine (X/Z^2, Y/Z^3), Z = 0 at infinity; the same formulas as ec.ts.

const T0: usize = memory.data(36);
const T1: usize = memory.data(36);
const T2: usize = memory.data(36);
const T3: usize = memory.data(36);
const T4: usize = memory.data(36);
const T5: usize = memory.data(36);
const T6: usize = memory.data(36);
const T7: usize = memory.data(36);
const T8: usize = memory.data(36);
const SPARE: usize = memory.data(36);
const SPARE_LIMBS: usize = memory.data(32);

/**
 * Split scalars. u1 and u2 (below 2^256) are cut into PARTS pieces of PART_BITS bits, u = sum u_j 2^(j PART_BITS),
 * so u G = sum u_j (2^(j PART_BITS) G), and the same for Q: the main loop then doubles PART_BITS times instead of
 * 256, adding from one table per piece and point. Those tables hold the odd multiples P, 3P, ..., 63P (signed
 * digits of width WINDOW) of each shifted point, affine, so every addition in the loop is a mixed one. G's are built
 * once; Q's when a key is first seen, kept for the last KEY_SLOTS keys (keys repeat across requests), replaced in
 * turn. A new key costs the doublings to its shifted points and the four tables, about three verifications' worth;
 * more than KEY_SLOTS P-256 keys in constant rotation would pay that on every verification. Four pieces take the
 * doublings from 256 to 64 at the same number of additions; more would add tables faster than they save work.
 */
const PARTS: i32 = 4;
const PART_BITS: i32 = 256 / PARTS;
const PART_LIMBS: i32 = PART_BITS / 32;
const WINDOW: i32 = 7;
const ENTRIES: i32 = 1 << (WINDOW - 2);
const TABLE_BYTES: usize = <usize>ENTRIES * 2 * ELEMENT_BYTES;
const G_TABLES: usize = memory.data(<i32>TABLE_BYTES * PARTS);
const KEY_SLOTS: i32 = 8;
/** A key slot: the key's x and y as given (8 u32 limbs each), then its PARTS tables. */
const SLOT_BYTES: usize = 64 + TABLE_BYTES * PARTS;
const KEY_CACHE: usize = memory.data(<i32>SLOT_BYTES * KEY_SLOTS);
let keySlotsUsed = 0;
let nextKeySlot = 0;
/** The signed digits of u1's pieces, then u2's, PART_BITS + 1 each. */
const DIGIT_STRIDE: usize = <usize>PART_BITS + 1;
const DIGITS: usize = memory.data(<i32>DIGIT_STRIDE * 2 * PARTS);
/** Scratch while tables are built: the shifted point, all Jacobian multiples, their running Z products, twice it. */
const BASE: usize = memory.data(<i32>POINT_BYTES);
const JACOBIAN_POINTS: usize = memory.data(<i32>POINT_BYTES * ENTRIES * PARTS);
const Z_PRODUCTS: usize = memory.data(<i32>ELEMENT_BYTES * ENTRIES * PARTS);
const TWICE_BASE: usize = memory.data(<i32>POINT_BYTES);
const INVERSE: usize = memory.data(36);
/** The running point. */
const ACC: usize = memory.data(<i32>POINT_BYTES);

/** pt = 2 pt (a = -3: 3X^2 - 3Z^4 = 3 (X - Z^2)(X + Z^2)). No P-256 point has Y = 0, so only infinity is special. */
function pointDouble(pt: usize): void {
  const X = pt, Y = pt + ELEMENT_BYTES, Z = pt + 2 * ELEMENT_BYTES;
  if (fieldIsZero(Z)) return;
  const delta = T0, gamma = T1, beta = T2, alpha = T3, u = T4, v = T5;
  fieldSqr(delta, Z);
  fieldSqr(gamma, Y);
  fieldMul(beta, X, gamma);
  fieldSub(u, X, delta);
  fieldAdd(v, X, delta);
  fieldMul(alpha, u, v);
  fieldMulSmall(alpha, alpha, 3);
  fieldMul(u, Y, Z); // Z3 = 2 Y Z, while Y is still the input
  fieldMulSmall(Z, u, 2);
  fieldMulSmall(beta, beta, 4);
  fieldSqr(u, alpha);
  fieldMulSmall(v, beta, 2);
  fieldSub(X, u, v); // X3 = alpha^2 - 8 beta
  fieldSub(u, beta, X);
  fieldMul(u, alpha, u);
  fieldSqr(v, gamma);
  fieldMulSmall(v, v, 8);
  fieldSub(Y, u, v); // Y3 = alpha (4 beta - X3) - 8 gamma^2
}

/** pt = pt + (x2, +-y2) for an affine addend, with ec.ts's special cases (infinity, equal or opposite points). */
function pointAddAffine(pt: usize, x2: usize, y2In: usize, negate: bool): void {
  const X = pt, Y = pt + ELEMENT_BYTES, Z = pt + 2 * ELEMENT_BYTES;
  let y2 = y2In;
  if (negate) {
    fieldSub(T8, ZERO, y2In);
    y2 = T8;
  }
  if (fieldIsZero(Z)) {
    memory.copy(X, x2, ELEMENT_BYTES);
    memory.copy(Y, y2, ELEMENT_BYTES);
    memory.copy(Z, ONE, ELEMENT_BYTES);
    return;
  }
  const zz = T0, u2 = T1, s2 = T2, h = T3, rr = T4, hh = T5, hhh = T6, v = T7;
  fieldSqr(zz, Z);
  fieldMul(u2, x2, zz);
  fieldMul(s2, Z, zz);
  fieldMul(s2, y2, s2);
  fieldSub(h, u2, X);
  fieldSub(rr, s2, Y);
  if (fieldIsZero(h)) {
    if (fieldIsZero(rr)) pointDouble(pt);
    else memory.fill(Z, 0, ELEMENT_BYTES);
    return;
  }
  fieldSqr(hh, h);
  fieldMul(hhh, h, hh);
  fieldMul(v, X, hh);
  fieldMul(Z, Z, h);
  fieldSqr(X, rr);
  fieldSub(X, X, hhh);
  fieldSub(X, X, v);
  fieldSub(X, X, v); // X3 = r^2 - H^3 - 2V
  fieldSub(v, v, X);
  fieldMul(v, rr, v);
  fieldMul(hhh, Y, hhh);
  fieldSub(Y, v, hhh); // Y3 = r (V - X3) - Y1 H^3
}

/** pt = pt + (+-q) for Jacobian points, with the same special cases plus q at infinity. */
function pointAdd(pt: usize, q: usize, negate: bool): void {
  const X1 = pt, Y1 = pt + ELEMENT_BYTES, Z1 = pt + 2 * ELEMENT_BYTES;
  const X2 = q, Y2In = q + ELEMENT_BYTES, Z2 = q + 2 * ELEMENT_BYTES;
  if (fieldIsZero(Z2)) return;
  let Y2 = Y2In;
  if (negate) {
    fieldSub(T8, ZERO, Y2In);
    Y2 = T8;
  }
  if (fieldIsZero(Z1)) {
    memory.copy(X1, X2, ELEMENT_BYTES);
    memory.copy(Y1, Y2, ELEMENT_BYTES);
    memory.copy(Z1, Z2, ELEMENT_BYTES);
    return;
  }
  const z1z1 = T0, z2z2 = T1, u1 = T2, u2 = T3, s1 = T4, s2 = T5;
  fieldSqr(z1z1, Z1);
  fieldSqr(z2z2, Z2);
  fieldMul(u1, X1, z2z2);
  fieldMul(u2, X2, z1z1);
  fieldMul(s1, Z2, z2z2);
  fieldMul(s1, Y1, s1); // Y1 Z2^3
  fieldMul(s2, Z1, z1z1);
  fieldMul(s2, Y2, s2); // Y2 Z1^3
  const h = u2, rr = s2;
  fieldSub(h, u2, u1);
  fieldSub(rr, s2, s1);
  if (fieldIsZero(h)) {
    if (fieldIsZero(rr)) pointDouble(pt);
    else memory.fill(Z1, 0, ELEMENT_BYTES);
    return;
  }
  const hh = T0, hhh = T1, v = T6;
  fieldSqr(hh, h);
  fieldMul(hhh, h, hh);
  fieldMul(v, u1, hh);
  fieldMul(Z1, Z1, Z2);
  fieldMul(Z1, Z1, h);
  fieldSqr(X1, rr);
  fieldSub(X1, X1, hhh);
  fieldSub(X1, X1, v);
  fieldSub(X1, X1, v);
  fieldSub(v, v, X1);
  fieldMul(v, rr, v);
  fieldMul(hhh, s1, hhh);
  fieldSub(Y1, v, hhh);
}

/** o = a^-1 mod p (Montgomery form in and out) as a^(p-2), bit by bit: only run when a key's table is built. */
function fieldInvert(o: usize, a: usize): void {
  // p - 2 in u32 limbs, high to low
  const exponent: StaticArray<u32> = [0xffffffff, 1, 0, 0, 0, 0xffffffff, 0xffffffff, 0xfffffffd];
  const acc = INVERSE;
  memory.copy(acc, ONE, ELEMENT_BYTES);
  for (let word = 0; word < 8; word++) {
    const bits = unchecked(exponent[word]);
    for (let bit = 31; bit >= 0; bit--) {
      fieldSqr(acc, acc);
      if (((bits >>> <u32>bit) & 1) != 0) fieldMul(acc, acc, a);
    }
  }
  memory.copy(o, acc, ELEMENT_BYTES);
}

/** Whether the key slot at `slot` holds the key (qx, qy) (u32 limbs). */
function slotHolds(slot: usize, qx32: usize, qy32: usize): bool {
  for (let i: usize = 0; i < 32; i += 4) {
    if (load<u32>(slot + i) != load<u32>(qx32 + i) || load<u32>(slot + 32 + i) != load<u32>(qy32 + i)) return false;
  }
  return true;
}

/** The Jacobian odd multiples P, 3P, ..., of the point P at BASE (not infinity) into `points`, by adding 2P. */
function buildOddMultiples(points: usize): void {
  memory.copy(points, BASE, POINT_BYTES);
  memory.copy(TWICE_BASE, BASE, POINT_BYTES);
  pointDouble(TWICE_BASE);
  for (let i = 1; i < ENTRIES; i++) {
    const entry = points + <usize>i * POINT_BYTES;
    memory.copy(entry, entry - POINT_BYTES, POINT_BYTES);
    pointAdd(entry, TWICE_BASE, false);
  }
}

/**
 * Writes the `count` Jacobian points at `points` in affine form (x, y) to `out`, with one inversion for all of
 * them (Montgomery's trick: invert the product of the Z's, then peel off one Z at a time). The points are odd
 * multiples kP with k < 64 of curve points (not infinity), none of them infinity as the group order is prime and
 * huge, so every Z is invertible.
 */
function batchToAffine(out: usize, points: usize, count: i32): void {
  const products = Z_PRODUCTS;
  memory.copy(products, points + 2 * ELEMENT_BYTES, ELEMENT_BYTES);
  for (let i = 1; i < count; i++) {
    const z = points + <usize>i * POINT_BYTES + 2 * ELEMENT_BYTES;
    fieldMul(products + <usize>i * ELEMENT_BYTES, products + <usize>(i - 1) * ELEMENT_BYTES, z);
  }
  const inverse = T0, zInverse = T1, zz = T2, zzz = T3;
  fieldInvert(inverse, products + <usize>(count - 1) * ELEMENT_BYTES); // 1 / (Z_0 ... Z_last)
  for (let i = count - 1; i >= 0; i--) {
    const point = points + <usize>i * POINT_BYTES;
    if (i > 0) {
      fieldMul(zInverse, inverse, products + <usize>(i - 1) * ELEMENT_BYTES); // 1 / Z_i
      fieldMul(inverse, inverse, point + 2 * ELEMENT_BYTES); // 1 / (Z_0 ... Z_(i-1))
    } else {
      memory.copy(zInverse, inverse, ELEMENT_BYTES);
    }
    fieldSqr(zz, zInverse);
    fieldMul(zzz, zz, zInverse);
    const entry = out + <usize>i * 2 * ELEMENT_BYTES;
    fieldMul(entry, point, zz);
    fieldMul(entry + ELEMENT_BYTES, point + ELEMENT_BYTES, zzz);
  }
}

/**
 * The PARTS tables of the affine point (x, y) (u32 limbs, a curve point): of P, 2^PART_BITS P, and so on, stored
 * one after the other, so all their entries are one run of points for batchToAffine.
 */
function buildShiftedTables(tables: usize, x32: usize, y32: usize): void {
  fieldFromLimbs(BASE, x32);
  fieldFromLimbs(BASE + ELEMENT_BYTES, y32);
  memory.copy(BASE + 2 * ELEMENT_BYTES, ONE, ELEMENT_BYTES);
  for (let part = 0; part < PARTS; part++) {
    if (part > 0) for (let i = 0; i < PART_BITS; i++) pointDouble(BASE);
    buildOddMultiples(JACOBIAN_POINTS + <usize>(part * ENTRIES) * POINT_BYTES);
  }
  batchToAffine(tables, JACOBIAN_POINTS, PARTS * ENTRIES);
}

/** Q's tables: from the key cache, or built into the next slot. */
function tablesOf(qx32: usize, qy32: usize): usize {
  for (let i = 0; i < keySlotsUsed; i++) {
    const slot = KEY_CACHE + <usize>i * SLOT_BYTES;
    if (slotHolds(slot, qx32, qy32)) return slot + 64;
  }
  const slot = KEY_CACHE + <usize>nextKeySlot * SLOT_BYTES;
  nextKeySlot = (nextKeySlot + 1) % KEY_SLOTS;
  if (keySlotsUsed < KEY_SLOTS) keySlotsUsed++;
  memory.copy(slot, qx32, 32);
  memory.copy(slot + 32, qy32, 32);
  buildShiftedTables(slot + 64, qx32, qy32);
  return slot + 64;
}

/** Builds G's tables from the base point (gx, gy) (u32 limbs). Called once, when the curve is built. */
export function p256SetBasePoint(gx32: usize, gy32: usize): void {
  p256FieldSetUp();
  buildShiftedTables(G_TABLES, gx32, gy32);
}

/** acc += (the odd multiple of a table given by the signed digit d); d = 0 adds nothing. */
@inline function addDigit(acc: usize, table: usize, d: i32): void {
  if (d != 0) {
    const entry = table + <usize>(abs(d) >> 1) * 2 * ELEMENT_BYTES;
    pointAddAffine(acc, entry, entry + ELEMENT_BYTES, d < 0);
  }
}

/**
 * out = u1 G + u2 Q as a Jacobian point in u32 limbs (X, Y, Z, 8 limbs each, fully reduced), for scalars u1, u2
 * below 2^256 (8 u32 limbs) and the affine curve point Q (u32 limbs). All pieces' signed-digit expansions are
 * evaluated over shared doublings ("Shamir's trick"); sums may pass through infinity or need a doubling, which
 * pointAddAffine handles.
 */
export function p256Combine(u1: usize, u2: usize, qx32: usize, qy32: usize, out32: usize): void {
  const qTables = tablesOf(qx32, qy32);
  let length = 0;
  for (let part = 0; part < PARTS; part++) {
    const offset = <usize>(part * PART_LIMBS) << 2;
    length = max(length, recodeWnaf(DIGITS + <usize>part * DIGIT_STRIDE, u1 + offset, PART_LIMBS, WINDOW));
    length = max(length, recodeWnaf(DIGITS + <usize>(PARTS + part) * DIGIT_STRIDE, u2 + offset, PART_LIMBS, WINDOW));
  }
  const acc = ACC;
  memory.fill(acc + 2 * ELEMENT_BYTES, 0, ELEMENT_BYTES); // infinity
  for (let i = length - 1; i >= 0; i--) {
    pointDouble(acc);
    for (let part = 0; part < PARTS; part++) {
      const table = <usize>part * TABLE_BYTES;
      addDigit(acc, G_TABLES + table, <i32>load<i8>(DIGITS + <usize>part * DIGIT_STRIDE + <usize>i));
      addDigit(acc, qTables + table, <i32>load<i8>(DIGITS + <usize>(PARTS + part) * DIGIT_STRIDE + <usize>i));
    }
  }
  fieldToLimbs(out32, acc);
  fieldToLimbs(out32 + 32, acc + ELEMENT_BYTES);
  fieldToLimbs(out32 + 64, acc + 2 * ELEMENT_BYTES);
}
