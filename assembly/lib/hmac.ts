// HMAC (RFC 2104 / FIPS 198-1) over SHA-256/384/512, for HS256/HS384/HS512 JWTs, and a constant-time compare.
//
// One hasher per algorithm and the padded-key block are allocated once and reused, so a MAC costs only its
// returned tag. The padded key is wiped after each call so key material does not linger in scratch memory.

import { HashAlg, Sha256, Sha384, Sha512, hashBlockSize, hashLength } from "./sha2";

const IPAD: u8 = 0x36;
const OPAD: u8 = 0x5c;

const sha256State = new Sha256();
const sha384State = new Sha384();
const sha512State = new Sha512();
const keyBlock = new Uint8Array(128); // K0: the key zero-padded (or hashed) to the block size
const padded = new Uint8Array(128); // K0 xor ipad / opad
const innerTag = new Uint8Array(64); // H((K0 ^ ipad) || msg)

/** HMAC of `msg` under `key` with the hash `alg`; returns the full tag (hashLength(alg) bytes). */
export function hmac(alg: HashAlg, key: Uint8Array, msg: Uint8Array): Uint8Array {
  if (alg == HashAlg.SHA256) return hmacWith<Sha256>(sha256State, 64, 32, key, msg);
  if (alg == HashAlg.SHA384) return hmacWith<Sha384>(sha384State, 128, 48, key, msg);
  // hashLength/hashBlockSize abort on anything that is not a HashAlg, as sha2 does.
  return hmacWith<Sha512>(sha512State, hashBlockSize(alg), hashLength(alg), key, msg);
}

/**
 * Checks a full-length tag in constant time: true only if `tag` is exactly HMAC(alg, key, msg). JWS (RFC 7518
 * §3.2) uses untruncated tags, so a shorter tag is rejected rather than compared as a prefix.
 */
export function hmacVerify(alg: HashAlg, key: Uint8Array, msg: Uint8Array, tag: Uint8Array): bool {
  return constantTimeEqual(hmac(alg, key, msg), tag);
}

// The HMAC construction for any of the hasher classes (they share reset/update/updateRange/digestInto/digest).
function hmacWith<H>(h: H, blockSize: i32, outLen: i32, key: Uint8Array, msg: Uint8Array): Uint8Array {
  // K0 (FIPS 198-1 §4): a key longer than a block is replaced by its hash; then zero-pad to the block.
  keyBlock.fill(0);
  h.reset();
  if (key.length > blockSize) {
    h.update(key);
    h.digestInto(keyBlock, 0);
  } else {
    keyBlock.set(key);
  }
  // Inner hash: H((K0 ^ ipad) || msg).
  for (let i = 0; i < blockSize; i++) unchecked((padded[i] = keyBlock[i] ^ IPAD));
  h.updateRange(padded, 0, blockSize);
  h.update(msg);
  h.digestInto(innerTag, 0);
  // Outer hash: H((K0 ^ opad) || inner).
  for (let i = 0; i < blockSize; i++) unchecked((padded[i] = keyBlock[i] ^ OPAD));
  h.updateRange(padded, 0, blockSize);
  h.updateRange(innerTag, 0, outLen);
  const tag = h.digest();
  keyBlock.fill(0);
  padded.fill(0);
  return tag;
}

/**
 * True if a and b hold the same bytes. The time taken depends only on the lengths (which are not secret for
 * MAC tags), never on where the first difference is, so a forged tag cannot be found byte by byte.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): bool {
  const n = a.length;
  if (n != b.length) return false;
  let diff: u32 = 0;
  for (let i = 0; i < n; i++) diff |= <u32>(unchecked(a[i]) ^ unchecked(b[i]));
  return diff == 0;
}
