// Fixed-size unsigned big integers and Montgomery arithmetic, just enough for RSA signature verification.
//
// Numbers are little-endian arrays of 32-bit limbs (limb 0 is the least significant). Every limb product is
// formed in u64: (2^32-1)^2 + 2*(2^32-1) = 2^64-1, so "limb*limb + limb + carry" never overflows, which is the
// only bound the multiplication loops below rely on.
//
// AssemblyScript pitfall kept in mind throughout: inside a <u64>(...) cast, load<u32> is compiled as a widening
// 64-bit load, so a product meant to wrap at 32 bits must be formed from u32 locals first.
//
// Only public values pass through here (the signature, the modulus, the public exponent), so the code is not
// written to be constant-time; it is written to be fast and allocation-free once a MontgomeryModulus exists.
//
// The exponentiation itself runs on 28-bit digits with SIMD multiply-adds (montgomery28.ts); the 32-bit
// multiplication here sets up R^2 and serves callers that want single Montgomery products.

import { MAX_DIGITS, Montgomery28, limbsToDigits } from "./montgomery28";

/** Largest supported operand: 128 limbs = 4096 bits. */
export const MAX_LIMBS: i32 = 128;

/** Number of significant bits in a big-endian byte string (leading zero bytes ignored); 0 for zero. */
export function bitLengthOfBytes(be: Uint8Array): i32 {
  const len = be.length;
  for (let i = 0; i < len; i++) {
    const b = <u32>unchecked(be[i]);
    if (b != 0) return (len - i - 1) * 8 + (32 - <i32>clz<u32>(b));
  }
  return 0;
}

/**
 * Loads the big-endian bytes be[start..end) into `limbs` little-endian limbs of `out`.
 * Returns false (leaving `out` zeroed) when the value needs more than `limbs` limbs.
 */
export function limbsFromBytes(be: Uint8Array, start: i32, end: i32, out: StaticArray<u32>, limbs: i32): bool {
  if (start < 0 || end > be.length || start > end || limbs > out.length) return false;
  const op = changetype<usize>(out);
  memory.fill(op, 0, <usize>limbs << 2);
  const src = be.dataStart;
  let p = end;
  let i = 0;
  // Whole 4-byte groups from the least significant end: one unaligned load and a byte swap per limb.
  while (p - start >= 4 && i < limbs) {
    p -= 4;
    store<u32>(op + (<usize>i << 2), bswap<u32>(load<u32>(src + <usize>p)));
    i++;
  }
  // One to three leftover top bytes form the next limb.
  if (p > start && p - start < 4 && i < limbs) {
    let w: u32 = 0;
    for (let j = start; j < p; j++) w = (w << 8) | <u32>unchecked(be[j]);
    store<u32>(op + (<usize>i << 2), w);
    p = start;
  }
  // Anything still left did not fit in `limbs` limbs, which is fine only for leading zero bytes.
  for (let j = start; j < p; j++) {
    if (unchecked(be[j]) != 0) {
      memory.fill(op, 0, <usize>limbs << 2);
      return false;
    }
  }
  return true;
}

/**
 * Writes the value of a[0..limbs) big-endian into out[start..start+len).
 * Returns false when the value does not fit in `len` bytes (I2OSP's "integer too large").
 */
export function limbsToBytes(a: StaticArray<u32>, limbs: i32, out: Uint8Array, start: i32, len: i32): bool {
  if (start < 0 || len < 0 || start + len > out.length || limbs > a.length) return false;
  // Any non-zero byte above position len means the value is too large.
  const total = limbs << 2;
  for (let k = len; k < total; k++) {
    if (((unchecked(a[k >> 2]) >>> (<u32>(k & 3) << 3)) & 0xff) != 0) return false;
  }
  for (let k = 0; k < len; k++) {
    let b: u32 = 0;
    if (k < total) b = (unchecked(a[k >> 2]) >>> (<u32>(k & 3) << 3)) & 0xff;
    unchecked(out[start + len - 1 - k] = <u8>b);
  }
  return true;
}

