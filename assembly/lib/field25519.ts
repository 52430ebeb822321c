// Arithmetic in GF(p), p = 2^255 - 19, the field under Ed25519.
//
// An element is ten signed 64-bit limbs in radix 2^25.5: limb i sits at bit offset E[i] = ceil(25.5 * i), i.e.
//   E = 0, 26, 51, 77, 102, 128, 153, 179, 204, 230,
// so even limbs are 26 bits wide and odd limbs 25 bits wide, and the value is sum(h[i] * 2^E[i]) mod p.
// Radix 2^25.5 is chosen because WebAssembly has a fast 64x64->64 multiply but no 128-bit product: with limbs of
// about 2^27 every partial product and every column sum of a multiplication still fits in an i64 (proof at feMul).
//
// Two limb bounds are used throughout:
//   carried: what feMul, feSq, feCarry and feFromBytes return; every limb lies in [-2^11, 2^26)
//            (see carryMulResult).
//   loose:   |limb| <= 2^27 + 2^13. The sum or difference of two carried elements is loose, and so is
//            a + b - c for carried a, b, c.
// feMul and feSq accept loose inputs and return carried ones. feAdd, feSub and feNeg do not carry: callers keep
// track of what they build and run feCarry on anything that could leave the loose bound (three or more terms,
// or a negated element that must be carried again).
//
// The hot functions (feMul, feSq, feAdd, feSub, feNeg, feCopy, feCarry) read and write the limbs with load/store
// on the StaticArray's storage instead of unchecked(a[i]). Both compile to the same i64.load/i64.store, but the
// indexed form makes the compiler keep the array reference on its GC shadow stack around every access, which cost
// about 10% of a whole verification. Every Fe is a ten-limb StaticArray<i64> from feNew, so byte offsets 0..72
// are always in bounds.
//
// Everything here is variable time. That is deliberate: this file serves signature verification, where every input
// (key, message, signature) is public, and speed per request matters more than side-channel resistance.

/** A field element: ten i64 limbs, see the file comment. */
export type Fe = StaticArray<i64>;

/** A zeroed field element. Allocate these once (module scratch), not per operation. */
export function feNew(): Fe {
  return new StaticArray<i64>(10);
}

export function feZero(out: Fe): void {
  for (let i = 0; i < 10; i++) unchecked((out[i] = 0));
}

export function feOne(out: Fe): void {
  feZero(out);
  unchecked((out[0] = 1));
}

export function feCopy(out: Fe, a: Fe): void {
  memory.copy(changetype<usize>(out), changetype<usize>(a), 80);
}

/** out = a + b, limb by limb, no carry (two carried inputs give a loose result). */
export function feAdd(out: Fe, a: Fe, b: Fe): void {
  const pa = changetype<usize>(a), pb = changetype<usize>(b), po = changetype<usize>(out);
  for (let i: usize = 0; i < 80; i += 8) store<i64>(po + i, load<i64>(pa + i) + load<i64>(pb + i));
}

/** out = a - b, limb by limb, no carry (two carried inputs give a loose result). */
export function feSub(out: Fe, a: Fe, b: Fe): void {
  const pa = changetype<usize>(a), pb = changetype<usize>(b), po = changetype<usize>(out);
  for (let i: usize = 0; i < 80; i += 8) store<i64>(po + i, load<i64>(pa + i) - load<i64>(pb + i));
}

/** out = -a, limb by limb. */
export function feNeg(out: Fe, a: Fe): void {
  const pa = changetype<usize>(a), po = changetype<usize>(out);
  for (let i: usize = 0; i < 80; i += 8) store<i64>(po + i, -load<i64>(pa + i));
}

