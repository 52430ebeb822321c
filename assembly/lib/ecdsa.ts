// ECDSA signature verification for JWS ES256 (P-256 with SHA-256), ES384 (P-384 with SHA-384) and ES512 (P-521
// with SHA-512), RFC 7518 3.4.
//
// Keys are the JWK form: x and y as big-endian affine coordinates of exactly the curve's size (32, 48 or 66 bytes);
// signatures are the JWS form r || s (IEEE P1363), each half exactly that size. Everything else (range checks,
// on-curve check, the arithmetic) is in ec.ts. Each curve and its precomputed base-point table are built on first
// use (about 0.5 ms for P-256, 1 ms for P-384 once compiled), so a filter that never sees ES384 never pays for
// P-384's start-up; a filter that wants no first-request cost can call curveP256()/curveP384() when it starts.

import { Curve } from "./ec";
import { sha256, sha384, sha512 } from "./sha2";

// Domain parameters from SP 800-186 (identical to SEC 2's secp256r1 / secp384r1), big-endian hex.
const P256_P = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";
const P256_B = "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b";
const P256_N = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
const P256_GX = "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296";
const P256_GY = "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";

const P384_P =
  "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff";
const P384_B =
  "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef";
const P384_N =
  "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";
const P384_GX =
  "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7";
const P384_GY =
  "3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f";

// P-521, its hex constants padded to the 17 limbs the field code uses.
const P521_P =
  "000001ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
const P521_B =
  "00000051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00";
const P521_N =
  "000001fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409";
const P521_GX =
  "000000c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66";
const P521_GY =
  "0000011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650";

let p256: Curve | null = null;
let p384: Curve | null = null;
let p521: Curve | null = null;

/** The P-256 curve (built on first call). */
export function curveP256(): Curve {
  let c = p256;
  if (c == null) {
    c = new Curve(8, P256_P, P256_B, P256_N, P256_GX, P256_GY);
    p256 = c;
  }
  return c;
}

/** The P-384 curve (built on first call). */
export function curveP384(): Curve {
  let c = p384;
  if (c == null) {
    c = new Curve(12, P384_P, P384_B, P384_N, P384_GX, P384_GY);
    p384 = c;
  }
  return c;
}

/**
 * ES256: verifies sig = r || s (64 bytes) over SHA-256(msg) with the P-256 public key (x, y), 32 bytes each.
 * False for wrong lengths, a key that is not a point of the curve, r or s outside [1, n-1], or a bad signature.
 */
export function ecdsaP256Verify(x: Uint8Array, y: Uint8Array, msg: Uint8Array, sig: Uint8Array): bool {
  // Cheap shape checks first, so malformed input is not even hashed.
  if (x.length != 32 || y.length != 32 || sig.length != 64) return false;
  return curveP256().verifyDigest(x, y, sha256(msg), sig);
}

/**
 * ES384: verifies sig = r || s (96 bytes) over SHA-384(msg) with the P-384 public key (x, y), 48 bytes each.
 * Same rejections as ecdsaP256Verify.
 */
export function ecdsaP384Verify(x: Uint8Array, y: Uint8Array, msg: Uint8Array, sig: Uint8Array): bool {
  if (x.length != 48 || y.length != 48 || sig.length != 96) return false;
  return curveP384().verifyDigest(x, y, sha384(msg), sig);
}

/** The P-521 curve (built on first call). */
export function curveP521(): Curve {
  let c = p521;
  if (c == null) {
    c = new Curve(17, P521_P, P521_B, P521_N, P521_GX, P521_GY);
    p521 = c;
  }
  return c;
}

/**
 * ES512: verifies sig = r || s (132 bytes) over SHA-512(msg) with the P-521 public key (x, y), 66 bytes each.
 * Same rejections as ecdsaP256Verify.
 */
export function ecdsaP521Verify(x: Uint8Array, y: Uint8Array, msg: Uint8Array, sig: Uint8Array): bool {
  if (x.length != 66 || y.length != 66 || sig.length != 132) return false;
  return curveP521().verifyDigest(x, y, sha512(msg), sig);
}
