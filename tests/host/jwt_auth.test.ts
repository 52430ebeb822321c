// jwt-auth in the host emulator: every decision, configuration check and cache/JWKS behaviour, fast. The same
// behaviours are proven in real Envoy by tests/e2e/jwt_auth*.test.ts.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { Action, HostEmulator, SharedDataStore, WasmResult, type Stream } from "./emulator.ts";
import { projectRoot } from "../../scripts/tools.ts";
import { buildArtifact } from "../harness/artifacts.ts";
import {
  ALGORITHMS, type Algorithm, type SigningKey, algorithmConfusionTokens, base64url, generateAllKeys, generateSigningKey,
  jwksOf, nowSeconds, segments, signRaw, signToken, unsignedToken, withSegment,
} from "../harness/tokens.ts";

const wasm = buildArtifact("jwt-auth");
const ISSUER = "https://issuer.example";
const AUDIENCE = "api.example";

let keys: Map<Algorithm, SigningKey>;
let other: SigningKey; // an RS256 key that is in no JWKS
const key = (alg: Algorithm): SigningKey => keys.get(alg)!;

before(async () => {
  keys = await generateAllKeys();
  other = await generateSigningKey("RS256", "rs256-key");
});

type Json = Record<string, unknown>;

function provider(extra: Json = {}): Json {
  return { issuer: ISSUER, audiences: [AUDIENCE], local_jwks: { inline_string: jwksOf(keys.values()) }, ...extra };
}

function configWith(providers: Json, rules: Json[] = [{ match: { prefix: "/" }, requires: { provider_name: "example" } }], extra: Json = {}): Json {
  return { providers, rules, ...extra };
}

const basicConfig = (): Json => configWith({ example: provider() });

async function start(configuration: Json, options: { sharedData?: SharedDataStore } = {}): Promise<HostEmulator> {
  return HostEmulator.start(wasm, {
    pluginConfiguration: configuration,
    rootId: "jwt-auth",
    nowNanos: BigInt(Date.now()) * 1_000_000n,
    sharedData: options.sharedData,
  });
}

const requestHeaders = (headers: Record<string, string> = {}, path = "/api/items"): Record<string, string> =>
  ({ ":method": "GET", ":path": path, ":authority": "svc.local", "x-forwarded-proto": "http", ...headers });

function request(host: HostEmulator, headers: Record<string, string> = {}, path = "/api/items"): Stream {
  const stream = host.newStream();
  stream.sendRequestHeaders(requestHeaders(headers, path));
  return stream;
}

/** proxy_continue_stream's argument for the request direction. */
const STREAM_REQUEST = 0;

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const goodClaims = { iss: ISSUER, aud: AUDIENCE, sub: "alice" };

function assertAllowed(stream: Stream): void {
  assert.equal(stream.localResponse, undefined, `expected the request through, got ${stream.localResponse?.status} ${stream.localResponse?.body}`);
}

function assertDenied(stream: Stream, status: number, body: string): void {
  assert.ok(stream.localResponse, "expected a local response");
  assert.equal(stream.localResponse.status, status);
  assert.equal(stream.localResponse.body, body);
}