// One pass of floor carries from limb 0 up to limb 9, then limb 9's overflow (weight 2^255) folded into limb 0 as
// 19 * carry because 2^255 = 19 (mod p). Afterwards limbs 1..9 are in [0, 2^width) and limb 0 is in
// [0, 2^26) + 19 * c9. Shared by feCarry (followed by one more carry out of limb 0) and normalize.
// @ts-ignore: decorator
@inline
function carryPass(h: Fe): void {
  const ph = changetype<usize>(h);
  let c: i64;
  let h0 = load<i64>(ph, 0), h1 = load<i64>(ph, 8), h2 = load<i64>(ph, 16), h3 = load<i64>(ph, 24), h4 = load<i64>(ph, 32);
  let h5 = load<i64>(ph, 40), h6 = load<i64>(ph, 48), h7 = load<i64>(ph, 56), h8 = load<i64>(ph, 64), h9 = load<i64>(ph, 72);
  c = h0 >> 26; h1 += c; h0 -= c << 26;
  c = h1 >> 25; h2 += c; h1 -= c << 25;
  c = h2 >> 26; h3 += c; h2 -= c << 26;
  c = h3 >> 25; h4 += c; h3 -= c << 25;
  c = h4 >> 26; h5 += c; h4 -= c << 26;
  c = h5 >> 25; h6 += c; h5 -= c << 25;
  c = h6 >> 26; h7 += c; h6 -= c << 26;
  c = h7 >> 25; h8 += c; h7 -= c << 25;
  c = h8 >> 26; h9 += c; h8 -= c << 26;
  c = h9 >> 25; h0 += c * 19; h9 -= c << 25;
  store<i64>(ph, h0, 0); store<i64>(ph, h1, 8); store<i64>(ph, h2, 16); store<i64>(ph, h3, 24); store<i64>(ph, h4, 32);
  store<i64>(ph, h5, 40); store<i64>(ph, h6, 48); store<i64>(ph, h7, 56); store<i64>(ph, h8, 64); store<i64>(ph, h9, 72);
}

/**
 * Brings an element with |limb| < 2^40 back to carried form, in place. Use it on sums of three or more carried
 * elements before they reach feMul/feSq. (The carry out of limb 9 is then below 2^15, so the final carry out of
 * limb 0 is at most 1 and the result is carried.)
 */
export function feCarry(h: Fe): void {
  carryPass(h);
  const ph = changetype<usize>(h);
  const h0 = load<i64>(ph, 0);
  const c = h0 >> 26;
  store<i64>(ph, h0 - (c << 26), 0);
  store<i64>(ph, load<i64>(ph, 8) + c, 8);
}

// Carries the ten column sums of a product into out (carried form).
// Input bound: |h[k]| <= 267 * (2^27 + 2^13)^2 < 2^62.07 (see feMul). Floor carries leave limbs 0..8 in
// [0, 2^width). The carry out of limb 9 is below 2^32.4 in magnitude (|h9| <= 10 * (2^27 + 2^13)^2 < 2^57.33 plus
// the carry from limb 8), so folding it in as 19 * c9 adds under 2^36.6 to limb 0, and the final carry out of
// limb 0 moves at most 1521 into limb 1.
// Hence every carried limb lies in [-2^11, 2^26), as the file comment says.
// @ts-ignore: decorator
@inline
function carryMulResult(
  out: Fe,
  h0: i64, h1: i64, h2: i64, h3: i64, h4: i64, h5: i64, h6: i64, h7: i64, h8: i64, h9: i64,
): void {
  let c: i64;
  c = h0 >> 26; h1 += c; h0 -= c << 26;
  c = h1 >> 25; h2 += c; h1 -= c << 25;
  c = h2 >> 26; h3 += c; h2 -= c << 26;
  c = h3 >> 25; h4 += c; h3 -= c << 25;
  c = h4 >> 26; h5 += c; h4 -= c << 26;
  c = h5 >> 25; h6 += c; h5 -= c << 25;
  c = h6 >> 26; h7 += c; h6 -= c << 26;
  c = h7 >> 25; h8 += c; h7 -= c << 25;
  c = h8 >> 26; h9 += c; h8 -= c << 26;
  c = h9 >> 25; h0 += c * 19; h9 -= c << 25;
  c = h0 >> 26; h1 += c; h0 -= c << 26;
  const po = changetype<usize>(out);
  store<i64>(po, h0, 0); store<i64>(po, h1, 8); store<i64>(po, h2, 16); store<i64>(po, h3, 24);
  store<i64>(po, h4, 32); store<i64>(po, h5, 40); store<i64>(po, h6, 48); store<i64>(po, h7, 56);
  store<i64>(po, h8, 64); store<i64>(po, h9, 72);
}

