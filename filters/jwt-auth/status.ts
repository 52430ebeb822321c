// Outcomes of authenticating a request, with the exact texts Envoy's jwt_authn filter (jwt_verify_lib) puts in
// its 401/403 bodies, so clients and dashboards see the same words whichever filter answered.

export const enum Status {
  Ok,
  JwtMissed,
  JwtNotYetValid,
  JwtExpired,
  JwtBadFormat,
  JwtHeaderParseErrorBadBase64,
  JwtHeaderParseErrorBadJson,
  JwtHeaderBadAlg,
  JwtHeaderNotImplementedAlg,
  JwtHeaderBadKid,
  JwtPayloadParseErrorBadBase64,
  JwtPayloadParseErrorBadJson,
  JwtPayloadParseErrorIssNotString,
  JwtPayloadParseErrorSubNotString,
  JwtPayloadParseErrorIatNotInteger,
  JwtPayloadParseErrorIatOutOfRange,
  JwtPayloadParseErrorNbfNotInteger,
  JwtPayloadParseErrorNbfOutOfRange,
  JwtPayloadParseErrorExpNotInteger,
  JwtPayloadParseErrorExpOutOfRange,
  JwtPayloadParseErrorJtiNotString,
  JwtPayloadParseErrorAudNotString,
  JwtSignatureParseErrorBadBase64,
  JwtEd25519SignatureWrongLength,
  JwtUnknownIssuer,
  JwtAudienceNotAllowed,
  JwtVerificationFail,
  JwksKidAlgMismatch,
  JwksNoValidKeys,
  JwksFetchFail,
}

export function statusMessage(status: Status): string {
  switch (status) {
    case Status.Ok: return "OK";
    case Status.JwtMissed: return "Jwt is missing";
    case Status.JwtNotYetValid: return "Jwt not yet valid";
    case Status.JwtExpired: return "Jwt is expired";
    case Status.JwtBadFormat: return "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections";
    case Status.JwtHeaderParseErrorBadBase64: return "Jwt header is an invalid Base64url encoded";
    case Status.JwtHeaderParseErrorBadJson: return "Jwt header is an invalid JSON";
    case Status.JwtHeaderBadAlg: return "Jwt header [alg] field is required and must be a string";
    case Status.JwtHeaderNotImplementedAlg: return "Jwt header [alg] is not supported";
    case Status.JwtHeaderBadKid: return "Jwt header [kid] field is not a string";
    case Status.JwtPayloadParseErrorBadBase64: return "Jwt payload is an invalid Base64url encoded";
    case Status.JwtPayloadParseErrorBadJson: return "Jwt payload is an invalid JSON";
    case Status.JwtPayloadParseErrorIssNotString: return "Jwt payload [iss] field is not a string";
    case Status.JwtPayloadParseErrorSubNotString: return "Jwt payload [sub] field is not a string";
    case Status.JwtPayloadParseErrorIatNotInteger: return "Jwt payload [iat] field is not an integer";
    case Status.JwtPayloadParseErrorIatOutOfRange: return "Jwt payload [iat] field is not a positive 64 bit integer";
    case Status.JwtPayloadParseErrorNbfNotInteger: return "Jwt payload [nbf] field is not an integer";
    case Status.JwtPayloadParseErrorNbfOutOfRange: return "Jwt payload [nbf] field is not a positive 64 bit integer";
    case Status.JwtPayloadParseErrorExpNotInteger: return "Jwt payload [exp] field is not an integer";
    case Status.JwtPayloadParseErrorExpOutOfRange: return "Jwt payload [exp] field is not a positive 64 bit integer";
    case Status.JwtPayloadParseErrorJtiNotString: return "Jwt payload [jti] field is not a string";
    case Status.JwtPayloadParseErrorAudNotString: return "Jwt payload [aud] field is not a string or string list";
    case Status.JwtSignatureParseErrorBadBase64: return "Jwt signature is an invalid Base64url encoded";
    case Status.JwtEd25519SignatureWrongLength: return "Jwt ED25519 signature is wrong length";
    case Status.JwtUnknownIssuer: return "Jwt issuer is not configured";
    case Status.JwtAudienceNotAllowed: return "Audiences in Jwt are not allowed";
    case Status.JwtVerificationFail: return "Jwt verification fails";
    case Status.JwksKidAlgMismatch: return "Jwks doesn't have key to match kid or alg from Jwt";
    case Status.JwksNoValidKeys: return "Jwks doesn't have any valid public key";
    case Status.JwksFetchFail: return "Jwks remote fetch is failed";
    default: return "Jwt verification fails";
  }
}

/** jwt_authn answers 403 only when the token is valid but meant for someone else; every other failure is 401. */
export function statusHttpCode(status: Status): u32 {
  return status == Status.JwtAudienceNotAllowed ? 403 : 401;
}

/** Why a request was denied, as the suffix of the `denied.<reason>` counter. */
export const enum DenyReason {
  Missing,
  Malformed,
  UnknownIssuer,
  Expired,
  NotYetValid,
  AudienceNotAllowed,
  VerificationFailed,
  NoMatchingKey,
  JwksUnavailable,
}

export const DENY_REASON_COUNT: i32 = 9;

export function denyReasonName(reason: DenyReason): string {
  switch (reason) {
    case DenyReason.Missing: return "missing";
    case DenyReason.Malformed: return "malformed";
    case DenyReason.UnknownIssuer: return "unknown_issuer";
    case DenyReason.Expired: return "expired";
    case DenyReason.NotYetValid: return "not_yet_valid";
    case DenyReason.AudienceNotAllowed: return "audience_not_allowed";
    case DenyReason.VerificationFailed: return "verification_failed";
    case DenyReason.NoMatchingKey: return "no_matching_key";
    default: return "jwks_unavailable";
  }
}

export function denyReasonOf(status: Status): DenyReason {
  switch (status) {
    case Status.JwtMissed: return DenyReason.Missing;
    case Status.JwtUnknownIssuer: return DenyReason.UnknownIssuer;
    case Status.JwtExpired: return DenyReason.Expired;
    case Status.JwtNotYetValid: return DenyReason.NotYetValid;
    case Status.JwtAudienceNotAllowed: return DenyReason.AudienceNotAllowed;
    case Status.JwtVerificationFail: return DenyReason.VerificationFailed;
    case Status.JwtEd25519SignatureWrongLength: return DenyReason.VerificationFailed;
    case Status.JwksKidAlgMismatch: return DenyReason.NoMatchingKey;
    case Status.JwksNoValidKeys: return DenyReason.JwksUnavailable;
    case Status.JwksFetchFail: return DenyReason.JwksUnavailable;
    default: return DenyReason.Malformed;
  }
}
