// JSON Web Keys (RFC 7517) and the JWS algorithms (RFC 7518, RFC 8037) they verify.
//
// A key is decoded and checked once, when the JWKS is loaded (configuration or remote fetch), so a request only
// picks a key and runs the signature check. Which token algorithms a key may verify is decided here, from the
// key's own kty/crv/alg: an RSA key never checks an HMAC token, an oct key never checks an RSA or EC token, a
// P-256 key only ES256, a P-384 key only ES384 and a P-521 key only ES512, whatever the token's header claims.
//
// Besides a JWKS ({"keys": [...]}), a document may be what jwt_authn also reads there: an object mapping each kid to
// a PEM X.509 certificate, whose RSA public key is used (x509.ts).
import { JsonValue, parseJson, lastJsonError } from "../../assembly/lib/json";
import { base64UrlDecode } from "../../assembly/lib/base64";
import { bitLengthOfBytes } from "../../assembly/lib/bignum";
import { RSA_MAX_BITS, RSA_MIN_BITS } from "../../assembly/lib/rsa";
import { curveP256, curveP384, curveP521 } from "../../assembly/lib/ecdsa";
import { CERT_PREFIX, CERT_SUFFIX, lastX509Error, rsaKeyOfCertificate } from "./x509";
import { ed25519PublicKeyIsValid, ed25519LastError } from "../../assembly/lib/ed25519";

/** The JWS algorithms this filter verifies. `none` and everything else is Unsupported. */
export const enum Alg {
  RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, HS256, HS384, HS512, EdDSA, Unsupported,
}

export function algFromName(name: string): Alg {
  if (name.length == 5) {
    if (name == "RS256") return Alg.RS256;
    if (name == "RS384") return Alg.RS384;
    if (name == "RS512") return Alg.RS512;
    if (name == "PS256") return Alg.PS256;
    if (name == "PS384") return Alg.PS384;
    if (name == "PS512") return Alg.PS512;
    if (name == "ES256") return Alg.ES256;
    if (name == "ES384") return Alg.ES384;
    if (name == "ES512") return Alg.ES512;
    if (name == "HS256") return Alg.HS256;
    if (name == "HS384") return Alg.HS384;
    if (name == "HS512") return Alg.HS512;
    if (name == "EdDSA") return Alg.EdDSA;
  }
  return Alg.Unsupported;
}

export const enum KeyType { RSA, EC, Oct, OKP }

/** The key type an algorithm needs. */
export function keyTypeOf(alg: Alg): KeyType {
  if (alg <= Alg.PS512) return KeyType.RSA;
  if (alg <= Alg.ES512) return KeyType.EC;
  if (alg <= Alg.HS512) return KeyType.Oct;
  return KeyType.OKP;
}

export class Jwk {
  /** "" when the key has no kid: it is then a candidate for every token, as in jwt_authn. */
  kid: string = "";
  /** The key's own alg member, or Unsupported when it has none (any algorithm of its family then fits). */
  alg: Alg = Alg.Unsupported;
  hasAlg: bool = false;
  // Key material, decoded: RSA n/e, EC x/y (with the curve in `curveBytes`), oct k, OKP x.
  a: Uint8Array = new Uint8Array(0);
  b: Uint8Array = new Uint8Array(0);
  curveBytes: i32 = 0;

  constructor(public kty: KeyType) {}

  /** Whether this key may verify a token signed with `alg` (kty, crv and the key's alg must all agree). */
  fits(alg: Alg): bool {
    if (this.hasAlg && this.alg != alg) return false;
    switch (this.kty) {
      case KeyType.RSA: return alg <= Alg.PS512;
      case KeyType.EC:
        return (alg == Alg.ES256 && this.curveBytes == 32) || (alg == Alg.ES384 && this.curveBytes == 48) ||
          (alg == Alg.ES512 && this.curveBytes == 66);
      case KeyType.Oct: return alg == Alg.HS256 || alg == Alg.HS384 || alg == Alg.HS512;
      default: return alg == Alg.EdDSA;
    }
  }
}

export class Jwks {
  constructor(public keys: Array<Jwk>, public hasEcP256: bool, public hasEcP384: bool) {}
}

let jwkError = "";

/** Why the last parseJwk returned null; "" when the key was skipped on purpose (e.g. an encryption key). */
export function lastJwkError(): string {
  return jwkError;
}

function fail(message: string): Jwk | null {
  jwkError = message;
  return null;
}

/** An optional string member: null when absent, "" plus an error when present with another type. */
function optionalString(value: JsonValue, name: string): string | null {
  const member = value.get(name);
  if (member === null) return null;
  if (!member.isString()) {
    jwkError = name + " must be a string";
    return "";
  }
  return member.asString();
}

