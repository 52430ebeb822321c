// Signature verification: picks the JWKS keys a token may be checked with and runs the algorithm.
//
// Key selection follows jwt_verify_lib: a token's kid selects the keys with that kid (keys without a kid stay
// candidates), and without a kid every key is tried. On top of that a key must fit the token's alg by its own
// kty/crv/alg (jwks.ts), so a token can never steer an RSA or EC public key into the HMAC path or the reverse.
import { HashAlg } from "../../assembly/lib/sha2";
import { hmacVerify } from "../../assembly/lib/hmac";
import { rsaPkcs1v15Verify, rsaPssVerify } from "../../assembly/lib/rsa";
import { ecdsaP256Verify, ecdsaP384Verify, ecdsaP521Verify } from "../../assembly/lib/ecdsa";
import { ed25519Verify } from "../../assembly/lib/ed25519";
import { Alg, Jwk, Jwks } from "./jwks";
import { Token } from "./token";
import { Status } from "./status";

function hashOf(alg: Alg): HashAlg {
  switch (alg) {
    case Alg.RS384: case Alg.PS384: case Alg.ES384: case Alg.HS384: return HashAlg.SHA384;
    case Alg.RS512: case Alg.PS512: case Alg.ES512: case Alg.HS512: return HashAlg.SHA512;
    default: return HashAlg.SHA256;
  }
}

/** Runs the token's algorithm with one key that fits it. */
function verifyWith(key: Jwk, alg: Alg, input: Uint8Array, signature: Uint8Array): bool {
  switch (alg) {
    case Alg.RS256: case Alg.RS384: case Alg.RS512:
      return rsaPkcs1v15Verify(key.a, key.b, hashOf(alg), input, signature);
    case Alg.PS256: case Alg.PS384: case Alg.PS512: {
      // RFC 7518 §3.5: the salt is as long as the hash output.
      const hash = hashOf(alg);
      return rsaPssVerify(key.a, key.b, hash, input, signature, hash == HashAlg.SHA256 ? 32 : hash == HashAlg.SHA384 ? 48 : 64);
    }
    case Alg.ES256: return ecdsaP256Verify(key.a, key.b, input, signature);
    case Alg.ES384: return ecdsaP384Verify(key.a, key.b, input, signature);
    case Alg.ES512: return ecdsaP521Verify(key.a, key.b, input, signature);
    case Alg.HS256: case Alg.HS384: case Alg.HS512:
      return hmacVerify(hashOf(alg), key.a, input, signature);
    case Alg.EdDSA: return ed25519Verify(key.a, input, signature);
    default: return false;
  }
}

/**
 * Checks the token's signature against the JWKS. Ok when one candidate key verifies it; JwksKidAlgMismatch when
 * no key is a candidate; JwtVerificationFail otherwise (JwtEd25519SignatureWrongLength for an EdDSA signature
 * that is not 64 bytes, as jwt_verify_lib reports it).
 */
export function verifySignature(token: Token, jwks: Jwks): Status {
  const alg = token.alg;
  const kid = token.kid;
  const keys = jwks.keys;
  const input = token.signingInput();
  const signature = token.signature;
  let candidates = 0;
  for (let i = 0, n = keys.length; i < n; i++) {
    const key = unchecked(keys[i]);
    if (kid.length > 0 && key.kid.length > 0 && key.kid != kid) continue;
    if (!key.fits(alg)) continue;
    candidates++;
    if (alg == Alg.EdDSA && signature.length != 64) return Status.JwtEd25519SignatureWrongLength;
    if (verifyWith(key, alg, input, signature)) return Status.Ok;
  }
  return candidates > 0 ? Status.JwtVerificationFail : Status.JwksKidAlgMismatch;
}
