// Arithmetic in the P-256 prime field, p = 2^256 - 2^224 + 2^192 + 2^96 - 1.
//
// An element is 8 little-endian u32 limbs at a memory address (callers keep them in StaticArray<u32> scratch
// buffers, so nothing here allocates). Inputs and outputs are always fully reduced into [0, p); outputs may alias
// inputs. Products are formed column by column with fully unrolled code: each 32x32 partial product is split into
// its low and high halves, which are summed separately in u64 so no carry chain runs through the inner
// multiply-adds. The 512-bit product is then reduced with the special form of p (FIPS 186-5 / SP 800-186
// "fast reduction"): the high words fold onto the low ones as a fixed signed sum of words. Addition and
// subtraction are unrolled too: in the point formulas they are as frequent as the products.

// The double-width product of the last mul/sqr; 16 words.
const wide: usize = memory.data(64);
const M: u64 = 0xffffffff;
const LOW: i64 = 0xffffffff;

/** o = a * b mod p. */
export function p256Mul(o: usize, a: usize, b: usize): void {
  const a0 = <u64>load<u32>(a), a1 = <u64>load<u32>(a, 4), a2 = <u64>load<u32>(a, 8), a3 = <u64>load<u32>(a, 12);
  const a4 = <u64>load<u32>(a, 16), a5 = <u64>load<u32>(a, 20), a6 = <u64>load<u32>(a, 24), a7 = <u64>load<u32>(a, 28);
  const b0 = <u64>load<u32>(b), b1 = <u64>load<u32>(b, 4), b2 = <u64>load<u32>(b, 8), b3 = <u64>load<u32>(b, 12);
  const b4 = <u64>load<u32>(b, 16), b5 = <u64>load<u32>(b, 20), b6 = <u64>load<u32>(b, 24), b7 = <u64>load<u32>(b, 28);
  const w = wide;
  let lo: u64 = 0, hi: u64 = 0, pr: u64 = 0, carry: u64 = 0;
  // column 0
  lo = carry & M; hi = carry >> 32;
  pr = a0 * b0; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 0); carry = hi + (lo >> 32);
  // column 1
  lo = carry & M; hi = carry >> 32;
  pr = a0 * b1; lo += pr & M; hi += pr >> 32;
  pr = a1 * b0; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 4); carry = hi + (lo >> 32);
  // column 2
  lo = carry & M; hi = carry >> 32;
  pr = a0 * b2; lo += pr & M; hi += pr >> 32;
  pr = a1 * b1; lo += pr & M; hi += pr >> 32;
  pr = a2 * b0; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 8); carry = hi + (lo >> 32);
  // column 3
  lo = carry & M; hi = carry >> 32;
  pr = a0 * b3; lo += pr & M; hi += pr >> 32;
  pr = a1 * b2; lo += pr & M; hi += pr >> 32;
  pr = a2 * b1; lo += pr & M; hi += pr >> 32;
  pr = a3 * b0; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 12); carry = hi + (lo >> 32);
  // column 4
  lo = carry & M; hi = carry >> 32;
  pr = a0 * b4; lo += pr & M; hi += pr >> 32;
  pr = a1 * b3; lo += pr & M; hi += pr >> 32;
  pr = a2 * b2; lo += pr & M; hi += pr >> 32;
  pr = a3 * b1; lo += pr & M; hi += pr >> 32;
  pr = a4 * b0; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 16); carry = hi + (lo >> 32);
  // column 5
  lo = carry & M; hi = carry >> 32;
  pr = a0 * b5; lo += pr & M; hi += pr >> 32;
  pr = a1 * b4; lo += pr & M; hi += pr >> 32;
  pr = a2 * b3; lo += pr & M; hi += pr >> 32;
  pr = a3 * b2; lo += pr & M; hi += pr >> 32;
  pr = a4 * b1; lo += pr & M; hi += pr >> 32;
  pr = a5 * b0; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 20); carry = hi + (lo >> 32);
  // column 6
  lo = carry & M; hi = carry >> 32;
  pr = a0 * b6; lo += pr & M; hi += pr >> 32;
  pr = a1 * b5; lo += pr & M; hi += pr >> 32;
  pr = a2 * b4; lo += pr & M; hi += pr >> 32;
  pr = a3 * b3; lo += pr & M; hi += pr >> 32;
  pr = a4 * b2; lo += pr & M; hi += pr >> 32;
  pr = a5 * b1; lo += pr & M; hi += pr >> 32;
  pr = a6 * b0; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 24); carry = hi + (lo >> 32);
  // column 7
  lo = carry & M; hi = carry >> 32;
  pr = a0 * b7; lo += pr & M; hi += pr >> 32;
  pr = a1 * b6; lo += pr & M; hi += pr >> 32;
  pr = a2 * b5; lo += pr & M; hi += pr >> 32;
  pr = a3 * b4; lo += pr & M; hi += pr >> 32;
  pr = a4 * b3; lo += pr & M; hi += pr >> 32;
  pr = a5 * b2; lo += pr & M; hi += pr >> 32;
  pr = a6 * b1; lo += pr & M; hi += pr >> 32;
  pr = a7 * b0; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 28); carry = hi + (lo >> 32);
  // column 8
  lo = carry & M; hi = carry >> 32;
  pr = a1 * b7; lo += pr & M; hi += pr >> 32;
  pr = a2 * b6; lo += pr & M; hi += pr >> 32;
  pr = a3 * b5; lo += pr & M; hi += pr >> 32;
  pr = a4 * b4; lo += pr & M; hi += pr >> 32;
  pr = a5 * b3; lo += pr & M; hi += pr >> 32;
  pr = a6 * b2; lo += pr & M; hi += pr >> 32;
  pr = a7 * b1; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 32); carry = hi + (lo >> 32);
  // column 9
  lo = carry & M; hi = carry >> 32;
  pr = a2 * b7; lo += pr & M; hi += pr >> 32;
  pr = a3 * b6; lo += pr & M; hi += pr >> 32;
  pr = a4 * b5; lo += pr & M; hi += pr >> 32;
  pr = a5 * b4; lo += pr & M; hi += pr >> 32;
  pr = a6 * b3; lo += pr & M; hi += pr >> 32;
  pr = a7 * b2; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 36); carry = hi + (lo >> 32);
  // column 10
  lo = carry & M; hi = carry >> 32;
  pr = a3 * b7; lo += pr & M; hi += pr >> 32;
  pr = a4 * b6; lo += pr & M; hi += pr >> 32;
  pr = a5 * b5; lo += pr & M; hi += pr >> 32;
  pr = a6 * b4; lo += pr & M; hi += pr >> 32;
  pr = a7 * b3; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 40); carry = hi + (lo >> 32);
  // column 11
  lo = carry & M; hi = carry >> 32;
  pr = a4 * b7; lo += pr & M; hi += pr >> 32;
  pr = a5 * b6; lo += pr & M; hi += pr >> 32;
  pr = a6 * b5; lo += pr & M; hi += pr >> 32;
  pr = a7 * b4; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 44); carry = hi + (lo >> 32);
  // column 12
  lo = carry & M; hi = carry >> 32;
  pr = a5 * b7; lo += pr & M; hi += pr >> 32;
  pr = a6 * b6; lo += pr & M; hi += pr >> 32;
  pr = a7 * b5; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 48); carry = hi + (lo >> 32);
  // column 13
  lo = carry & M; hi = carry >> 32;
  pr = a6 * b7; lo += pr & M; hi += pr >> 32;
  pr = a7 * b6; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 52); carry = hi + (lo >> 32);
  // column 14
  lo = carry & M; hi = carry >> 32;
  pr = a7 * b7; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 56); carry = hi + (lo >> 32);
  store<u32>(w, <u32>carry, 60);
  reduce(o);
}