describe("jwt-auth decisions (host emulator)", () => {
  for (const alg of ALGORITHMS) {
    it(`accepts a valid ${alg} token`, async () => {
      const host = await start(basicConfig());
      assertAllowed(request(host, bearer(await signToken(key(alg), goodClaims))));
      assert.equal(host.metricValue("jwt_auth.allowed"), 1);
    });
  }

  it("answers 401 Jwt is missing, with a challenge but no error, when no token is sent", async () => {
    const host = await start(basicConfig());
    const stream = request(host);
    assertDenied(stream, 401, "Jwt is missing");
    assert.deepEqual(stream.localResponse!.headers, [["www-authenticate", 'Bearer realm="http://svc.local/api/items"']]);
    assert.equal(stream.localResponse!.details, "jwt_authn_access_denied{Jwt_is_missing}");
    assert.equal(host.metricValue("jwt_auth.denied.missing"), 1);
  });

  it("adds error=\"invalid_token\" to the challenge for a bad token", async () => {
    const host = await start(basicConfig());
    const stream = request(host, bearer("not-a-token"));
    assertDenied(stream, 401, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections");
    assert.deepEqual(stream.localResponse!.headers,
      [["www-authenticate", 'Bearer realm="http://svc.local/api/items", error="invalid_token"']]);
  });

  it("rejects a token whose alg is none", async () => {
    const host = await start(basicConfig());
    assertDenied(request(host, bearer(unsignedToken(goodClaims))), 401,
      "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections");
    // With a signature segment present, alg none is refused as an unsupported algorithm.
    const withSignature = unsignedToken(goodClaims) + "c2lnbmF0dXJl";
    assertDenied(request(host, bearer(withSignature)), 401, "Jwt header [alg] is not supported");
  });

  it("rejects an expired token with 401 Jwt is expired", async () => {
    const host = await start(basicConfig());
    const token = await signToken(key("ES256"), { ...goodClaims, exp: nowSeconds() - 120 });
    assertDenied(request(host, bearer(token)), 401, "Jwt is expired");
    assert.equal(host.metricValue("jwt_auth.denied.expired"), 1);
  });

  it("accepts a token expired less than clock_skew_seconds ago", async () => {
    const host = await start(configWith({ example: provider({ clock_skew_seconds: 30 }) }));
    assertAllowed(request(host, bearer(await signToken(key("ES256"), { ...goodClaims, exp: nowSeconds() - 20 }))));
    assertDenied(request(host, bearer(await signToken(key("ES256"), { ...goodClaims, exp: nowSeconds() - 40 }))), 401, "Jwt is expired");
  });

  it("rejects a token that is not yet valid with 401 Jwt not yet valid", async () => {
    const host = await start(basicConfig());
    const token = await signToken(key("ES256"), { ...goodClaims, nbf: nowSeconds() + 300 });
    assertDenied(request(host, bearer(token)), 401, "Jwt not yet valid");
  });

  it("rejects an unknown issuer with 401", async () => {
    const host = await start(basicConfig());
    const token = await signToken(key("ES256"), { ...goodClaims, iss: "https://evil.example" });
    assertDenied(request(host, bearer(token)), 401, "Jwt issuer is not configured");
    assert.equal(host.metricValue("jwt_auth.denied.unknown_issuer"), 1);
  });

  it("rejects a token for another audience with 403 Audiences in Jwt are not allowed", async () => {
    const host = await start(basicConfig());
    const stream = request(host, bearer(await signToken(key("ES256"), { ...goodClaims, aud: "other.example" })));
    assertDenied(stream, 403, "Audiences in Jwt are not allowed");
    assert.match(stream.localResponse!.headers[0][1], /error="invalid_token"/);
  });

  it("matches audiences the way jwt_authn normalises them (scheme and trailing slash ignored)", async () => {
    const host = await start(basicConfig());
    assertAllowed(request(host, bearer(await signToken(key("ES256"), { ...goodClaims, aud: [`https://${AUDIENCE}/`] }))));
  });

  it("rejects a token signed by a key outside the JWKS with 401 Jwt verification fails", async () => {
    const host = await start(basicConfig());
    assertDenied(request(host, bearer(await signToken(other, goodClaims))), 401, "Jwt verification fails");
  });

  it("rejects a token whose kid matches no key", async () => {
    const host = await start(basicConfig());
    const token = await signToken(key("RS256"), goodClaims, { kid: "unknown" });
    assertDenied(request(host, bearer(token)), 401, "Jwks doesn't have key to match kid or alg from Jwt");
  });

  it("tries every key that fits the alg when the token has no kid", async () => {
    const host = await start(configWith({ example: provider({
      local_jwks: { inline_string: jwksOf([other, key("RS256")], ({ kid: _kid, ...jwk }) => jwk) },
    }) }));
    const token = await signToken(key("RS256"), goodClaims, { kid: undefined });
    assert.ok(!JSON.parse(Buffer.from(segments(token)[0], "base64url").toString()).kid);
    assertAllowed(request(host, bearer(token)));
  });

  it("refuses RS256→HS256 algorithm confusion (HMAC keyed with the RSA public key)", async () => {
    const host = await start(configWith({ example: provider({
      local_jwks: { inline_string: jwksOf([key("RS256")], ({ alg: _alg, ...jwk }) => jwk) },
    }) }));
    for (const token of algorithmConfusionTokens(key("RS256"), goodClaims)) {
      assertDenied(request(host, bearer(token)), 401, "Jwks doesn't have key to match kid or alg from Jwt");
    }
  });

  it("never lets an HMAC key verify an RS256 token, even without alg on the key", async () => {
    const hs = key("HS256");
    const host = await start(configWith({ example: provider({
      local_jwks: { inline_string: jwksOf([hs], ({ alg: _alg, ...jwk }) => jwk) },
    }) }));
    const header = JSON.stringify({ alg: "RS256", kid: hs.kid });
    const forged = signRaw(hs, header, JSON.stringify({ ...goodClaims, exp: nowSeconds() + 60 }));
    assertDenied(request(host, bearer(forged)), 401, "Jwks doesn't have key to match kid or alg from Jwt");
  });

  it("never lets a P-256 key verify an ES384 token", async () => {
    const host = await start(configWith({ example: provider({
      local_jwks: { inline_string: jwksOf([key("ES256")], ({ alg: _alg, ...jwk }) => jwk) },
    }) }));
    const forged = signRaw(key("ES384"), JSON.stringify({ alg: "ES384" }), JSON.stringify(goodClaims));
    assertDenied(request(host, bearer(forged)), 401, "Jwks doesn't have key to match kid or alg from Jwt");
  });

  it("refuses a header or payload with a repeated member", async () => {
    const host = await start(basicConfig());
    const rs = key("RS256");
    assertDenied(request(host, bearer(signRaw(rs, '{"alg":"RS256","alg":"RS256"}', JSON.stringify(goodClaims)))), 401, "Jwt header is an invalid JSON");
    const payload = `{"iss":"https://other","iss":"${ISSUER}","aud":"${AUDIENCE}"}`;
    assertDenied(request(host, bearer(signRaw(rs, '{"alg":"RS256"}', payload))), 401, "Jwt payload is an invalid JSON");
  });

  it("reports the jwt_verify_lib status for each malformed part", async () => {
    const host = await start(basicConfig());
    const rs = key("RS256");
    const valid = await signToken(rs, goodClaims);
    const cases: Array<[string, string]> = [
      ["a.b", "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"],
      [withSegment(valid, 0, "e3!0"), "Jwt header is an invalid Base64url encoded"],
      [withSegment(valid, 1, "e3*0"), "Jwt payload is an invalid Base64url encoded"],
      [withSegment(valid, 2, "a"), "Jwt signature is an invalid Base64url encoded"],
      [signRaw(rs, '{"alg":5}', "{}"), "Jwt header [alg] field is required and must be a string"],
      [signRaw(rs, '{"alg":"RS256","kid":5}', "{}"), "Jwt header [kid] field is not a string"],
      [signRaw(rs, '{"alg":"RS256"}', '{"iss":1}'), "Jwt payload [iss] field is not a string"],
      [signRaw(rs, '{"alg":"RS256"}', '{"sub":true}'), "Jwt payload [sub] field is not a string"],
      [signRaw(rs, '{"alg":"RS256"}', '{"iat":"1"}'), "Jwt payload [iat] field is not an integer"],
      [signRaw(rs, '{"alg":"RS256"}', '{"nbf":-1}'), "Jwt payload [nbf] field is not a positive 64 bit integer"],
      [signRaw(rs, '{"alg":"RS256"}', '{"exp":null}'), "Jwt payload [exp] field is not an integer"],
      [signRaw(rs, '{"alg":"RS256"}', '{"jti":[]}'), "Jwt payload [jti] field is not a string"],
      [signRaw(rs, '{"alg":"RS256"}', '{"aud":["a",1]}'), "Jwt payload [aud] field is not a string or string list"],
      [signRaw(rs, '["RS256"]', "{}"), "Jwt header is an invalid JSON"],
      [signRaw(rs, '{"alg":"RS256"}', "[]"), "Jwt payload is an invalid JSON"],
      [withSegment(await signToken(key("EdDSA"), goodClaims), 2, "AAAA"), "Jwt ED25519 signature is wrong length"],
    ];
    for (const [token, message] of cases) assertDenied(request(host, bearer(token)), 401, message);
  });

  it("checks time before audience and audience before the signature, as jwt_authn does", async () => {
    const host = await start(basicConfig());
    const expiredWrongKey = await signToken(other, { ...goodClaims, exp: nowSeconds() - 600, aud: "elsewhere" });
    assertDenied(request(host, bearer(expiredWrongKey)), 401, "Jwt is expired");
    const wrongAudienceWrongKey = await signToken(other, { ...goodClaims, aud: "elsewhere" });
    assertDenied(request(host, bearer(wrongAudienceWrongKey)), 403, "Audiences in Jwt are not allowed");
  });

  it("survives hostile headers: huge, binary and prefix-only values", async () => {
    const host = await start(basicConfig());
    assertDenied(request(host, { authorization: "Bearer " + "A".repeat(200_000) }), 401,
      "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections");
    assertDenied(request(host, { authorization: "Bearer \u00ff\u00fe." }), 401,
      "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections");
    assertDenied(request(host, { authorization: "Bearer" }), 401, "Jwt is missing");
    const deep = signRaw(key("RS256"), '{"alg":"RS256"}', `{"d":${"[".repeat(5000)}${"]".repeat(5000)}}`);
    assertDenied(request(host, bearer(deep)), 401, "Jwt payload is an invalid JSON");
  });
});

describe("jwt-auth token locations and upstream headers (host emulator)", () => {
  it("reads the token from the access_token query parameter by default and removes it upstream", async () => {
    const host = await start(basicConfig());
    const token = await signToken(key("ES256"), goodClaims);
    const stream = request(host, {}, `/api/items?a=1&access_token=${token}&b=2`);
    assertAllowed(stream);
    assert.equal(stream.requestHeader(":path"), "/api/items?a=1&b=2");
  });

  it("requires every token present to be valid (header good, parameter bad)", async () => {
    const host = await start(basicConfig());
    const stream = request(host, bearer(await signToken(key("ES256"), goodClaims)), "/api/items?access_token=abc");
    assertDenied(stream, 401, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections");
  });

  it("reads from_headers with a custom prefix and ignores Authorization then", async () => {
    const host = await start(configWith({ example: provider({ from_headers: [{ name: "X-Token", value_prefix: "JWT " }] }) }));
    const token = await signToken(key("ES256"), goodClaims);
    assertAllowed(request(host, { "x-token": `JWT ${token}` }));
    assertDenied(request(host, bearer(token)), 401, "Jwt is missing");
  });

  it("removes the Authorization header upstream unless forward is true", async () => {
    const token = await signToken(key("ES256"), goodClaims);
    const dropping = await start(basicConfig());
    const dropped = request(dropping, bearer(token));
    assertAllowed(dropped);
    assert.equal(dropped.requestHeader("authorization"), undefined);
    const forwarding = await start(configWith({ example: provider({ forward: true }) }));
    const kept = request(forwarding, bearer(token));
    assert.equal(kept.requestHeader("authorization"), `Bearer ${token}`);
  });

  it("writes claim_to_headers and forward_payload_header, replacing spoofed values", async () => {
    const host = await start(configWith({ example: provider({
      forward_payload_header: "x-jwt-payload",
      claim_to_headers: [
        { header_name: "x-jwt-sub", claim_name: "sub" }, { header_name: "x-jwt-tier", claim_name: "plan.tier" },
        { header_name: "x-jwt-admin", claim_name: "admin" }, { header_name: "x-jwt-n", claim_name: "n" },
        { header_name: "x-jwt-roles", claim_name: "roles" }, { header_name: "x-jwt-absent", claim_name: "nope" },
      ],
    }) }));
    const token = await signToken(key("ES256"), { ...goodClaims, plan: { tier: "gold" }, admin: true, n: 1.5, roles: ["b", "a"] });
    const stream = request(host, {
      ...bearer(token), "x-jwt-sub": "mallory", "x-jwt-payload": "forged", "x-jwt-absent": "forged", "x-jwt-admin": "true",
    });
    assertAllowed(stream);
    const headersNamed = (name: string) => stream.requestHeaders.filter(([k]) => k === name).map(([, v]) => v);
    assert.deepEqual(headersNamed("x-jwt-sub"), ["alice"]);
    assert.deepEqual(headersNamed("x-jwt-tier"), ["gold"]);
    assert.deepEqual(headersNamed("x-jwt-admin"), ["true"]);
    assert.deepEqual(headersNamed("x-jwt-n"), ["1.500000"]);
    assert.deepEqual(headersNamed("x-jwt-roles"), [Buffer.from('["b","a"]').toString("base64")]);
    assert.deepEqual(headersNamed("x-jwt-absent"), []);
    assert.deepEqual(headersNamed("x-jwt-payload"), [segments(token)[1]]);
  });

  it("pads the forwarded payload when pad_forward_payload_header is set", async () => {
    const host = await start(configWith({ example: provider({ forward_payload_header: "x-jwt-payload", pad_forward_payload_header: true }) }));
    for (const sub of ["a", "ab", "abc"]) {
      const token = await signToken(key("HS256"), { ...goodClaims, sub });
      const stream = request(host, bearer(token));
      assertAllowed(stream);
      const value = stream.requestHeader("x-jwt-payload")!;
      assert.equal(value.length % 4, 0);
      assert.equal(value.replace(/=+$/, ""), segments(token)[1]);
    }
  });

  it("reads tokens from from_params and removes that parameter upstream", async () => {
    const host = await start(configWith({ example: provider({ from_params: ["jwt"] }) }));
    const token = await signToken(key("EdDSA"), goodClaims);
    const stream = request(host, {}, `/api/items?jwt=${token}`);
    assertAllowed(stream);
    assert.equal(stream.requestHeader(":path"), "/api/items");
    assertDenied(request(host, bearer(token)), 401, "Jwt is missing");
  });

  it("strips spoofed claim headers even from requests that fail or need no token", async () => {
    const host = await start(configWith({ example: provider({ claim_to_headers: [{ header_name: "x-jwt-sub", claim_name: "sub" }] }) },
      [{ match: { prefix: "/public" } }, { match: { prefix: "/" }, requires: { provider_name: "example" } }]));
    const open = request(host, { "x-jwt-sub": "mallory" }, "/public/x");
    assertAllowed(open);
    assert.equal(open.requestHeader("x-jwt-sub"), undefined);
  });
});

describe("jwt-auth rules (host emulator)", () => {
  const rulesConfig = (): Json => configWith({
    example: provider(),
    partner: { issuer: "https://partner.example", local_jwks: { inline_string: jwksOf([other]) }, from_headers: [{ name: "x-partner-token" }] },
  }, [
    { match: { path: "/health" } },
    { match: { prefix: "/admin", headers: [{ name: ":method", string_match: { exact: "DELETE" } }] }, requires: { provider_and_audiences: { provider_name: "example", audiences: ["admin"] } } },
    { match: { prefix: "/both" }, requires: { requires_all: { requirements: [{ provider_name: "example" }, { provider_name: "partner" }] } } },
    { match: { prefix: "/either" }, requires: { requires_any: { requirements: [{ provider_name: "example" }, { provider_name: "partner" }] } } },
    { match: { prefix: "/optional" }, requires: { requires_any: { requirements: [{ provider_name: "example" }, { allow_missing: {} }] } } },
    { match: { prefix: "/lenient" }, requires: { allow_missing_or_failed: {} } },
    { match: { prefix: "/" }, requires: { provider_name: "example" } },
  ]);

  it("lets an exact-path rule without requires through, and only that exact path", async () => {
    const host = await start(rulesConfig());
    assertAllowed(request(host, {}, "/health"));
    assertAllowed(request(host, {}, "/health?verbose=1"));
    assertDenied(request(host, {}, "/healthz"), 401, "Jwt is missing");
  });

  it("applies a method-matched rule with its own audiences", async () => {
    const host = await start(rulesConfig());
    const userToken = await signToken(key("ES256"), goodClaims);
    const adminToken = await signToken(key("ES256"), { ...goodClaims, aud: "admin" });
    const del = (token: string) => {
      const stream = host.newStream();
      stream.sendRequestHeaders({ ":method": "DELETE", ":path": "/admin/users/1", ":authority": "svc", ...bearer(token) });
      return stream;
    };
    assertDenied(del(userToken), 403, "Audiences in Jwt are not allowed");
    assertAllowed(del(adminToken));
    // GET on /admin falls through to the catch-all rule, where the provider's audience applies.
    assertAllowed(request(host, bearer(userToken), "/admin/users/1"));
    assertDenied(request(host, bearer(adminToken), "/admin/users/1"), 403, "Audiences in Jwt are not allowed");
  });

  it("requires_all needs a valid token for each provider", async () => {
    const host = await start(rulesConfig());
    const mine = await signToken(key("ES256"), goodClaims);
    const partner = await signToken(other, { iss: "https://partner.example" });
    assertAllowed(request(host, { ...bearer(mine), "x-partner-token": partner }, "/both"));
    assertDenied(request(host, bearer(mine), "/both"), 401, "Jwt is missing");
  });

  it("requires_any accepts either provider and reports the most telling failure", async () => {
    const host = await start(rulesConfig());
    assertAllowed(request(host, { "x-partner-token": await signToken(other, { iss: "https://partner.example" }) }, "/either"));
    assertAllowed(request(host, bearer(await signToken(key("ES256"), goodClaims)), "/either"));
    assertDenied(request(host, {}, "/either"), 401, "Jwt is missing");
    assertDenied(request(host, bearer(await signToken(key("ES256"), { ...goodClaims, exp: nowSeconds() - 999 })), "/either"), 401, "Jwt is expired");
  });

  it("allow_missing passes requests without a token but not with a bad one", async () => {
    const host = await start(rulesConfig());
    assertAllowed(request(host, {}, "/optional"));
    assertAllowed(request(host, bearer(await signToken(key("ES256"), goodClaims)), "/optional"));
    assertDenied(request(host, bearer(await signToken(other, goodClaims)), "/optional"), 401, "Jwt verification fails");
  });

  it("allow_missing_or_failed passes everything but still writes verified claims", async () => {
    const config = rulesConfig();
    ((config.providers as Json).example as Json).claim_to_headers = [{ header_name: "x-jwt-sub", claim_name: "sub" }];
    const host = await start(config);
    assertAllowed(request(host, bearer("garbage"), "/lenient"));
    const good = request(host, bearer(await signToken(key("ES256"), goodClaims)), "/lenient");
    assertAllowed(good);
    assert.equal(good.requestHeader("x-jwt-sub"), "alice");
  });

  it("matches rules on header presence and inverted conditions", async () => {
    const host = await start(configWith({ example: provider() }, [
      { match: { prefix: "/", headers: [{ name: "x-internal", present_match: true }, { name: ":method", string_match: { exact: "POST" }, invert_match: true }] } },
      { match: { prefix: "/" }, requires: { provider_name: "example" } },
    ]));
    assertAllowed(request(host, { "x-internal": "1" }));
    assertDenied(request(host, {}), 401, "Jwt is missing");
    const post = host.newStream();
    post.sendRequestHeaders({ ":method": "POST", ":path": "/api", ":authority": "svc", "x-internal": "1" });
    assertDenied(post, 401, "Jwt is missing");
  });

  it("lets an OPTIONS CORS preflight through when bypass_cors_preflight is set", async () => {
    const host = await start({ ...basicConfig(), bypass_cors_preflight: true });
    const stream = host.newStream();
    stream.sendRequestHeaders({ ":method": "OPTIONS", ":path": "/api", ":authority": "svc", origin: "https://app", "access-control-request-method": "POST" });
    assertAllowed(stream);
    assertDenied(request(host, { origin: "https://app" }), 401, "Jwt is missing");
  });
});

describe("jwt-auth verified-token cache (host emulator)", () => {
  it("serves a repeated token from the cache and counts hits and misses", async () => {
    const host = await start(basicConfig());
    const token = await signToken(key("RS256"), goodClaims);
    for (let i = 0; i < 3; i++) assertAllowed(request(host, bearer(token)));
    assert.equal(host.metricValue("jwt_auth.jwt_cache_miss"), 1);
    assert.equal(host.metricValue("jwt_auth.jwt_cache_hit"), 2);
  });

  it("does not let a cached token vouch for a token differing in one byte", async () => {
    const host = await start(basicConfig());
    const token = await signToken(key("ES256"), goodClaims);
    assertAllowed(request(host, bearer(token)));
    const sig = segments(token)[2];
    const flipped = withSegment(token, 2, (sig[0] === "A" ? "B" : "A") + sig.slice(1));
    assertDenied(request(host, bearer(flipped)), 401, "Jwt verification fails");
    assert.equal(host.metricValue("jwt_auth.jwt_cache_hit"), 0);
  });

  it("expires a cached token with the token itself", async () => {
    const host = await start(configWith({ example: provider({ clock_skew_seconds: 1 }) }));
    const token = await signToken(key("ES256"), { ...goodClaims, exp: nowSeconds() + 5 });
    assertAllowed(request(host, bearer(token)));
    assertAllowed(request(host, bearer(token)));
    host.advanceTime(10_000);
    assertDenied(request(host, bearer(token)), 401, "Jwt is expired");
    assert.equal(host.metricValue("jwt_auth.jwt_cache_hit"), 2); // the expired lookup counted as a hit, then evicted
    assertDenied(request(host, bearer(token)), 401, "Jwt is expired");
    assert.equal(host.metricValue("jwt_auth.jwt_cache_miss"), 2);
  });

  it("keeps at most jwt_cache_size tokens, evicting the least recently used", async () => {
    const host = await start(configWith({ example: provider({ jwt_cache_config: { jwt_cache_size: 2 } }) }));
    const tokens = await Promise.all([0, 1, 2].map((i) => signToken(key("HS256"), { ...goodClaims, n: i })));
    for (const token of tokens) assertAllowed(request(host, bearer(token)));
    assertAllowed(request(host, bearer(tokens[2]))); // hit
    assertAllowed(request(host, bearer(tokens[0]))); // evicted earlier: miss
    assert.equal(host.metricValue("jwt_auth.jwt_cache_hit"), 1);
    assert.equal(host.metricValue("jwt_auth.jwt_cache_miss"), 4);
  });

  it("caches tokens up to jwt_max_token_size bytes (4096 by default)", async () => {
    const big = await signToken(key("HS256"), { ...goodClaims, filler: "x".repeat(5000) });
    const byDefault = await start(basicConfig());
    for (let i = 0; i < 2; i++) assertAllowed(request(byDefault, bearer(big)));
    assert.equal(byDefault.metricValue("jwt_auth.jwt_cache_hit"), 0, "a 6.7 KB token is verified every time by default");
    const larger = await start(configWith({ example: provider({ jwt_cache_config: { jwt_max_token_size: 8192 } }) }));
    for (let i = 0; i < 2; i++) assertAllowed(request(larger, bearer(big)));
    assert.equal(larger.metricValue("jwt_auth.jwt_cache_hit"), 1);
  });

  it("re-checks a requirement's own audiences on a cache hit", async () => {
    const host = await start(configWith({ example: provider({ audiences: [] }) }, [
      { match: { prefix: "/admin" }, requires: { provider_and_audiences: { provider_name: "example", audiences: ["admin"] } } },
      { match: { prefix: "/" }, requires: { provider_name: "example" } },
    ]));
    const token = await signToken(key("ES256"), goodClaims);
    assertAllowed(request(host, bearer(token), "/api"));
    assertDenied(request(host, bearer(token), "/admin"), 403, "Audiences in Jwt are not allowed");
    assert.equal(host.metricValue("jwt_auth.jwt_cache_hit"), 1);
  });
});

/** A map-valued property as Envoy hands it over: proxy-wasm pairs (u32 count, sizes, NUL-terminated keys and values). */
function pairsProperty(entries: Array<[string, string | Uint8Array]>): Uint8Array {
  const encoded = entries.map(([key, value]) => [Buffer.from(key), typeof value === "string" ? Buffer.from(value) : Buffer.from(value)]);
  const header = Buffer.alloc(4 + 8 * encoded.length);
  header.writeUInt32LE(encoded.length, 0);
  encoded.forEach(([key, value], i) => { header.writeUInt32LE(key.length, 4 + 8 * i); header.writeUInt32LE(value.length, 8 + 8 * i); });
  return new Uint8Array(Buffer.concat([header, ...encoded.flatMap(([key, value]) => [key, Buffer.alloc(1), value, Buffer.alloc(1)])]));
}

const ROUTE_SETTINGS = "xds.route_metadata.filter_metadata.jwt-auth";

describe("jwt-auth cookies, subjects, lifetimes and per-route requirements (host emulator)", () => {
  const strictProvider = (extra: Json) => provider({ from_headers: [{ name: "authorization", value_prefix: "Bearer " }], ...extra });

  it("reads a token from a cookie and leaves the cookie in place", async () => {
    const host = await start(configWith({ example: provider({ from_cookies: ["access"] }) }));
    const token = await signToken(key("ES256"), goodClaims);
    const stream = request(host, { cookie: `theme=dark; access="${token}"` });
    assertAllowed(stream);
    assert.equal(stream.requestHeader("cookie"), `theme=dark; access="${token}"`);
    assertDenied(request(host, { cookie: "access=abc" }), 401, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections");
    assertDenied(request(host, bearer(token)), 401, "Jwt is missing"); // from_cookies replaces the default locations
  });

  it("checks subjects as a StringMatcher, ignore_case included", async () => {
    const host = await start(configWith({ example: provider({ subjects: { suffix: "@corp.example", ignore_case: true } }) }));
    assertAllowed(request(host, bearer(await signToken(key("ES256"), { ...goodClaims, sub: "Alice@CORP.example" }))));
    assertDenied(request(host, bearer(await signToken(key("ES256"), { ...goodClaims, sub: "alice@evil.example" }))), 401, "Jwt verification fails");
    assertDenied(request(host, bearer(await signToken(key("ES256"), { iss: ISSUER, aud: AUDIENCE }))), 401, "Jwt verification fails");
  });

  it("refuses a token living longer than max_lifetime, or without exp under require_expiration", async () => {
    const lifetime = await start(configWith({ example: provider({ max_lifetime: "3600s" }) }));
    assertAllowed(request(lifetime, bearer(await signToken(key("ES256"), { ...goodClaims, exp: nowSeconds() + 3000 }))));
    assertDenied(request(lifetime, bearer(await signToken(key("ES256"), { ...goodClaims, exp: nowSeconds() + 4000 }))), 401, "Jwt verification fails");
    const requireExp = await start(configWith({ example: provider({ require_expiration: true }) }));
    const noExp = signRaw(key("RS256"), `{"alg":"RS256","kid":"${key("RS256").kid}"}`, JSON.stringify(goodClaims));
    assertDenied(request(requireExp, bearer(noExp)), 401, "Jwt verification fails");
    assertAllowed(request(requireExp, bearer(await signToken(key("ES256"), goodClaims))));
  });

  it("decides a route with jwt-auth metadata by the requirement it names, or not at all when disabled", async () => {
    const host = await start(configWith({ example: strictProvider({}) }, [{ match: { prefix: "/" }, requires: { provider_name: "example" } }],
      { requirement_map: { relaxed: { allow_missing: {} } } }));
    const onRoute = (settings: Array<[string, string | Uint8Array]>, headers: Record<string, string> = {}) => {
      const stream = host.newStream({ [ROUTE_SETTINGS]: pairsProperty(settings) });
      stream.sendRequestHeaders({ ":method": "GET", ":path": "/api", ":authority": "svc.local", "x-forwarded-proto": "http", ...headers });
      return stream;
    };
    assertAllowed(onRoute([["requirement_name", "relaxed"]]));
    assertDenied(onRoute([["requirement_name", "relaxed"]], bearer("abc")), 401, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections");
    assertAllowed(onRoute([["disabled", new Uint8Array([1])]], bearer("abc")));
    assertDenied(onRoute([["disabled", new Uint8Array([0])]]), 403, "Failed JWT authentication: route metadata jwt-auth must have requirement_name or disabled: true");
    assertDenied(onRoute([["requirement_name", "strict"]]), 403, "Failed JWT authentication: Wrong requirement_name: strict. It should be one of [relaxed]");
    assertDenied(request(host), 401, "Jwt is missing"); // no metadata: the rules decide
  });
});

describe("jwt-auth configuration checks (host emulator)", () => {
  const rejected = async (configuration: unknown, expected: RegExp) => {
    const host = await HostEmulator.load(wasm, { pluginConfiguration: configuration as Json, rootId: "jwt-auth" });
    assert.equal(host.configure(), false, "the configuration should be refused");
    const line = host.logs.map((entry) => entry.message).find((message) => message.startsWith("jwt-auth: "));
    assert.ok(line, `no jwt-auth log line in ${JSON.stringify(host.logs)}`);
    assert.match(line, expected);
  };

  it("refuses text that is not JSON", async () => {
    await rejected("providers: {}", /configuration is not valid JSON/);
  });

  it("refuses a configuration without providers or rules", async () => {
    await rejected({ rules: [{ match: { prefix: "/" } }] }, /providers is required/);
    await rejected({ providers: { example: provider() } }, /rules is required/);
  });

  it("names an unknown field", async () => {
    await rejected(configWith({ example: provider({ audience: ["x"] }) }), /providers\.example\.audience is not a known field/);
  });

  it("names a rule that requires an undefined provider", async () => {
    await rejected(configWith({ example: provider() }, [{ match: { prefix: "/" } }, { match: { prefix: "/" }, requires: { provider_name: "nobody" } }]),
      /rules\[1\]\.requires\.provider_name names provider "nobody"/);
  });

  it("names a JWK that does not load", async () => {
    const badKey = { ...key("RS256").jwk, n: "AQAB" };
    await rejected(configWith({ example: provider({ local_jwks: { inline_string: JSON.stringify({ keys: [key("ES256").jwk, badKey] }) } }) }),
      /providers\.example\.local_jwks\.inline_string keys\[1\]: n must be a 2048 to 4096-bit modulus/);
    const offCurve = { ...key("ES256").jwk, y: key("ES256").jwk.x };
    await rejected(configWith({ example: provider({ local_jwks: { inline_string: JSON.stringify({ keys: [offCurve] }) } }) }),
      /keys\[0\]: \(x, y\) is not a point of the curve/);
    const mismatched = { ...key("ES256").jwk, alg: "ES384" };
    await rejected(configWith({ example: provider({ local_jwks: { inline_string: JSON.stringify({ keys: [mismatched] }) } }) }),
      /keys\[0\]: crv P-256 does not fit alg/);
  });

  it("names a bad duration, a bad header name and a bad cache size", async () => {
    await rejected(configWith({ example: { issuer: ISSUER, remote_jwks: { cluster: "jwks", path: "/keys", cache_duration: 300 } } }),
      /providers\.example\.remote_jwks\.cache_duration must be a positive duration/);
    await rejected(configWith({ example: provider({ claim_to_headers: [{ header_name: "x jwt", claim_name: "sub" }] }) }),
      /providers\.example\.claim_to_headers\[0\]\.header_name must be a header name/);
    await rejected(configWith({ example: provider({ jwt_cache_config: { jwt_cache_size: -1 } }) }),
      /providers\.example\.jwt_cache_config\.jwt_cache_size must be a whole number/);
  });

  it("names a bad subjects matcher, cookie name, max_lifetime and requirement_map entry", async () => {
    await rejected(configWith({ example: provider({ subjects: { safe_regex: { regex: ".*" } } }) }),
      /providers\.example\.subjects\.safe_regex is not supported here/);
    await rejected(configWith({ example: provider({ subjects: { prefix: "a", suffix: "b" } }) }),
      /providers\.example\.subjects must have exactly one of exact, prefix, suffix, contains/);
    await rejected(configWith({ example: provider({ subjects: { prefix: "" } }) }), /providers\.example\.subjects\.prefix must not be empty/);
    await rejected(configWith({ example: provider({ from_cookies: ["bad cookie"] }) }), /providers\.example\.from_cookies\[0\] must be a cookie name/);
    await rejected(configWith({ example: provider({ max_lifetime: "forever" }) }), /providers\.example\.max_lifetime must be a positive duration/);
    await rejected(configWith({ example: provider() }, undefined, { requirement_map: { admins: { provider_name: "nobody" } } }),
      /requirement_map\.admins\.provider_name names provider "nobody", which is not defined in providers/);
    await rejected({ providers: { example: provider() }, requirement_map: {} }, /requirement_map must name at least one requirement/);
  });

  it("names a certificate of the kid → PEM form that does not give an RSA key", async () => {
    const dir = mkdtempSync(join(tmpdir(), "as-mesh-certs-"));
    try {
      const make = (algorithm: string[]) => {
        execFileSync("openssl", ["req", "-x509", ...algorithm, "-nodes", "-keyout", join(dir, "k"), "-out", join(dir, "c"), "-subj", "/CN=t", "-days", "1"], { stdio: "ignore" });
        return readFileSync(join(dir, "c"), "utf8");
      };
      const rsaCert = make(["-newkey", "rsa:2048"]);
      const ecCert = make(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]);
      const certs = (map: Record<string, string>) => configWith({ example: provider({ local_jwks: { inline_string: JSON.stringify(map) } }) });
      await rejected(certs({ "ec-kid": ecCert }), /providers\.example\.local_jwks\.inline_string "ec-kid": certificate does not hold an RSA public key/);
      const lines = rsaCert.split("\n");
      const truncated = [...lines.slice(0, 6), lines[lines.length - 2], ""].join("\n");
      await rejected(certs({ "cut-kid": truncated }), /"cut-kid": certificate (is not a DER certificate|is not valid base64)/);
      await rejected(certs({ "junk-kid": "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n" }), /"junk-kid": certificate is not valid base64/);
      const flipped = rsaCert.replace(/\n(.)/, (_, c: string) => `\n${c === "M" ? "N" : "M"}`);
      await rejected(certs({ "flip-kid": flipped }), /"flip-kid": certificate/);
      // The good one loads (kid → certificate is jwt_authn's second form of a key set).
      const host = await HostEmulator.load(wasm, { pluginConfiguration: certs({ "rsa-kid": rsaCert }), rootId: "jwt-auth" });
      assert.equal(host.configure(), true, host.logs.map((entry) => entry.message).join("\n"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("accepts requirement_map without rules", async () => {
    const host = await HostEmulator.load(wasm, { pluginConfiguration: { providers: { example: provider() }, requirement_map: { all: { provider_name: "example" } } }, rootId: "jwt-auth" });
    assert.equal(host.configure(), true, host.logs.map((entry) => entry.message).join("\n"));
  });

  it("refuses both or neither of local_jwks and remote_jwks", async () => {
    await rejected(configWith({ example: { issuer: ISSUER } }), /providers\.example needs local_jwks or remote_jwks/);
    await rejected(configWith({ example: provider({ remote_jwks: { cluster: "c", path: "/k" } }) }), /either local_jwks or remote_jwks/);
  });

  it("loads the configuration of the example envoy/jwt-auth.yaml as written", async () => {
    type Node = Record<string, unknown>;
    const yaml = parseYaml(readFileSync(join(projectRoot, "envoy", "jwt-auth.yaml"), "utf8")) as Node;
    const listeners = ((yaml.static_resources as Node).listeners as Node[]);
    const hcm = (((listeners[0].filter_chains as Node[])[0].filters as Node[])[0].typed_config as Node);
    const entry = (hcm.http_filters as Node[]).find((filter) => filter.name === "envoy.filters.http.wasm")!;
    const configuration = (((entry.typed_config as Node).config as Node).configuration as Node).value as string;
    const host = await HostEmulator.load(wasm, { pluginConfiguration: configuration, rootId: "jwt-auth" });
    assert.equal(host.configure(), true, host.logs.map((entry) => entry.message).join("\n"));
  });

  it("refuses requires_any with fewer than two members", async () => {
    await rejected(configWith({ example: provider() }, [{ match: { prefix: "/" }, requires: { requires_any: { requirements: [{ provider_name: "example" }] } } }]),
      /rules\[0\]\.requires\.requires_any\.requirements must be an array of at least two/);
  });
});

describe("jwt-auth remote JWKS (host emulator)", () => {
  const remoteConfig = (extra: Json = {}): Json => configWith({
    example: {
      issuer: ISSUER,
      remote_jwks: { http_uri: { uri: "http://jwks.local/keys.json", cluster: "jwks", timeout: "2s" }, cache_duration: "10s", async_fetch: { failed_refetch_duration: "1s" }, ...extra },
    },
  });

  it("fetches the JWKS when it starts and holds requests until keys arrive", async () => {
    const host = await start(remoteConfig());
    assert.equal(host.httpCalls.length, 1);
    const call = host.httpCalls[0];
    assert.equal(call.cluster, "jwks");
    assert.equal(call.timeoutMs, 2000);
    assert.ok(call.headers.some(([k, v]) => k === ":path" && v === "/keys.json"));
    assert.ok(call.headers.some(([k, v]) => k === ":authority" && v === "jwks.local"));
    const token = await signToken(key("ES256"), goodClaims);
    const early = host.newStream();
    assert.equal(early.sendRequestHeaders(requestHeaders(bearer(token))), Action.Pause);
    host.respondToHttpCall(call.token, { status: 200, body: jwksOf([key("ES256")]) });
    assert.deepEqual(early.continued, [STREAM_REQUEST]);
    assertAllowed(early);
    assertAllowed(request(host, bearer(token)));
    assert.equal(host.metricValue("jwt_auth.jwks_fetch_success"), 1);
  });

  it("refreshes before cache_duration runs out and keeps the last good keys when a refresh fails", async () => {
    const host = await start(remoteConfig());
    host.respondToHttpCall(host.httpCalls[0].token, { status: 200, body: jwksOf([key("ES256")]) });
    host.advanceTime(8_000, true);
    assert.equal(host.httpCalls.length, 1, "nothing due before nine tenths of cache_duration");
    host.advanceTime(1_200, true);
    assert.equal(host.httpCalls.length, 2, "refresh at nine tenths of cache_duration");
    host.respondToHttpCall(host.httpCalls[1].token, { status: 503, body: "down" });
    assert.equal(host.metricValue("jwt_auth.jwks_fetch_failed"), 1);
    assertAllowed(request(host, bearer(await signToken(key("ES256"), goodClaims))));
    host.advanceTime(1_200, true);
    assert.equal(host.httpCalls.length, 3, "retried after failed_refetch_duration");
    host.respondToHttpCall(host.httpCalls[2].token, null);
    assert.equal(host.metricValue("jwt_auth.jwks_fetch_failed"), 2);
    assertAllowed(request(host, bearer(await signToken(key("ES256"), goodClaims))));
  });

  it("switches to rotated keys and stops accepting tokens of a withdrawn key, cached ones included", async () => {
    const host = await start(remoteConfig());
    host.respondToHttpCall(host.httpCalls[0].token, { status: 200, body: jwksOf([key("ES256")]) });
    const oldToken = await signToken(key("ES256"), goodClaims);
    const newToken = await signToken(key("EdDSA"), goodClaims);
    assertAllowed(request(host, bearer(oldToken)));
    assertDenied(request(host, bearer(newToken)), 401, "Jwks doesn't have key to match kid or alg from Jwt");
    host.advanceTime(9_200, true);
    host.respondToHttpCall(host.httpCalls[1].token, { status: 200, body: jwksOf([key("EdDSA")]) });
    assertAllowed(request(host, bearer(newToken)));
    assertDenied(request(host, bearer(oldToken)), 401, "Jwks doesn't have key to match kid or alg from Jwt");
  });

  it("refuses a fetched document without usable keys and retries", async () => {
    const host = await start(remoteConfig());
    host.respondToHttpCall(host.httpCalls[0].token, { status: 200, body: '{"keys": []}' });
    assert.equal(host.metricValue("jwt_auth.jwks_fetch_failed"), 1);
    assert.ok(host.logs.some((entry) => /remote JWKS refused/.test(entry.message)));
    host.advanceTime(1_200, true);
    assert.equal(host.httpCalls.length, 2);
  });

  it("skips unusable keys of a fetched document and uses the rest", async () => {
    const host = await start(remoteConfig());
    const doc = JSON.stringify({ keys: [{ kty: "EC", crv: "secp256k1", x: "AA", y: "AA" }, key("ES256").jwk] });
    host.respondToHttpCall(host.httpCalls[0].token, { status: 200, body: doc });
    assertAllowed(request(host, bearer(await signToken(key("ES256"), goodClaims))));
    assert.ok(host.logs.some((entry) => /keys\[0\]: crv "secp256k1" is not supported/.test(entry.message)));
  });

  it("shares a fetched document with the other VMs instead of fetching again", async () => {
    const store = new SharedDataStore();
    const first = await start(remoteConfig(), { sharedData: store });
    first.respondToHttpCall(first.httpCalls[0].token, { status: 200, body: jwksOf([key("ES256")]) });
    const second = await start(remoteConfig(), { sharedData: store });
    assert.equal(second.httpCalls.length, 0, "the second VM adopts the shared copy");
    assertAllowed(request(second, bearer(await signToken(key("ES256"), goodClaims))));
  });
});

describe("jwt-auth while the remote JWKS is unknown (host emulator)", () => {
  const remoteConfig = (): Json => configWith({
    example: {
      issuer: ISSUER,
      remote_jwks: { http_uri: { uri: "http://jwks.local/keys.json", cluster: "jwks", timeout: "2s" }, async_fetch: { failed_refetch_duration: "1s" } },
    },
  });

  /** A request sent before the JWKS is known: it must pause, neither answered nor continued. */
  function paused(host: HostEmulator, headers: Record<string, string>): Stream {
    const stream = host.newStream();
    assert.equal(stream.sendRequestHeaders(requestHeaders(headers)), Action.Pause);
    assert.equal(stream.localResponse, undefined);
    assert.deepEqual(stream.continued, []);
    return stream;
  }

  it("resumes paused requests when the fetch completes, each with its own answer", async () => {
    const host = await start(remoteConfig());
    const good = paused(host, bearer(await signToken(key("ES256"), goodClaims)));
    const unknownKey = paused(host, bearer(await signToken(other, goodClaims)));
    host.respondToHttpCall(host.httpCalls[0].token, { status: 200, body: jwksOf([key("ES256")]) });
    assert.deepEqual(good.continued, [STREAM_REQUEST]);
    assertAllowed(good);
    assert.equal(good.requestHeader("authorization"), undefined, "the resumed request was changed, not another one");
    assert.deepEqual(unknownKey.continued, []);
    assertDenied(unknownKey, 401, "Jwks doesn't have key to match kid or alg from Jwt");
    assert.equal(host.metricValue("jwt_auth.allowed"), 1);
    assert.equal(host.metricValue("jwt_auth.denied"), 1);
  });

  it("answers paused requests 401 when the fetch fails, and holds new ones for the next fetch", async () => {
    const host = await start(remoteConfig());
    const token = await signToken(key("ES256"), goodClaims);
    const first = paused(host, bearer(token));
    host.respondToHttpCall(host.httpCalls[0].token, { status: 503, body: "down" });
    assertDenied(first, 401, "Jwks remote fetch is failed");
    assert.deepEqual(first.continued, []);
    const second = paused(host, bearer(token));
    host.advanceTime(1_000, true);
    assert.equal(host.httpCalls.length, 2, "retried after failed_refetch_duration");
    host.respondToHttpCall(host.httpCalls[1].token, { status: 200, body: jwksOf([key("ES256")]) });
    assert.deepEqual(second.continued, [STREAM_REQUEST]);
    assertAllowed(second);
  });

  it("answers 401 when the wait reaches the fetch timeout", async () => {
    const host = await start(remoteConfig());
    const stream = paused(host, bearer(await signToken(key("ES256"), goodClaims)));
    host.advanceTime(1_900, true);
    assert.equal(stream.localResponse, undefined, "still waiting within the 2 s bound");
    host.advanceTime(200, true);
    assertDenied(stream, 401, "Jwks remote fetch is failed");
    assert.deepEqual(stream.continued, []);
    host.respondToHttpCall(host.httpCalls[0].token, { status: 200, body: jwksOf([key("ES256")]) });
    assert.deepEqual(stream.continued, [], "an answered request is not resumed later");
  });

  it("forgets a request whose stream ended while it waited", async () => {
    const host = await start(remoteConfig());
    const token = await signToken(key("ES256"), goodClaims);
    const gone = paused(host, bearer(token));
    const kept = paused(host, bearer(token));
    gone.complete();
    host.respondToHttpCall(host.httpCalls[0].token, { status: 200, body: jwksOf([key("ES256")]) });
    assert.deepEqual(gone.continued, []);
    assert.equal(gone.localResponse, undefined);
    assert.deepEqual(kept.continued, [STREAM_REQUEST]);
    assert.equal(host.metricValue("jwt_auth.allowed"), 1);
  });

  it("holds a token allow_missing_or_failed would let through unverified, so it gets its claim headers", async () => {
    const config = remoteConfig();
    ((config.providers as Json).example as Json).claim_to_headers = [{ header_name: "x-jwt-sub", claim_name: "sub" }];
    config.rules = [{ match: { prefix: "/" }, requires: { allow_missing_or_failed: {} } }];
    const host = await start(config);
    assertAllowed(request(host)); // no token: nothing to wait for
    const stream = paused(host, bearer(await signToken(key("ES256"), goodClaims)));
    host.respondToHttpCall(host.httpCalls[0].token, { status: 200, body: jwksOf([key("ES256")]) });
    assert.deepEqual(stream.continued, [STREAM_REQUEST]);
    assert.equal(stream.requestHeader("x-jwt-sub"), "alice");
  });

  it("holds at most MAX_WAITING_PER_PROVIDER requests and answers the next at once", async () => {
    const host = await start(remoteConfig());
    const token = await signToken(key("ES256"), goodClaims);
    const waiting = Array.from({ length: 256 }, () => paused(host, bearer(token)));
    const over = host.newStream();
    assert.equal(over.sendRequestHeaders(requestHeaders(bearer(token))), Action.Pause);
    assertDenied(over, 401, "Jwks remote fetch is failed");
    host.respondToHttpCall(host.httpCalls[0].token, { status: 200, body: jwksOf([key("ES256")]) });
    assert.ok(waiting.every((stream) => stream.continued.length === 1 && stream.localResponse === undefined));
  });

  it("retries a first fetch the cluster refuses every 100 ms, logging it once", async () => {
    const host = await HostEmulator.load(wasm, { pluginConfiguration: remoteConfig(), rootId: "jwt-auth", nowNanos: BigInt(Date.now()) * 1_000_000n });
    host.refuseHttpCalls = WasmResult.BadArgument;
    assert.equal(host.configure(), true);
    const stream = paused(host, bearer(await signToken(key("ES256"), goodClaims)));
    host.advanceTime(1_000, true);
    assert.equal(host.refusedHttpCalls, 11, "the call at start and one per 100 ms");
    assert.equal(host.logs.filter((entry) => /is not ready yet/.test(entry.message)).length, 1);
    assert.equal(host.metricValue("jwt_auth.jwks_fetch_failed"), 0);
    host.refuseHttpCalls = undefined;
    host.advanceTime(100, true);
    assert.equal(host.httpCalls.length, 0, "after ten quick retries the interval doubles");
    host.advanceTime(100, true);
    assert.equal(host.httpCalls.length, 1);
    host.respondToHttpCall(host.httpCalls[0].token, { status: 200, body: jwksOf([key("ES256")]) });
    assert.deepEqual(stream.continued, [STREAM_REQUEST]);
  });
});
