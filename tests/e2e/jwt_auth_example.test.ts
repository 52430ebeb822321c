// The hand-written example envoy/jwt-auth.yaml, started in real Envoy as written except for what a test machine
// needs (loopback, ephemeral ports, the module's absolute path, its own keys), and checked route by route.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { startEnvoy, withEnvoyLog, type EnvoyInstance } from "../harness/envoy.ts";
import { exampleConfigForTest } from "../harness/examples.ts";
import { startUpstream, type EchoedRequest } from "../harness/upstream.ts";
import { generateSigningKey, jwksOf, signToken } from "../harness/tokens.ts";


async function send(url: string, headers: Record<string, string> = {}, method = "GET") {
  const response = await fetch(url, { method, headers, signal: AbortSignal.timeout(15_000) });
  const body = await response.text();
  return { status: response.status, body, echoed: response.status === 200 ? (JSON.parse(body) as EchoedRequest) : undefined };
}

describe("the example envoy/jwt-auth.yaml", () => {
  it("starts as written and authenticates each route as its rules say", { timeout: 90_000 }, async () => {
    const corporate = await generateSigningKey("ES256", "corp-2024");
    const partner = await generateSigningKey("RS256", "partner-1");
    const upstream = await startUpstream();
    const idp = await startUpstream((request, _body, response) => {
      response.writeHead(request.url === "/.well-known/jwks.json" ? 200 : 404, { "content-type": "application/json" });
      response.end(jwksOf([partner]));
    });
    let yaml = exampleConfigForTest("jwt-auth.yaml", { 8080: upstream.port, 8081: idp.port });
    const inlineKeys = /"inline_string": "\{\\"keys\\".*"$/m;
    assert.match(yaml, inlineKeys, "envoy/jwt-auth.yaml no longer has the inline JWKS line");
    yaml = yaml.replace(inlineKeys, `"inline_string": ${JSON.stringify(jwksOf([corporate]))}`);
    let envoy: EnvoyInstance | undefined;
    try {
      envoy = await startEnvoy({ config: {}, extraArgs: ["--config-yaml", yaml], concurrency: 2 });
      await withEnvoyLog(() => envoy, async () => {
        const ingress = envoy!.url("ingress");
        const employee = await signToken(corporate, {
          iss: "https://login.corp.example", aud: "https://api.corp.example", sub: "dana", org: { team: "payments" },
        });
        const admin = await signToken(corporate, { iss: "https://login.corp.example", aud: "https://admin.corp.example", sub: "root" });
        const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

        assert.equal((await send(ingress + "/healthz")).status, 200);
        const missing = await send(ingress + "/api/orders");
        assert.equal(missing.status, 401);
        assert.equal(missing.body, "Jwt is missing");

        const ok = await send(ingress + "/api/orders", { ...bearer(employee), "x-jwt-team": "spoofed" });
        assert.equal(ok.status, 200, ok.body);
        assert.equal(ok.echoed!.headers["x-jwt-sub"], "dana");
        assert.equal(ok.echoed!.headers["x-jwt-team"], "payments");
        assert.equal(ok.echoed!.headers.authorization, undefined);

        assert.equal((await send(ingress + "/admin/users/3", bearer(employee), "DELETE")).status, 403);
        assert.equal((await send(ingress + "/admin/users/3", bearer(admin), "DELETE")).status, 200);

        const partnerToken = await signToken(partner, { iss: "https://idp.partner.example", aud: "partner-api", sub: "acme" });
        // The partner JWKS is fetched by each worker at start; wait until both have it.
        const deadline = Date.now() + 20_000;
        let statuses: number[] = [];
        while (Date.now() < deadline) {
          statuses = [];
          for (let i = 0; i < 4; i++) statuses.push((await send(ingress + "/partner/catalog", bearer(partnerToken))).status);
          if (statuses.every((status) => status === 200)) break;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        assert.deepEqual(statuses, [200, 200, 200, 200]);
        assert.equal((await send(ingress + "/partner/catalog", bearer(employee))).status, 401, "corporate tokens do not open /partner");
        assert.equal((await send(ingress + "/api/orders", bearer(partnerToken))).status, 200, "either provider opens /api");
      })();
    } finally {
      await envoy?.stop();
      await upstream.close();
      await idp.close();
    }
  });
});