/** o = a^2 mod p: the cross products a_i*a_j (i < j) are summed once and doubled, saving 28 multiplies. */
export function p256Sqr(o: usize, a: usize): void {
  const a0 = <u64>load<u32>(a), a1 = <u64>load<u32>(a, 4), a2 = <u64>load<u32>(a, 8), a3 = <u64>load<u32>(a, 12);
  const a4 = <u64>load<u32>(a, 16), a5 = <u64>load<u32>(a, 20), a6 = <u64>load<u32>(a, 24), a7 = <u64>load<u32>(a, 28);
  const w = wide;
  let lo: u64 = 0, hi: u64 = 0, pr: u64 = 0, carry: u64 = 0;
  // column 0
  lo = carry & M; hi = carry >> 32;
  pr = a0 * a0; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 0); carry = hi + (lo >> 32);
  // column 1
  lo = 0; hi = 0;
  pr = a0 * a1; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  store<u32>(w, <u32>lo, 4); carry = hi + (lo >> 32);
  // column 2
  lo = 0; hi = 0;
  pr = a0 * a2; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  pr = a1 * a1; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 8); carry = hi + (lo >> 32);
  // column 3
  lo = 0; hi = 0;
  pr = a0 * a3; lo += pr & M; hi += pr >> 32;
  pr = a1 * a2; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  store<u32>(w, <u32>lo, 12); carry = hi + (lo >> 32);
  // column 4
  lo = 0; hi = 0;
  pr = a0 * a4; lo += pr & M; hi += pr >> 32;
  pr = a1 * a3; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  pr = a2 * a2; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 16); carry = hi + (lo >> 32);
  // column 5
  lo = 0; hi = 0;
  pr = a0 * a5; lo += pr & M; hi += pr >> 32;
  pr = a1 * a4; lo += pr & M; hi += pr >> 32;
  pr = a2 * a3; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  store<u32>(w, <u32>lo, 20); carry = hi + (lo >> 32);
  // column 6
  lo = 0; hi = 0;
  pr = a0 * a6; lo += pr & M; hi += pr >> 32;
  pr = a1 * a5; lo += pr & M; hi += pr >> 32;
  pr = a2 * a4; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  pr = a3 * a3; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 24); carry = hi + (lo >> 32);
  // column 7
  lo = 0; hi = 0;
  pr = a0 * a7; lo += pr & M; hi += pr >> 32;
  pr = a1 * a6; lo += pr & M; hi += pr >> 32;
  pr = a2 * a5; lo += pr & M; hi += pr >> 32;
  pr = a3 * a4; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  store<u32>(w, <u32>lo, 28); carry = hi + (lo >> 32);
  // column 8
  lo = 0; hi = 0;
  pr = a1 * a7; lo += pr & M; hi += pr >> 32;
  pr = a2 * a6; lo += pr & M; hi += pr >> 32;
  pr = a3 * a5; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  pr = a4 * a4; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 32); carry = hi + (lo >> 32);
  // column 9
  lo = 0; hi = 0;
  pr = a2 * a7; lo += pr & M; hi += pr >> 32;
  pr = a3 * a6; lo += pr & M; hi += pr >> 32;
  pr = a4 * a5; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  store<u32>(w, <u32>lo, 36); carry = hi + (lo >> 32);
  // column 10
  lo = 0; hi = 0;
  pr = a3 * a7; lo += pr & M; hi += pr >> 32;
  pr = a4 * a6; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  pr = a5 * a5; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 40); carry = hi + (lo >> 32);
  // column 11
  lo = 0; hi = 0;
  pr = a4 * a7; lo += pr & M; hi += pr >> 32;
  pr = a5 * a6; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  store<u32>(w, <u32>lo, 44); carry = hi + (lo >> 32);
  // column 12
  lo = 0; hi = 0;
  pr = a5 * a7; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  pr = a6 * a6; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 48); carry = hi + (lo >> 32);
  // column 13
  lo = 0; hi = 0;
  pr = a6 * a7; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  store<u32>(w, <u32>lo, 52); carry = hi + (lo >> 32);
  // column 14
  lo = carry & M; hi = carry >> 32;
  pr = a7 * a7; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 56); carry = hi + (lo >> 32);
  store<u32>(w, <u32>carry, 60);
  reduce(o);
}

