// Keys, JWKS and tokens for the JWT benchmark runs and the Lua baseline's end-to-end test: one RS256 and one ES256
// key, one provider configuration in jwt_authn's words (which the Lua baseline and the Wasm filter also read), and
// tokens minted with `jose`, valid or broken in one chosen way each.
import { exportJWK, generateKeyPair, SignJWT, type JWK, type KeyLike } from "jose";

export type JwtAlg = "RS256" | "ES256";
export const JWT_ALGS: readonly JwtAlg[] = ["RS256", "ES256"];

export const ISSUER = "https://issuer.bench.as-mesh";
export const AUDIENCE = "bench-api";
export const PROVIDER = "bench";
/** The claim the chain's rate limit keys on, copied to this header by the JWT filter. */
export const SUBJECT_HEADER = "x-jwt-sub";

export interface SigningKey {
  alg: JwtAlg;
  kid: string;
  privateKey: KeyLike;
  jwk: JWK;
}

export interface JwtFixture {
  keys: Record<JwtAlg, SigningKey>;
  /** JWKS with both public keys, as the providers' local_jwks. */
  jwks: string;
}

export async function createJwtFixture(): Promise<JwtFixture> {
  const keys = {} as Record<JwtAlg, SigningKey>;
  for (const alg of JWT_ALGS) {
    const { privateKey, publicKey } = await generateKeyPair(alg, alg === "RS256" ? { modulusLength: 2048 } : {});
    const kid = `${alg.toLowerCase()}-key`;
    keys[alg] = { alg, kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
  }
  return { keys, jwks: JSON.stringify({ keys: JWT_ALGS.map((alg) => keys[alg].jwk) }) };
}

export interface TokenOptions {
  alg?: JwtAlg;
  subject?: string;
  issuer?: string;
  audience?: string | string[];
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  /** Seconds from now for nbf. */
  notBefore?: number;
  /** Extra private claims, e.g. a unique id that makes each token distinct. */
  claims?: Record<string, unknown>;
  /** Sign with a fresh key that is not in the JWKS (same kid). */
  foreignKey?: boolean;
}

export async function mintToken(fixture: JwtFixture, options: TokenOptions = {}): Promise<string> {
  const alg = options.alg ?? "RS256";
  const key = fixture.keys[alg];
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ ...options.claims })
    .setProtectedHeader({ alg, kid: key.kid, typ: "JWT" })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setSubject(options.subject ?? "user-1")
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresIn ?? 3600));
  if (options.notBefore !== undefined) jwt.setNotBefore(now + options.notBefore);
  const signingKey = options.foreignKey
    ? (await generateKeyPair(alg, alg === "RS256" ? { modulusLength: 2048 } : {})).privateKey
    : key.privateKey;
  return jwt.sign(signingKey);
}

export interface ProviderOptions {
  /** Copy `sub` to SUBJECT_HEADER (the chain's rate limit keys on it). */
  subjectHeader?: boolean;
  /** Keep up to this many verified tokens (jwt_authn's jwt_cache_config); no cache when absent. */
  cacheSize?: number;
}

/**
 * One provider and one rule requiring it on every path, in jwt_authn's JSON shape: Envoy's jwt_authn reads it as
 * its proto config, our jwt-auth filter as its plugin configuration, the Lua baseline as its CONFIG.
 */
export function jwtAuthnStyleConfig(fixture: JwtFixture, options: ProviderOptions = {}): {
  providers: Record<string, Record<string, unknown>>;
  rules: Array<Record<string, unknown>>;
} {
  const provider: Record<string, unknown> = {
    issuer: ISSUER,
    audiences: [AUDIENCE],
    local_jwks: { inline_string: fixture.jwks },
    from_headers: [{ name: "authorization", value_prefix: "Bearer " }],
    forward: true,
  };
  if (options.subjectHeader) provider.claim_to_headers = [{ header_name: SUBJECT_HEADER, claim_name: "sub" }];
  if (options.cacheSize) provider.jwt_cache_config = { jwt_cache_size: options.cacheSize };
  return {
    providers: { [PROVIDER]: provider },
    rules: [{ match: { prefix: "/" }, requires: { provider_name: PROVIDER } }],
  };
}

/** Envoy's native jwt_authn filter with that configuration. */
export function nativeJwtAuthnFilter(fixture: JwtFixture, options: ProviderOptions = {}) {
  const config = jwtAuthnStyleConfig(fixture, options);
  return {
    name: "envoy.filters.http.jwt_authn",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
      ...config,
    },
  };
}

/** A named token and the status jwt_authn answers it with: the shared corpus of the Lua/Wasm/native comparison. */
export interface CorpusCase {
  name: string;
  authorization?: string;
  expected: number;
}

export async function jwtCorpus(fixture: JwtFixture): Promise<CorpusCase[]> {
  const cases: CorpusCase[] = [];
  const add = (name: string, token: string | undefined, expected: number, prefix = "Bearer ") =>
    cases.push({ name, authorization: token === undefined ? undefined : prefix + token, expected });
  for (const alg of JWT_ALGS) {
    const valid = await mintToken(fixture, { alg });
    add(`valid ${alg}`, valid, 200);
    add(`valid ${alg} with a list audience`, await mintToken(fixture, { alg, audience: ["other", AUDIENCE] }), 200);
    add(`expired ${alg}`, await mintToken(fixture, { alg, expiresIn: -3600 }), 401);
    add(`not yet valid ${alg}`, await mintToken(fixture, { alg, notBefore: 3600 }), 401);
    add(`wrong issuer ${alg}`, await mintToken(fixture, { alg, issuer: "https://elsewhere" }), 401);
    add(`wrong audience ${alg}`, await mintToken(fixture, { alg, audience: "someone-else" }), 403);
    add(`signed by a key not in the JWKS ${alg}`, await mintToken(fixture, { alg, foreignKey: true }), 401);
    const [header, payload, signature] = valid.split(".");
    const flipped = signature.slice(0, 10) + (signature[10] === "A" ? "B" : "A") + signature.slice(11);
    add(`tampered signature ${alg}`, `${header}.${payload}.${flipped}`, 401);
    const otherPayload = Buffer.from(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: "admin", exp: 4102444800 })).toString("base64url");
    add(`payload swapped under a valid signature ${alg}`, `${header}.${otherPayload}.${signature}`, 401);
    add(`truncated ${alg}`, valid.slice(0, valid.length - 20), 401);
  }
  const none = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
  const claims = Buffer.from(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: "x", exp: 4102444800 })).toString("base64url");
  add("alg none", `${none}.${claims}.`, 401);
  add("not a JWT", "not-a-jwt", 401);
  add("bad base64 in the header", "e$$.eyJ9.sig", 401);
  add("missing token", undefined, 401);
  add("token under another scheme", await mintToken(fixture), 401, "Basic ");
  return cases;
}
