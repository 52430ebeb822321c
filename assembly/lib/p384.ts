// Arithmetic in the P-384 prime field, p = 2^384 - 2^128 - 2^96 + 2^32 - 1.
//
// Same scheme as p256.ts, with 12 limbs: an element is 12 little-endian u32 limbs at a memory address, always
// fully reduced into [0, p); outputs may alias inputs; nothing allocates. Products are formed column by column
// with unrolled code (each 32x32 partial product split into halves summed separately in u64), and the 768-bit
// product is reduced with the special form of p (FIPS 186 "fast reduction" for P-384). Addition and subtraction
// are unrolled as well.

// The double-width product of the last mul/sqr; 24 words.
const wide: usize = memory.data(96);
const M: u64 = 0xffffffff;
const LOW: i64 = 0xffffffff;

/** o = a * b mod p. */
export function p384Mul(o: usize, a: usize, b: usize): void {
  const a0 = <u64>load<u32>(a), a1 = <u64>load<u32>(a, 4), a2 = <u64>load<u32>(a, 8), a3 = <u64>load<u32>(a, 12);
  const a4 = <u64>load<u32>(a, 16), a5 = <u64>load<u32>(a, 20), a6 = <u64>load<u32>(a, 24), a7 = <u64>load<u32>(a, 28);
  const a8 = <u64>load<u32>(a, 32), a9 = <u64>load<u32>(a, 36), a10 = <u64>load<u32>(a, 40), a11 = <u64>load<u32>(a, 44);
  const b0 = <u64>load<u32>(b), b1 = <u64>load<u32>(b, 4), b2 = <u64>load<u32>(b, 8), b3 = <u64>load<u32>(b, 12);
  const b4 = <u64>load<u32>(b, 16), b5 = <u64>load<u32>(b, 20), b6 = <u64>load<u32>(b, 24), b7 = <u64>load<u32>(b, 28);
  const b8 = <u64>load<u32>(b, 32), b9 = <u64>load<u32>(b, 36), b10 = <u64>load<u32>(b, 40), b11 = <u64>load<u32>(b, 44);
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
  pr = a0 * b8; lo += pr & M; hi += pr >> 32;
  pr = a1 * b7; lo += pr & M; hi += pr >> 32;
  pr = a2 * b6; lo += pr & M; hi += pr >> 32;
  pr = a3 * b5; lo += pr & M; hi += pr >> 32;
  pr = a4 * b4; lo += pr & M; hi += pr >> 32;
  pr = a5 * b3; lo += pr & M; hi += pr >> 32;
  pr = a6 * b2; lo += pr & M; hi += pr >> 32;
  pr = a7 * b1; lo += pr & M; hi += pr >> 32;
  pr = a8 * b0; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 32); carry = hi + (lo >> 32);
  // column 9
  lo = carry & M; hi = carry >> 32;
  pr = a0 * b9; lo += pr & M; hi += pr >> 32;
  pr = a1 * b8; lo += pr & M; hi += pr >> 32;
  pr = a2 * b7; lo += pr & M; hi += pr >> 32;
  pr = a3 * b6; lo += pr & M; hi += pr >> 32;
  pr = a4 * b5; lo += pr & M; hi += pr >> 32;
  pr = a5 * b4; lo += pr & M; hi += pr >> 32;
  pr = a6 * b3; lo += pr & M; hi += pr >> 32;
  pr = a7 * b2; lo += pr & M; hi += pr >> 32;
  pr = a8 * b1; lo += pr & M; hi += pr >> 32;
  pr = a9 * b0; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 36); carry = hi + (lo >> 32);
  // column 10
  lo = carry & M; hi = carry >> 32;
  pr = a0 * b10; lo += pr & M; hi += pr >> 32;
  pr = a1 * b9; lo += pr & M; hi += pr >> 32;
  pr = a2 * b8; lo += pr & M; hi += pr >> 32;
  pr = a3 * b7; lo += pr & M; hi += pr >> 32;
  pr = a4 * b6; lo += pr & M; hi += pr >> 32;
  pr = a5 * b5; lo += pr & M; hi += pr >> 32;
  pr = a6 * b4; lo += pr & M; hi += pr >> 32;
  pr = a7 * b3; lo += pr & M; hi += pr >> 32;
  pr = a8 * b2; lo += pr & M; hi += pr >> 32;
  pr = a9 * b1; lo += pr & M; hi += pr >> 32;
  pr = a10 * b0; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 40); carry = hi + (lo >> 32);
  // column 11
  lo = carry & M; hi = carry >> 32;
  pr = a0 * b11; lo += pr & M; hi += pr >> 32;
  pr = a1 * b10; lo += pr & M; hi += pr >> 32;
  pr = a2 * b9; lo += pr & M; hi += pr >> 32;
  pr = a3 * b8; lo += pr & M; hi += pr >> 32;
  pr = a4 * b7; lo += pr & M; hi += pr >> 32;
  pr = a5 * b6; lo += pr & M; hi += pr >> 32;
  pr = a6 * b5; lo += pr & M; hi += pr >> 32;
  pr = a7 * b4; lo += pr & M; hi += pr >> 32;
  pr = a8 * b3; lo += pr & M; hi += pr >> 32;
  pr = a9 * b2; lo += pr & M; hi += pr >> 32;
  pr = a10 * b1; lo += pr & M; hi += pr >> 32;
  pr = a11 * b0; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 44); carry = hi + (lo >> 32);
  // column 12
  lo = carry & M; hi = carry >> 32;
  pr = a1 * b11; lo += pr & M; hi += pr >> 32;
  pr = a2 * b10; lo += pr & M; hi += pr >> 32;
  pr = a3 * b9; lo += pr & M; hi += pr >> 32;
  pr = a4 * b8; lo += pr & M; hi += pr >> 32;
  pr = a5 * b7; lo += pr & M; hi += pr >> 32;
  pr = a6 * b6; lo += pr & M; hi += pr >> 32;
  pr = a7 * b5; lo += pr & M; hi += pr >> 32;
  pr = a8 * b4; lo += pr & M; hi += pr >> 32;
  pr = a9 * b3; lo += pr & M; hi += pr >> 32;
  pr = a10 * b2; lo += pr & M; hi += pr >> 32;
  pr = a11 * b1; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 48); carry = hi + (lo >> 32);
  // column 13
  lo = carry & M; hi = carry >> 32;
  pr = a2 * b11; lo += pr & M; hi += pr >> 32;
  pr = a3 * b10; lo += pr & M; hi += pr >> 32;
  pr = a4 * b9; lo += pr & M; hi += pr >> 32;
  pr = a5 * b8; lo += pr & M; hi += pr >> 32;
  pr = a6 * b7; lo += pr & M; hi += pr >> 32;
  pr = a7 * b6; lo += pr & M; hi += pr >> 32;
  pr = a8 * b5; lo += pr & M; hi += pr >> 32;
  pr = a9 * b4; lo += pr & M; hi += pr >> 32;
  pr = a10 * b3; lo += pr & M; hi += pr >> 32;
  pr = a11 * b2; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 52); carry = hi + (lo >> 32);
  // column 14
  lo = carry & M; hi = carry >> 32;
  pr = a3 * b11; lo += pr & M; hi += pr >> 32;
  pr = a4 * b10; lo += pr & M; hi += pr >> 32;
  pr = a5 * b9; lo += pr & M; hi += pr >> 32;
  pr = a6 * b8; lo += pr & M; hi += pr >> 32;
  pr = a7 * b7; lo += pr & M; hi += pr >> 32;
  pr = a8 * b6; lo += pr & M; hi += pr >> 32;
  pr = a9 * b5; lo += pr & M; hi += pr >> 32;
  pr = a10 * b4; lo += pr & M; hi += pr >> 32;
  pr = a11 * b3; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 56); carry = hi + (lo >> 32);
  // column 15
  lo = carry & M; hi = carry >> 32;
  pr = a4 * b11; lo += pr & M; hi += pr >> 32;
  pr = a5 * b10; lo += pr & M; hi += pr >> 32;
  pr = a6 * b9; lo += pr & M; hi += pr >> 32;
  pr = a7 * b8; lo += pr & M; hi += pr >> 32;
  pr = a8 * b7; lo += pr & M; hi += pr >> 32;
  pr = a9 * b6; lo += pr & M; hi += pr >> 32;
  pr = a10 * b5; lo += pr & M; hi += pr >> 32;
  pr = a11 * b4; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 60); carry = hi + (lo >> 32);
  // column 16
  lo = carry & M; hi = carry >> 32;
  pr = a5 * b11; lo += pr & M; hi += pr >> 32;
  pr = a6 * b10; lo += pr & M; hi += pr >> 32;
  pr = a7 * b9; lo += pr & M; hi += pr >> 32;
  pr = a8 * b8; lo += pr & M; hi += pr >> 32;
  pr = a9 * b7; lo += pr & M; hi += pr >> 32;
  pr = a10 * b6; lo += pr & M; hi += pr >> 32;
  pr = a11 * b5; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 64); carry = hi + (lo >> 32);
  // column 17
  lo = carry & M; hi = carry >> 32;
  pr = a6 * b11; lo += pr & M; hi += pr >> 32;
  pr = a7 * b10; lo += pr & M; hi += pr >> 32;
  pr = a8 * b9; lo += pr & M; hi += pr >> 32;
  pr = a9 * b8; lo += pr & M; hi += pr >> 32;
  pr = a10 * b7; lo += pr & M; hi += pr >> 32;
  pr = a11 * b6; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 68); carry = hi + (lo >> 32);
  // column 18
  lo = carry & M; hi = carry >> 32;
  pr = a7 * b11; lo += pr & M; hi += pr >> 32;
  pr = a8 * b10; lo += pr & M; hi += pr >> 32;
  pr = a9 * b9; lo += pr & M; hi += pr >> 32;
  pr = a10 * b8; lo += pr & M; hi += pr >> 32;
  pr = a11 * b7; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 72); carry = hi + (lo >> 32);
  // column 19
  lo = carry & M; hi = carry >> 32;
  pr = a8 * b11; lo += pr & M; hi += pr >> 32;
  pr = a9 * b10; lo += pr & M; hi += pr >> 32;
  pr = a10 * b9; lo += pr & M; hi += pr >> 32;
  pr = a11 * b8; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 76); carry = hi + (lo >> 32);
  // column 20
  lo = carry & M; hi = carry >> 32;
  pr = a9 * b11; lo += pr & M; hi += pr >> 32;
  pr = a10 * b10; lo += pr & M; hi += pr >> 32;
  pr = a11 * b9; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 80); carry = hi + (lo >> 32);
  // column 21
  lo = carry & M; hi = carry >> 32;
  pr = a10 * b11; lo += pr & M; hi += pr >> 32;
  pr = a11 * b10; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 84); carry = hi + (lo >> 32);
  // column 22
  lo = carry & M; hi = carry >> 32;
  pr = a11 * b11; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 88); carry = hi + (lo >> 32);
  store<u32>(w, <u32>carry, 92);
  reduce(o);
}

