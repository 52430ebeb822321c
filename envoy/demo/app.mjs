// The demo mesh's workload: one small HTTP app, dependency-free so it runs in a bare `node` container. Each
// instance (ride v1/v2, driver, payment) is this file with a different environment:
//   APP_NAME, APP_VERSION   who it is (shown in every answer)
//   PORT, HOST              where it listens (default 8080 on 0.0.0.0)
//   NEXT_SERVICE            host of the service it calls on every request (ride → driver → payment), optional
//   SIDECAR_OUTBOUND        host:port of its sidecar's outbound listener; the app speaks plain HTTP to it with the
//                           `Host` header set to the destination service, and the sidecar does routing and mTLS.
//                           Without it the app calls NEXT_SERVICE directly (port 8080), for runs without sidecars.
// Answers (JSON):
//   GET /healthz            {"ok":true}, without calling anyone
//   GET /call/<host>        calls <host> once through the sidecar and reports its answer (used to show a denial)
//   anything else           calls NEXT_SERVICE with the same path, then answers the call chain:
//                           {"service","version","status","chain":[{"service","version"}, ...]}
// An answer from the next hop that is not 2xx is passed on with its status, so a fault deep in the chain shows at
// the edge. Request headers named x-demo-* and the usual trace headers travel with the call, like trace context.
import { createServer, request as httpRequest } from "node:http";

const PROPAGATED = /^(x-demo-|x-request-id$|x-b3-|traceparent$|tracestate$|x-jwt-claim-sub$)/;

const config = {
  name: process.env.APP_NAME ?? "app",
  version: process.env.APP_VERSION ?? "v1",
  port: Number(process.env.PORT ?? 8080),
  host: process.env.HOST ?? "0.0.0.0",
  next: process.env.NEXT_SERVICE || "",
  outbound: process.env.SIDECAR_OUTBOUND || "",
};

function log(fields) {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), app: config.name, version: config.version, ...fields }) + "\n");
}

/** One HTTP call to `host` (a mesh service name) through the sidecar; resolves with status and parsed body. */
function callService(host, path, headers) {
  const [targetHost, targetPort] = config.outbound
    ? [config.outbound.slice(0, config.outbound.lastIndexOf(":")), Number(config.outbound.slice(config.outbound.lastIndexOf(":") + 1))]
    : [host, 8080];
  return new Promise((resolve) => {
    const outgoing = httpRequest({ host: targetHost, port: targetPort, path, method: "GET", headers: { ...headers, host }, timeout: 5000 }, (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body;
        try { body = JSON.parse(text); } catch { body = { text: text.slice(0, 500) }; }
        resolve({ status: response.statusCode ?? 502, body });
      });
    });
    outgoing.on("timeout", () => outgoing.destroy(new Error(`no answer from ${host} within 5 s`)));
    outgoing.on("error", (error) => resolve({ status: 502, body: { error: `calling ${host}: ${error.message}` } }));
    outgoing.end();
  });
}

function answer(response, status, body) {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body) + "\n");
}

const server = createServer(async (request, response) => {
  const url = new URL(request.url ?? "/", "http://app");
  if (url.pathname === "/healthz") return answer(response, 200, { ok: true });
  const forwarded = Object.fromEntries(Object.entries(request.headers).filter(([name]) => PROPAGATED.test(name)));
  const self = { service: config.name, version: config.version };
  if (url.pathname.startsWith("/call/")) {
    const target = decodeURIComponent(url.pathname.slice("/call/".length));
    const result = await callService(target, "/", forwarded);
    log({ call: target, status: result.status });
    return answer(response, result.status, { ...self, status: result.status, called: target, answer: result.body });
  }
  if (!config.next) return answer(response, 200, { ...self, status: 200, chain: [self] });
  const result = await callService(config.next, url.pathname + url.search, forwarded);
  const chain = [self, ...(Array.isArray(result.body.chain) ? result.body.chain : [{ service: config.next, status: result.status, error: result.body.error ?? result.body.text }])];
  const ok = result.status >= 200 && result.status < 300;
  if (!ok) log({ call: config.next, status: result.status });
  answer(response, ok ? 200 : result.status, { ...self, status: ok ? 200 : result.status, chain });
});

server.listen(config.port, config.host, () => {
  const address = server.address();
  log({ listening: `${config.host}:${typeof address === "object" && address ? address.port : config.port}`, next: config.next || null, outbound: config.outbound || null });
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => { server.closeAllConnections(); server.close(() => process.exit(0)); });
}
