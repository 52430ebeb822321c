// SHA-256, SHA-384 and SHA-512 (FIPS 180-4), written for the JWT filter: proxy-wasm gives no host crypto.
//
// Design notes:
// - Each hasher owns fixed scratch (state, message schedule, one block buffer) allocated once, so hashing
//   creates no garbage apart from the digest it returns.
// - Whole blocks are compressed straight from the caller's bytes; only a partial tail is copied into the
//   block buffer. Words are loaded with one unaligned `load` plus `bswap` (wasm is little-endian).
// - Round constants and initial values live in static data segments (StaticArray literals), so nothing is
//   computed at module start. They were derived from the cube/square roots of the first primes, as the
//   standard defines them, and are checked by the FIPS example vectors in tests/as/sha2.spec.ts.

/** Which SHA-2 function to use; the numeric values are stable (other modules store them). */
export const enum HashAlg {
  SHA256 = 0,
  SHA384 = 1,
  SHA512 = 2,
}

// SHA-256 round constants K0..K63 (FIPS 180-4 §4.2.2).
const K256: StaticArray<u32> = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

// SHA-256 initial hash value (FIPS 180-4 §5.3.3).
const IV256: StaticArray<u32> = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

// SHA-384/512 round constants K0..K79 (FIPS 180-4 §4.2.3).
const K512: StaticArray<u64> = [
  0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc,
  0x3956c25bf348b538, 0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118,
  0xd807aa98a3030242, 0x12835b0145706fbe, 0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2,
  0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235, 0xc19bf174cf692694,
  0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
  0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5,
  0x983e5152ee66dfab, 0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4,
  0xc6e00bf33da88fc2, 0xd5a79147930aa725, 0x06ca6351e003826f, 0x142929670a0e6e70,
  0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed, 0x53380d139d95b3df,
  0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
  0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30,
  0xd192e819d6ef5218, 0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8,
  0x19a4c116b8d2d0c8, 0x1e376c085141ab53, 0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8,
  0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373, 0x682e6ff3d6b2b8a3,
  0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
  0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b,
  0xca273eceea26619c, 0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178,
  0x06f067aa72176fba, 0x0a637dc5a2c898a6, 0x113f9804bef90dae, 0x1b710b35131c471b,
  0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc, 0x431d67c49c100d4c,
  0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817,
];

// SHA-512 initial hash value (FIPS 180-4 §5.3.5).
const IV512: StaticArray<u64> = [
  0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
  0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
];

// SHA-384 initial hash value (FIPS 180-4 §5.3.4); SHA-384 is SHA-512 with this IV, truncated to 48 bytes.
const IV384: StaticArray<u64> = [
  0xcbbb9d5dc1059ed8, 0x629a292a367cd507, 0x9159015a3070dd17, 0x152fecd8f70e5939,
  0x67332667ffc00b31, 0x8eb44a8768581511, 0xdb0c2e0d64f98fa7, 0x47b5481dbefa4fa4,
];

// Range checks shared by the streaming classes. A bad range is a caller bug, not bad input, so it aborts
// instead of silently hashing something else.
@inline
function checkRange(data: Uint8Array, start: i32, end: i32): void {
  if (start < 0 || end < start || end > data.length) throw new RangeError("hash updateRange: range out of bounds");
}

/** Streaming SHA-256. `digest()` finalizes and resets, so an instance can be reused without `reset()`. */
export class Sha256 {
  private h: StaticArray<u32> = new StaticArray<u32>(8);
  private w: StaticArray<u32> = new StaticArray<u32>(64);
  private block: StaticArray<u8> = new StaticArray<u8>(64);
  private blockLen: i32 = 0;
  private total: u64 = 0; // bytes hashed so far

  constructor() {
    this.reset();
  }

  reset(): void {
    memory.copy(changetype<usize>(this.h), changetype<usize>(IV256), 32);
    this.blockLen = 0;
    this.total = 0;
  }

  update(data: Uint8Array): void {
    this.absorb(data.dataStart, data.length);
  }