/** o = a^2 mod p: the cross products a_i*a_j (i < j) are summed once and doubled, saving 66 multiplies. */
export function p384Sqr(o: usize, a: usize): void {
  const a0 = <u64>load<u32>(a), a1 = <u64>load<u32>(a, 4), a2 = <u64>load<u32>(a, 8), a3 = <u64>load<u32>(a, 12);
  const a4 = <u64>load<u32>(a, 16), a5 = <u64>load<u32>(a, 20), a6 = <u64>load<u32>(a, 24), a7 = <u64>load<u32>(a, 28);
  const a8 = <u64>load<u32>(a, 32), a9 = <u64>load<u32>(a, 36), a10 = <u64>load<u32>(a, 40), a11 = <u64>load<u32>(a, 44);
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
  pr = a0 * a8; lo += pr & M; hi += pr >> 32;
  pr = a1 * a7; lo += pr & M; hi += pr >> 32;
  pr = a2 * a6; lo += pr & M; hi += pr >> 32;
  pr = a3 * a5; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  pr = a4 * a4; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 32); carry = hi + (lo >> 32);
  // column 9
  lo = 0; hi = 0;
  pr = a0 * a9; lo += pr & M; hi += pr >> 32;
  pr = a1 * a8; lo += pr & M; hi += pr >> 32;
  pr = a2 * a7; lo += pr & M; hi += pr >> 32;
  pr = a3 * a6; lo += pr & M; hi += pr >> 32;
  pr = a4 * a5; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  store<u32>(w, <u32>lo, 36); carry = hi + (lo >> 32);
  // column 10
  lo = 0; hi = 0;
  pr = a0 * a10; lo += pr & M; hi += pr >> 32;
  pr = a1 * a9; lo += pr & M; hi += pr >> 32;
  pr = a2 * a8; lo += pr & M; hi += pr >> 32;
  pr = a3 * a7; lo += pr & M; hi += pr >> 32;
  pr = a4 * a6; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  pr = a5 * a5; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 40); carry = hi + (lo >> 32);
  // column 11
  lo = 0; hi = 0;
  pr = a0 * a11; lo += pr & M; hi += pr >> 32;
  pr = a1 * a10; lo += pr & M; hi += pr >> 32;
  pr = a2 * a9; lo += pr & M; hi += pr >> 32;
  pr = a3 * a8; lo += pr & M; hi += pr >> 32;
  pr = a4 * a7; lo += pr & M; hi += pr >> 32;
  pr = a5 * a6; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  store<u32>(w, <u32>lo, 44); carry = hi + (lo >> 32);
  // column 12
  lo = 0; hi = 0;
  pr = a1 * a11; lo += pr & M; hi += pr >> 32;
  pr = a2 * a10; lo += pr & M; hi += pr >> 32;
  pr = a3 * a9; lo += pr & M; hi += pr >> 32;
  pr = a4 * a8; lo += pr & M; hi += pr >> 32;
  pr = a5 * a7; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  pr = a6 * a6; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 48); carry = hi + (lo >> 32);
  // column 13
  lo = 0; hi = 0;
  pr = a2 * a11; lo += pr & M; hi += pr >> 32;
  pr = a3 * a10; lo += pr & M; hi += pr >> 32;
  pr = a4 * a9; lo += pr & M; hi += pr >> 32;
  pr = a5 * a8; lo += pr & M; hi += pr >> 32;
  pr = a6 * a7; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  store<u32>(w, <u32>lo, 52); carry = hi + (lo >> 32);
  // column 14
  lo = 0; hi = 0;
  pr = a3 * a11; lo += pr & M; hi += pr >> 32;
  pr = a4 * a10; lo += pr & M; hi += pr >> 32;
  pr = a5 * a9; lo += pr & M; hi += pr >> 32;
  pr = a6 * a8; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  pr = a7 * a7; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 56); carry = hi + (lo >> 32);
  // column 15
  lo = 0; hi = 0;
  pr = a4 * a11; lo += pr & M; hi += pr >> 32;
  pr = a5 * a10; lo += pr & M; hi += pr >> 32;
  pr = a6 * a9; lo += pr & M; hi += pr >> 32;
  pr = a7 * a8; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  store<u32>(w, <u32>lo, 60); carry = hi + (lo >> 32);
  // column 16
  lo = 0; hi = 0;
  pr = a5 * a11; lo += pr & M; hi += pr >> 32;
  pr = a6 * a10; lo += pr & M; hi += pr >> 32;
  pr = a7 * a9; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  pr = a8 * a8; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 64); carry = hi + (lo >> 32);
  // column 17
  lo = 0; hi = 0;
  pr = a6 * a11; lo += pr & M; hi += pr >> 32;
  pr = a7 * a10; lo += pr & M; hi += pr >> 32;
  pr = a8 * a9; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  store<u32>(w, <u32>lo, 68); carry = hi + (lo >> 32);
  // column 18
  lo = 0; hi = 0;
  pr = a7 * a11; lo += pr & M; hi += pr >> 32;
  pr = a8 * a10; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  pr = a9 * a9; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 72); carry = hi + (lo >> 32);
  // column 19
  lo = 0; hi = 0;
  pr = a8 * a11; lo += pr & M; hi += pr >> 32;
  pr = a9 * a10; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  store<u32>(w, <u32>lo, 76); carry = hi + (lo >> 32);
  // column 20
  lo = 0; hi = 0;
  pr = a9 * a11; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  pr = a10 * a10; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 80); carry = hi + (lo >> 32);
  // column 21
  lo = 0; hi = 0;
  pr = a10 * a11; lo += pr & M; hi += pr >> 32;
  lo = (lo << 1) + (carry & M); hi = (hi << 1) + (carry >> 32);
  store<u32>(w, <u32>lo, 84); carry = hi + (lo >> 32);
  // column 22
  lo = carry & M; hi = carry >> 32;
  pr = a11 * a11; lo += pr & M; hi += pr >> 32;
  store<u32>(w, <u32>lo, 88); carry = hi + (lo >> 32);
  store<u32>(w, <u32>carry, 92);
  reduce(o);
}

