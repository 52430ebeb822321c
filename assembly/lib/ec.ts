// Elliptic-curve arithmetic for ECDSA verification on the NIST prime curves P-256, P-384 and P-521: short Weierstrass
// curves y^2 = x^3 - 3x + b over GF(p) with prime order n (cofactor 1), as specified in SP 800-186 / SEC 2.
//
// Representation. A number is an array of little-endian u32 limbs addressed by pointer (4 * limbs bytes); every
// buffer lives in StaticArrays owned by a Curve, allocated once, so verification allocates nothing per call and
// the hot loops run on raw loads and stores. Field elements are kept fully reduced into [0, p) in plain (not
// Montgomery) form; multiply, square, add and subtract are the curve-specific unrolled routines of
// p256.ts/p384.ts/p521.ts (picked by limb count, a perfectly predicted branch). P-256's double-scalar
// multiplication, nearly all of its verification time, runs instead in p256_montgomery.ts on a representation
// made for Wasm's multiplier, and hands back its result in this one. Scalars mod n use the generic limb loops
// below: a small Montgomery multiplier (only a handful of scalar products are needed per verification) and a
// binary extended-Euclid inverse.
//
// Points are Jacobian (X, Y, Z) meaning the affine point (X/Z^2, Y/Z^3); Z = 0 is the point at infinity. A point
// occupies three consecutive field elements. Verification needs no secrecy (all inputs are public), so the code
// branches on data freely; it is not meant for signing.

import { p256Add, p256Mul, p256Sqr, p256Sub } from "./p256";
import { p256Combine, p256SetBasePoint } from "./p256_montgomery";
import { recodeWnaf } from "./wnaf";
import { p384Add, p384Mul, p384Sqr, p384Sub } from "./p384";
import { p521Add, p521Mul, p521Sqr, p521Sub } from "./p521";

// ---------------------------------------------------------------------------------------------------------------
// Limb vectors: generic helpers over n little-endian u32 limbs at a pointer. Outputs may alias inputs.

@inline function ld(a: usize, i: i32): u32 {
  return load<u32>(a + (<usize>i << 2));
}

@inline function st(a: usize, i: i32, v: u32): void {
  store<u32>(a + (<usize>i << 2), v);
}

/** Reads 4n big-endian bytes src[start .. start + 4n) into n limbs at dst. The caller checks the bounds. */
export function limbsFromBytes(dst: usize, src: Uint8Array, start: i32, n: i32): void {
  const base = src.dataStart + <usize>start;
  for (let i = 0; i < n; i++) {
    // limb i holds bytes counted from the end
    st(dst, i, bswap<u32>(load<u32>(base + (<usize>(n - 1 - i) << 2))));
  }
}

/** Writes n limbs at src as 4n big-endian bytes into dst[start ..). The caller checks the bounds. */
export function limbsToBytes(dst: Uint8Array, start: i32, src: usize, n: i32): void {
  const base = dst.dataStart + <usize>start;
  for (let i = 0; i < n; i++) store<u32>(base + (<usize>(n - 1 - i) << 2), bswap<u32>(ld(src, i)));
}

/** Parses big-endian hex (exactly 8n digits) into n limbs; used for the curve constants at start-up. */
export function limbsFromHex(dst: usize, hex: string, n: i32): void {
  assert(hex.length == 8 * n, "limbsFromHex: wrong length");
  for (let i = 0; i < n; i++) {
    let v: u32 = 0;
    const at = (n - 1 - i) * 8;
    for (let j = 0; j < 8; j++) {
      const c = hex.charCodeAt(at + j);
      let d: u32;
      if (c >= 48 && c <= 57) d = <u32>(c - 48);
      else if (c >= 97 && c <= 102) d = <u32>(c - 87);
      else if (c >= 65 && c <= 70) d = <u32>(c - 55);
      else {
        assert(false, "limbsFromHex: not a hex digit");
        d = 0;
      }
      v = (v << 4) | d;
    }
    st(dst, i, v);
  }
}

export function limbsCopy(dst: usize, src: usize, n: i32): void {
  memory.copy(dst, src, <usize>n << 2);
}

/** Sets the n limbs at dst to the small value v. */
export function limbsSetSmall(dst: usize, v: u32, n: i32): void {
  st(dst, 0, v);
  for (let i = 1; i < n; i++) st(dst, i, 0);
}

export function limbsIsZero(a: usize, n: i32): bool {
  let acc: u32 = 0;
  for (let i = 0; i < n; i++) acc |= ld(a, i);
  return acc == 0;
}

@inline function limbsIsOne(a: usize, n: i32): bool {
  if (ld(a, 0) != 1) return false;
  for (let i = 1; i < n; i++) if (ld(a, i) != 0) return false;
  return true;
}