function requiredBytes(value: JsonValue, name: string): Uint8Array | null {
  const member = value.get(name);
  if (member === null) {
    jwkError = name + " is missing";
    return null;
  }
  if (!member.isString()) {
    jwkError = name + " must be a base64url string";
    return null;
  }
  const bytes = base64UrlDecode(member.asString());
  if (bytes === null) {
    jwkError = name + " is not valid unpadded base64url";
    return null;
  }
  return bytes;
}

/**
 * Decodes and checks one JWK. Returns null with lastJwkError() saying why, or with "" for a key that is not
 * meant for signatures (`use` other than "sig"), which callers skip quietly.
 */
export function parseJwk(value: JsonValue): Jwk | null {
  jwkError = "";
  if (!value.isObject()) return fail("must be an object");
  const kty = optionalString(value, "kty");
  if (kty === null) return fail("kty is missing");
  if (jwkError.length > 0) return null;
  const kid = optionalString(value, "kid");
  if (jwkError.length > 0) return null;
  const algName = optionalString(value, "alg");
  if (jwkError.length > 0) return null;
  const use = optionalString(value, "use");
  if (jwkError.length > 0) return null;
  if (use !== null && use != "sig") return null; // an encryption key: not ours to use, not an error

  let key: Jwk;
  if (kty == "RSA") key = new Jwk(KeyType.RSA);
  else if (kty == "EC") key = new Jwk(KeyType.EC);
  else if (kty == "oct") key = new Jwk(KeyType.Oct);
  else if (kty == "OKP") key = new Jwk(KeyType.OKP);
  else return fail("kty \"" + kty + "\" is not supported (RSA, EC, oct, OKP)");
  if (kid !== null) key.kid = kid;
  if (algName !== null) {
    key.alg = algFromName(algName);
    key.hasAlg = true;
    if (key.alg == Alg.Unsupported) return fail("alg \"" + algName + "\" is not supported");
    if (keyTypeOf(key.alg) != key.kty) return fail("alg " + algName + " does not fit a key of kty " + kty);
  }

  switch (key.kty) {
    case KeyType.RSA: return loadRsa(key, value);
    case KeyType.EC: return loadEc(key, value);
    case KeyType.Oct: return loadOct(key, value);
    default: return loadOkp(key, value);
  }
}

function loadRsa(key: Jwk, value: JsonValue): Jwk | null {
  const n = requiredBytes(value, "n");
  if (n === null) return null;
  const e = requiredBytes(value, "e");
  if (e === null) return null;
  return checkRsa(key, n, e);
}

/** The checks every RSA key passes, from a JWK or a certificate. */
function checkRsa(key: Jwk, n: Uint8Array, e: Uint8Array): Jwk | null {
  const bits = bitLengthOfBytes(n);
  if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
    return fail("n must be a " + RSA_MIN_BITS.toString() + " to " + RSA_MAX_BITS.toString() + "-bit modulus, got " + bits.toString() + " bits");
  }
  if ((n[n.length - 1] & 1) == 0) return fail("n must be odd");
  // Like jwt_verify_lib, only the two public exponents anyone uses: anything else is a broken or hostile key.
  const exponentBits = bitLengthOfBytes(e);
  let exponent: u32 = 0;
  if (exponentBits <= 32) for (let i = 0; i < e.length; i++) exponent = (exponent << 8) | <u32>e[i];
  if (exponentBits > 32 || (exponent != 3 && exponent != 65537)) return fail("e must be 3 or 65537");
  key.a = n;
  key.b = e;
  return key;
}

function loadEc(key: Jwk, value: JsonValue): Jwk | null {
  const crv = optionalString(value, "crv");
  if (jwkError.length > 0) return null;
  if (crv === null) {
    // jwt_verify_lib derives the curve from alg when crv is absent.
    if (key.hasAlg) key.curveBytes = key.alg == Alg.ES256 ? 32 : key.alg == Alg.ES384 ? 48 : 66;
    else return fail("crv is missing (P-256, P-384 or P-521)");
  } else if (crv == "P-256") {
    key.curveBytes = 32;
  } else if (crv == "P-384") {
    key.curveBytes = 48;
  } else if (crv == "P-521") {
    key.curveBytes = 66;
  } else {
    return fail("crv \"" + crv + "\" is not supported (P-256, P-384, P-521)");
  }
  if (key.hasAlg && !key.fits(key.alg)) return fail("crv " + crv! + " does not fit alg");
  const x = requiredBytes(value, "x");
  if (x === null) return null;
  const y = requiredBytes(value, "y");
  if (y === null) return null;
  if (x.length != key.curveBytes || y.length != key.curveBytes) {
    return fail("x and y must be " + key.curveBytes.toString() + " bytes each for this curve");
  }
  // 0·G + 1·Q = Q succeeds exactly when Q is a point of the curve (coordinates below p, on the equation).
  const curve = key.curveBytes == 32 ? curveP256() : key.curveBytes == 48 ? curveP384() : curveP521();
  const zero = new Uint8Array(key.curveBytes);
  const one = new Uint8Array(key.curveBytes);
  one[key.curveBytes - 1] = 1;
  if (!curve.combine(zero, one, x, y, new Uint8Array(key.curveBytes), new Uint8Array(key.curveBytes))) {
    return fail("(x, y) is not a point of the curve");
  }
  key.a = x;
  key.b = y;
  return key;
}

