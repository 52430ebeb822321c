// RSA signature verification (RFC 8017) for the JWS algorithms RS256/384/512 (RSASSA-PKCS1-v1_5) and
// PS256/384/512 (RSASSA-PSS with MGF1 over the same hash).
//
// Verification only uses public data (key, message, signature), so timing does not need to be constant.
// The PKCS#1 v1.5 encoded message and the final PSS hash are still compared in full (no exit on the first
// differing byte), which keeps those comparisons a single straight-line check.
//
// Every function returns false on any malformed input instead of aborting; rsaLastError() says why the most
// recent call failed, for logs and tests.

import { MAX_LIMBS, MontgomeryModulus, bitLengthOfBytes, compareLimbs, limbsFromBytes, limbsToBytes } from "./bignum";
import { HashAlg, Sha256, Sha384, Sha512, hashLength, hashWith } from "./sha2";

/** Accepted modulus sizes, in bits. Smaller keys are too weak; larger ones are a cheap denial-of-service lever. */
export const RSA_MIN_BITS: i32 = 2048;
export const RSA_MAX_BITS: i32 = 4096;

// DigestInfo DER prefixes (RFC 8017 §9.2 note 1): SEQUENCE { SEQUENCE { OID, NULL }, OCTET STRING (hLen) }.
// The whole encoded message is compared byte for byte against these, never parsed, so BER variants, missing
// NULL parameters and trailing garbage are all rejected by construction.
const DIGEST_INFO_SHA256: StaticArray<u8> = [
  0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
];
const DIGEST_INFO_SHA384: StaticArray<u8> = [
  0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30,
];
const DIGEST_INFO_SHA512: StaticArray<u8> = [
  0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40,
];

// Module-level state, reused by every call (a Wasm VM runs one call at a time). The modulus object keeps its
// Montgomery constants, so verifying repeatedly against the same key skips their setup.
const modulus = new MontgomeryModulus();
const value = new StaticArray<u32>(MAX_LIMBS);
const em = new Uint8Array(RSA_MAX_BITS / 8);
const counterBytes = new Uint8Array(4);
const zeroPrefix = new Uint8Array(8); // the eight zero octets that start M' in EMSA-PSS
const sha256Hasher = new Sha256();
const sha384Hasher = new Sha384();
const sha512Hasher = new Sha512();

let lastError = "";

/** Why the most recent verification returned false ("" after a success). */
export function rsaLastError(): string {
  return lastError;
}

function fail(reason: string): bool {
  lastError = reason;
  return false;
}

function isKnownAlg(alg: HashAlg): bool {
  return alg == HashAlg.SHA256 || alg == HashAlg.SHA384 || alg == HashAlg.SHA512;
}

/**
 * RSAVP1 (RFC 8017 §5.2.2) plus the length checks of §8.2.2 / §8.1.2: checks the key and the signature,
 * then leaves s^e mod n in `value` (modulus.limbs limbs). Returns the modulus bit length, or 0 after fail().
 */
function publicOperation(n: Uint8Array, e: Uint8Array, sig: Uint8Array): i32 {
  const bits = bitLengthOfBytes(n);
  if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
    fail("modulus must be " + RSA_MIN_BITS.toString() + ".." + RSA_MAX_BITS.toString() + " bits");
    return 0;
  }
  // The signature is an octet string exactly as long as the modulus (§8.2.2 step 1): shorter or longer
  // (e.g. with a leading zero byte added) is not a valid encoding even when the integer value would be.
  const k = (bits + 7) >> 3;
  if (sig.length != k) {
    fail("signature length must equal the modulus length");
    return 0;
  }
  // Public exponent: big-endian, leading zero bytes tolerated, odd, 3 <= e < 2^32.
  const eBits = bitLengthOfBytes(e);
  if (eBits == 0 || eBits > 32) {
    fail("public exponent must be below 2^32");
    return 0;
  }
  let exponent: u32 = 0;
  for (let i = 0; i < e.length; i++) exponent = (exponent << 8) | <u32>e[i];
  if (exponent < 3 || (exponent & 1) == 0) {
    fail("public exponent must be odd and at least 3");
    return 0;
  }
  if (!modulus.setModulus(n)) {
    fail("modulus must be odd");
    return 0;
  }
  limbsFromBytes(sig, 0, k, value, modulus.limbs); // k bytes always fit in ceil(bits/32) limbs
  // §5.2.2 step 1: s must lie in [0, n-1]. (0 and 1 pass here and then fail the encoding check.)
  if (compareLimbs(value, modulus.n, modulus.limbs) >= 0) {
    fail("signature representative out of range (s >= n)");
    return 0;
  }
  modulus.powU32(value, value, exponent);
  return bits;
}