/**
 * out = a * b. Inputs loose (|limb| <= 2^27 + 2^13), output carried. out may alias a or b.
 *
 * Why the formula is right: f[i] * g[j] has weight 2^(E[i] + E[j]). For i + j < 10, E[i] + E[j] equals E[i + j]
 * plus 1 exactly when i and j are both odd (ceil(25.5 i) rounds up only for odd i), hence the factor 2 on odd*odd
 * products (the `_2` operands). For i + j >= 10 the weight is 2^(E[i + j - 10] + 255) (same parity rule), and
 * 2^255 = 19 mod p, hence the factor 19 (the `_19` operands).
 *
 * Why nothing overflows: column k sums ten products f[i] * g[j] * c with c in {1, 2, 19, 38}; the largest column
 * (k = 0) has coefficient sum 1 + 4 * 19 + 5 * 38 = 267, so |h[k]| <= 267 * (2^27 + 2^13)^2 < 2^62.07 < 2^63.
 */
export function feMul(out: Fe, a: Fe, b: Fe): void {
  const pa = changetype<usize>(a);
  const pb = changetype<usize>(b);
  const f0 = load<i64>(pa, 0), f1 = load<i64>(pa, 8), f2 = load<i64>(pa, 16), f3 = load<i64>(pa, 24), f4 = load<i64>(pa, 32);
  const f5 = load<i64>(pa, 40), f6 = load<i64>(pa, 48), f7 = load<i64>(pa, 56), f8 = load<i64>(pa, 64), f9 = load<i64>(pa, 72);
  const g0 = load<i64>(pb, 0), g1 = load<i64>(pb, 8), g2 = load<i64>(pb, 16), g3 = load<i64>(pb, 24), g4 = load<i64>(pb, 32);
  const g5 = load<i64>(pb, 40), g6 = load<i64>(pb, 48), g7 = load<i64>(pb, 56), g8 = load<i64>(pb, 64), g9 = load<i64>(pb, 72);

  const f1_2 = f1 << 1, f3_2 = f3 << 1, f5_2 = f5 << 1, f7_2 = f7 << 1, f9_2 = f9 << 1;
  const g1_19 = g1 * 19, g2_19 = g2 * 19, g3_19 = g3 * 19, g4_19 = g4 * 19, g5_19 = g5 * 19;
  const g6_19 = g6 * 19, g7_19 = g7 * 19, g8_19 = g8 * 19, g9_19 = g9 * 19;

  const h0 = f0 * g0 + f1_2 * g9_19 + f2 * g8_19 + f3_2 * g7_19 + f4 * g6_19 + f5_2 * g5_19 + f6 * g4_19 + f7_2 * g3_19 + f8 * g2_19 + f9_2 * g1_19;
  const h1 = f0 * g1 + f1 * g0 + f2 * g9_19 + f3 * g8_19 + f4 * g7_19 + f5 * g6_19 + f6 * g5_19 + f7 * g4_19 + f8 * g3_19 + f9 * g2_19;
  const h2 = f0 * g2 + f1_2 * g1 + f2 * g0 + f3_2 * g9_19 + f4 * g8_19 + f5_2 * g7_19 + f6 * g6_19 + f7_2 * g5_19 + f8 * g4_19 + f9_2 * g3_19;
  const h3 = f0 * g3 + f1 * g2 + f2 * g1 + f3 * g0 + f4 * g9_19 + f5 * g8_19 + f6 * g7_19 + f7 * g6_19 + f8 * g5_19 + f9 * g4_19;
  const h4 = f0 * g4 + f1_2 * g3 + f2 * g2 + f3_2 * g1 + f4 * g0 + f5_2 * g9_19 + f6 * g8_19 + f7_2 * g7_19 + f8 * g6_19 + f9_2 * g5_19;
  const h5 = f0 * g5 + f1 * g4 + f2 * g3 + f3 * g2 + f4 * g1 + f5 * g0 + f6 * g9_19 + f7 * g8_19 + f8 * g7_19 + f9 * g6_19;
  const h6 = f0 * g6 + f1_2 * g5 + f2 * g4 + f3_2 * g3 + f4 * g2 + f5_2 * g1 + f6 * g0 + f7_2 * g9_19 + f8 * g8_19 + f9_2 * g7_19;
  const h7 = f0 * g7 + f1 * g6 + f2 * g5 + f3 * g4 + f4 * g3 + f5 * g2 + f6 * g1 + f7 * g0 + f8 * g9_19 + f9 * g8_19;
  const h8 = f0 * g8 + f1_2 * g7 + f2 * g6 + f3_2 * g5 + f4 * g4 + f5_2 * g3 + f6 * g2 + f7_2 * g1 + f8 * g0 + f9_2 * g9_19;
  const h9 = f0 * g9 + f1 * g8 + f2 * g7 + f3 * g6 + f4 * g5 + f5 * g4 + f6 * g3 + f7 * g2 + f8 * g1 + f9 * g0;

  carryMulResult(out, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9);
}