@inline function word(i: i32): i64 {
  return <i64>load<u32>(wide + (<usize>i << 2));
}

// Reduces the 16-word value in `wide` (< p^2) into [0, p) at o.
//
// With c0..c15 the words of the product, FIPS 186 writes the residue as T + 2S1 + 2S2 + S3 + S4 - D1 - D2 - D3 - D4,
// each term an arrangement of the c_i; summing those terms word by word gives the signed sums below (each c_i
// with its total coefficient). The running i64 accumulator carries signed values between words, so the
// intermediate result stays within a few multiples of p and leaves a small signed carry above bit 256.
function reduce(o: usize): void {
  const c0 = word(0), c1 = word(1), c2 = word(2), c3 = word(3), c4 = word(4), c5 = word(5), c6 = word(6), c7 = word(7);
  const c8 = word(8), c9 = word(9), c10 = word(10), c11 = word(11);
  const c12 = word(12), c13 = word(13), c14 = word(14), c15 = word(15);
  let acc: i64 = c0 + c8 + c9 - c11 - c12 - c13 - c14;
  let r0 = acc & LOW; acc >>= 32;
  acc += c1 + c9 + c10 - c12 - c13 - c14 - c15;
  let r1 = acc & LOW; acc >>= 32;
  acc += c2 + c10 + c11 - c13 - c14 - c15;
  let r2 = acc & LOW; acc >>= 32;
  acc += c3 - c8 - c9 + 2 * c11 + 2 * c12 + c13 - c15;
  let r3 = acc & LOW; acc >>= 32;
  acc += c4 - c9 - c10 + 2 * c12 + 2 * c13 + c14;
  let r4 = acc & LOW; acc >>= 32;
  acc += c5 - c10 - c11 + 2 * c13 + 2 * c14 + c15;
  let r5 = acc & LOW; acc >>= 32;
  acc += c6 - c8 - c9 + c13 + 3 * c14 + 2 * c15;
  let r6 = acc & LOW; acc >>= 32;
  acc += c7 + c8 - c10 - c11 - c12 - c13 + 3 * c15;
  let r7 = acc & LOW; acc >>= 32;

  // Fold the signed carry c back in: c * 2^256 = c * (2^224 - 2^192 - 2^96 + 1) mod p. A fold leaves a carry
  // of at most one in magnitude, and the second fold of such a carry cannot carry again, so this loop runs at
  // most twice.
  while (acc != 0) {
    const c = acc;
    acc = r0 + c; r0 = acc & LOW; acc >>= 32;
    acc += r1; r1 = acc & LOW; acc >>= 32;
    acc += r2; r2 = acc & LOW; acc >>= 32;
    acc += r3 - c; r3 = acc & LOW; acc >>= 32;
    acc += r4; r4 = acc & LOW; acc >>= 32;
    acc += r5; r5 = acc & LOW; acc >>= 32;
    acc += r6 - c; r6 = acc & LOW; acc >>= 32;
    acc += r7 + c; r7 = acc & LOW; acc >>= 32;
  }

  // Now 0 <= r < 2^256 < 2p: subtract p once when that does not borrow.
  // p's words, low to high: ffffffff ffffffff ffffffff 0 0 0 1 ffffffff.
  let d: i64 = r0 - LOW; const s0 = d & LOW; d >>= 32;
  d += r1 - LOW; const s1 = d & LOW; d >>= 32;
  d += r2 - LOW; const s2 = d & LOW; d >>= 32;
  d += r3; const s3 = d & LOW; d >>= 32;
  d += r4; const s4 = d & LOW; d >>= 32;
  d += r5; const s5 = d & LOW; d >>= 32;
  d += r6 - 1; const s6 = d & LOW; d >>= 32;
  d += r7 - LOW; const s7 = d & LOW; d >>= 32;
  if (d == 0) {
    r0 = s0; r1 = s1; r2 = s2; r3 = s3; r4 = s4; r5 = s5; r6 = s6; r7 = s7;
  }
  store<u32>(o, <u32>r0); store<u32>(o, <u32>r1, 4); store<u32>(o, <u32>r2, 8); store<u32>(o, <u32>r3, 12);
  store<u32>(o, <u32>r4, 16); store<u32>(o, <u32>r5, 20); store<u32>(o, <u32>r6, 24); store<u32>(o, <u32>r7, 28);
}

