// jwt-auth in real Envoy while a provider's remote JWKS is not known yet: a request that arrives then waits for
// the fetch, as jwt_authn's does, instead of getting 401 "Jwks remote fetch is failed". Each Envoy here is fresh
// and is sent its requests the moment admin /ready answers, when the JWKS cluster may not even be usable yet.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { bootstrap, httpListener, staticCluster, wasmFilter, type Json } from "../../envoy/bootstrap.ts";
import { startEnvoy, withEnvoyLog, type EnvoyInstance } from "../harness/envoy.ts";
import { startUpstream, type Handler, type Upstream } from "../harness/upstream.ts";
import { buildArtifact } from "../harness/artifacts.ts";
import { generateSigningKey, jwksOf, signToken, type SigningKey } from "../harness/tokens.ts";

const jwtAuthWasm = buildArtifact("jwt-auth");
const asMeshWasm = buildArtifact("as-mesh");
const ISSUER = "https://issuer.example";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Answer {
  status: number;
  body: string;
  elapsedMs: number;
}

async function send(url: string, token: string): Promise<Answer> {
  const started = Date.now();
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(15_000) });
  return { status: response.status, body: await response.text(), elapsedMs: Date.now() - started };
}

/**
 * The provider in jwt_authn's words. jwt-auth refreshes in the background (async_fetch); jwt_authn gets no
 * async_fetch, because with it Envoy holds the listener back until the fetch is done, and here it must fetch when
 * the first request needs the keys, as jwt-auth has to.
 */
function jwtAuthConfig(timeout: string, asyncFetch = true): Json {
  return {
    providers: {
      idp: {
        issuer: ISSUER,
        remote_jwks: {
          http_uri: { uri: "http://jwks.example/keys.json", cluster: "jwks", timeout },
          ...(asyncFetch ? { async_fetch: { failed_refetch_duration: "1s" } } : {}),
        },
        claim_to_headers: [{ header_name: "x-jwt-sub", claim_name: "sub" }],
      },
    },
    rules: [{ match: { prefix: "/" }, requires: { provider_name: "idp" } }],
  };
}

const jwtAuthnFilter = (timeout: string): Json => ({
  name: "envoy.filters.http.jwt_authn",
  typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication", ...jwtAuthConfig(timeout, false) },
});

/**
 * An Envoy with `filter` before the router on listener "main" (and with `native`, jwt_authn on listener
 * "native"), its JWKS cluster pointing at `jwks`.
 */
function startMeshEnvoy(filter: Json, jwks: Upstream, upstream: Upstream, native?: Json): Promise<EnvoyInstance> {
  const routes = [{ prefix: "/", action: { cluster: "echo" } }];
  const listeners = [httpListener({ name: "main", httpFilters: [filter], routes })];
  if (native) listeners.push(httpListener({ name: "native", httpFilters: [native], routes }));
  return startEnvoy({
    config: bootstrap({
      listeners,
      clusters: [staticCluster("echo", "127.0.0.1", upstream.port), staticCluster("jwks", "127.0.0.1", jwks.port)],
    }),
    concurrency: 2,
  });
}

