// Loopback HTTP servers for end-to-end tests: by default an echo server that answers with the request it
// received (method, path, headers, body) as JSON, so a test can see what Envoy's filters sent upstream.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface EchoedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export type Handler = (request: IncomingMessage, body: string, response: ServerResponse) => void;

export interface Upstream {
  port: number;
  url: string;
  /** Requests received so far. */
  received: EchoedRequest[];
  close(): Promise<void>;
}

export const echoHandler: Handler = (request, body, response) => {
  const echoed: EchoedRequest = { method: request.method ?? "", path: request.url ?? "", headers: request.headers, body };
  const payload = JSON.stringify(echoed);
  response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(payload) });
  response.end(payload);
};

export async function startUpstream(handler: Handler = echoHandler): Promise<Upstream> {
  const received: EchoedRequest[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      received.push({ method: request.method ?? "", path: request.url ?? "", headers: request.headers, body });
      handler(request, body, response);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