/**
 * out = a^2. Input loose, output carried, out may alias a. The same columns as feMul with f = g, each unordered
 * pair {i, j} (i != j) counted once with an extra factor 2, so 55 products instead of 100; the column bounds are
 * those of feMul.
 */
export function feSq(out: Fe, a: Fe): void {
  const pa = changetype<usize>(a);
  const f0 = load<i64>(pa, 0), f1 = load<i64>(pa, 8), f2 = load<i64>(pa, 16), f3 = load<i64>(pa, 24), f4 = load<i64>(pa, 32);
  const f5 = load<i64>(pa, 40), f6 = load<i64>(pa, 48), f7 = load<i64>(pa, 56), f8 = load<i64>(pa, 64), f9 = load<i64>(pa, 72);

  const f0_2 = f0 << 1, f1_2 = f1 << 1, f2_2 = f2 << 1, f3_2 = f3 << 1, f4_2 = f4 << 1;
  const f5_2 = f5 << 1, f7_2 = f7 << 1;
  const f6_19 = f6 * 19, f8_19 = f8 * 19;
  const f5_38 = f5 * 38, f6_38 = f6 * 38, f7_38 = f7 * 38, f8_38 = f8 * 38, f9_38 = f9 * 38;

  const h0 = f0 * f0 + f1_2 * f9_38 + f2 * f8_38 + f3_2 * f7_38 + f4 * f6_38 + f5 * f5_38;
  const h1 = f0_2 * f1 + f2 * f9_38 + f3 * f8_38 + f4 * f7_38 + f5 * f6_38;
  const h2 = f0_2 * f2 + f1_2 * f1 + f3_2 * f9_38 + f4 * f8_38 + f5_2 * f7_38 + f6 * f6_19;
  const h3 = f0_2 * f3 + f1_2 * f2 + f4 * f9_38 + f5 * f8_38 + f6 * f7_38;
  const h4 = f0_2 * f4 + f1_2 * f3_2 + f2 * f2 + f5_2 * f9_38 + f6 * f8_38 + f7 * f7_38;
  const h5 = f0_2 * f5 + f1_2 * f4 + f2_2 * f3 + f6 * f9_38 + f7 * f8_38;
  const h6 = f0_2 * f6 + f1_2 * f5_2 + f2_2 * f4 + f3_2 * f3 + f7_2 * f9_38 + f8 * f8_19;
  const h7 = f0_2 * f7 + f1_2 * f6 + f2_2 * f5 + f3_2 * f4 + f8 * f9_38;
  const h8 = f0_2 * f8 + f1_2 * f7_2 + f2_2 * f6 + f3_2 * f5_2 + f4 * f4 + f9 * f9_38;
  const h9 = f0_2 * f9 + f1_2 * f8 + f2_2 * f7 + f3_2 * f6 + f4_2 * f5;

  carryMulResult(out, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9);
}

