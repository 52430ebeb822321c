// Modular exponentiation for RSA's public operation: Montgomery multiplication with 28-bit digits, vectorized with
// Wasm SIMD. MontgomeryModulus.powU32 (bignum.ts) converts into and out of this representation.
//
// Why 28-bit digits: Wasm has no 64x64->128 multiply, so the widest product it forms natively is 32x32->64. With
// full 32-bit limbs every product needs its carry split off at once (what bignum.ts's FIOS loop does); with 28-bit
// digits a product is below 2^56 and a 64-bit lane can sum up to 256 of them without overflowing, so the inner loops
// are pure multiply-adds and carries are resolved once per column. That costs (32/28)^2 = 1.3x more digit
// products, and buys loops with no carry handling at all.
//
// Why SIMD: i64x2.extmul_low_i32x4_u / extmul_high_i32x4_u multiply two pairs of u32 lanes into two u64 lanes in
// one Wasm instruction each (on x86-64 V8 emits two lane shuffles and a pmuludq), so four digit products cost two
// multiplies and two adds. The loops then run at about one digit product per cycle, bound by those instructions;
// the other 16-bit or floating-point lane products Wasm offers need more of them per bit of product.
//
// Layout: product scanning with the reduction interleaved ("FIPS" Montgomery): column k of the result gathers
// sum a[j] b[k-j] + sum m[j] n[k-j], then the quotient digit m[k] (while k < digits) that clears the column's low
// 28 bits, then the carry into column k+1. Keeping b and n in reverse digit order turns both sums into dot products
// of two ascending runs, which plain v128 loads read four digits at a time; every digit buffer has PAD zero digits
// after its last digit so a run may be read past its end in whole vectors (the extra products are zero).
//
// Lazy reduction: with R = 2^(28 digits) >= 4n, inputs below 2n give a result below 2n ((4n^2 + Rn) / R <= 2n), so
// no multiplication ends with a comparison; one conditional subtraction at the very end makes the power exact.
//
// Only public values (an RSA signature, modulus and exponent) go through here, so nothing is constant-time.

/** Bits per digit, and the digit mask. */
const DIGIT_BITS: u32 = 28;
const DIGIT_MASK: u64 = (1 << DIGIT_BITS) - 1;
/** Zero digits after each buffer's last digit (loops read two vectors a step: up to seven digits past a run). */
const PAD: i32 = 8;
/**
 * Most digits supported: enough for 4096-bit moduli (147 digits). The lane bound above needs at most 255 products
 * per 64-bit lane; a column adds at most digits + 7 to each lane, well inside it.
 */
export const MAX_DIGITS: i32 = 147;

@inline function digitAt(p: usize, i: i32): u32 {
  return load<u32>(p + (<usize>i << 2));
}

@inline function setDigit(p: usize, i: i32, v: u32): void {
  store<u32>(p + (<usize>i << 2), v);
}

/**
 * Dot products of the runs x[0..count) . y[0..count) plus m[0..count) . n[0..count), added into the two u64
 * lanes of acc (each lane gets a share of the products; the caller adds the lanes). Reads eight digits a step, so
 * up to seven past count, which the callers arrange to be zero in x or y and in m or n.
 */
@inline function dotTwo(acc: v128, x: usize, y: usize, m: usize, n: usize, count: i32): v128 {
  const bytes = <usize>count << 2;
  for (let off: usize = 0; off < bytes; off += 32) {
    const vx = v128.load(x + off), vy = v128.load(y + off);
    const vm = v128.load(m + off), vn = v128.load(n + off);
    const wx = v128.load(x + off, 16), wy = v128.load(y + off, 16);
    const wm = v128.load(m + off, 16), wn = v128.load(n + off, 16);
    acc = i64x2.add(acc, i64x2.add(i64x2.extmul_low_i32x4_u(vx, vy), i64x2.extmul_high_i32x4_u(vx, vy)));
    acc = i64x2.add(acc, i64x2.add(i64x2.extmul_low_i32x4_u(vm, vn), i64x2.extmul_high_i32x4_u(vm, vn)));
    acc = i64x2.add(acc, i64x2.add(i64x2.extmul_low_i32x4_u(wx, wy), i64x2.extmul_high_i32x4_u(wx, wy)));
    acc = i64x2.add(acc, i64x2.add(i64x2.extmul_low_i32x4_u(wm, wn), i64x2.extmul_high_i32x4_u(wm, wn)));
  }
  return acc;
}

