// The demo's backend, dependency-free so it runs in a bare `node` container too:
//   GET /.well-known/jwks.json    the demo issuer's public key (ES256), which jwt-auth fetches through Envoy
//   GET /demo/token?sub=NAME      a token for NAME, signed by the demo issuer (demo only: real issuers are elsewhere)
//   anything else                 echoes the request it received (method, path, headers, body) as JSON
// Run directly: `node envoy/demo/backend.mjs [port]` (default 10001), or import startDemoBackend().
import { createServer } from "node:http";
import { generateKeyPairSync, sign } from "node:crypto";
import { fileURLToPath } from "node:url";

export const DEMO_ISSUER = "https://issuer.demo.as-mesh";
export const DEMO_AUDIENCE = "demo-api";
export const JWKS_PATH = "/.well-known/jwks.json";
const KID = "demo-key";

const base64url = (data) => Buffer.from(data).toString("base64url");

export async function startDemoBackend({ port = 0, host = "127.0.0.1" } = {}) {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: "jwk" }), kid: KID, alg: "ES256", use: "sig" }] });

  function mintToken(subject, lifetimeSeconds = 3600) {
    const now = Math.floor(Date.now() / 1000);
    const header = base64url(JSON.stringify({ alg: "ES256", typ: "JWT", kid: KID }));
    const payload = base64url(JSON.stringify({
      iss: DEMO_ISSUER, aud: DEMO_AUDIENCE, sub: subject, iat: now, exp: now + lifetimeSeconds, scope: "read",
    }));
    // JWS ES256 signatures are r‖s (IEEE P1363), not DER.
    const signature = sign("sha256", Buffer.from(`${header}.${payload}`), { key: privateKey, dsaEncoding: "ieee-p1363" });
    return `${header}.${payload}.${base64url(signature)}`;
  }

  const server = createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const url = new URL(request.url ?? "/", "http://backend");
      if (url.pathname === JWKS_PATH) {
        response.writeHead(200, { "content-type": "application/json" });
        response.end(jwks);
      } else if (url.pathname === "/demo/token") {
        const subject = url.searchParams.get("sub") || "alice";
        response.writeHead(200, { "content-type": "text/plain" });
        response.end(mintToken(subject) + "\n");
      } else {
        const body = Buffer.concat(chunks).toString("utf8");
        const echoed = JSON.stringify({ method: request.method, path: request.url, headers: request.headers, body });
        response.writeHead(200, { "content-type": "application/json" });
        response.end(echoed);
      }
    });
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  const boundPort = server.address().port;
  return {
    port: boundPort,
    url: `http://${host}:${boundPort}`,
    mintToken,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? 10001);
  const backend = await startDemoBackend({ port, host: "0.0.0.0" });
  process.stdout.write(`demo backend on :${backend.port} (JWKS at ${JWKS_PATH}, tokens at /demo/token?sub=NAME)\n`);
}