/** out = a^(2^n), n >= 1 squarings. */
export function feSqN(out: Fe, a: Fe, n: i32): void {
  feSq(out, a);
  for (let i = 1; i < n; i++) feSq(out, out);
}

// Scratch for the exponentiation chains; never live across a call into another function of this file that uses
// them (the chains only call feMul/feSq/feSqN).
const Z11 = feNew();
const Z2_250 = feNew();
const T0 = feNew();
const T1 = feNew();

// Sets Z11 = z^11 and Z2_250 = z^(2^250 - 1), the common prefix of inversion and of the square-root exponent.
// The chain builds z^(2^n - 1) for n = 5, 10, 20, 40, 50, 100, 200, 250 from z^(2^a - 1)^(2^b) * z^(2^b - 1)
// = z^(2^(a+b) - 1): 254 squarings and 11 multiplications in total.
function powChain(z: Fe): void {
  feSq(T0, z); //                   z^2
  feSqN(T1, T0, 2); //              z^8
  feMul(T1, T1, z); //              z^9
  feMul(Z11, T1, T0); //            z^11
  feSq(T0, Z11); //                 z^22
  feMul(T0, T0, T1); //             z^31 = z^(2^5 - 1)
  feSqN(T1, T0, 5);
  feMul(T0, T1, T0); //             z^(2^10 - 1)
  feSqN(T1, T0, 10);
  feMul(T1, T1, T0); //             z^(2^20 - 1)
  feSqN(Z2_250, T1, 20);
  feMul(T1, Z2_250, T1); //         z^(2^40 - 1)
  feSqN(T1, T1, 10);
  feMul(T0, T1, T0); //             z^(2^50 - 1)
  feSqN(T1, T0, 50);
  feMul(T1, T1, T0); //             z^(2^100 - 1)
  feSqN(Z2_250, T1, 100);
  feMul(T1, Z2_250, T1); //         z^(2^200 - 1)
  feSqN(T1, T1, 50);
  feMul(Z2_250, T1, T0); //         z^(2^250 - 1)
}

/** out = 1/z = z^(p - 2); 1/0 gives 0. p - 2 = (2^250 - 1) * 2^5 + 11. out may alias z. */
export function feInvert(out: Fe, z: Fe): void {
  powChain(z);
  feSqN(T0, Z2_250, 5);
  feMul(out, T0, Z11);
}

/** out = z^((p - 5) / 8) = z^(2^252 - 3) = z^((2^250 - 1) * 4 + 1), the core of the square-root formula. */
export function fePowP58(out: Fe, z: Fe): void {
  // z is read again after the chain; that is safe even when out aliases z, as the chain only writes its scratch.
  powChain(z);
  feSqN(T0, Z2_250, 2);
  feMul(out, T0, z);
}

// Limb widths: even limbs 26 bits, odd limbs 25 bits.
// @ts-ignore: decorator
@inline
function limbWidth(i: i32): i64 {
  return i64(26 - (i & 1));
}