/** Lane masks keeping the first 0, 1, 2 or 3 u32 lanes of a vector. */
const KEEP_LANES: usize = memory.data<u32>([
  0, 0, 0, 0,
  0xffffffff, 0, 0, 0,
  0xffffffff, 0xffffffff, 0, 0,
  0xffffffff, 0xffffffff, 0xffffffff, 0,
]);

/**
 * One column of a squaring, in the two u64 lanes: 2 x[0..pairs) . y[0..pairs) + m[0..terms) . n[0..terms), for
 * pairs <= terms. The pairs are read exactly (a last partial vector is masked, as the digits after them are not
 * zero); the quotient terms may run past their end into zeros, eight digits a step once the pairs are done.
 */
@inline function squareColumn(x: usize, y: usize, m: usize, n: usize, pairs: i32, terms: i32): v128 {
  const wholeBytes = <usize>(pairs & ~3) << 2;
  let pairSum = i64x2.splat(0), quotientSum = i64x2.splat(0);
  let off: usize = 0;
  for (; off < wholeBytes; off += 16) {
    const vx = v128.load(x + off), vy = v128.load(y + off);
    const vm = v128.load(m + off), vn = v128.load(n + off);
    pairSum = i64x2.add(pairSum, i64x2.add(i64x2.extmul_low_i32x4_u(vx, vy), i64x2.extmul_high_i32x4_u(vx, vy)));
    quotientSum = i64x2.add(quotientSum, i64x2.add(i64x2.extmul_low_i32x4_u(vm, vn), i64x2.extmul_high_i32x4_u(vm, vn)));
  }
  const rest = pairs & 3;
  if (rest != 0) {
    const vx = v128.and(v128.load(x + off), v128.load(KEEP_LANES + (<usize>rest << 4))), vy = v128.load(y + off);
    pairSum = i64x2.add(pairSum, i64x2.add(i64x2.extmul_low_i32x4_u(vx, vy), i64x2.extmul_high_i32x4_u(vx, vy)));
  }
  const termBytes = <usize>terms << 2;
  for (; off < termBytes; off += 32) {
    const vm = v128.load(m + off), vn = v128.load(n + off);
    const wm = v128.load(m + off, 16), wn = v128.load(n + off, 16);
    quotientSum = i64x2.add(quotientSum, i64x2.add(i64x2.extmul_low_i32x4_u(vm, vn), i64x2.extmul_high_i32x4_u(vm, vn)));
    quotientSum = i64x2.add(quotientSum, i64x2.add(i64x2.extmul_low_i32x4_u(wm, wn), i64x2.extmul_high_i32x4_u(wm, wn)));
  }
  return i64x2.add(i64x2.shl(pairSum, 1), quotientSum);
}

/** The middle square a[k/2]^2 of an even column k, else 0. */
@inline function middleSquare(a: usize, k: i32): u64 {
  const d = <u64>digitAt(a, k >> 1);
  return (k & 1) == 0 ? d * d : 0;
}

function digitBuffer(): StaticArray<u32> {
  return new StaticArray<u32>(MAX_DIGITS + PAD);
}

/**
 * One modulus in 28-bit digit form with its scratch space. Not re-entrant (one instance is used at a time in a
 * single-threaded VM).
 */
export class Montgomery28 {
  /** Digit count of the modulus and of every operand; 0 until setModulus. */
  digits: i32 = 0;
  private n0: u32 = 0;
  /** -n^-1 mod 2^28. */
  private n0inv: u32 = 0;
  private readonly n: StaticArray<u32> = digitBuffer();
  private readonly nReversed: StaticArray<u32> = digitBuffer();
  /** R^2 mod n, R = 2^(28 digits). */
  private readonly rr: StaticArray<u32> = digitBuffer();
  // Scratch: the plain base, its Montgomery form, the running power, the reversed right operand, the quotient
  // digits and the product being formed.
  private readonly plain: StaticArray<u32> = digitBuffer();
  private readonly base: StaticArray<u32> = digitBuffer();
  private readonly acc: StaticArray<u32> = digitBuffer();
  private readonly reversed: StaticArray<u32> = digitBuffer();
  private readonly quotient: StaticArray<u32> = digitBuffer();
  private readonly product: StaticArray<u32> = digitBuffer();

