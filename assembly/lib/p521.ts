// Arithmetic in the P-521 prime field, p = 2^521 - 1 (a Mersenne prime).
//
// An element is 17 little-endian u32 limbs at a memory address (544 bits, the top limb holding 9 bits), always
// fully reduced into [0, p); outputs may alias inputs; nothing allocates. The product is formed row by row into
// a 34-word buffer; reduction uses 2^521 = 1 (mod p): the bits above 521 are folded back onto the low 521 bits.
// Unlike p256.ts/p384.ts the loops are not unrolled: ES512 is rare, and the loops keep this file short.

const LIMBS: i32 = 17;
/** Bits of the top limb that belong to a field element (521 = 16 * 32 + 9). */
const TOP_BITS: u32 = 9;
const TOP_MASK: u32 = (1 << TOP_BITS) - 1;

// The double-width product of the last mul/sqr (34 words) and the high half it folds back (17 words).
const wide: usize = memory.data(34 * 4);
const high: usize = memory.data(LIMBS * 4);

@inline function ld(a: usize, i: i32): u32 {
  return load<u32>(a + (<usize>i << 2));
}

@inline function st(a: usize, i: i32, v: u32): void {
  store<u32>(a + (<usize>i << 2), v);
}

/** o = a + b as 17-limb numbers (no reduction); the sum fits because both are below 2^522. */
function addLimbs(o: usize, a: usize, b: usize): void {
  let c: u64 = 0;
  for (let i = 0; i < LIMBS; i++) {
    c += <u64>ld(a, i) + <u64>ld(b, i);
    st(o, i, <u32>c);
    c >>= 32;
  }
}

/**
 * Reduces a 17-limb value below 2^522 into [0, p): fold the bits above 521 onto the bottom (twice covers the
 * carry a fold can produce), then map p itself to 0.
 */
function settle(o: usize): void {
  for (let round = 0; round < 2; round++) {
    const top = ld(o, LIMBS - 1) >>> TOP_BITS;
    if (top == 0) break;
    st(o, LIMBS - 1, ld(o, LIMBS - 1) & TOP_MASK);
    let c = <u64>top;
    for (let i = 0; i < LIMBS && c != 0; i++) {
      c += <u64>ld(o, i);
      st(o, i, <u32>c);
      c >>= 32;
    }
  }
  // p = 2^521 - 1 is all ones: the only unreduced value left.
  let ones = ld(o, LIMBS - 1) == TOP_MASK;
  for (let i = 0; i < LIMBS - 1 && ones; i++) ones = ld(o, i) == 0xffffffff;
  if (ones) for (let i = 0; i < LIMBS; i++) st(o, i, 0);
}

/** o = wide mod p, for the 1042-bit product in `wide`. */
function reduceWide(o: usize): void {
  // high = wide >> 521: word i takes bits 9.. of word 16 + i and the low 9 bits of the word above it.
  for (let i = 0; i < LIMBS; i++) {
    const above = 16 + i + 1 < 34 ? ld(wide, 16 + i + 1) : 0;
    st(high, i, (ld(wide, 16 + i) >>> TOP_BITS) | (above << (32 - TOP_BITS)));
  }
  st(wide, LIMBS - 1, ld(wide, LIMBS - 1) & TOP_MASK); // the low 521 bits stay in wide[0..16]
  addLimbs(o, wide, high);
  settle(o);
}

/** o = a * b mod p. */
export function p521Mul(o: usize, a: usize, b: usize): void {
  for (let i = 0; i < 34; i++) st(wide, i, 0);
  for (let i = 0; i < LIMBS; i++) {
    const ai = <u64>ld(a, i);
    let c: u64 = 0;
    // (2^32 - 1)^2 + 2 (2^32 - 1) = 2^64 - 1: the row step cannot overflow.
    for (let j = 0; j < LIMBS; j++) {
      c += ai * <u64>ld(b, j) + <u64>ld(wide, i + j);
      st(wide, i + j, <u32>c);
      c >>= 32;
    }
    st(wide, i + LIMBS, <u32>c);
  }
  reduceWide(o);
}

/** o = a^2 mod p. */
export function p521Sqr(o: usize, a: usize): void {
  p521Mul(o, a, a);
}

/** o = a + b mod p. */
export function p521Add(o: usize, a: usize, b: usize): void {
  addLimbs(o, a, b);
  settle(o);
}

/** o = a - b mod p: on a borrow, adding p = 2^521 - 1 is subtracting 1 and dropping the bits above 521. */
export function p521Sub(o: usize, a: usize, b: usize): void {
  let c: i64 = 0;
  for (let i = 0; i < LIMBS; i++) {
    c += <i64>ld(a, i) - <i64>ld(b, i);
    st(o, i, <u32>c);
    c >>= 32;
  }
  if (c == 0) return;
  // o holds a - b + 2^544; subtract 1, then keep the low 521 bits.
  let borrow: i64 = -1;
  for (let i = 0; i < LIMBS && borrow != 0; i++) {
    borrow += <i64>ld(o, i);
    st(o, i, <u32>borrow);
    borrow >>= 32;
  }
  st(o, LIMBS - 1, ld(o, LIMBS - 1) & TOP_MASK);
}
