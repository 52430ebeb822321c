// Parses a compact JWS (RFC 7515 §7.1) straight from the bytes of a header or query parameter: three
// base64url segments, the JOSE header and the claims as strict JSON objects, the registered claims type-checked.
// The checks, their order and the resulting Status follow jwt_verify_lib's Jwt::parseFromString, so a malformed
// token is refused with the same message jwt_authn gives. Where this parser is stricter (segments must be
// canonical unpadded base64url, the JSON must be RFC 8259 with no repeated member), it says so in the README.
import { JsonValue, parseJson } from "../../assembly/lib/json";
import { base64UrlDecodeBytes } from "../../assembly/lib/base64";
import { Status } from "./status";
import { Alg, algFromName } from "./jwks";

const DOT: u8 = 0x2e;

// Protobuf's JSON parser (behind jwt_authn) refuses documents nested deeper than this; so does this filter.
export const MAX_JSON_DEPTH: i32 = 100;

/** A parsed token. `status` is Ok only when every structural check passed; the signature is not checked here. */
export class Token {
  status: Status = Status.Ok;
  alg: Alg = Alg.Unsupported;
  kid: string = "";
  /** The base64url payload is bytes[payloadStart, signingInputEnd); the signing input is bytes[0, signingInputEnd). */
  payloadStart: i32 = 0;
  signingInputEnd: i32 = 0;
  signature: Uint8Array = new Uint8Array(0);
  payload: JsonValue | null = null;
  iss: string = "";
  sub: string = "";
  audiences: Array<string> = new Array<string>();
  exp: u64 = 0;
  nbf: u64 = 0;

  constructor(public bytes: Uint8Array) {}

  signingInput(): Uint8Array {
    return this.bytes.subarray(0, this.signingInputEnd);
  }
}

function failed(token: Token, status: Status): Token {
  token.status = status;
  return token;
}

/** A JSON object from base64url bytes[start, end), or null (not base64url, not JSON, not an object, repeated names). */
function decodeObject(bytes: Uint8Array, start: i32, end: i32, badBase64: Status, badJson: Status, token: Token): JsonValue | null {
  const decoded = base64UrlDecodeBytes(bytes, start, end);
  if (decoded === null) {
    token.status = badBase64;
    return null;
  }
  const value = parseJson(decoded, MAX_JSON_DEPTH);
  // RFC 7515 §4 / RFC 7519 §4: a repeated member name must be rejected (or resolved to the last one); rejecting
  // is also what jwt_authn does, so an "alg" or "iss" cannot be smuggled past one reader and not another.
  // Numbers beyond the double range are refused too, as protobuf's JSON parser (behind jwt_authn) refuses them.
  if (value === null || !value.isObject() || !isPlainTree(value)) {
    token.status = badJson;
    return null;
  }
  return value;
}

/** No object in the tree repeats a member name and every number is finite. */
function isPlainTree(value: JsonValue): bool {
  if (value.isNumber()) return isFinite(value.asNumber());
  if (value.isArray()) {
    const items = value.asArray();
    for (let i = 0; i < items.length; i++) if (!isPlainTree(unchecked(items[i]))) return false;
    return true;
  }
  if (value.isObject()) {
    if (value.hasDuplicateKeys()) return false;
    const members = value.values();
    for (let i = 0; i < members.length; i++) if (!isPlainTree(unchecked(members[i]))) return false;
  }
  return true;
}

const enum Check { Missing, Ok, WrongType, OutOfRange }

// 2^64 as a double: the first value a u64 cannot hold.
const TWO_TO_64: f64 = 18446744073709551616.0;

/** Reads an unsigned 64-bit claim the way jwt_verify_lib does: any JSON number in [0, 2^64), truncated. */
function readUint64(payload: JsonValue, name: string, out: StaticArray<u64>): Check {
  const value = payload.get(name);
  if (value === null) return Check.Missing;
  if (!value.isNumber()) return Check.WrongType;
  const n = value.asNumber();
  if (!(n >= 0) || n >= TWO_TO_64) return Check.OutOfRange;
  out[0] = <u64>n;
  return Check.Ok;
}

function stringIsWrongType(payload: JsonValue, name: string): bool {
  const value = payload.get(name);
  return value !== null && !value.isString();
}

const numberScratch = new StaticArray<u64>(1);

