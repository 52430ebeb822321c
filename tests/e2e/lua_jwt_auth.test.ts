// The Lua JWT baseline in real Envoy makes the same decisions as Envoy's jwt_authn and as our jwt-auth Wasm filter
// on one corpus of tokens (valid, expired, not yet valid, wrong issuer/audience/key, tampered, alg none, ...).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { bootstrap, httpListener, staticCluster, type Json } from "../../envoy/bootstrap.ts";
import { luaBaselineFilter } from "../../envoy/lua/index.ts";
import { startEnvoy, withEnvoyLog, EnvoyStartError, type EnvoyInstance } from "../harness/envoy.ts";
import { startUpstream, type EchoedRequest, type Upstream } from "../harness/upstream.ts";
import {
  createJwtFixture, jwtAuthnStyleConfig, jwtCorpus, mintToken, nativeJwtAuthnFilter, SUBJECT_HEADER,
  type CorpusCase, type JwtFixture,
} from "../../bench/lib/jwt_fixture.ts";
import { wasmJwtAuthFilter, wasmFilterUnavailable } from "../../bench/lib/wasm_filters.ts";

function listener(name: string, filter: Json): Json {
  return httpListener({ name, httpFilters: [filter], routes: [{ prefix: "/", action: { cluster: "echo" } }] });
}

async function statusFor(url: string, authorization?: string): Promise<number> {
  return Number((await decisionFor(url, authorization)).split(" ")[0]);
}

/** The status and, for a denial, the body: "401 Jwt is expired". */
async function decisionFor(url: string, authorization?: string): Promise<string> {
  const response = await fetch(url + "/resource", { headers: authorization ? { authorization } : {} });
  const body = await response.text();
  return response.status === 200 ? "200" : `${response.status} ${body}`;
}

describe("Lua JWT baseline in real Envoy", () => {
  let fixture: JwtFixture;
  let corpus: CorpusCase[];
  let upstream: Upstream;
  let envoy: EnvoyInstance | undefined;
  const wasmMissing = wasmFilterUnavailable("jwt-auth");
  const test = (name: string, body: () => Promise<void>, options: { skip?: string | false } = {}) =>
    it(name, options, withEnvoyLog(() => envoy, body));

  before(async () => {
    fixture = await createJwtFixture();
    corpus = await jwtCorpus(fixture);
    upstream = await startUpstream();
    const listeners = [
      listener("lua", luaBaselineFilter("jwt_auth", jwtAuthnStyleConfig(fixture, { subjectHeader: true, cacheSize: 100 }))),
      listener("lua_uncached", luaBaselineFilter("jwt_auth", jwtAuthnStyleConfig(fixture))),
      listener("native", nativeJwtAuthnFilter(fixture, { subjectHeader: true })),
    ];
    if (!wasmMissing) listeners.push(listener("wasm", wasmJwtAuthFilter(fixture, { subjectHeader: true, cacheSize: 100 })));
    envoy = await startEnvoy({
      config: bootstrap({ listeners, clusters: [staticCluster("echo", "127.0.0.1", upstream.port)] }),
    });
  });

  after(async () => {
    await envoy?.stop();
    await upstream?.close();
  });

  test("answers every corpus token with the status and body Envoy's jwt_authn gives it", async () => {
    const mismatches: string[] = [];
    for (const entry of corpus) {
      const native = await decisionFor(envoy!.url("native"), entry.authorization);
      assert.equal(Number(native.split(" ")[0]), entry.expected, `jwt_authn itself answered '${entry.name}' with ${native}`);
      for (const name of ["lua", "lua_uncached"]) {
        const lua = await decisionFor(envoy!.url(name), entry.authorization);
        if (lua !== native) mismatches.push(`${entry.name}: ${name} '${lua}', jwt_authn '${native}'`);
      }
    }
    assert.deepEqual(mismatches, []);
  });

  test("answers a cached token the same way the second time", async () => {
    for (const entry of corpus) {
      const first = await statusFor(envoy!.url("lua"), entry.authorization);
      const second = await statusFor(envoy!.url("lua"), entry.authorization);
      assert.equal(second, first, entry.name);
    }
  });

  test("uses jwt_authn's body and WWW-Authenticate for a missing and an expired token", async () => {
    const missing = await fetch(envoy!.url("lua") + "/resource");
    assert.equal(missing.status, 401);
    assert.equal(await missing.text(), "Jwt is missing");
    assert.match(missing.headers.get("www-authenticate") ?? "", /^Bearer realm="/);
    const expired = await fetch(envoy!.url("lua") + "/resource", {
      headers: { authorization: "Bearer " + await mintToken(fixture, { expiresIn: -3600 }) },
    });
    assert.equal(expired.status, 401);
    assert.equal(await expired.text(), "Jwt is expired");
    assert.match(expired.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
  });

  test("copies the verified subject to the claim header and drops a spoofed one", async () => {
    const token = await mintToken(fixture, { alg: "ES256", subject: "alice" });
    const response = await fetch(envoy!.url("lua") + "/resource", {
      headers: { authorization: "Bearer " + token, [SUBJECT_HEADER]: "mallory" },
    });
    assert.equal(response.status, 200);
    const echoed = (await response.json()) as EchoedRequest;
    assert.equal(echoed.headers[SUBJECT_HEADER], "alice");
  });

  // Status only: where the two disagree on a message, jwt_authn's (compared above) is the reference.
  test("answers every corpus token with the status our jwt-auth Wasm filter gives it", async () => {
    const mismatches: string[] = [];
    for (const entry of corpus) {
      const wasm = await statusFor(envoy!.url("wasm"), entry.authorization);
      const lua = await statusFor(envoy!.url("lua"), entry.authorization);
      if (lua !== wasm) mismatches.push(`${entry.name}: lua '${lua}', wasm '${wasm}'`);
    }
    assert.deepEqual(mismatches, []);
  }, { skip: wasmMissing });
});

describe("Lua JWT baseline configuration", () => {
  it("refuses a configuration with an unknown provider field, naming it", async () => {
    const fixture = await createJwtFixture();
    const config = jwtAuthnStyleConfig(fixture);
    (config.providers.bench as Record<string, unknown>).remote_jwks = { http_uri: {} };
    await assert.rejects(
      startEnvoy({
        config: bootstrap({ listeners: [httpListener({
          name: "lua",
          httpFilters: [luaBaselineFilter("jwt_auth", config)],
          routes: [{ prefix: "/", action: { directResponse: { status: 200, body: "ok" } } }],
        })] }),
        readyTimeoutMs: 20_000,
      }),
      (error: unknown) => {
        assert.ok(error instanceof EnvoyStartError, String(error));
        assert.match(error.message, /providers\.bench\.remote_jwks is not a known field/);
        return true;
      });
  });
});