  /**
   * Digits needed for a modulus of `bits` bits held in `limbs32` 32-bit limbs: enough for R >= 4n (the lazy
   * reduction bound), and 28 * digits >= 32 * limbs32 so that R^2 can be derived from the 32-bit R^2 by doubling.
   */
  static digitsFor(bits: i32, limbs32: i32): i32 {
    return max((bits + 2 + 27) / 28, (8 * limbs32 + 6) / 7);
  }

  /**
   * Takes the odd modulus n (limbs32 little-endian 32-bit limbs), -n^-1 mod 2^32, and R^2 mod n for this R,
   * already in `digits` digits (MontgomeryModulus.setModulus derives it).
   */
  setModulus(n32: StaticArray<u32>, limbs32: i32, digits: i32, n0inv32: u32, rrDigits: StaticArray<u32>): void {
    assert(digits <= MAX_DIGITS, "Montgomery28: modulus too large");
    if (digits != this.digits) this.clearAll();
    this.digits = digits;
    limbsToDigits(changetype<usize>(n32), limbs32, changetype<usize>(this.n), digits);
    const n = changetype<usize>(this.n), reversed = changetype<usize>(this.nReversed);
    for (let i = 0; i < digits; i++) setDigit(reversed, digits - 1 - i, digitAt(n, i));
    this.n0 = digitAt(n, 0);
    this.n0inv = n0inv32 & <u32>DIGIT_MASK; // -n^-1 mod 2^32 reduced mod 2^28
    memory.copy(changetype<usize>(this.rr), changetype<usize>(rrDigits), <usize>digits << 2);
  }

  /** Zeroes every buffer, padding included (the padding must read as zero for any digit count). */
  private clearAll(): void {
    const bytes = <usize>(MAX_DIGITS + PAD) << 2;
    memory.fill(changetype<usize>(this.n), 0, bytes);
    memory.fill(changetype<usize>(this.nReversed), 0, bytes);
    memory.fill(changetype<usize>(this.rr), 0, bytes);
    memory.fill(changetype<usize>(this.plain), 0, bytes);
    memory.fill(changetype<usize>(this.base), 0, bytes);
    memory.fill(changetype<usize>(this.acc), 0, bytes);
    memory.fill(changetype<usize>(this.reversed), 0, bytes);
    memory.fill(changetype<usize>(this.quotient), 0, bytes);
    memory.fill(changetype<usize>(this.product), 0, bytes);
  }