@inline function word(i: i32): i64 {
  return <i64>load<u32>(wide + (<usize>i << 2));
}

// Reduces the 24-word value in `wide` (< p^2) into [0, p) at o.
//
// With c0..c23 the words of the product, FIPS 186 writes the residue as
// T + 2S1 + S2 + S3 + S4 + S5 + S6 - D1 - D2 - D3, each term an arrangement of the c_i; summing those terms word
// by word gives the signed sums below. The i64 accumulator carries signed values between words; the result is
// within a few multiples of p and leaves a small signed carry above bit 384.
function reduce(o: usize): void {
  const c0 = word(0), c1 = word(1), c2 = word(2), c3 = word(3), c4 = word(4), c5 = word(5);
  const c6 = word(6), c7 = word(7), c8 = word(8), c9 = word(9), c10 = word(10), c11 = word(11);
  const c12 = word(12), c13 = word(13), c14 = word(14), c15 = word(15), c16 = word(16), c17 = word(17);
  const c18 = word(18), c19 = word(19), c20 = word(20), c21 = word(21), c22 = word(22), c23 = word(23);
  let acc: i64 = c0 + c12 + c20 + c21 - c23;
  let r0 = acc & LOW; acc >>= 32;
  acc += c1 - c12 + c13 - c20 + c22 + c23;
  let r1 = acc & LOW; acc >>= 32;
  acc += c2 - c13 + c14 - c21 + c23;
  let r2 = acc & LOW; acc >>= 32;
  acc += c3 + c12 - c14 + c15 + c20 + c21 - c22 - c23;
  let r3 = acc & LOW; acc >>= 32;
  acc += c4 + c12 + c13 - c15 + c16 + c20 + 2 * c21 + c22 - 2 * c23;
  let r4 = acc & LOW; acc >>= 32;
  acc += c5 + c13 + c14 - c16 + c17 + c21 + 2 * c22 + c23;
  let r5 = acc & LOW; acc >>= 32;
  acc += c6 + c14 + c15 - c17 + c18 + c22 + 2 * c23;
  let r6 = acc & LOW; acc >>= 32;
  acc += c7 + c15 + c16 - c18 + c19 + c23;
  let r7 = acc & LOW; acc >>= 32;
  acc += c8 + c16 + c17 - c19 + c20;
  let r8 = acc & LOW; acc >>= 32;
  acc += c9 + c17 + c18 - c20 + c21;
  let r9 = acc & LOW; acc >>= 32;
  acc += c10 + c18 + c19 - c21 + c22;
  let r10 = acc & LOW; acc >>= 32;
  acc += c11 + c19 + c20 - c22 + c23;
  let r11 = acc & LOW; acc >>= 32;

  // Fold the signed carry c back in: c * 2^384 = c * (2^128 + 2^96 - 2^32 + 1) mod p. As for P-256, a fold
  // leaves a carry of at most one in magnitude and a second fold cannot carry, so this runs at most twice.
  while (acc != 0) {
    const c = acc;
    acc = r0 + c; r0 = acc & LOW; acc >>= 32;
    acc += r1 - c; r1 = acc & LOW; acc >>= 32;
    acc += r2; r2 = acc & LOW; acc >>= 32;
    acc += r3 + c; r3 = acc & LOW; acc >>= 32;
    acc += r4 + c; r4 = acc & LOW; acc >>= 32;
    acc += r5; r5 = acc & LOW; acc >>= 32;
    acc += r6; r6 = acc & LOW; acc >>= 32;
    acc += r7; r7 = acc & LOW; acc >>= 32;
    acc += r8; r8 = acc & LOW; acc >>= 32;
    acc += r9; r9 = acc & LOW; acc >>= 32;
    acc += r10; r10 = acc & LOW; acc >>= 32;
    acc += r11; r11 = acc & LOW; acc >>= 32;
  }

  // Now 0 <= r < 2^384 < 2p: subtract p once when that does not borrow.
  // p's words, low to high: ffffffff 0 0 ffffffff fffffffe ffffffff (x7).
  let d: i64 = r0 - LOW; const s0 = d & LOW; d >>= 32;
  d += r1; const s1 = d & LOW; d >>= 32;
  d += r2; const s2 = d & LOW; d >>= 32;
  d += r3 - LOW; const s3 = d & LOW; d >>= 32;
  d += r4 - 0xfffffffe; const s4 = d & LOW; d >>= 32;
  d += r5 - LOW; const s5 = d & LOW; d >>= 32;
  d += r6 - LOW; const s6 = d & LOW; d >>= 32;
  d += r7 - LOW; const s7 = d & LOW; d >>= 32;
  d += r8 - LOW; const s8 = d & LOW; d >>= 32;
  d += r9 - LOW; const s9 = d & LOW; d >>= 32;
  d += r10 - LOW; const s10 = d & LOW; d >>= 32;
  d += r11 - LOW; const s11 = d & LOW; d >>= 32;
  if (d == 0) {
    r0 = s0; r1 = s1; r2 = s2; r3 = s3; r4 = s4; r5 = s5;
    r6 = s6; r7 = s7; r8 = s8; r9 = s9; r10 = s10; r11 = s11;
  }
  store<u32>(o, <u32>r0); store<u32>(o, <u32>r1, 4); store<u32>(o, <u32>r2, 8); store<u32>(o, <u32>r3, 12);
  store<u32>(o, <u32>r4, 16); store<u32>(o, <u32>r5, 20); store<u32>(o, <u32>r6, 24); store<u32>(o, <u32>r7, 28);
  store<u32>(o, <u32>r8, 32); store<u32>(o, <u32>r9, 36); store<u32>(o, <u32>r10, 40); store<u32>(o, <u32>r11, 44);
}