// p's limbs, low to high, for the add/sub helpers below.
const P0: i64 = 0xffffffff, P1: i64 = 0xffffffff, P2: i64 = 0xffffffff, P3: i64 = 0, P4: i64 = 0, P5: i64 = 0;
const P6: i64 = 1, P7: i64 = 0xffffffff;

/** o = a + b mod p: the sum, and the sum minus p kept when that does not borrow (or the sum carried out). */
export function p256Add(o: usize, a: usize, b: usize): void {
  let acc: i64 = <i64>load<u32>(a) + <i64>load<u32>(b);
  let r0 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 4) + <i64>load<u32>(b, 4); let r1 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 8) + <i64>load<u32>(b, 8); let r2 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 12) + <i64>load<u32>(b, 12); let r3 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 16) + <i64>load<u32>(b, 16); let r4 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 20) + <i64>load<u32>(b, 20); let r5 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 24) + <i64>load<u32>(b, 24); let r6 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 28) + <i64>load<u32>(b, 28); let r7 = acc & LOW; acc >>= 32;
  let d: i64 = r0 - P0; const s0 = d & LOW; d >>= 32;
  d += r1 - P1; const s1 = d & LOW; d >>= 32;
  d += r2 - P2; const s2 = d & LOW; d >>= 32;
  d += r3 - P3; const s3 = d & LOW; d >>= 32;
  d += r4 - P4; const s4 = d & LOW; d >>= 32;
  d += r5 - P5; const s5 = d & LOW; d >>= 32;
  d += r6 - P6; const s6 = d & LOW; d >>= 32;
  d += r7 - P7; const s7 = d & LOW; d >>= 32;
  if (d + acc >= 0) {
    r0 = s0; r1 = s1; r2 = s2; r3 = s3; r4 = s4; r5 = s5; r6 = s6; r7 = s7;
  }
  store<u32>(o, <u32>r0); store<u32>(o, <u32>r1, 4); store<u32>(o, <u32>r2, 8); store<u32>(o, <u32>r3, 12);
  store<u32>(o, <u32>r4, 16); store<u32>(o, <u32>r5, 20); store<u32>(o, <u32>r6, 24); store<u32>(o, <u32>r7, 28);
}

