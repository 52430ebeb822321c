// The control service's HTTP side (istiod's :15014 monitoring port): readiness, Prometheus metrics, the per-proxy
// sync status `as-mesh proxy-status` prints, the last config verdict, and the .wasm modules Envoy downloads.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { wasmModulePath, type WasmModule } from "./wasm_modules.ts";

export interface AdminSources {
  registry: Registry;
  ready(): { ready: boolean; reason?: string };
  syncStatus(): unknown;
  configStatus(): unknown;
  modules(): Map<string, WasmModule>;
}

export interface AdminServer {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value, null, 2) + "\n";
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  response.end(body);
}

function sendText(response: ServerResponse, status: number, body: string, contentType = "text/plain"): void {
  response.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body) });
  response.end(body);
}

async function handle(sources: AdminSources, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = new URL(request.url ?? "/", "http://admin").pathname;
  if (request.method !== "GET" && request.method !== "HEAD") {
    sendText(response, 405, "only GET\n");
    return;
  }
  if (path === "/ready") {
    const { ready, reason } = sources.ready();
    sendText(response, ready ? 200 : 503, ready ? "ready\n" : `not ready: ${reason ?? "starting"}\n`);
  } else if (path === "/metrics") {
    sendText(response, 200, await sources.registry.metrics(), sources.registry.contentType);
  } else if (path === "/debug/syncz") {
    sendJson(response, 200, sources.syncStatus());
  } else if (path === "/debug/configz") {
    sendJson(response, 200, sources.configStatus());
  } else if (path.startsWith("/wasm/")) {
    const module = [...sources.modules().values()].find((candidate) => wasmModulePath(candidate.name) === path);
    if (!module) {
      sendText(response, 404, `no module at ${path}\n`);
      return;
    }
    response.writeHead(200, {
      "content-type": "application/wasm",
      "content-length": module.bytes.length,
      etag: `"${module.sha256}"`,
    });
    response.end(request.method === "HEAD" ? undefined : module.bytes);
  } else {
    sendText(response, 404, "endpoints: /ready /metrics /debug/syncz /debug/configz /wasm/<name>.wasm\n");
  }
}

export async function startAdminServer(sources: AdminSources, host: string, port: number): Promise<AdminServer> {
  const server = createServer((request, response) => {
    handle(sources, request, response).catch((error: unknown) => {
      if (!response.headersSent) sendText(response, 500, `${error instanceof Error ? error.message : String(error)}\n`);
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    server,
    port: bound,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${bound}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