// p's limbs, low to high, for the add/sub helpers below.
const P0: i64 = 0xffffffff, P1: i64 = 0, P2: i64 = 0, P3: i64 = 0xffffffff, P4: i64 = 0xfffffffe, P5: i64 = 0xffffffff;
const P6: i64 = 0xffffffff, P7: i64 = 0xffffffff, P8: i64 = 0xffffffff, P9: i64 = 0xffffffff, P10: i64 = 0xffffffff, P11: i64 = 0xffffffff;

/** o = a + b mod p: the sum, and the sum minus p kept when that does not borrow (or the sum carried out). */
export function p384Add(o: usize, a: usize, b: usize): void {
  let acc: i64 = <i64>load<u32>(a) + <i64>load<u32>(b);
  let r0 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 4) + <i64>load<u32>(b, 4); let r1 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 8) + <i64>load<u32>(b, 8); let r2 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 12) + <i64>load<u32>(b, 12); let r3 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 16) + <i64>load<u32>(b, 16); let r4 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 20) + <i64>load<u32>(b, 20); let r5 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 24) + <i64>load<u32>(b, 24); let r6 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 28) + <i64>load<u32>(b, 28); let r7 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 32) + <i64>load<u32>(b, 32); let r8 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 36) + <i64>load<u32>(b, 36); let r9 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 40) + <i64>load<u32>(b, 40); let r10 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 44) + <i64>load<u32>(b, 44); let r11 = acc & LOW; acc >>= 32;
  let d: i64 = r0 - P0; const s0 = d & LOW; d >>= 32;
  d += r1 - P1; const s1 = d & LOW; d >>= 32;
  d += r2 - P2; const s2 = d & LOW; d >>= 32;
  d += r3 - P3; const s3 = d & LOW; d >>= 32;
  d += r4 - P4; const s4 = d & LOW; d >>= 32;
  d += r5 - P5; const s5 = d & LOW; d >>= 32;
  d += r6 - P6; const s6 = d & LOW; d >>= 32;
  d += r7 - P7; const s7 = d & LOW; d >>= 32;
  d += r8 - P8; const s8 = d & LOW; d >>= 32;
  d += r9 - P9; const s9 = d & LOW; d >>= 32;
  d += r10 - P10; const s10 = d & LOW; d >>= 32;
  d += r11 - P11; const s11 = d & LOW; d >>= 32;
  if (d + acc >= 0) {
    r0 = s0; r1 = s1; r2 = s2; r3 = s3; r4 = s4; r5 = s5;
    r6 = s6; r7 = s7; r8 = s8; r9 = s9; r10 = s10; r11 = s11;
  }
  store<u32>(o, <u32>r0); store<u32>(o, <u32>r1, 4); store<u32>(o, <u32>r2, 8); store<u32>(o, <u32>r3, 12);
  store<u32>(o, <u32>r4, 16); store<u32>(o, <u32>r5, 20); store<u32>(o, <u32>r6, 24); store<u32>(o, <u32>r7, 28);
  store<u32>(o, <u32>r8, 32); store<u32>(o, <u32>r9, 36); store<u32>(o, <u32>r10, 40); store<u32>(o, <u32>r11, 44);
}