  /**
   * out = a * b / R mod n, below 2n for a, b below 2n (not fully reduced; see the lazy reduction note above).
   * out may alias a and b: the product is formed in scratch space.
   */
  private mul(out: usize, a: usize, b: usize): void {
    const L = this.digits;
    const reversed = changetype<usize>(this.reversed);
    const quotient = changetype<usize>(this.quotient);
    const nReversed = changetype<usize>(this.nReversed);
    const product = changetype<usize>(this.product);
    for (let i = 0; i < L; i++) setDigit(reversed, L - 1 - i, digitAt(b, i));
    // The low columns read quotient digits up to seven past the current one, which must still be zero.
    memory.fill(quotient, 0, <usize>L << 2);
    const n0 = <u64>this.n0, n0inv = this.n0inv;

    let carry: u64 = 0;
    // Columns 0 .. L-1: terms j = 0..k, with b[k-j] and n[k-j] at reversed index L-1-k+j. Each column fixes the
    // quotient digit that makes it divisible by 2^28 (m[k] is still zero while its column is summed).
    for (let k = 0; k < L; k++) {
      const tail = <usize>(L - 1 - k) << 2;
      const acc = dotTwo(i64x2.splat(0), a, reversed + tail, quotient, nReversed + tail, k + 1);
      const lane0 = <u64>i64x2.extract_lane(acc, 0), lane1 = <u64>i64x2.extract_lane(acc, 1);
      // The lanes and the carry may sum past 2^64, so add their low digits and their high parts separately.
      let low = (lane0 & DIGIT_MASK) + (lane1 & DIGIT_MASK) + (carry & DIGIT_MASK);
      const high = (lane0 >> DIGIT_BITS) + (lane1 >> DIGIT_BITS) + (carry >> DIGIT_BITS);
      const m = (<u32>low * n0inv) & <u32>DIGIT_MASK; // u32 product on purpose: only its low 28 bits matter
      setDigit(quotient, k, m);
      low += <u64>m * n0; // now a multiple of 2^28
      carry = high + (low >> DIGIT_BITS);
    }
    // Columns L .. 2L-2: terms j = k-L+1 .. L-1, reversed index from 0; their low digits are the result.
    for (let k = L; k < 2 * L - 1; k++) {
      const head = <usize>(k - L + 1) << 2;
      const acc = dotTwo(i64x2.splat(0), a + head, reversed, quotient + head, nReversed, 2 * L - 1 - k);
      const lane0 = <u64>i64x2.extract_lane(acc, 0), lane1 = <u64>i64x2.extract_lane(acc, 1);
      const low = (lane0 & DIGIT_MASK) + (lane1 & DIGIT_MASK) + (carry & DIGIT_MASK);
      const high = (lane0 >> DIGIT_BITS) + (lane1 >> DIGIT_BITS) + (carry >> DIGIT_BITS);
      setDigit(product, k - L, <u32>(low & DIGIT_MASK));
      carry = high + (low >> DIGIT_BITS);
    }
    // Column 2L-1 has no terms: the carry is the top digit (below 2^27, as the result is below 2n <= R/2).
    setDigit(product, L - 1, <u32>carry);
    memory.copy(out, product, <usize>L << 2);
  }

  /**
   * out = a^2 / R mod n, below 2n for a below 2n; out may alias a. The products a[j] a[k-j] of a column come in
   * equal pairs, so each pair is formed once and doubled (plus the middle square of an even column): a quarter fewer
   * products than mul, and RSA's exponentiation is almost all squarings. Same two column ranges as mul.
   */
  private sqr(out: usize, a: usize): void {
    const L = this.digits;
    const reversed = changetype<usize>(this.reversed);
    const quotient = changetype<usize>(this.quotient);
    const nReversed = changetype<usize>(this.nReversed);
    const product = changetype<usize>(this.product);
    for (let i = 0; i < L; i++) setDigit(reversed, L - 1 - i, digitAt(a, i));
    memory.fill(quotient, 0, <usize>L << 2);
    const n0 = <u64>this.n0, n0inv = this.n0inv;

    let carry: u64 = 0;
    // Columns 0 .. L-1: terms j = 0..k (pairs j < k-j), reversed index L-1-k+j; m[k] is still zero.
    for (let k = 0; k < L; k++) {
      const tail = <usize>(L - 1 - k) << 2;
      const acc = squareColumn(a, reversed + tail, quotient, nReversed + tail, (k + 1) >> 1, k + 1);
      const lane0 = <u64>i64x2.extract_lane(acc, 0), lane1 = <u64>i64x2.extract_lane(acc, 1);
      const middle = middleSquare(a, k);
      // The column may pass 2^64: sum the low 28-bit parts and the high parts separately.
      let low = (lane0 & DIGIT_MASK) + (lane1 & DIGIT_MASK) + (carry & DIGIT_MASK) + (middle & DIGIT_MASK);
      const high = (lane0 >> DIGIT_BITS) + (lane1 >> DIGIT_BITS) + (carry >> DIGIT_BITS) + (middle >> DIGIT_BITS);
      const m = (<u32>low * n0inv) & <u32>DIGIT_MASK;
      setDigit(quotient, k, m);
      low += <u64>m * n0;
      carry = high + (low >> DIGIT_BITS);
    }
    // Columns L .. 2L-2: terms j = k-L+1 .. L-1, reversed index from 0.
    for (let k = L; k < 2 * L - 1; k++) {
      const first = k - L + 1;
      const head = <usize>first << 2;
      const acc = squareColumn(a + head, reversed, quotient + head, nReversed, ((k + 1) >> 1) - first, 2 * L - 1 - k);
      const lane0 = <u64>i64x2.extract_lane(acc, 0), lane1 = <u64>i64x2.extract_lane(acc, 1);
      const middle = middleSquare(a, k);
      const low = (lane0 & DIGIT_MASK) + (lane1 & DIGIT_MASK) + (carry & DIGIT_MASK) + (middle & DIGIT_MASK);
      const high = (lane0 >> DIGIT_BITS) + (lane1 >> DIGIT_BITS) + (carry >> DIGIT_BITS) + (middle >> DIGIT_BITS);
      setDigit(product, k - L, <u32>(low & DIGIT_MASK));
      carry = high + (low >> DIGIT_BITS);
    }
    setDigit(product, L - 1, <u32>carry);
    memory.copy(out, product, <usize>L << 2);
  }