// Brings h to its canonical representative in place: every limb in [0, 2^width) and the value in [0, p).
// Requires |limb| < 2^62 on entry.
//
// Three carry passes put all limbs in range: after pass 1, limbs 1..9 are in range and limb 0 is within
// 19 * 2^38 of it; pass 2 moves at most 2^18 out of limb 0, which can ripple up as carries in {-1, 0, 1}, so limb 0
// ends within 19 of its range; in pass 3 a ripple through all limbs happens only when they are all at an edge, which
// leaves them at the opposite edge, and the fold of +-19 into limb 0 then stays in range. The value v is then in
// [0, 2^255). Finally v >= p exactly when v + 19 >= 2^255, i.e. when adding 19 carries out of limb 9; in that case
// subtract p by adding 19 and dropping bit 255.
function normalize(h: Fe): void {
  carryPass(h);
  carryPass(h);
  carryPass(h);

  let q: i64 = (unchecked(h[0]) + 19) >> 26;
  for (let i = 1; i < 10; i++) q = (unchecked(h[i]) + q) >> limbWidth(i);

  unchecked((h[0] = h[0] + 19 * q));
  for (let i = 0; i < 9; i++) {
    const w = limbWidth(i);
    const v = unchecked(h[i]);
    const c = v >> w;
    unchecked((h[i] = v - (c << w)));
    unchecked((h[i + 1] = h[i + 1] + c));
  }
  unchecked((h[9] = h[9] & ((<i64>1 << 25) - 1)));
}

const N0 = feNew();
const N1 = feNew();

/**
 * Reads 32 little-endian bytes at src[offset..offset+32) as a field element. Bit 255 (the top bit of the last
 * byte) is ignored -- in Ed25519 encodings it carries the sign of x. Values in [p, 2^255) are accepted and taken
 * mod p; use feBytesAreCanonical to reject them. The caller guarantees src holds 32 bytes at offset.
 */
export function feFromBytes(out: Fe, src: Uint8Array, offset: i32): void {
  // Limb i starts at bit E[i]; every limb fits in the 32 bits starting at byte E[i] / 8, so each limb is one
  // little-endian 32-bit read, a shift and a mask.
  unchecked((out[0] = i64(load32(src, offset + 0)) & 0x3ffffff));
  unchecked((out[1] = i64(load32(src, offset + 3) >>> 2) & 0x1ffffff));
  unchecked((out[2] = i64(load32(src, offset + 6) >>> 3) & 0x3ffffff));
  unchecked((out[3] = i64(load32(src, offset + 9) >>> 5) & 0x1ffffff));
  unchecked((out[4] = i64(load32(src, offset + 12) >>> 6) & 0x3ffffff));
  unchecked((out[5] = i64(load32(src, offset + 16)) & 0x1ffffff));
  unchecked((out[6] = i64(load32(src, offset + 19) >>> 1) & 0x3ffffff));
  unchecked((out[7] = i64(load32(src, offset + 22) >>> 3) & 0x1ffffff));
  unchecked((out[8] = i64(load32(src, offset + 25) >>> 4) & 0x3ffffff));
  unchecked((out[9] = i64(load32(src, offset + 28) >>> 6) & 0x1ffffff));
}

function load32(src: Uint8Array, at: i32): u32 {
  return u32(src[at]) | (u32(src[at + 1]) << 8) | (u32(src[at + 2]) << 16) | (u32(src[at + 3]) << 24);
}

/**
 * True when the low 255 bits of src[offset..offset+32) encode an integer below p, i.e. the encoding is the
 * canonical one (RFC 8032 section 5.1.3 step 1 rejects y >= p). Bit 255 is ignored.
 */
export function feBytesAreCanonical(src: Uint8Array, offset: i32): bool {
  // p = 2^255 - 19 is ed ff ff ... ff 7f little-endian. A 255-bit value is >= p only when bytes 1..30 are all ff,
  // the top byte (bit 255 masked) is 7f, and byte 0 is >= ed.
  if ((src[offset + 31] & 0x7f) != 0x7f) return true;
  for (let i = 30; i >= 1; i--) {
    if (src[offset + i] != 0xff) return true;
  }
  return src[offset] < 0xed;
}