function loadOct(key: Jwk, value: JsonValue): Jwk | null {
  const k = requiredBytes(value, "k");
  if (k === null) return null;
  if (k.length == 0) return fail("k must not be empty");
  key.a = k;
  return key;
}

function loadOkp(key: Jwk, value: JsonValue): Jwk | null {
  const crv = optionalString(value, "crv");
  if (jwkError.length > 0) return null;
  if (crv === null) return fail("crv is missing (Ed25519)");
  if (crv != "Ed25519") return fail("crv \"" + crv + "\" is not supported (Ed25519)");
  const x = requiredBytes(value, "x");
  if (x === null) return null;
  if (x.length != 32) return fail("x must be 32 bytes");
  if (!ed25519PublicKeyIsValid(x)) return fail("x is not a usable Ed25519 public key: " + ed25519LastError());
  key.a = x;
  return key;
}

/** Outcome of loading a JWKS document: the usable keys, plus what was wrong with the rest. */
export class JwksLoad {
  jwks: Jwks | null = null;
  /** The first problem, with its place ("keys[2]: n is missing"); "" when every key loaded. */
  error: string = "";
  /** Keys dropped because they were malformed or unsupported. */
  rejected: i32 = 0;
}

/**
 * Loads a JWKS document ({"keys": [...]}) from its JSON bytes. Keys that fail their checks are counted and the
 * first failure is reported; the caller decides whether that is fatal (inline configuration) or not (a remote
 * document may carry keys for algorithms this filter does not implement). With no usable key, `jwks` is null.
 */
export function loadJwks(bytes: Uint8Array): JwksLoad {
  const out = new JwksLoad();
  const document = parseJson(bytes, 64);
  if (document === null) {
    out.error = "is not valid JSON: " + lastJsonError();
    return out;
  }
  if (!document.isObject()) {
    out.error = "must be a JSON object with a \"keys\" array";
    return out;
  }
  const keysValue = document.get("keys");
  if (keysValue === null && isCertificateMap(document)) return loadCertificateMap(document);
  if (keysValue === null || !keysValue.isArray()) {
    out.error = "must have a \"keys\" array";
    return out;
  }
  const items = keysValue.asArray();
  const keys = new Array<Jwk>();
  let hasP256 = false, hasP384 = false;
  for (let i = 0; i < items.length; i++) {
    const key = parseJwk(items[i]);
    if (key === null) {
      if (jwkError.length == 0) continue; // not a signature key
      out.rejected++;
      if (out.error.length == 0) out.error = "keys[" + i.toString() + "]: " + jwkError;
      continue;
    }
    if (key.kty == KeyType.EC) {
      if (key.curveBytes == 32) hasP256 = true;
      else if (key.curveBytes == 48) hasP384 = true;
    }
    keys.push(key);
  }
  if (keys.length == 0) {
    if (out.error.length == 0) out.error = "has no usable signature key";
    return out;
  }
  out.jwks = new Jwks(keys, hasP256, hasP384);
  return out;
}

/** jwt_authn's test for the certificate form: a non-empty object whose every member is a PEM certificate string. */
function isCertificateMap(document: JsonValue): bool {
  const names = document.keys();
  if (names.length == 0) return false;
  for (let i = 0; i < names.length; i++) {
    const value = document.get(names[i])!;
    if (names[i].length == 0 || !value.isString()) return false;
    const text = value.asString();
    if (!text.startsWith(CERT_PREFIX) || !text.endsWith(CERT_SUFFIX)) return false;
  }
  return true;
}

/** {"<kid>": "<PEM certificate>", ...}: one RSA key per member, with that kid and no alg (RS* and PS* fit it). */
function loadCertificateMap(document: JsonValue): JwksLoad {
  const out = new JwksLoad();
  const names = document.keys();
  const keys = new Array<Jwk>();
  for (let i = 0; i < names.length; i++) {
    const where = "\"" + names[i] + "\": ";
    const rsa = rsaKeyOfCertificate(document.get(names[i])!.asString());
    if (rsa === null) {
      out.rejected++;
      if (out.error.length == 0) out.error = where + "certificate " + lastX509Error();
      continue;
    }
    const key = new Jwk(KeyType.RSA);
    key.kid = names[i];
    jwkError = "";
    if (checkRsa(key, rsa.n, rsa.e) === null) {
      out.rejected++;
      if (out.error.length == 0) out.error = where + "certificate key: " + jwkError;
      continue;
    }
    keys.push(key);
  }
  if (keys.length > 0) out.jwks = new Jwks(keys, false, false);
  return out;
}