  updateRange(data: Uint8Array, start: i32, end: i32): void {
    checkRange(data, start, end);
    this.absorb(data.dataStart + <usize>start, end - start);
  }

  /** Finalizes and returns the 32-byte digest, then resets the instance. */
  digest(): Uint8Array {
    const out = new Uint8Array(32);
    this.finishTo(out.dataStart);
    return out;
  }

  /** Like `digest()` but writes into `out` at `offset` (needs 32 bytes there), avoiding an allocation. */
  digestInto(out: Uint8Array, offset: i32 = 0): void {
    if (offset < 0 || offset > out.length - 32) throw new RangeError("Sha256.digestInto: output too small");
    this.finishTo(out.dataStart + <usize>offset);
  }

  private absorb(p: usize, n: i32): void {
    this.total += <u64>n;
    const block = changetype<usize>(this.block);
    let fill = this.blockLen;
    if (fill > 0) {
      // Top up the pending partial block first.
      const take = min(64 - fill, n);
      memory.copy(block + <usize>fill, p, take);
      fill += take;
      p += <usize>take;
      n -= take;
      if (fill < 64) {
        this.blockLen = fill;
        return;
      }
      this.compress(block);
      fill = 0;
    }
    while (n >= 64) {
      this.compress(p);
      p += 64;
      n -= 64;
    }
    if (n > 0) memory.copy(block, p, n);
    this.blockLen = n;
  }

  private finishTo(out: usize): void {
    const block = changetype<usize>(this.block);
    let fill = this.blockLen;
    // Padding: one 0x80 byte, zeros, then the message length in bits as a 64-bit big-endian integer.
    store<u8>(block + <usize>fill, 0x80);
    fill++;
    if (fill > 56) {
      memory.fill(block + <usize>fill, 0, 64 - fill);
      this.compress(block);
      fill = 0;
    }
    memory.fill(block + <usize>fill, 0, 56 - fill);
    store<u64>(block + 56, bswap<u64>(this.total << 3));
    this.compress(block);
    const h = this.h;
    for (let i = 0; i < 8; i++) store<u32>(out + (<usize>i << 2), bswap<u32>(unchecked(h[i])));
    this.reset();
  }

  // Processes one 64-byte block at address p (the caller guarantees 64 readable bytes). Scratch and constants
  // are addressed through raw pointers: holding them as managed references inside the loops makes the
  // incremental GC spill them to its shadow stack on every access, which cost about half the throughput.
  private compress(p: usize): void {
    const w = changetype<usize>(this.w);
    const k = changetype<usize>(K256);
    for (let i: usize = 0; i < 64; i += 4) store<u32>(w + i, bswap<u32>(load<u32>(p + i)));
    const h = changetype<usize>(this.h);
    let a = load<u32>(h), b = load<u32>(h, 4), c = load<u32>(h, 8), d = load<u32>(h, 12);
    let e = load<u32>(h, 16), f = load<u32>(h, 20), g = load<u32>(h, 24), hh = load<u32>(h, 28);
    // Rounds, with the message schedule W[16..63] expanded as the rounds reach it (one pass over W).
    for (let i: usize = 0; i < 256; i += 4) {
      let wi: u32;
      if (i < 64) {
        wi = load<u32>(w + i);
      } else {
        const x = load<u32>(w + i - 60); // W[t-15]
        const y = load<u32>(w + i - 8); // W[t-2]
        wi = load<u32>(w + i - 64) + (rotr<u32>(x, 7) ^ rotr<u32>(x, 18) ^ (x >>> 3)) + // W[t-16] + σ0
          load<u32>(w + i - 28) + (rotr<u32>(y, 17) ^ rotr<u32>(y, 19) ^ (y >>> 10)); // W[t-7] + σ1
        store<u32>(w + i, wi);
      }
      const t1 = hh + (rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25)) + ((e & f) ^ (~e & g)) +
        load<u32>(k + i) + wi;
      const t2 = (rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    store<u32>(h, load<u32>(h) + a);
    store<u32>(h, load<u32>(h, 4) + b, 4);
    store<u32>(h, load<u32>(h, 8) + c, 8);
    store<u32>(h, load<u32>(h, 12) + d, 12);
    store<u32>(h, load<u32>(h, 16) + e, 16);
    store<u32>(h, load<u32>(h, 20) + f, 20);
    store<u32>(h, load<u32>(h, 24) + g, 24);
    store<u32>(h, load<u32>(h, 28) + hh, 28);
  }
}

/**
 * The SHA-512 engine shared by SHA-512 and SHA-384, which differ only in initial value and output length.
 * Use the `Sha512` / `Sha384` subclasses.
 */
export class Sha512Core {
  private h: StaticArray<u64> = new StaticArray<u64>(8);
  private w: StaticArray<u64> = new StaticArray<u64>(80);
  private block: StaticArray<u8> = new StaticArray<u8>(128);
  private blockLen: i32 = 0;
  private total: u64 = 0; // bytes hashed so far; 2^64 bytes is far beyond anything a filter will hash
  private iv: StaticArray<u64>;
  /** Digest length in bytes (64 for SHA-512, 48 for SHA-384). */
  readonly outLen: i32;