export function limbsEqual(a: usize, b: usize, n: i32): bool {
  for (let i = 0; i < n; i++) if (ld(a, i) != ld(b, i)) return false;
  return true;
}

/** -1, 0 or 1 as a < b, a == b, a > b. Scans from the top limb, which usually decides at once. */
export function limbsCompare(a: usize, b: usize, n: i32): i32 {
  for (let i = n - 1; i >= 0; i--) {
    const x = ld(a, i), y = ld(b, i);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

/** o = a + b; returns the carry out (0 or 1). */
export function limbsAdd(o: usize, a: usize, b: usize, n: i32): u32 {
  let c: u64 = 0;
  for (let i = 0; i < n; i++) {
    c += <u64>ld(a, i) + <u64>ld(b, i);
    st(o, i, <u32>c);
    c >>= 32;
  }
  return <u32>c;
}

/** o = a - b; returns the borrow out (0 or 1). */
export function limbsSub(o: usize, a: usize, b: usize, n: i32): u32 {
  let c: i64 = 0;
  for (let i = 0; i < n; i++) {
    c += <i64>ld(a, i) - <i64>ld(b, i);
    st(o, i, <u32>c);
    c >>= 32; // arithmetic shift: 0 or -1
  }
  return <u32>(-c);
}

/** a >>= t, for 1 <= t <= 31. */
function limbsShiftRight(a: usize, t: u32, n: i32): void {
  let low = ld(a, 0);
  for (let i = 0; i < n - 1; i++) {
    const next = ld(a, i + 1);
    st(a, i, (low >>> t) | (next << (32 - t)));
    low = next;
  }
  st(a, n - 1, low >>> t);
}

/** o = a + b mod m, for a, b in [0, m). */
export function modAdd(o: usize, a: usize, b: usize, m: usize, n: i32): void {
  const carry = limbsAdd(o, a, b, n);
  if (carry != 0 || limbsCompare(o, m, n) >= 0) limbsSub(o, o, m, n);
}

/** o = a - b mod m, for a, b in [0, m). */
export function modSub(o: usize, a: usize, b: usize, m: usize, n: i32): void {
  if (limbsSub(o, a, b, n) != 0) limbsAdd(o, o, m, n);
}

/**
 * x = x / 2^t mod m for odd m, x in [0, m) and 1 <= t <= 31, with mInv = -m^-1 mod 2^32: adds the multiple k m
 * (k < 2^t) that makes x divisible by 2^t and shifts, in one pass; (x + k m) / 2^t < (m + (2^t - 1) m) / 2^t = m.
 */
function modDivideByPowerOf2(x: usize, t: u32, m: usize, mInv: u32, n: i32): void {
  const k = <u64>((ld(x, 0) * mInv) & ((<u32>1 << t) - 1)); // u32 product on purpose: only its low t bits matter
  let sum = <u64>ld(x, 0) + k * <u64>ld(m, 0); // below 2^32 + 2^63: no overflow in these sums
  let low = <u32>sum;
  let carry = sum >> 32;
  for (let i = 1; i < n; i++) {
    sum = <u64>ld(x, i) + k * <u64>ld(m, i) + carry;
    const next = <u32>sum;
    carry = sum >> 32;
    st(x, i - 1, (low >>> t) | (next << (32 - t)));
    low = next;
  }
  st(x, n - 1, (low >>> t) | (<u32>carry << (32 - t)));
}

/** Strips the factors of two from u (not zero) and divides x by as many, keeping x a = u (mod m). */
function removeTwos(u: usize, x: usize, m: usize, mInv: u32, n: i32): void {
  let low = ld(u, 0);
  while ((low & 1) == 0) {
    const t = min(ctz<u32>(low), 31); // a zero low limb takes two steps or more
    limbsShiftRight(u, t, n);
    modDivideByPowerOf2(x, t, m, mInv, n);
    low = ld(u, 0);
  }
}

/**
 * o = a^-1 mod m for an odd modulus m, by the binary extended Euclidean algorithm (no multiplications of big
 * numbers, which makes it several times cheaper here than Fermat's a^(m-2)). Keeps u = x1*a and v = x2*a (mod m)
 * while shrinking u, v towards gcd(a, m) = 1; all the factors of two in a row are removed at once. `scratch`
 * needs 4n limbs. Returns false, leaving o unspecified, when a is 0 or shares a factor with m. Not constant-time:
 * only for public values.
 */
export function modInverse(o: usize, a: usize, m: usize, n: i32, scratch: usize): bool {
  const size = <usize>n << 2;
  const u = scratch, v = scratch + size, x1 = scratch + 2 * size, x2 = scratch + 3 * size;
  limbsCopy(u, a, n);
  limbsCopy(v, m, n);
  limbsSetSmall(x1, 1, n);
  limbsSetSmall(x2, 0, n);
  if (limbsIsZero(u, n)) return false;
  const mInv = montgomeryFactor(ld(m, 0));
  while (!limbsIsOne(u, n) && !limbsIsOne(v, n)) {
    removeTwos(u, x1, m, mInv, n);
    removeTwos(v, x2, m, mInv, n);
    if (limbsCompare(u, v, n) >= 0) {
      limbsSub(u, u, v, n);
      modSub(x1, x1, x2, m, n);
      if (limbsIsZero(u, n)) return false; // u == v: a common factor, no inverse
    } else {
      limbsSub(v, v, u, n);
      modSub(x2, x2, x1, m, n);
    }
  }
  limbsCopy(o, limbsIsOne(u, n) ? x1 : x2, n);
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// Montgomery multiplication modulo an odd m with n limbs (used for the scalars mod the group order).

/** -m^-1 mod 2^32 for odd m0, by Newton's iteration (each step doubles the number of correct low bits). */
export function montgomeryFactor(m0: u32): u32 {
  let x = m0; // correct to 3 bits for any odd m0
  for (let i = 0; i < 4; i++) x *= 2 - m0 * x;
  return 0 - x;
}

/**
 * o = a * b * 2^(-32n) mod m for a, b in [0, m), by word-serial Montgomery reduction (the CIOS form): each round
 * adds a_j*b_i, then the multiple of m that clears the low word, and drops that word. `t` needs n + 2 limbs.
 */
export function montgomeryMul(o: usize, a: usize, b: usize, m: usize, mInv: u32, n: i32, t: usize): void {
  for (let i = 0; i < n + 2; i++) st(t, i, 0);
  for (let i = 0; i < n; i++) {
    const bi = <u64>ld(b, i);
    let c: u64 = 0;
    for (let j = 0; j < n; j++) {
      c += <u64>ld(a, j) * bi + <u64>ld(t, j);
      st(t, j, <u32>c);
      c >>= 32;
    }
    c += <u64>ld(t, n);
    st(t, n, <u32>c);
    st(t, n + 1, <u32>(c >> 32));

    const q = <u64>(ld(t, 0) * mInv);
    c = (<u64>ld(m, 0) * q + <u64>ld(t, 0)) >> 32; // the low word becomes zero by the choice of q
    for (let j = 1; j < n; j++) {
      c += <u64>ld(m, j) * q + <u64>ld(t, j);
      st(t, j - 1, <u32>c);
      c >>= 32;
    }
    c += <u64>ld(t, n);
    st(t, n - 1, <u32>c);
    st(t, n, ld(t, n + 1) + <u32>(c >> 32));
  }
  // t < 2m here; one conditional subtraction finishes.
  if (ld(t, n) != 0 || limbsCompare(t, m, n) >= 0) limbsSub(t, t, m, n);
  limbsCopy(o, t, n);
}

// ---------------------------------------------------------------------------------------------------------------
// Curves.

/**
 * Window of the signed-digit recoding of u2 (the public key's scalar): odd multiples up to 15Q, built per call
 * (P-256 uses its own, cached per key: see p256_montgomery.ts).
 */
const Q_WINDOW: i32 = 5;
const Q_TABLE: i32 = 1 << (Q_WINDOW - 2); // Q, 3Q, ..., 15Q
/** Window for u1 (the base point's scalar): odd multiples up to 63G in affine form, built once per curve. */
const G_WINDOW: i32 = 7;
const G_TABLE: i32 = 1 << (G_WINDOW - 2); // G, 3G, ..., 63G

/**
 * One curve's constants, base-point table and all scratch space. Verification works entirely inside these
 * preallocated buffers, so a Curve is not reentrant; wasm runs one call at a time and nothing here calls out.
 */
export class Curve {
  /** Limbs per field element / scalar (8 for P-256, 12 for P-384, 17 for P-521). */
  readonly limbs: i32;
  /** Bytes of a coordinate or scalar (32, 48 or 66): 4 * limbs, except for P-521 whose 521 bits need 66. */
  readonly size: i32;
  /** Zeros, then a `size`-byte big-endian number: reads and writes it as 4 * limbs bytes when size is less. */
  private readonly padded: Uint8Array;

  // All numbers live in this one block; the usize fields below point into it.
  private readonly block: StaticArray<u32>;
  private readonly gTable: StaticArray<u32>;
  private readonly qTable: StaticArray<u32>;
  private readonly digitsG: StaticArray<i8>;
  private readonly digitsQ: StaticArray<i8>;

  // constants
  private readonly p: usize;
  private readonly b: usize;
  private readonly n: usize;
  private readonly nInv: u32; // -n^-1 mod 2^32
  private readonly nR2: usize; // 2^(64 * limbs) mod n, to leave the Montgomery domain
  private readonly pMinusN: usize; // p - n (p > n on both curves)
  private readonly one: usize;

  // field temporaries for the point formulas
  private readonly t0: usize;
  private readonly t1: usize;
  private readonly t2: usize;
  private readonly t3: usize;
  private readonly t4: usize;
  private readonly t5: usize;
  private readonly t6: usize;
  private readonly t7: usize;
  private readonly t8: usize;

  // verification state
  private readonly qx: usize;
  private readonly qy: usize;
  private readonly r: usize;
  private readonly s: usize;
  private readonly e: usize;
  private readonly w: usize;
  private readonly u1: usize;
  private readonly u2: usize;
  private readonly acc: usize; // the running point (3 elements)
  private readonly twoQ: usize; // 3 elements
  private readonly inverseScratch: usize; // 4 elements
  private readonly montScratch: usize; // limbs + 2 words

  /**
   * Builds a curve from big-endian hex constants (prime p, coefficient b, order n, base point G), with a = -3.
   * `fieldLimbs` selects the field routines: 8 = P-256, 12 = P-384, 17 = P-521 (hex constants padded to 8 * 17
   * digits; its coordinates and scalars are 66 bytes).
   */
  constructor(fieldLimbs: i32, pHex: string, bHex: string, nHex: string, gxHex: string, gyHex: string) {
    assert(fieldLimbs == 8 || fieldLimbs == 12 || fieldLimbs == 17, "Curve: only the P-256, P-384 and P-521 fields are implemented");
    const L = fieldLimbs;
    this.limbs = L;
    this.size = L == 17 ? 66 : L * 4;
    this.padded = new Uint8Array(L * 4);
    const bytes = <usize>L << 2;

    // 6 constants + 9 temporaries + 8 verification values + 2 points + 4 elements of inverse scratch, then the
    // Montgomery scratch (L + 2 words).
    const elements = 6 + 9 + 8 + 2 * 3 + 4;
    const block = new StaticArray<u32>(elements * L + L + 2);
    this.block = block;
    let at = changetype<usize>(block);
    this.p = at; at += bytes;
    this.b = at; at += bytes;
    this.n = at; at += bytes;
    this.nR2 = at; at += bytes;
    this.pMinusN = at; at += bytes;
    this.one = at; at += bytes;
    this.t0 = at; at += bytes;
    this.t1 = at; at += bytes;
    this.t2 = at; at += bytes;
    this.t3 = at; at += bytes;
    this.t4 = at; at += bytes;
    this.t5 = at; at += bytes;
    this.t6 = at; at += bytes;
    this.t7 = at; at += bytes;
    this.t8 = at; at += bytes;
    this.qx = at; at += bytes;
    this.qy = at; at += bytes;
    this.r = at; at += bytes;
    this.s = at; at += bytes;
    this.e = at; at += bytes;
    this.w = at; at += bytes;
    this.u1 = at; at += bytes;
    this.u2 = at; at += bytes;
    this.acc = at; at += 3 * bytes;
    this.twoQ = at; at += 3 * bytes;
    this.inverseScratch = at; at += 4 * bytes;
    this.montScratch = at;
    assert(at + ((<usize>L + 2) << 2) == changetype<usize>(block) + ((<usize>block.length) << 2), "Curve: layout");

    this.gTable = new StaticArray<u32>(G_TABLE * 2 * L);
    this.qTable = new StaticArray<u32>(Q_TABLE * 3 * L);
    this.digitsG = new StaticArray<i8>(32 * L + 1);
    this.digitsQ = new StaticArray<i8>(32 * L + 1);

    limbsFromHex(this.p, pHex, L);
    limbsFromHex(this.b, bHex, L);
    limbsFromHex(this.n, nHex, L);
    limbsSetSmall(this.one, 1, L);
    this.nInv = montgomeryFactor(ld(this.n, 0));
    limbsSub(this.pMinusN, this.p, this.n, L);
    // 2^(64L) mod n by doubling 1 that many times (start-up only).
    limbsSetSmall(this.nR2, 1, L);
    for (let i = 0; i < 64 * L; i++) modAdd(this.nR2, this.nR2, this.nR2, this.n, L);

    this.buildBaseTable(gxHex, gyHex, L == 8 ? 1 : G_TABLE);
    // P-256 builds its own tables from G (the first entry).
    if (L == 8) p256SetBasePoint(changetype<usize>(this.gTable), changetype<usize>(this.gTable) + bytes);
  }

  // ---- field operations (mod p) ----

  @inline private fmul(o: usize, a: usize, b: usize): void {
    if (this.limbs == 8) p256Mul(o, a, b);
    else if (this.limbs == 12) p384Mul(o, a, b);
    else p521Mul(o, a, b);
  }

  @inline private fsqr(o: usize, a: usize): void {
    if (this.limbs == 8) p256Sqr(o, a);
    else if (this.limbs == 12) p384Sqr(o, a);
    else p521Sqr(o, a);
  }

  @inline private fadd(o: usize, a: usize, b: usize): void {
    if (this.limbs == 8) p256Add(o, a, b);
    else if (this.limbs == 12) p384Add(o, a, b);
    else p521Add(o, a, b);
  }

  @inline private fsub(o: usize, a: usize, b: usize): void {
    if (this.limbs == 8) p256Sub(o, a, b);
    else if (this.limbs == 12) p384Sub(o, a, b);
    else p521Sub(o, a, b);
  }

  /** o = -a mod p (0 stays 0). */
  private fneg(o: usize, a: usize): void {
    if (limbsIsZero(a, this.limbs)) limbsSetSmall(o, 0, this.limbs);
    else limbsSub(o, this.p, a, this.limbs);
  }

  /** Whether the affine (x, y), both already < p, satisfies y^2 = x^3 - 3x + b. */
  private onCurve(x: usize, y: usize): bool {
    const lhs = this.t0, rhs = this.t1, t = this.t2;
    this.fsqr(lhs, y);
    this.fsqr(rhs, x);
    this.fmul(rhs, rhs, x);
    this.fadd(t, x, x);
    this.fadd(t, t, x);
    this.fsub(rhs, rhs, t);
    this.fadd(rhs, rhs, this.b);
    return limbsEqual(lhs, rhs, this.limbs);
  }

  // ---- point operations (Jacobian, in place) ----

  /**
   * pt = 2 * pt, with the a = -3 shortcut 3X^2 + aZ^4 = 3(X - Z^2)(X + Z^2) (4 multiplies, 4 squarings).
   * Infinity stays infinity; no point of these prime-order curves has Y = 0, so no other case is special.
   */
  private double(pt: usize): void {
    const L = this.limbs, bytes = <usize>L << 2;
    const X = pt, Y = pt + bytes, Z = pt + 2 * bytes;
    if (limbsIsZero(Z, L)) return;
    const delta = this.t0, gamma = this.t1, beta = this.t2, alpha = this.t3, u = this.t4, v = this.t5;
    this.fsqr(delta, Z); // Z^2
    this.fsqr(gamma, Y); // Y^2
    this.fmul(beta, X, gamma); // X Y^2
    this.fsub(u, X, delta);
    this.fadd(v, X, delta);
    this.fmul(alpha, u, v);
    this.fadd(u, alpha, alpha);
    this.fadd(alpha, u, alpha); // 3 (X - Z^2)(X + Z^2)
    // Z3 = 2 Y Z, while Y is still the input
    this.fmul(u, Y, Z);
    this.fadd(Z, u, u);
    // X3 = alpha^2 - 8 beta
    this.fadd(beta, beta, beta);
    this.fadd(beta, beta, beta); // 4 beta
    this.fsqr(u, alpha);
    this.fadd(v, beta, beta);
    this.fsub(X, u, v);
    // Y3 = alpha (4 beta - X3) - 8 gamma^2
    this.fsub(u, beta, X);
    this.fmul(u, alpha, u);
    this.fsqr(v, gamma);
    this.fadd(v, v, v);
    this.fadd(v, v, v);
    this.fadd(v, v, v);
    this.fsub(Y, u, v);
  }

  /**
   * pt = pt + (x2, ±y2) for an affine point (a "mixed" addition: 8 multiplies, 3 squarings). Handles pt at
   * infinity, pt equal to the addend (falls back to doubling) and pt equal to its negation (gives infinity).
   */
  private addAffine(pt: usize, x2: usize, y2In: usize, negate: bool): void {
    const L = this.limbs, bytes = <usize>L << 2;
    const X = pt, Y = pt + bytes, Z = pt + 2 * bytes;
    let y2 = y2In;
    if (negate) {
      this.fneg(this.t8, y2In);
      y2 = this.t8;
    }
    if (limbsIsZero(Z, L)) {
      limbsCopy(X, x2, L);
      limbsCopy(Y, y2, L);
      limbsCopy(Z, this.one, L);
      return;
    }
    const zz = this.t0, u2 = this.t1, s2 = this.t2, h = this.t3, rr = this.t4, hh = this.t5, hhh = this.t6;
    const v = this.t7;
    this.fsqr(zz, Z);
    this.fmul(u2, x2, zz); // x2 Z^2
    this.fmul(s2, Z, zz);
    this.fmul(s2, y2, s2); // y2 Z^3
    this.fsub(h, u2, X);
    this.fsub(rr, s2, Y);
    if (limbsIsZero(h, L)) {
      // Same x: either the same point (double it) or its negation (the sum is infinity).
      if (limbsIsZero(rr, L)) this.double(pt);
      else limbsSetSmall(Z, 0, L);
      return;
    }
    this.fsqr(hh, h);
    this.fmul(hhh, h, hh);
    this.fmul(v, X, hh);
    this.fmul(Z, Z, h);
    // X3 = r^2 - H^3 - 2V
    this.fsqr(X, rr);
    this.fsub(X, X, hhh);
    this.fsub(X, X, v);
    this.fsub(X, X, v);
    // Y3 = r (V - X3) - Y1 H^3
    this.fsub(v, v, X);
    this.fmul(v, rr, v);
    this.fmul(hhh, Y, hhh);
    this.fsub(Y, v, hhh);
  }

  /**
   * pt = pt + (±q) for Jacobian points (12 multiplies, 4 squarings), with the same special cases as addAffine
   * plus q at infinity.
   */
  private add(pt: usize, q: usize, negate: bool): void {
    const L = this.limbs, bytes = <usize>L << 2;
    const X1 = pt, Y1 = pt + bytes, Z1 = pt + 2 * bytes;
    const X2 = q, Y2In = q + bytes, Z2 = q + 2 * bytes;
    if (limbsIsZero(Z2, L)) return;
    let Y2 = Y2In;
    if (negate) {
      this.fneg(this.t8, Y2In);
      Y2 = this.t8;
    }
    if (limbsIsZero(Z1, L)) {
      limbsCopy(X1, X2, L);
      limbsCopy(Y1, Y2, L);
      limbsCopy(Z1, Z2, L);
      return;
    }
    const z1z1 = this.t0, z2z2 = this.t1, u1 = this.t2, u2 = this.t3, s1 = this.t4, s2 = this.t5;
    this.fsqr(z1z1, Z1);
    this.fsqr(z2z2, Z2);
    this.fmul(u1, X1, z2z2);
    this.fmul(u2, X2, z1z1);
    this.fmul(s1, Z2, z2z2);
    this.fmul(s1, Y1, s1); // Y1 Z2^3
    this.fmul(s2, Z1, z1z1);
    this.fmul(s2, Y2, s2); // Y2 Z1^3
    const h = u2, rr = s2;
    this.fsub(h, u2, u1);
    this.fsub(rr, s2, s1);
    if (limbsIsZero(h, L)) {
      if (limbsIsZero(rr, L)) this.double(pt);
      else limbsSetSmall(Z1, 0, L);
      return;
    }
    const hh = this.t0, hhh = this.t1, v = this.t6; // z1z1, z2z2 are no longer needed
    this.fsqr(hh, h);
    this.fmul(hhh, h, hh);
    this.fmul(v, u1, hh);
    this.fmul(Z1, Z1, Z2);
    this.fmul(Z1, Z1, h);
    // X3 = r^2 - H^3 - 2V
    this.fsqr(X1, rr);
    this.fsub(X1, X1, hhh);
    this.fsub(X1, X1, v);
    this.fsub(X1, X1, v);
    // Y3 = r (V - X3) - S1 H^3
    this.fsub(v, v, X1);
    this.fmul(v, rr, v);
    this.fmul(hhh, s1, hhh);
    this.fsub(Y1, v, hhh);
  }

  /** Converts the Jacobian point at pt to affine (x, y); false for infinity. */
  private toAffine(x: usize, y: usize, pt: usize): bool {
    const L = this.limbs, bytes = <usize>L << 2;
    const Z = pt + 2 * bytes;
    if (limbsIsZero(Z, L)) return false;
    const zi = this.t5, zi2 = this.t6;
    modInverse(zi, Z, this.p, L, this.inverseScratch);
    this.fsqr(zi2, zi);
    this.fmul(x, pt, zi2);
    this.fmul(zi2, zi2, zi);
    this.fmul(y, pt + bytes, zi2);
    return true;
  }

  /**
   * Fills gTable with `entries` of G, 3G, 5G, ..., in affine form (start-up only; one inversion per entry is fine
   * there).
   */
  private buildBaseTable(gxHex: string, gyHex: string, entries: i32): void {
    const L = this.limbs, bytes = <usize>L << 2;
    const acc = this.acc, twoG = this.twoQ;
    limbsFromHex(acc, gxHex, L);
    limbsFromHex(acc + bytes, gyHex, L);
    limbsCopy(acc + 2 * bytes, this.one, L);
    assert(this.onCurve(acc, acc + bytes), "Curve: base point not on the curve");
    memory.copy(twoG, acc, 3 * bytes);
    this.double(twoG);
    const table = changetype<usize>(this.gTable);
    for (let i = 0; i < entries; i++) {
      if (i > 0) this.add(acc, twoG, false);
      const entry = table + <usize>i * 2 * bytes;
      assert(this.toAffine(entry, entry + bytes, acc), "Curve: base table hit infinity");
    }
  }

  // ---- numbers in bytes ----

  /** Reads the `size`-byte big-endian number at src[start ..) into limbs. */
  private readNumber(dst: usize, src: Uint8Array, start: i32): void {
    const L = this.limbs, pad = L * 4 - this.size;
    if (pad == 0) {
      limbsFromBytes(dst, src, start, L);
      return;
    }
    memory.copy(this.padded.dataStart + <usize>pad, src.dataStart + <usize>start, <usize>this.size);
    limbsFromBytes(dst, this.padded, 0, L);
  }

  /** Writes limbs as a `size`-byte big-endian number into dst (which has exactly `size` bytes). */
  private writeNumber(dst: Uint8Array, src: usize): void {
    const L = this.limbs, pad = L * 4 - this.size;
    limbsToBytes(this.padded, 0, src, L);
    memory.copy(dst.dataStart, this.padded.dataStart + <usize>pad, <usize>this.size);
  }

  // ---- scalars ----

  /** o = a * b mod n, for a, b < n (two Montgomery products: a b R^-1, then times R^2 R^-1). */
  private scalarMul(o: usize, a: usize, b: usize): void {
    const L = this.limbs;
    montgomeryMul(o, a, b, this.n, this.nInv, L, this.montScratch);
    montgomeryMul(o, o, this.nR2, this.n, this.nInv, L, this.montScratch);
  }

  /** The width-w signed-digit expansion of the scalar k (see wnaf.ts); returns its length. */
  private recode(digits: StaticArray<i8>, k: usize, w: i32): i32 {
    return recodeWnaf(changetype<usize>(digits), k, this.limbs, w);
  }

  /**
   * acc = u1 G + u2 Q for the public key Q = (qx, qy) (affine, on the curve), by interleaving the two wNAF
   * expansions over shared doublings ("Shamir's trick"): G's odd multiples come from the start-up table, Q's
   * (Q, 3Q, ..., 15Q) are built here. Intermediate sums may pass through infinity or need a doubling, which the
   * addition routines handle.
   */
  private linearCombination(u1: usize, u2: usize, qx: usize, qy: usize): void {
    const L = this.limbs, bytes = <usize>L << 2, pointBytes: usize = 3 * bytes;
    if (L == 8) {
      // P-256 runs this part (nearly all of a verification) on its faster field representation.
      p256Combine(u1, u2, qx, qy, this.acc);
      return;
    }
    const qTable = changetype<usize>(this.qTable);
    // Q table: T[0] = Q, T[i] = T[i-1] + 2Q
    limbsCopy(qTable, qx, L);
    limbsCopy(qTable + bytes, qy, L);
    limbsCopy(qTable + 2 * bytes, this.one, L);
    memory.copy(this.twoQ, qTable, pointBytes);
    this.double(this.twoQ);
    for (let i = 1; i < Q_TABLE; i++) {
      const entry = qTable + <usize>i * pointBytes;
      memory.copy(entry, entry - pointBytes, pointBytes);
      this.add(entry, this.twoQ, false);
    }

    const lenG = this.recode(this.digitsG, u1, G_WINDOW);
    const lenQ = this.recode(this.digitsQ, u2, Q_WINDOW);
    const gTable = changetype<usize>(this.gTable);
    const acc = this.acc;
    limbsSetSmall(acc + 2 * bytes, 0, L); // infinity
    for (let i = max(lenG, lenQ) - 1; i >= 0; i--) {
      this.double(acc);
      const dg = <i32>unchecked(this.digitsG[i]);
      if (dg != 0) {
        const entry = gTable + <usize>(abs(dg) >> 1) * 2 * bytes;
        this.addAffine(acc, entry, entry + bytes, dg < 0);
      }
      const dq = <i32>unchecked(this.digitsQ[i]);
      if (dq != 0) this.add(acc, qTable + <usize>(abs(dq) >> 1) * pointBytes, dq < 0);
    }
  }

  /**
   * ECDSA verification (FIPS 186-5 section 6.4.2 / SEC 1 section 4.1.4) of sig = r || s over an already computed
   * message digest, for the public key (x, y) given as big-endian affine coordinates of exactly `size` bytes.
   * Rejects: wrong lengths; coordinates >= p; a key not on the curve (the affine form cannot express infinity,
   * and with cofactor 1 every curve point is in the group); r or s outside [1, n-1]; u1 G + u2 Q = infinity.
   * The digest's leftmost bits (as many as n has) form the integer e.
   */
  verifyDigest(x: Uint8Array, y: Uint8Array, digest: Uint8Array, sig: Uint8Array): bool {
    const L = this.limbs, size = this.size, bytes = <usize>L << 2;
    if (x.length != size || y.length != size || sig.length != 2 * size) return false;
    const p = this.p, n = this.n;

    this.readNumber(this.qx, x, 0);
    this.readNumber(this.qy, y, 0);
    if (limbsCompare(this.qx, p, L) >= 0 || limbsCompare(this.qy, p, L) >= 0) return false;
    if (!this.onCurve(this.qx, this.qy)) return false;

    const r = this.r, s = this.s;
    this.readNumber(r, sig, 0);
    this.readNumber(s, sig, size);
    if (limbsIsZero(r, L) || limbsCompare(r, n, L) >= 0) return false;
    if (limbsIsZero(s, L) || limbsCompare(s, n, L) >= 0) return false;

    // e = the leftmost 8*size bits of the digest (n has exactly that many on P-256 and P-384), reduced mod n:
    // e < 2^(8 size) < 2n. A shorter digest (SHA-512's 512 bits on P-521, whose n has 521) is taken whole.
    const e = this.e;
    if (digest.length >= size) {
      limbsFromBytes(e, digest, 0, L);
    } else {
      const padded = new Uint8Array(L * 4);
      padded.set(digest, L * 4 - digest.length);
      limbsFromBytes(e, padded, 0, L);
    }
    if (limbsCompare(e, n, L) >= 0) limbsSub(e, e, n, L);

    // w = s^-1, u1 = e w, u2 = r w (mod n)
    const w = this.w;
    if (!modInverse(w, s, n, L, this.inverseScratch)) return false; // cannot happen for a prime n and s in [1, n-1]
    this.scalarMul(this.u1, e, w);
    this.scalarMul(this.u2, r, w);

    this.linearCombination(this.u1, this.u2, this.qx, this.qy);
    const X = this.acc, Z = this.acc + 2 * bytes;
    if (limbsIsZero(Z, L)) return false;

    // Accept when x(R) mod n == r, with x(R) = X / Z^2 in [0, p). As p < 2n, that means x(R) = r or (when
    // r + n < p) x(R) = r + n; comparing r Z^2 (and (r + n) Z^2) with X avoids inverting Z.
    const zz = this.t0, cand = this.t1;
    this.fsqr(zz, Z);
    this.fmul(cand, r, zz); // r < n < p is a valid field element
    if (limbsEqual(cand, X, L)) return true;
    if (limbsCompare(r, this.pMinusN, L) < 0) {
      limbsAdd(cand, r, n, L);
      this.fmul(cand, cand, zz);
      if (limbsEqual(cand, X, L)) return true;
    }
    return false;
  }

  /**
   * Computes u1 G + u2 Q for big-endian scalars u1, u2 (each `size` bytes, < n) and the affine public point
   * Q = (qx, qy), writing the affine result into outX/outY (`size` bytes each). Returns false for bad lengths,
   * scalars >= n, a Q that is not a curve point, or an infinite result. Exposed for tests of the point arithmetic.
   */
  combine(u1: Uint8Array, u2: Uint8Array, qx: Uint8Array, qy: Uint8Array, outX: Uint8Array, outY: Uint8Array): bool {
    const L = this.limbs, size = this.size;
    if (u1.length != size || u2.length != size || qx.length != size || qy.length != size) return false;
    if (outX.length != size || outY.length != size) return false;
    this.readNumber(this.u1, u1, 0);
    this.readNumber(this.u2, u2, 0);
    this.readNumber(this.qx, qx, 0);
    this.readNumber(this.qy, qy, 0);
    if (limbsCompare(this.u1, this.n, L) >= 0 || limbsCompare(this.u2, this.n, L) >= 0) return false;
    if (limbsCompare(this.qx, this.p, L) >= 0 || limbsCompare(this.qy, this.p, L) >= 0) return false;
    if (!this.onCurve(this.qx, this.qy)) return false;
    this.linearCombination(this.u1, this.u2, this.qx, this.qy);
    if (!this.toAffine(this.t7, this.t8, this.acc)) return false;
    this.writeNumber(outX, this.t7);
    this.writeNumber(outY, this.t8);
    return true;
  }
}