describe("jwt-auth in real Envoy while the remote JWKS is unknown", () => {
  const servers: Upstream[] = [];
  let envoy: EnvoyInstance | undefined;
  const test = (name: string, body: () => Promise<void>) => it(name, withEnvoyLog(() => envoy, body));

  after(async () => {
    await envoy?.stop();
    for (const server of servers) await server.close();
  });

  async function server(handler?: Handler): Promise<Upstream> {
    const started = await startUpstream(handler);
    servers.push(started);
    return started;
  }

  /** A JWKS server that answers after `delayMs`, so requests certainly arrive before the keys. */
  async function slowJwks(key: SigningKey, delayMs: number): Promise<Upstream> {
    return server((_request, _body, response) => {
      setTimeout(() => {
        response.writeHead(200, { "content-type": "application/json" });
        response.end(jwksOf([key]));
      }, delayMs);
    });
  }

  test("answers valid tokens 200 from the first request on, with fresh Envoys each time, as jwt_authn does", async () => {
    const key = await generateSigningKey("ES256", "startup");
    const token = await signToken(key, { iss: ISSUER, sub: "first" });
    const upstream = await server();
    const summary = (answers: Answer[]) => answers.map((answer) => `${answer.status} ${answer.status === 200 ? "" : answer.body}`);
    // Once with the keys answered at once, twice with them held back 300 ms: either way no request is refused.
    for (const delayMs of [0, 300, 300]) {
      const jwks = await slowJwks(key, delayMs);
      envoy = await startMeshEnvoy(wasmFilter({ name: "jwt-auth", wasmPath: jwtAuthWasm, configuration: jwtAuthConfig("5s") }), jwks, upstream,
        jwtAuthnFilter("5s"));
      const [ours, native] = await Promise.all(["main", "native"].map((listener) =>
        Promise.all([0, 1, 2, 3].map(() => send(envoy!.url(listener) + "/api", token)))));
      assert.deepEqual(summary(ours), Array(4).fill("200 "), `jwt-auth's answers right after /ready (JWKS delayed ${delayMs} ms)`);
      assert.deepEqual(summary(native), Array(4).fill("200 "), `jwt_authn's answers right after /ready (JWKS delayed ${delayMs} ms)`);
      if (delayMs > 0) assert.ok(ours.some((answer) => answer.elapsedMs >= delayMs - 50), "the requests waited for the JWKS");
      const stats = await envoy.stats("jwt_auth");
      assert.equal(stats.get("wasmcustom.jwt_auth.denied") ?? 0, 0);
      await envoy.stop();
      envoy = undefined;
    }
  });

  test("resumes a paused request through the as-mesh chain's later stages", async () => {
    const key = await generateSigningKey("ES256", "chain");
    const jwks = await slowJwks(key, 300);
    const upstream = await server();
    const chain = {
      jwt_auth: jwtAuthConfig("5s"),
      rate_limit: {
        rules: [{
          name: "per_subject", match: { path_prefix: "/" }, descriptors: [{ jwt_claim: { header_name: "x-jwt-sub" } }],
          token_bucket: { max_tokens: 1, tokens_per_fill: 1, fill_interval: "60s" },
        }],
      },
    };
    envoy = await startMeshEnvoy(wasmFilter({ name: "chain", rootId: "chain", wasmPath: asMeshWasm, configuration: chain }), jwks, upstream);
    const token = await signToken(key, { iss: ISSUER, sub: "chain-user" });
    const first = await send(envoy.url() + "/api", token);
    assert.equal(first.status, 200, first.body);
    // jwt-auth's claim header reached the rate limit that ran after the resume: the subject's one token is spent.
    assert.equal((await send(envoy.url() + "/api", token)).status, 429);
    assert.equal(upstream.received.at(-1)?.headers["x-jwt-sub"], "chain-user");
    await envoy.stop();
    envoy = undefined;
  });

  test("answers 401 after the fetch timeout when the JWKS server does not answer", async () => {
    const key = await generateSigningKey("ES256", "silent");
    const silent = await server(() => { /* never answers: the fetch runs into its 1 s timeout */ });
    const upstream = await server();
    envoy = await startMeshEnvoy(wasmFilter({ name: "jwt-auth", wasmPath: jwtAuthWasm, configuration: jwtAuthConfig("1s") }), silent, upstream,
      jwtAuthnFilter("1s"));
    await sleep(100);
    const token = await signToken(key, { iss: ISSUER });
    const [answer, native] = await Promise.all([send(envoy.url("main") + "/api", token), send(envoy.url("native") + "/api", token)]);
    assert.equal(answer.status, 401);
    assert.equal(answer.body, "Jwks remote fetch is failed");
    assert.ok(answer.elapsedMs >= 500, `answered after ${answer.elapsedMs} ms: it should have waited for the fetch`);
    assert.ok(answer.elapsedMs < 3_000, `answered after ${answer.elapsedMs} ms: the wait is bounded by the 1 s timeout`);
    assert.deepEqual([native.status, native.body], [401, "Jwks remote fetch is failed"], "jwt_authn's answer to the same request");
    assert.ok(native.elapsedMs >= 500, `jwt_authn answered after ${native.elapsedMs} ms`);
    await envoy.stop();
    envoy = undefined;
  });
});
