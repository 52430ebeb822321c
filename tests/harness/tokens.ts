// Mints JWTs for the jwt-auth tests: signing keys for every JWS algorithm the filter supports (generated with
// `jose`), their public JWKs, well-formed tokens (jose's SignJWT) and hand-built ones whose header and payload
// text is exactly what the test wrote (duplicate members, odd types, bad encodings), signed with node:crypto.
import { createHmac, sign as cryptoSign, constants, type KeyObject } from "node:crypto";
import { SignJWT, exportJWK, generateKeyPair, generateSecret, type JWK, type JWTPayload } from "jose";

export const ALGORITHMS = [
  "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "HS256", "HS384", "HS512", "EdDSA",
] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

export interface SigningKey {
  alg: Algorithm;
  kid: string;
  /** Private key (asymmetric algorithms) or the HMAC secret. */
  key: KeyObject;
  /** The public JWK (for HS*, the secret as an oct JWK), with kid and alg set. */
  jwk: JWK;
}

const HASH_OF: Record<string, string> = { "256": "sha256", "384": "sha384", "512": "sha512" };

export function hashOf(alg: Algorithm): string {
  return alg === "EdDSA" ? "" : HASH_OF[alg.slice(2)];
}

/** A fresh key for `alg`; RSA keys are 2048 bits unless told otherwise. */
export async function generateSigningKey(alg: Algorithm, kid = `${alg.toLowerCase()}-key`, options: { modulusLength?: number } = {}): Promise<SigningKey> {
  if (alg.startsWith("HS")) {
    // jose makes a secret as long as the hash output, the minimum RFC 7518 asks for.
    const secret = (await generateSecret(alg, { extractable: true })) as KeyObject;
    return { alg, kid, key: secret, jwk: { ...(await exportJWK(secret)), kid, alg } };
  }
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}),
    ...(alg.startsWith("RS") || alg.startsWith("PS") ? { modulusLength: options.modulusLength ?? 2048 } : {}),
  });
  return { alg, kid, key: privateKey as KeyObject, jwk: { ...(await exportJWK(publicKey)), kid, alg } };
}

/** One key per supported algorithm, kid = "<alg>-key". */
export async function generateAllKeys(): Promise<Map<Algorithm, SigningKey>> {
  const keys = new Map<Algorithm, SigningKey>();
  for (const alg of ALGORITHMS) keys.set(alg, await generateSigningKey(alg));
  return keys;
}

/** A JWKS document (the JSON text) holding these keys' public JWKs, optionally transformed (e.g. drop alg). */
export function jwksOf(keys: Iterable<SigningKey>, transform: (jwk: JWK) => JWK = (jwk) => jwk): string {
  return JSON.stringify({ keys: [...keys].map((key) => transform({ ...key.jwk })) });
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** A well-formed token signed with `key`: kid and alg in the header, exp an hour ahead unless claims say otherwise. */
export async function signToken(key: SigningKey, claims: JWTPayload = {}, header: Record<string, unknown> = {}): Promise<string> {
  const payload: JWTPayload = { exp: nowSeconds() + 3600, ...claims };
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...header }).sign(key.key);
}

export function base64url(data: string | Uint8Array): string {
  return Buffer.from(data).toString("base64url");
}

/** The JWS signature of `signingInput` (ASCII "header.payload") under `key`, as base64url. */
export function signatureOf(key: SigningKey, signingInput: string): string {
  const data = Buffer.from(signingInput, "utf8");
  const alg = key.alg;
  let signature: Buffer;
  if (alg.startsWith("HS")) {
    signature = createHmac(hashOf(alg), key.key).update(data).digest();
  } else if (alg.startsWith("RS")) {
    signature = cryptoSign(hashOf(alg), data, key.key);
  } else if (alg.startsWith("PS")) {
    const saltLength = Number(alg.slice(2)) / 8;
    signature = cryptoSign(hashOf(alg), data, { key: key.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
  } else if (alg.startsWith("ES")) {
    signature = cryptoSign(hashOf(alg), data, { key: key.key, dsaEncoding: "ieee-p1363" });
  } else {
    signature = cryptoSign(null, data, key.key);
  }
  return signature.toString("base64url");
}

/**
 * A token whose header and payload are exactly the given JSON texts (not re-serialised, so duplicate members
 * and unusual spellings survive), signed with `key` whatever the header's alg says.
 */
export function signRaw(key: SigningKey, headerJson: string, payloadJson: string): string {
  const signingInput = `${base64url(headerJson)}.${base64url(payloadJson)}`;
  return `${signingInput}.${signatureOf(key, signingInput)}`;
}

/** Splits a compact token into its three segments. */
export function segments(token: string): [string, string, string] {
  const parts = token.split(".");
  if (parts.length !== 3) throw new Error(`not a compact JWS: ${token.slice(0, 40)}...`);
  return [parts[0], parts[1], parts[2]];
}

/** The token with one segment replaced (0 header, 1 payload, 2 signature). */
export function withSegment(token: string, index: 0 | 1 | 2, value: string): string {
  const parts = segments(token);
  parts[index] = value;
  return parts.join(".");
}

/** An unsigned token (alg "none", empty signature segment). */
export function unsignedToken(claims: JWTPayload): string {
  return `${base64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${base64url(JSON.stringify(claims))}.`;
}

/**
 * The classic RS256 → HS256 confusion: an HS256 token whose HMAC key is the RSA public key's JWK text (or its
 * modulus bytes), as a verifier that lets the token choose the algorithm would compute it.
 */
export function algorithmConfusionTokens(rsaKey: SigningKey, claims: JWTPayload): string[] {
  const header = JSON.stringify({ alg: "HS256", kid: rsaKey.kid, typ: "JWT" });
  const payload = JSON.stringify({ exp: nowSeconds() + 3600, ...claims });
  const signingInput = `${base64url(header)}.${base64url(payload)}`;
  const secrets = [JSON.stringify(rsaKey.jwk), Buffer.from(rsaKey.jwk.n ?? "", "base64url")];
  return secrets.map((secret) => `${signingInput}.${createHmac("sha256", secret).update(signingInput).digest("base64url")}`);
}
