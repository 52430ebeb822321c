// jwt-auth in the real Envoy binary: tokens minted here with jose, sent as HTTP through Envoy, answers asserted.
// Covers every algorithm, every rejection reason, upstream headers (claims set, spoofed ones stripped), per-route
// rules, the filter's stats, and remote JWKS served by a loopback server (start-up, rotation, failures).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { bootstrap, httpListener, staticCluster, wasmFilter, type Json } from "../../envoy/bootstrap.ts";
import { startEnvoy, withEnvoyLog, type EnvoyInstance } from "../harness/envoy.ts";
import { startUpstream, type EchoedRequest, type Upstream } from "../harness/upstream.ts";
import { buildArtifact } from "../harness/artifacts.ts";
import {
  ALGORITHMS, type Algorithm, type SigningKey, generateAllKeys, generateSigningKey, jwksOf, nowSeconds, signToken,
  unsignedToken, withSegment, segments,
} from "../harness/tokens.ts";

const wasmPath = buildArtifact("jwt-auth");
const ISSUER = "https://issuer.example";
const AUDIENCE = "api.example";
const goodClaims = { iss: ISSUER, aud: AUDIENCE, sub: "alice", tier: "gold" };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Answer {
  status: number;
  body: string;
  challenge: string | null;
  echoed?: EchoedRequest;
}

async function send(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(15_000) });
  const body = await response.text();
  const answer: Answer = { status: response.status, body, challenge: response.headers.get("www-authenticate") };
  if (response.status === 200 && response.headers.get("content-type") === "application/json") answer.echoed = JSON.parse(body) as EchoedRequest;
  return answer;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Polls until `check` passes (Envoy workers fetch remote keys on their own schedule), failing after `timeoutMs`. */
async function eventually(check: () => Promise<void>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(200);
    }
  }
}