/** o = a - b mod p: the difference, plus p when it borrowed. */
export function p384Sub(o: usize, a: usize, b: usize): void {
  let acc: i64 = <i64>load<u32>(a) - <i64>load<u32>(b);
  let r0 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 4) - <i64>load<u32>(b, 4); let r1 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 8) - <i64>load<u32>(b, 8); let r2 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 12) - <i64>load<u32>(b, 12); let r3 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 16) - <i64>load<u32>(b, 16); let r4 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 20) - <i64>load<u32>(b, 20); let r5 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 24) - <i64>load<u32>(b, 24); let r6 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 28) - <i64>load<u32>(b, 28); let r7 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 32) - <i64>load<u32>(b, 32); let r8 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 36) - <i64>load<u32>(b, 36); let r9 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 40) - <i64>load<u32>(b, 40); let r10 = acc & LOW; acc >>= 32;
  acc += <i64>load<u32>(a, 44) - <i64>load<u32>(b, 44); let r11 = acc & LOW; acc >>= 32;
  if (acc != 0) {
    acc = r0 + P0; r0 = acc & LOW; acc >>= 32;
    acc += r1 + P1; r1 = acc & LOW; acc >>= 32;
    acc += r2 + P2; r2 = acc & LOW; acc >>= 32;
    acc += r3 + P3; r3 = acc & LOW; acc >>= 32;
    acc += r4 + P4; r4 = acc & LOW; acc >>= 32;
    acc += r5 + P5; r5 = acc & LOW; acc >>= 32;
    acc += r6 + P6; r6 = acc & LOW; acc >>= 32;
    acc += r7 + P7; r7 = acc & LOW; acc >>= 32;
    acc += r8 + P8; r8 = acc & LOW; acc >>= 32;
    acc += r9 + P9; r9 = acc & LOW; acc >>= 32;
    acc += r10 + P10; r10 = acc & LOW; acc >>= 32;
    acc += r11 + P11; r11 = acc & LOW;
  }
  store<u32>(o, <u32>r0); store<u32>(o, <u32>r1, 4); store<u32>(o, <u32>r2, 8); store<u32>(o, <u32>r3, 12);
  store<u32>(o, <u32>r4, 16); store<u32>(o, <u32>r5, 20); store<u32>(o, <u32>r6, 24); store<u32>(o, <u32>r7, 28);
  store<u32>(o, <u32>r8, 32); store<u32>(o, <u32>r9, 36); store<u32>(o, <u32>r10, 40); store<u32>(o, <u32>r11, 44);
}