/** Parses `bytes` (the whole token). Never throws: problems end up in `status`. */
export function parseToken(bytes: Uint8Array): Token {
  const token = new Token(bytes);
  const length = bytes.length;
  // Exactly two dots and three non-empty segments.
  let firstDot = -1, secondDot = -1;
  for (let i = 0; i < length; i++) {
    if (unchecked(bytes[i]) != DOT) continue;
    if (firstDot < 0) firstDot = i;
    else if (secondDot < 0) secondDot = i;
    else return failed(token, Status.JwtBadFormat);
  }
  if (secondDot < 0 || firstDot == 0 || secondDot == firstDot + 1 || secondDot == length - 1) {
    return failed(token, Status.JwtBadFormat);
  }

  const header = decodeObject(bytes, 0, firstDot, Status.JwtHeaderParseErrorBadBase64, Status.JwtHeaderParseErrorBadJson, token);
  if (header === null) return token;
  const alg = header.get("alg");
  if (alg === null || !alg.isString()) return failed(token, Status.JwtHeaderBadAlg);
  token.alg = algFromName(alg.asString());
  if (token.alg == Alg.Unsupported) return failed(token, Status.JwtHeaderNotImplementedAlg);
  const kid = header.get("kid");
  if (kid !== null) {
    if (!kid.isString()) return failed(token, Status.JwtHeaderBadKid);
    token.kid = kid.asString();
  }

  token.payloadStart = firstDot + 1;
  token.signingInputEnd = secondDot;
  const payload = decodeObject(bytes, firstDot + 1, secondDot, Status.JwtPayloadParseErrorBadBase64, Status.JwtPayloadParseErrorBadJson, token);
  if (payload === null) return token;
  token.payload = payload;

  const iss = payload.get("iss");
  if (iss !== null) {
    if (!iss.isString()) return failed(token, Status.JwtPayloadParseErrorIssNotString);
    token.iss = iss.asString();
  }
  if (stringIsWrongType(payload, "sub")) return failed(token, Status.JwtPayloadParseErrorSubNotString);
  const sub = payload.get("sub");
  if (sub !== null) token.sub = sub.asString();
  let check = readUint64(payload, "iat", numberScratch);
  if (check == Check.WrongType) return failed(token, Status.JwtPayloadParseErrorIatNotInteger);
  if (check == Check.OutOfRange) return failed(token, Status.JwtPayloadParseErrorIatOutOfRange);
  check = readUint64(payload, "nbf", numberScratch);
  if (check == Check.WrongType) return failed(token, Status.JwtPayloadParseErrorNbfNotInteger);
  if (check == Check.OutOfRange) return failed(token, Status.JwtPayloadParseErrorNbfOutOfRange);
  if (check == Check.Ok) token.nbf = numberScratch[0];
  check = readUint64(payload, "exp", numberScratch);
  if (check == Check.WrongType) return failed(token, Status.JwtPayloadParseErrorExpNotInteger);
  if (check == Check.OutOfRange) return failed(token, Status.JwtPayloadParseErrorExpOutOfRange);
  if (check == Check.Ok) token.exp = numberScratch[0];
  if (stringIsWrongType(payload, "jti")) return failed(token, Status.JwtPayloadParseErrorJtiNotString);
  const aud = payload.get("aud");
  if (aud !== null) {
    if (aud.isString()) {
      token.audiences.push(aud.asString());
    } else if (aud.isArray()) {
      const items = aud.asArray();
      for (let i = 0; i < items.length; i++) {
        if (!items[i].isString()) return failed(token, Status.JwtPayloadParseErrorAudNotString);
        token.audiences.push(items[i].asString());
      }
    } else {
      return failed(token, Status.JwtPayloadParseErrorAudNotString);
    }
  }

  const signature = base64UrlDecodeBytes(bytes, secondDot + 1, length);
  if (signature === null) return failed(token, Status.JwtSignatureParseErrorBadBase64);
  token.signature = signature;
  return token;
}

/** jwt_verify_lib's time rule: valid from nbf - skew to exp + skew (exp 0 or absent: no end). Saturating sums. */
export function checkTime(nbf: u64, exp: u64, now: u64, skew: u64): Status {
  const nowPlusSkew = now + skew < now ? u64.MAX_VALUE : now + skew;
  if (nowPlusSkew < nbf) return Status.JwtNotYetValid;
  if (exp != 0) {
    const expPlusSkew = exp + skew < exp ? u64.MAX_VALUE : exp + skew;
    if (now > expPlusSkew) return Status.JwtExpired;
  }
  return Status.Ok;
}