/** Compares a[0..limbs) with b[0..limbs): -1, 0 or 1. */
export function compareLimbs(a: StaticArray<u32>, b: StaticArray<u32>, limbs: i32): i32 {
  for (let i = limbs - 1; i >= 0; i--) {
    const x = a[i];
    const y = b[i];
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

/** True when a[0..limbs) is zero. */
export function isZeroLimbs(a: StaticArray<u32>, limbs: i32): bool {
  for (let i = 0; i < limbs; i++) if (a[i] != 0) return false;
  return true;
}

/** a[0..limbs) -= b[0..limbs); returns the borrow out (0 or 1). */
function subInPlace(ap: usize, bp: usize, limbs: i32): u32 {
  let borrow: u64 = 0;
  for (let i = 0; i < limbs; i++) {
    const off = <usize>i << 2;
    const d = <u64>load<u32>(ap + off) - <u64>load<u32>(bp + off) - borrow;
    store<u32>(ap + off, <u32>d);
    borrow = (d >> 32) & 1; // a wrapped u64 difference has all high bits set
  }
  return <u32>borrow;
}

/** Compares raw limb arrays at pointers (same as compareLimbs, for the internal scratch buffers). */
function comparePtr(ap: usize, bp: usize, limbs: i32): i32 {
  for (let i = limbs - 1; i >= 0; i--) {
    const off = <usize>i << 2;
    const x = load<u32>(ap + off);
    const y = load<u32>(bp + off);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * An odd modulus n prepared for Montgomery arithmetic with R = 2^(32*limbs).
 *
 * One instance owns all its scratch space, so it can be kept at module level and re-pointed at another modulus
 * with setModulus(); setting the same modulus again is a cheap comparison (keys repeat across requests).
 * Not re-entrant, which is fine in a single-threaded Wasm VM.
 */
export class MontgomeryModulus {
  /** Limb count of n (ceil(bits / 32)); 0 until a modulus is set. */
  limbs: i32 = 0;
  /** Exact bit length of n. */
  bits: i32 = 0;
  /** n, little-endian limbs. */
  readonly n: StaticArray<u32> = new StaticArray<u32>(MAX_LIMBS);
  /** -n^-1 mod 2^32, the per-limb Montgomery factor. */
  n0inv: u32 = 0;
  /** R^2 mod n: multiplying by it (Montgomery) converts a plain residue into Montgomery form. */
  readonly rr: StaticArray<u32> = new StaticArray<u32>(MAX_LIMBS);

  // Scratch: t holds the running product (limbs + 1 words), rrWork the R^2 being adapted to digitForm.
  private readonly t: StaticArray<u32> = new StaticArray<u32>(MAX_LIMBS + 2);
  private readonly rrWork: StaticArray<u32> = new StaticArray<u32>(MAX_LIMBS);
  private readonly one: StaticArray<u32> = new StaticArray<u32>(MAX_LIMBS);
  private readonly incoming: StaticArray<u32> = new StaticArray<u32>(MAX_LIMBS);
  /** The same modulus in 28-bit digits, which powU32 works in. */
  private readonly digitForm: Montgomery28 = new Montgomery28();
  private readonly rrDigits: StaticArray<u32> = new StaticArray<u32>(MAX_DIGITS);

  constructor() {
    unchecked(this.one[0] = 1);
  }

  /**
   * Points this instance at the modulus given as big-endian bytes (leading zero bytes allowed).
   * Returns false, and forgets any previous modulus, unless n is odd, at least 3 and at most MAX_LIMBS*32 bits.
   */
  setModulus(be: Uint8Array): bool {
    const bits = bitLengthOfBytes(be);
    const limbs = (bits + 31) >> 5;
    if (bits < 2 || limbs > MAX_LIMBS || (unchecked(be[be.length - 1]) & 1) == 0) {
      this.limbs = 0;
      this.bits = 0;
      return false;
    }
    const incoming = this.incoming;
    limbsFromBytes(be, 0, be.length, incoming, limbs);
    if (limbs == this.limbs && compareLimbs(incoming, this.n, limbs) == 0) return true;

    memory.copy(changetype<usize>(this.n), changetype<usize>(incoming), <usize>limbs << 2);
    this.limbs = limbs;
    this.bits = bits;

    // Newton iteration for n0^-1 mod 2^32: an odd x satisfies x*x = 1 mod 8, so x starts 3 bits correct and
    // each step doubles that (3, 6, 12, 24, 48).
    const n0 = unchecked(this.n[0]);
    let inv = n0;
    for (let i = 0; i < 4; i++) inv *= 2 - n0 * inv;
    this.n0inv = 0 - inv;

    this.computeRR();
    this.prepareDigitForm();
    return true;
  }

  /**
   * Sets up digitForm. Its R' = 2^(28 digits) is at least this R = 2^(32 limbs), so R'^2 mod n is this R^2 mod n
   * doubled 56 digits - 64 limbs more times (at most a few dozen doublings).
   */
  private prepareDigitForm(): void {
    const limbs = this.limbs;
    const digits = Montgomery28.digitsFor(this.bits, limbs);
    const r = this.rrWork;
    memory.copy(changetype<usize>(r), changetype<usize>(this.rr), <usize>limbs << 2);
    for (let i = 64 * limbs; i < 56 * digits; i++) this.doubleMod(r);
    limbsToDigits(changetype<usize>(r), limbs, changetype<usize>(this.rrDigits), digits);
    this.digitForm.setModulus(this.n, limbs, digits, this.n0inv, this.rrDigits);
  }

  /**
   * R^2 mod n without a general division: start from 2^(bits-1) < n, double modulo n up to 2^limbs * R,
   * then five Montgomery squarings take 2^s*R to 2^(32s)*R, i.e. with s = limbs to R^2.
   */
  private computeRR(): void {
    const limbs = this.limbs;
    const r = this.rr;
    memory.fill(changetype<usize>(r), 0, <usize>limbs << 2);
    const top = this.bits - 1;
    unchecked(r[top >> 5] = <u32>1 << <u32>(top & 31));
    const doublings = (limbs << 5) - top + limbs;
    for (let i = 0; i < doublings; i++) this.doubleMod(r);
    for (let i = 0; i < 5; i++) this.mul(r, r, r);
  }

  /** a = 2a mod n, for a < n. */
  private doubleMod(a: StaticArray<u32>): void {
    const limbs = this.limbs;
    const ap = changetype<usize>(a);
    let carry: u32 = 0;
    for (let i = 0; i < limbs; i++) {
      const off = <usize>i << 2;
      const x = load<u32>(ap + off);
      store<u32>(ap + off, (x << 1) | carry);
      carry = x >>> 31;
    }
    const np = changetype<usize>(this.n);
    if (carry != 0 || comparePtr(ap, np, limbs) >= 0) subInPlace(ap, np, limbs);
  }

  /**
   * out = a * b * R^-1 mod n, for a, b < n (fully reduced result). out may alias a and/or b.
   *
   * Interleaved (FIOS) Montgomery multiplication: for each limb b[i], add a*b[i] and the multiple m*n that
   * clears the lowest limb, then drop that limb. Two independent carry chains (c1 for a*b[i], c2 for m*n) keep
   * every intermediate within u64 and let the CPU overlap them. The running value stays below a + n < 2n
   * (by induction: (t + (2^32-1)(a+n)) / 2^32 < a + n when t < a + n), so it needs limbs+1 words and one
   * final conditional subtraction.
   */
  mul(out: StaticArray<u32>, a: StaticArray<u32>, b: StaticArray<u32>): void {
    const limbs = this.limbs;
    // The loops below use raw loads and stores, so check the operand sizes once here.
    if (a.length < limbs || b.length < limbs || out.length < limbs) throw new Error("bignum: operand too short");
    const ap = changetype<usize>(a);
    const bp = changetype<usize>(b);
    const np = changetype<usize>(this.n);
    const tp = changetype<usize>(this.t);
    const n0inv = this.n0inv;
    const topOff = <usize>limbs << 2;
    memory.fill(tp, 0, topOff + 4);

    // Limbs 1..limbs-1 are processed by the inner loop: first (limbs-1) mod 4 single steps, then blocks of
    // four (unrolled by hand; it is ~15% of the whole verification time at 2048 bits).
    const blockStart: usize = 4 + (<usize>((limbs - 1) & 3) << 2);
    const a0 = <u64>load<u32>(ap);
    const nl0 = <u64>load<u32>(np);
    for (let i = 0; i < limbs; i++) {
      const bi = <u64>load<u32>(bp + (<usize>i << 2));
      let s = <u64>load<u32>(tp) + a0 * bi;
      let c1 = s >> 32;
      const low = <u32>s;
      const m = <u64>(low * n0inv); // u32 product on purpose: m is defined mod 2^32
      s = (s & 0xffffffff) + m * nl0; // low word is zero by the choice of m
      let c2 = s >> 32;
      let off: usize = 4;
      for (; off < blockStart; off += 4) {
        s = <u64>load<u32>(tp + off) + <u64>load<u32>(ap + off) * bi + c1;
        c1 = s >> 32;
        s = (s & 0xffffffff) + m * <u64>load<u32>(np + off) + c2;
        c2 = s >> 32;
        store<u32>(tp + off - 4, <u32>s);
      }
      for (; off < topOff; off += 16) {
        const t = tp + off;
        const x = ap + off;
        const y = np + off;
        s = <u64>load<u32>(t) + <u64>load<u32>(x) * bi + c1;
        c1 = s >> 32;
        s = (s & 0xffffffff) + m * <u64>load<u32>(y) + c2;
        c2 = s >> 32;
        store<u32>(t - 4, <u32>s);
        s = <u64>load<u32>(t, 4) + <u64>load<u32>(x, 4) * bi + c1;
        c1 = s >> 32;
        s = (s & 0xffffffff) + m * <u64>load<u32>(y, 4) + c2;
        c2 = s >> 32;
        store<u32>(t, <u32>s);
        s = <u64>load<u32>(t, 8) + <u64>load<u32>(x, 8) * bi + c1;
        c1 = s >> 32;
        s = (s & 0xffffffff) + m * <u64>load<u32>(y, 8) + c2;
        c2 = s >> 32;
        store<u32>(t, <u32>s, 4);
        s = <u64>load<u32>(t, 12) + <u64>load<u32>(x, 12) * bi + c1;
        c1 = s >> 32;
        s = (s & 0xffffffff) + m * <u64>load<u32>(y, 12) + c2;
        c2 = s >> 32;
        store<u32>(t, <u32>s, 8);
      }
      s = <u64>load<u32>(tp + topOff) + c1 + c2;
      store<u32>(tp + topOff - 4, <u32>s);
      store<u32>(tp + topOff, <u32>(s >> 32));
    }

    if (load<u32>(tp + topOff) != 0 || comparePtr(tp, np, limbs) >= 0) subInPlace(tp, np, limbs);
    memory.copy(changetype<usize>(out), tp, topOff);
  }

  /** out = a * R mod n (into Montgomery form), a < n. */
  toMont(out: StaticArray<u32>, a: StaticArray<u32>): void {
    this.mul(out, a, this.rr);
  }

  /** out = a * R^-1 mod n (out of Montgomery form). */
  fromMont(out: StaticArray<u32>, a: StaticArray<u32>): void {
    this.mul(out, a, this.one);
  }

  /**
   * out = x^e mod n for a plain (not Montgomery) residue x < n and a 32-bit exponent (see Montgomery28.pow).
   * out may alias x. Returns false when no modulus is set or x >= n.
   */
  powU32(out: StaticArray<u32>, x: StaticArray<u32>, e: u32): bool {
    const limbs = this.limbs;
    if (limbs == 0 || compareLimbs(x, this.n, limbs) >= 0) return false;
    const bytes = <usize>limbs << 2;
    if (e <= 1) {
      // x^1 = x; x^0 = 1, and 1 < n because n >= 3.
      if (e == 1) memory.copy(changetype<usize>(out), changetype<usize>(x), bytes);
      else {
        memory.fill(changetype<usize>(out), 0, bytes);
        unchecked(out[0] = 1);
      }
      return true;
    }
    this.digitForm.pow(out, x, limbs, e);
    return true;
  }
}