describe("jwt-auth in real Envoy: decisions, headers and rules", () => {
  let keys: Map<Algorithm, SigningKey>;
  let stranger: SigningKey;
  let upstream: Upstream;
  let envoy: EnvoyInstance | undefined;
  let url = "";
  const test = (name: string, body: () => Promise<void>) => it(name, withEnvoyLog(() => envoy, body));

  before(async () => {
    keys = await generateAllKeys();
    stranger = await generateSigningKey("ES256", "es256-key");
    upstream = await startUpstream();
    const configuration = {
      providers: {
        example: {
          issuer: ISSUER,
          audiences: [AUDIENCE],
          local_jwks: { inline_string: jwksOf(keys.values()) },
          forward_payload_header: "x-jwt-payload",
          claim_to_headers: [{ header_name: "x-jwt-sub", claim_name: "sub" }, { header_name: "x-jwt-tier", claim_name: "tier" }],
        },
        partner: {
          issuer: "https://partner.example",
          local_jwks: { inline_string: jwksOf([keys.get("EdDSA")!]) },
          from_headers: [{ name: "x-partner-token" }],
        },
      },
      rules: [
        { match: { path: "/health" } },
        { match: { prefix: "/admin", headers: [{ name: ":method", string_match: { exact: "DELETE" } }] },
          requires: { provider_and_audiences: { provider_name: "example", audiences: ["admin"] } } },
        { match: { prefix: "/partner" }, requires: { requires_any: { requirements: [{ provider_name: "partner" }, { provider_name: "example" }] } } },
        { match: { prefix: "/optional" }, requires: { requires_any: { requirements: [{ provider_name: "example" }, { allow_missing: {} }] } } },
        { match: { prefix: "/" }, requires: { provider_name: "example" } },
      ],
    };
    const config = bootstrap({
      listeners: [httpListener({
        name: "main",
        httpFilters: [wasmFilter({ name: "jwt-auth", wasmPath, configuration })],
        routes: [{ prefix: "/", action: { cluster: "echo" } }],
      })],
      clusters: [staticCluster("echo", "127.0.0.1", upstream.port)],
    });
    envoy = await startEnvoy({ config, concurrency: 2 });
    url = envoy.url("main");
  });

  after(async () => {
    await envoy?.stop();
    await upstream?.close();
  });

  for (const alg of ALGORITHMS) {
    test(`accepts a valid ${alg} token`, async () => {
      const answer = await send(url + "/api", bearer(await signToken(keys.get(alg)!, goodClaims)));
      assert.equal(answer.status, 200, answer.body);
      assert.equal(answer.echoed?.headers["x-jwt-sub"], "alice");
    });
  }

  test("answers 401 Jwt is missing with a bare Bearer challenge", async () => {
    const answer = await send(url + "/api?x=1");
    assert.equal(answer.status, 401);
    assert.equal(answer.body, "Jwt is missing");
    assert.match(answer.challenge ?? "", /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/api\?x=1"$/);
  });

  const rejections: Array<[string, () => Promise<string>, number, string]> = [
    ["a token whose alg is none", async () => unsignedToken(goodClaims), 401, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"],
    ["a token signed by an unknown key", async () => signToken(stranger, goodClaims), 401, "Jwt verification fails"],
    ["a token with a tampered payload", async () => {
      const token = await signToken(keys.get("RS256")!, goodClaims);
      return withSegment(token, 1, Buffer.from(JSON.stringify({ ...goodClaims, sub: "root" })).toString("base64url"));
    }, 401, "Jwt verification fails"],
    ["a truncated token", async () => (await signToken(keys.get("ES256")!, goodClaims)).slice(0, 60), 401, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"],
    ["an expired token", async () => signToken(keys.get("ES256")!, { ...goodClaims, exp: nowSeconds() - 3600 }), 401, "Jwt is expired"],
    ["a token that is not yet valid", async () => signToken(keys.get("ES256")!, { ...goodClaims, nbf: nowSeconds() + 3600 }), 401, "Jwt not yet valid"],
    ["a token from an unknown issuer", async () => signToken(keys.get("ES256")!, { ...goodClaims, iss: "https://evil.example" }), 401, "Jwt issuer is not configured"],
    ["a token for another audience", async () => signToken(keys.get("ES256")!, { ...goodClaims, aud: "other.example" }), 403, "Audiences in Jwt are not allowed"],
  ];
  for (const [what, mint, status, body] of rejections) {
    test(`rejects ${what} with ${status} "${body}"`, async () => {
      const answer = await send(url + "/api", bearer(await mint()));
      assert.equal(answer.status, status);
      assert.equal(answer.body, body);
      assert.match(answer.challenge ?? "", /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/api", error="invalid_token"$/);
    });
  }

  test("sets claim headers and the payload header, and strips spoofed ones and the token", async () => {
    const token = await signToken(keys.get("PS256")!, goodClaims);
    const answer = await send(url + "/api", { ...bearer(token), "x-jwt-sub": "mallory", "x-jwt-payload": "forged" });
    assert.equal(answer.status, 200, answer.body);
    const seen = answer.echoed!.headers;
    assert.equal(seen["x-jwt-sub"], "alice");
    assert.equal(seen["x-jwt-tier"], "gold");
    assert.equal(seen["x-jwt-payload"], segments(token)[1]);
    assert.equal(seen["authorization"], undefined, "the token is not forwarded (forward: false)");
  });

  test("strips spoofed claim headers on a route that needs no token", async () => {
    const answer = await send(url + "/health", { "x-jwt-sub": "mallory", "x-jwt-tier": "platinum" });
    assert.equal(answer.status, 200);
    assert.equal(answer.echoed!.headers["x-jwt-sub"], undefined);
    assert.equal(answer.echoed!.headers["x-jwt-tier"], undefined);
  });

  test("accepts a token in the access_token query parameter and removes it upstream", async () => {
    const token = await signToken(keys.get("HS384")!, goodClaims);
    const answer = await send(`${url}/api/items?page=2&access_token=${token}`);
    assert.equal(answer.status, 200, answer.body);
    assert.equal(answer.echoed!.path, "/api/items?page=2");
  });

  test("applies per-route rules: open path, method-matched audiences, requires_any, allow_missing", async () => {
    assert.equal((await send(url + "/health")).status, 200);
    assert.equal((await send(url + "/healthz")).status, 401);

    const user = await signToken(keys.get("ES384")!, goodClaims);
    const admin = await signToken(keys.get("ES384")!, { ...goodClaims, aud: "admin" });
    const remove = async (token: string) => {
      const response = await fetch(url + "/admin/users/7", { method: "DELETE", headers: bearer(token), signal: AbortSignal.timeout(15_000) });
      await response.text();
      return response.status;
    };
    assert.equal(await remove(user), 403);
    assert.equal(await remove(admin), 200);
    assert.equal((await send(url + "/admin/users/7", bearer(user))).status, 200, "GET falls through to the catch-all rule");

    const partnerToken = await signToken(keys.get("EdDSA")!, { iss: "https://partner.example" });
    assert.equal((await send(url + "/partner/x", { "x-partner-token": partnerToken })).status, 200);
    assert.equal((await send(url + "/partner/x", bearer(user))).status, 200);
    assert.equal((await send(url + "/partner/x")).status, 401);

    assert.equal((await send(url + "/optional/x")).status, 200);
    assert.equal((await send(url + "/optional/x", bearer(await signToken(stranger, goodClaims)))).status, 401);
  });

  test("counts allowed, denied by reason and cache hits in Envoy's stats", async () => {
    const token = await signToken(keys.get("RS512")!, { ...goodClaims, sub: "stats" });
    const before = await envoy!.stats("jwt_auth");
    const value = (stats: Map<string, number>, name: string) => stats.get(`wasmcustom.jwt_auth.${name}`) ?? 0;
    for (let i = 0; i < 4; i++) assert.equal((await send(url + "/api", bearer(token))).status, 200);
    assert.equal((await send(url + "/api")).status, 401);
    assert.equal((await send(url + "/api", bearer(await signToken(keys.get("ES256")!, { ...goodClaims, exp: 1000 })))).status, 401);
    const afterStats = await envoy!.stats("jwt_auth");
    assert.equal(value(afterStats, "allowed") - value(before, "allowed"), 4);
    assert.equal(value(afterStats, "denied") - value(before, "denied"), 2);
    assert.equal(value(afterStats, "denied.missing") - value(before, "denied.missing"), 1);
    assert.equal(value(afterStats, "denied.expired") - value(before, "denied.expired"), 1);
    // Four requests over two workers: at least two of them repeat the token on a worker that verified it.
    assert.ok(value(afterStats, "jwt_cache_hit") - value(before, "jwt_cache_hit") >= 2);
  });
});

describe("jwt-auth in real Envoy: remote JWKS", () => {
  let first: SigningKey;
  let second: SigningKey;
  let jwksServer: Upstream;
  let upstream: Upstream;
  let envoy: EnvoyInstance | undefined;
  let mode: "first" | "second" | "failing" = "first";
  let jwksRequests = 0;
  const test = (name: string, body: () => Promise<void>) => it(name, withEnvoyLog(() => envoy, body));

  before(async () => {
    first = await generateSigningKey("RS256", "2024-01");
    second = await generateSigningKey("ES256", "2024-02");
    jwksServer = await startUpstream((request, _body, response) => {
      jwksRequests++;
      if (mode === "failing" || request.url !== "/.well-known/jwks.json") {
        response.writeHead(503, { "content-type": "text/plain" });
        response.end("unavailable");
        return;
      }
      response.writeHead(200, { "content-type": "application/json" });
      response.end(jwksOf(mode === "first" ? [first] : [second]));
    });
    upstream = await startUpstream();
    const deadPort = await unusedPort();
    const provider = (cluster: string, issuer: string): Json => ({
      issuer,
      remote_jwks: {
        http_uri: { uri: "http://jwks.example/.well-known/jwks.json", cluster, timeout: "2s" },
        cache_duration: "1s",
        async_fetch: { failed_refetch_duration: "0.5s" },
      },
    });
    const configuration = {
      providers: { live: provider("jwks", ISSUER), dead: provider("jwks_dead", "https://dead.example") },
      rules: [
        { match: { prefix: "/dead" }, requires: { provider_name: "dead" } },
        { match: { prefix: "/" }, requires: { provider_name: "live" } },
      ],
    };
    const config = bootstrap({
      listeners: [httpListener({
        name: "main",
        httpFilters: [wasmFilter({ name: "jwt-auth-remote", wasmPath, configuration })],
        routes: [{ prefix: "/", action: { cluster: "echo" } }],
      })],
      clusters: [
        staticCluster("echo", "127.0.0.1", upstream.port),
        staticCluster("jwks", "127.0.0.1", jwksServer.port),
        staticCluster("jwks_dead", "127.0.0.1", deadPort),
      ],
    });
    envoy = await startEnvoy({ config, concurrency: 2 });
  });

  after(async () => {
    await envoy?.stop();
    await jwksServer?.close();
    await upstream?.close();
  });

  test("fetches the JWKS at start and accepts tokens of its keys", async () => {
    const token = await signToken(first, { iss: ISSUER });
    await eventually(async () => assert.equal((await send(envoy!.url() + "/api", bearer(token))).status, 200));
    assert.ok(jwksRequests >= 1);
    const fetched = (await envoy!.stats("jwt_auth")).get("wasmcustom.jwt_auth.jwks_fetch_success") ?? 0;
    assert.ok(fetched >= 1, `jwks_fetch_success is ${fetched}`);
  });

  test("follows a key rotation on the JWKS server", async () => {
    const oldToken = await signToken(first, { iss: ISSUER });
    const newToken = await signToken(second, { iss: ISSUER });
    assert.equal((await send(envoy!.url() + "/api", bearer(newToken))).status, 401);
    mode = "second";
    // Both workers must have refreshed before the old key stops working everywhere.
    await eventually(async () => {
      for (let i = 0; i < 4; i++) assert.equal((await send(envoy!.url() + "/api", bearer(newToken))).status, 200);
    });
    await eventually(async () => {
      for (let i = 0; i < 4; i++) assert.equal((await send(envoy!.url() + "/api", bearer(oldToken))).status, 401);
    });
  });

  test("keeps the last good keys while the JWKS server fails", async () => {
    const token = await signToken(second, { iss: ISSUER, sub: "during-outage" });
    const requestsBefore = jwksRequests;
    mode = "failing";
    // cache_duration is 1s and failed_refetch_duration 0.5s: wait for several refused refreshes.
    await eventually(async () => assert.ok(jwksRequests >= requestsBefore + 4, `JWKS requests during the outage: ${jwksRequests - requestsBefore}`));
    for (let i = 0; i < 4; i++) assert.equal((await send(envoy!.url() + "/api", bearer(token))).status, 200);
    mode = "second";
  });

  test("fails closed with 401 when the JWKS server cannot be reached", async () => {
    const key = await generateSigningKey("ES256");
    const answer = await send(envoy!.url() + "/dead/x", bearer(await signToken(key, { iss: "https://dead.example" })));
    assert.equal(answer.status, 401);
    assert.equal(answer.body, "Jwks remote fetch is failed");
    await eventually(async () => {
      assert.ok(((await envoy!.stats("jwt_auth")).get("wasmcustom.jwt_auth.jwks_fetch_failed") ?? 0) > 0);
    });
  });
});

/** A loopback port nothing listens on: bound once, then released. */
async function unusedPort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

describe("jwt-auth in real Envoy: configuration errors", () => {
  it("refuses an invalid configuration at start-up, naming the field", async () => {
    const upstream = await startUpstream();
    try {
      const config = bootstrap({
        listeners: [httpListener({
          name: "main",
          httpFilters: [wasmFilter({ name: "jwt-auth-bad", wasmPath, configuration: {
            providers: { example: { issuer: ISSUER, remote_jwks: { cluster: "jwks", path: "/keys", cache_duration: "soon" } } },
            rules: [{ match: { prefix: "/" }, requires: { provider_name: "example" } }],
          } })],
          routes: [{ prefix: "/", action: { cluster: "echo" } }],
        })],
        clusters: [staticCluster("echo", "127.0.0.1", upstream.port)],
      });
      await assert.rejects(startEnvoy({ config, readyTimeoutMs: 30_000 }), (error: unknown) => {
        assert.match(String(error), /jwt-auth: providers\.example\.remote_jwks\.cache_duration must be a positive duration/);
        return true;
      });
    } finally {
      await upstream.close();
    }
  });
});