/** Writes the canonical 32-byte little-endian encoding of a (value in [0, p), bit 255 clear) to dst[offset..). */
export function feToBytes(dst: Uint8Array, offset: i32, a: Fe): void {
  feCopy(N0, a);
  normalize(N0);
  // Concatenate the limbs' bits: an accumulator of pending bits, flushed a byte at a time.
  let acc: u64 = 0;
  let bits: u64 = 0;
  let at = offset;
  for (let i = 0; i < 10; i++) {
    acc |= u64(unchecked(N0[i])) << bits;
    bits += u64(limbWidth(i));
    while (bits >= 8) {
      dst[at++] = u8(acc);
      acc >>= 8;
      bits -= 8;
    }
  }
  // 255 bits: seven remain for the last byte.
  dst[at] = u8(acc);
}

/** True when a = 0 (mod p). */
export function feIsZero(a: Fe): bool {
  feCopy(N0, a);
  normalize(N0);
  let acc: i64 = 0;
  for (let i = 0; i < 10; i++) acc |= unchecked(N0[i]);
  return acc == 0;
}

/** True when a = b (mod p). */
export function feEqual(a: Fe, b: Fe): bool {
  feSub(N1, a, b);
  return feIsZero(N1);
}

/** The "sign" of a in RFC 8032 terms: the low bit of its canonical representative (1 = negative). */
export function feIsNegative(a: Fe): bool {
  feCopy(N0, a);
  normalize(N0);
  return (unchecked(N0[0]) & 1) != 0;
}

// sqrt(-1) = 2^((p - 1) / 4) mod p, little-endian; the field spec checks that it squares to -1.
const SQRT_M1_BYTES: StaticArray<u8> = [
  0xb0, 0xa0, 0x0e, 0x4a, 0x27, 0x1b, 0xee, 0xc4, 0x78, 0xe4, 0x2f, 0xad, 0x06, 0x18, 0x43, 0x2f,
  0xa7, 0xd7, 0xfb, 0x3d, 0x99, 0x00, 0x4d, 0x2b, 0x0b, 0xdf, 0xc1, 0x4f, 0x80, 0x24, 0x83, 0x2b,
];

/** Builds a field element from a 32-byte little-endian constant (module initialisation only). */
export function feFromConstant(bytes: StaticArray<u8>): Fe {
  const tmp = new Uint8Array(32);
  for (let i = 0; i < 32; i++) tmp[i] = bytes[i];
  const out = feNew();
  feFromBytes(out, tmp, 0);
  return out;
}

/** sqrt(-1) mod p. Read-only. */
export const FE_SQRT_M1: Fe = feFromConstant(SQRT_M1_BYTES);

const S0 = feNew();
const S1 = feNew();
const S2 = feNew();

/**
 * Square root of a ratio: if u/v is a square mod p, sets out to a root and returns true; otherwise returns false
 * (out is then unspecified). Which of the two roots is returned is unspecified; callers fix the sign. For u = 0 the
 * root is 0. v must be non-zero when u is non-zero.
 *
 * RFC 8032 section 5.1.3: with p = 5 (mod 8), the candidate x = u v^3 (u v^7)^((p - 5) / 8) satisfies
 * v x^2 = +-u whenever u/v is a square; if it is -u, x * sqrt(-1) is the root; if neither, there is no root.
 * Inputs carried (or loose).
 */
export function feSqrtRatio(out: Fe, u: Fe, v: Fe): bool {
  feSq(S0, v); //          v^2
  feMul(S0, S0, v); //     v^3
  feSq(S1, S0); //         v^6
  feMul(S1, S1, v); //     v^7
  feMul(S1, S1, u); //     u v^7
  fePowP58(S1, S1); //     (u v^7)^((p - 5) / 8)
  feMul(S1, S1, S0); //    v^3 (u v^7)^((p - 5) / 8)
  feMul(S1, S1, u); //     x = u v^3 (u v^7)^((p - 5) / 8)

  feSq(S2, S1);
  feMul(S2, S2, v); //     v x^2
  if (feEqual(S2, u)) {
    feCopy(out, S1);
    return true;
  }
  feAdd(S2, S2, u); //     v x^2 + u = 0  <=>  v x^2 = -u
  if (feIsZero(S2)) {
    feMul(out, S1, FE_SQRT_M1);
    return true;
  }
  return false;
}