/** o = a - b mod p: the difference, plus p when it borrowed. */
export function p256Sub(o: usize, a: usize, b: usize): void {
  let acc: i64 = <i64>load<u32>(a) - <i64>load<u32>(b);
  let r0 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 4) - <i64>load<u32>(b, 4); let r1 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 8) - <i64>load<u32>(b, 8); let r2 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 12) - <i64>load<u32>(b, 12); let r3 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 16) - <i64>load<u32>(b, 16); let r4 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 20) - <i64>load<u32>(b, 20); let r5 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 24) - <i64>load<u32>(b, 24); let r6 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 28) - <i64>load<u32>(b, 28); let r7 = acc & LOW; acc >>= 32;
  if (acc != 0) {
    acc = r0 + P0; r0 = acc & LOW; acc >>= 32;
    acc += r1 + P1; r1 = acc & LOW; acc >>= 32;
    acc += r2 + P2; r2 = acc & LOW; acc >>= 32;
    acc += r3 + P3; r3 = acc & LOW; acc >>= 32;
    acc += r4 + P4; r4 = acc & LOW; acc >>= 32;
    acc += r5 + P5; r5 = acc & LOW; acc >>= 32;
    acc += r6 + P6; r6 = acc & LOW; acc >>= 32;
    acc += r7 + P7; r7 = acc & LOW;
  }
  store<u32>(o, <u32>r0); store<u32>(o, <u32>r1, 4); store<u32>(o, <u32>r2, 8); store<u32>(o, <u32>r3, 12);
  store<u32>(o, <u32>r4, 16); store<u32>(o, <u32>r5, 20); store<u32>(o, <u32>r6, 24); store<u32>(o, <u32>r7, 28);
}