  /** a -= n when a >= n, for a below 2n: the final step to the exact residue. */
  private reduceOnce(a: usize): void {
    const L = this.digits, n = changetype<usize>(this.n);
    let i = L - 1;
    while (i >= 0 && digitAt(a, i) == digitAt(n, i)) i--;
    if (i >= 0 && digitAt(a, i) < digitAt(n, i)) return;
    let borrow: i64 = 0;
    for (let j = 0; j < L; j++) {
      borrow += <i64>digitAt(a, j) - <i64>digitAt(n, j);
      setDigit(a, j, <u32>(borrow & <i64>DIGIT_MASK));
      borrow >>= DIGIT_BITS; // arithmetic shift: 0 or -1
    }
  }

  /**
   * out32 = x^e mod n for x < n in limbs32 32-bit limbs (out32 may alias x32) and e >= 2, left-to-right binary.
   * The last multiplication uses the plain x (or 1 for an even e), which leaves Montgomery form on the way: for
   * e = 65537 that is one conversion in, 16 squarings and one multiplication.
   */
  pow(out32: StaticArray<u32>, x32: StaticArray<u32>, limbs32: i32, e: u32): void {
    const L = this.digits;
    const plain = changetype<usize>(this.plain), base = changetype<usize>(this.base);
    const acc = changetype<usize>(this.acc);
    limbsToDigits(changetype<usize>(x32), limbs32, plain, L);
    this.mul(base, plain, changetype<usize>(this.rr)); // x R mod n
    memory.copy(acc, base, <usize>L << 2);
    for (let bit = 30 - <i32>clz<u32>(e); bit >= 1; bit--) {
      this.sqr(acc, acc);
      if (((e >>> <u32>bit) & 1) != 0) this.mul(acc, acc, base);
    }
    this.sqr(acc, acc);
    if ((e & 1) == 0) {
      memory.fill(plain, 0, <usize>L << 2);
      setDigit(plain, 0, 1);
    }
    this.mul(acc, acc, plain);
    this.reduceOnce(acc);
    digitsToLimbs(acc, L, changetype<usize>(out32), limbs32);
  }
}

/** Repacks `limbs` 32-bit limbs at src into `digits` 28-bit digits at dst (bits above the source read as zero). */
export function limbsToDigits(src: usize, limbs: i32, dst: usize, digits: i32): void {
  let buffer: u64 = 0, held: i32 = 0, next = 0;
  for (let d = 0; d < digits; d++) {
    if (held < <i32>DIGIT_BITS && next < limbs) {
      buffer |= <u64>digitAt(src, next++) << <u64>held;
      held += 32;
    }
    setDigit(dst, d, <u32>(buffer & DIGIT_MASK));
    buffer >>= DIGIT_BITS;
    held = max(0, held - <i32>DIGIT_BITS);
  }
}

/** Repacks `digits` 28-bit digits at src into `limbs` 32-bit limbs at dst (the value must fit). */
function digitsToLimbs(src: usize, digits: i32, dst: usize, limbs: i32): void {
  let buffer: u64 = 0, held: i32 = 0, next = 0;
  for (let i = 0; i < limbs; i++) {
    while (held < 32 && next < digits) {
      buffer |= <u64>digitAt(src, next++) << <u64>held;
      held += <i32>DIGIT_BITS;
    }
    setDigit(dst, i, <u32>buffer);
    buffer >>= 32;
    held = max(0, held - 32);
  }
}