  constructor(iv: StaticArray<u64>, outLen: i32) {
    this.iv = iv;
    this.outLen = outLen;
    this.reset();
  }

  reset(): void {
    memory.copy(changetype<usize>(this.h), changetype<usize>(this.iv), 64);
    this.blockLen = 0;
    this.total = 0;
  }

  update(data: Uint8Array): void {
    this.absorb(data.dataStart, data.length);
  }

  updateRange(data: Uint8Array, start: i32, end: i32): void {
    checkRange(data, start, end);
    this.absorb(data.dataStart + <usize>start, end - start);
  }

  /** Finalizes and returns the digest (`outLen` bytes), then resets the instance. */
  digest(): Uint8Array {
    const out = new Uint8Array(this.outLen);
    this.finishTo(out.dataStart);
    return out;
  }

  /** Like `digest()` but writes into `out` at `offset` (needs `outLen` bytes there). */
  digestInto(out: Uint8Array, offset: i32 = 0): void {
    if (offset < 0 || offset > out.length - this.outLen) throw new RangeError("digestInto: output too small");
    this.finishTo(out.dataStart + <usize>offset);
  }

  private absorb(p: usize, n: i32): void {
    this.total += <u64>n;
    const block = changetype<usize>(this.block);
    let fill = this.blockLen;
    if (fill > 0) {
      const take = min(128 - fill, n);
      memory.copy(block + <usize>fill, p, take);
      fill += take;
      p += <usize>take;
      n -= take;
      if (fill < 128) {
        this.blockLen = fill;
        return;
      }
      this.compress(block);
      fill = 0;
    }
    while (n >= 128) {
      this.compress(p);
      p += 128;
      n -= 128;
    }
    if (n > 0) memory.copy(block, p, n);
    this.blockLen = n;
  }

  private finishTo(out: usize): void {
    const block = changetype<usize>(this.block);
    let fill = this.blockLen;
    // Padding: 0x80, zeros, then the bit length as a 128-bit big-endian integer (high half from the top
    // three bits of the byte count).
    store<u8>(block + <usize>fill, 0x80);
    fill++;
    if (fill > 112) {
      memory.fill(block + <usize>fill, 0, 128 - fill);
      this.compress(block);
      fill = 0;
    }
    memory.fill(block + <usize>fill, 0, 112 - fill);
    store<u64>(block + 112, bswap<u64>(this.total >>> 61));
    store<u64>(block + 120, bswap<u64>(this.total << 3));
    this.compress(block);
    const h = this.h;
    const words = this.outLen >>> 3;
    for (let i = 0; i < words; i++) store<u64>(out + (<usize>i << 3), bswap<u64>(unchecked(h[i])));
    this.reset();
  }