// ---------------------------------------------------------------------------------------------------------
// RSASSA-PKCS1-v1_5

/**
 * RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2) with EMSA-PKCS1-v1_5 (§9.2): the recovered encoded message
 * must equal 0x00 0x01 FF..FF 0x00 || DigestInfo(alg) || Hash(msg), with at least eight FF bytes, exactly.
 * n and e are big-endian magnitudes (as in a JWK after base64url decoding); n must have 2048..4096 bits.
 */
export function rsaPkcs1v15Verify(n: Uint8Array, e: Uint8Array, alg: HashAlg, msg: Uint8Array, sig: Uint8Array): bool {
  if (!isKnownAlg(alg)) return fail("unknown hash algorithm");
  const bits = publicOperation(n, e, sig);
  if (bits == 0) return false;
  const k = (bits + 7) >> 3;
  limbsToBytes(value, modulus.limbs, em, 0, k); // value < n < 256^k, so it always fits

  const prefix = alg == HashAlg.SHA256
    ? DIGEST_INFO_SHA256
    : alg == HashAlg.SHA384 ? DIGEST_INFO_SHA384 : DIGEST_INFO_SHA512;
  const hash = hashWith(alg, msg);
  const hLen = hash.length;
  const tLen = prefix.length + hLen;
  // §9.2 step 4: the padding string has at least 8 bytes. Cannot trigger for 2048+ bit keys; kept for clarity.
  if (k < tLen + 11) return fail("modulus too short for this hash");

  // Accumulate every difference so the comparison covers the whole message.
  const psEnd = k - tLen - 1; // index of the 0x00 separator
  let diff: u32 = <u32>em[0] | (<u32>em[1] ^ 0x01);
  for (let i = 2; i < psEnd; i++) diff |= <u32>em[i] ^ 0xff;
  diff |= <u32>em[psEnd];
  const digestInfoStart = psEnd + 1;
  for (let i = 0; i < prefix.length; i++) diff |= <u32>em[digestInfoStart + i] ^ <u32>prefix[i];
  const hashStart = digestInfoStart + prefix.length;
  for (let i = 0; i < hLen; i++) diff |= <u32>em[hashStart + i] ^ <u32>hash[i];
  if (diff != 0) return fail("encoded message does not match EMSA-PKCS1-v1_5(msg)");
  lastError = "";
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// RSASSA-PSS

function hashReset(alg: HashAlg): void {
  if (alg == HashAlg.SHA256) sha256Hasher.reset();
  else if (alg == HashAlg.SHA384) sha384Hasher.reset();
  else sha512Hasher.reset();
}

function hashUpdate(alg: HashAlg, data: Uint8Array, start: i32, end: i32): void {
  if (alg == HashAlg.SHA256) sha256Hasher.updateRange(data, start, end);
  else if (alg == HashAlg.SHA384) sha384Hasher.updateRange(data, start, end);
  else sha512Hasher.updateRange(data, start, end);
}

function hashDigest(alg: HashAlg): Uint8Array {
  if (alg == HashAlg.SHA256) return sha256Hasher.digest();
  if (alg == HashAlg.SHA384) return sha384Hasher.digest();
  return sha512Hasher.digest();
}

/**
 * XORs MGF1(seed, len) (RFC 8017 B.2.1) into em[0..len), with seed = em[seedStart..seedStart+hLen).
 * The seed lies after the masked range, so it is not disturbed by the XOR.
 */
function xorMgf1(alg: HashAlg, seedStart: i32, hLen: i32, len: i32): void {
  let done = 0;
  for (let counter: u32 = 0; done < len; counter++) {
    counterBytes[0] = <u8>(counter >>> 24);
    counterBytes[1] = <u8>(counter >>> 16);
    counterBytes[2] = <u8>(counter >>> 8);
    counterBytes[3] = <u8>counter;
    hashReset(alg);
    hashUpdate(alg, em, seedStart, seedStart + hLen);
    hashUpdate(alg, counterBytes, 0, 4);
    const block = hashDigest(alg);
    const take = min(hLen, len - done);
    for (let i = 0; i < take; i++) em[done + i] ^= block[i];
    done += take;
  }
}

/**
 * RSASSA-PSS verification (RFC 8017 §8.1.2) with EMSA-PSS-VERIFY (§9.1.2), MGF1 using the same hash as the
 * message. saltLength is the expected salt length in bytes (JWS PS256/384/512 use the hash length), or -1 to
 * accept any salt length, taken from the position of the 0x01 separator.
 * n and e are big-endian magnitudes; n must have 2048..4096 bits.
 */
export function rsaPssVerify(
  n: Uint8Array, e: Uint8Array, alg: HashAlg, msg: Uint8Array, sig: Uint8Array, saltLength: i32,
): bool {
  if (!isKnownAlg(alg)) return fail("unknown hash algorithm");
  if (saltLength < -1) return fail("salt length must be -1 or non-negative");
  const bits = publicOperation(n, e, sig);
  if (bits == 0) return false;

  // §8.1.2 step 2c: EM = I2OSP(m, emLen) with emBits = modBits - 1. When modBits = 1 mod 8, emLen is one byte
  // shorter than the modulus and m must fit ("integer too large" otherwise).
  const emBits = bits - 1;
  const emLen = (emBits + 7) >> 3;
  if (!limbsToBytes(value, modulus.limbs, em, 0, emLen)) return fail("encoded message longer than emLen");

  // §9.1.2 steps 2-3.
  const hLen = hashLength(alg);
  const minSalt = saltLength < 0 ? 0 : saltLength;
  if (emLen < hLen + minSalt + 2) return fail("encoded message too short for this hash and salt");
  // Step 4.
  if (em[emLen - 1] != 0xbc) return fail("encoded message does not end in 0xbc");
  // Steps 5-6: maskedDB = em[0..dbLen), H = em[dbLen..dbLen+hLen); the unused top bits must be zero.
  const dbLen = emLen - hLen - 1;
  const unusedBits = 8 * emLen - emBits; // 0..7
  const topMask = <u8>(<u32>0xff >>> <u32>unusedBits); // bits of em[0] that belong to the encoding
  if ((em[0] & ~topMask) != 0) return fail("leftmost bits of the encoded message are not zero");
  // Steps 7-9: DB = maskedDB xor MGF1(H, dbLen), then clear the unused top bits again.
  xorMgf1(alg, dbLen, hLen, dbLen);
  em[0] &= topMask;

  // Step 10: DB = PS (zeros) || 0x01 || salt.
  let separator: i32;
  if (saltLength >= 0) {
    separator = dbLen - saltLength - 1;
    let diff: u32 = 0;
    for (let i = 0; i < separator; i++) diff |= em[i];
    if (diff != 0 || em[separator] != 0x01) return fail("PSS padding is not zeros followed by 0x01");
  } else {
    separator = 0;
    while (separator < dbLen && em[separator] == 0) separator++;
    if (separator == dbLen || em[separator] != 0x01) return fail("PSS padding is not zeros followed by 0x01");
  }

  // Steps 11-14: H' = Hash(0x00 * 8 || mHash || salt) must equal H.
  const mHash = hashWith(alg, msg);
  hashReset(alg);
  hashUpdate(alg, zeroPrefix, 0, 8);
  hashUpdate(alg, mHash, 0, hLen);
  hashUpdate(alg, em, separator + 1, dbLen);
  const expected = hashDigest(alg);
  let diff: u32 = 0;
  for (let i = 0; i < hLen; i++) diff |= <u32>em[dbLen + i] ^ <u32>expected[i];
  if (diff != 0) return fail("PSS hash does not match");
  lastError = "";
  return true;
}