  // Processes one 128-byte block at address p (raw pointers for the same reason as in Sha256#compress).
  private compress(p: usize): void {
    const w = changetype<usize>(this.w);
    const k = changetype<usize>(K512);
    for (let i: usize = 0; i < 128; i += 8) store<u64>(w + i, bswap<u64>(load<u64>(p + i)));
    const h = changetype<usize>(this.h);
    let a = load<u64>(h), b = load<u64>(h, 8), c = load<u64>(h, 16), d = load<u64>(h, 24);
    let e = load<u64>(h, 32), f = load<u64>(h, 40), g = load<u64>(h, 48), hh = load<u64>(h, 56);
    for (let i: usize = 0; i < 640; i += 8) {
      let wi: u64;
      if (i < 128) {
        wi = load<u64>(w + i);
      } else {
        const x = load<u64>(w + i - 120); // W[t-15]
        const y = load<u64>(w + i - 16); // W[t-2]
        wi = load<u64>(w + i - 128) + (rotr<u64>(x, 1) ^ rotr<u64>(x, 8) ^ (x >>> 7)) + // W[t-16] + σ0
          load<u64>(w + i - 56) + (rotr<u64>(y, 19) ^ rotr<u64>(y, 61) ^ (y >>> 6)); // W[t-7] + σ1
        store<u64>(w + i, wi);
      }
      const t1 = hh + (rotr<u64>(e, 14) ^ rotr<u64>(e, 18) ^ rotr<u64>(e, 41)) + ((e & f) ^ (~e & g)) +
        load<u64>(k + i) + wi;
      const t2 = (rotr<u64>(a, 28) ^ rotr<u64>(a, 34) ^ rotr<u64>(a, 39)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    store<u64>(h, load<u64>(h) + a);
    store<u64>(h, load<u64>(h, 8) + b, 8);
    store<u64>(h, load<u64>(h, 16) + c, 16);
    store<u64>(h, load<u64>(h, 24) + d, 24);
    store<u64>(h, load<u64>(h, 32) + e, 32);
    store<u64>(h, load<u64>(h, 40) + f, 40);
    store<u64>(h, load<u64>(h, 48) + g, 48);
    store<u64>(h, load<u64>(h, 56) + hh, 56);
  }
}

/** Streaming SHA-512 (64-byte digest). */
export class Sha512 extends Sha512Core {
  constructor() {
    super(IV512, 64);
  }
}

/** Streaming SHA-384 (48-byte digest): SHA-512 with its own initial value, truncated. */
export class Sha384 extends Sha512Core {
  constructor() {
    super(IV384, 48);
  }
}

// One-shot helpers reuse a single instance per algorithm; wasm runs one call at a time and the hashers never
// call back out, so sharing is safe and saves re-allocating scratch on every request.
const oneShot256 = new Sha256();
const oneShot384 = new Sha384();
const oneShot512 = new Sha512();

export function sha256(data: Uint8Array): Uint8Array {
  oneShot256.reset();
  oneShot256.update(data);
  return oneShot256.digest();
}

export function sha384(data: Uint8Array): Uint8Array {
  oneShot384.reset();
  oneShot384.update(data);
  return oneShot384.digest();
}

export function sha512(data: Uint8Array): Uint8Array {
  oneShot512.reset();
  oneShot512.update(data);
  return oneShot512.digest();
}

// A HashAlg outside the enum can only come from a cast in calling code, so it aborts rather than quietly
// picking some hash.
@inline
function badAlg(): void {
  throw new RangeError("unknown HashAlg");
}

export function hashWith(alg: HashAlg, data: Uint8Array): Uint8Array {
  if (alg == HashAlg.SHA256) return sha256(data);
  if (alg == HashAlg.SHA384) return sha384(data);
  if (alg != HashAlg.SHA512) badAlg();
  return sha512(data);
}

/** Digest length in bytes for `alg`. */
export function hashLength(alg: HashAlg): i32 {
  if (alg == HashAlg.SHA256) return 32;
  if (alg == HashAlg.SHA384) return 48;
  if (alg != HashAlg.SHA512) badAlg();
  return 64;
}

/** Compression block size in bytes for `alg` (HMAC pads its key to this). */
export function hashBlockSize(alg: HashAlg): i32 {
  if (alg == HashAlg.SHA256) return 64;
  if (alg != HashAlg.SHA384 && alg != HashAlg.SHA512) badAlg();
  return 128;
}
