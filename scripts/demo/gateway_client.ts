// The demo's client for the edge gateway's HTTPS server, doing what `curl --cacert <root> --resolve <name>:<port>:<address>`
// does: it connects to the gateway's address, sends the edge's DNS name as SNI and Host, and trusts the mesh root
// alone (not the system's roots), so every answer it gets comes over a certificate that chains to the mesh CA.
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { connect } from "node:tls";
import { X509Certificate } from "node:crypto";
import { EDGE_HOST } from "../../envoy/demo/topology.ts";

/** Where a client reaches the edge, and what it verifies the edge's certificate with. */
export interface GatewayEndpoint {
  /** What a client asks for: https://<edge host>:<port>. */
  url: string;
  /** host:port the edge's name stands for here (there is no DNS record for it). */
  address: string;
  /** PEM file holding the mesh root. */
  rootFile: string;
}

export function gatewayEndpoint(host: string, port: number, rootFile: string): GatewayEndpoint {
  return { url: `https://${EDGE_HOST}:${port}`, address: `${host}:${port}`, rootFile };
}

function splitAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(":");
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}

/** The curl line that sends a request as this client does. */
export function curlCommand(gateway: GatewayEndpoint, path: string, options = ""): string {
  const { host, port } = splitAddress(gateway.address);
  return `curl --cacert ${gateway.rootFile} --resolve ${new URL(gateway.url).hostname}:${port}:${host}${options ? ` ${options}` : ""} ${gateway.url}${path}`;
}

/** One GET through the gateway over HTTPS, verified against the mesh root; a new connection each time. */
export function gatewayGet(gateway: GatewayEndpoint, path: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  const url = new URL(path, gateway.url);
  const { host, port } = splitAddress(gateway.address);
  return new Promise((resolve, reject) => {
    const outgoing = request({
      host, port, path: `${url.pathname}${url.search}`, servername: url.hostname, ca: readFileSync(gateway.rootFile, "utf8"),
      headers: { host: url.host, ...headers }, agent: false, timeout: timeoutMs,
    }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      response.on("error", reject);
    });
    outgoing.on("timeout", () => outgoing.destroy(new Error(`no answer from ${gateway.url}${path} within ${timeoutMs} ms`)));
    outgoing.on("error", reject);
    outgoing.end();
  });
}

export interface GatewayHandshake {
  /** Whether the certificate verified for the edge's name against the roots given. */
  verified: boolean;
  /** OpenSSL's reason when it did not. */
  error?: string;
  protocol: string;
  subjectAltName: string;
  issuer: string;
  validTo: string;
}

/**
 * A TLS handshake with the gateway, sending the edge's name as SNI. `ca` replaces the system's roots; without it
 * the system's roots are used. The handshake completes either way so the certificate can be shown.
 */
export function gatewayHandshake(gateway: GatewayEndpoint, ca?: string): Promise<GatewayHandshake> {
  const { host, port } = splitAddress(gateway.address);
  const servername = new URL(gateway.url).hostname;
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, servername, ...(ca ? { ca } : {}), rejectUnauthorized: false, timeout: 10_000 }, () => {
      const peer = socket.getPeerCertificate();
      const certificate = new X509Certificate(peer.raw);
      resolve({
        verified: socket.authorized,
        ...(socket.authorizationError ? { error: String(socket.authorizationError) } : {}),
        protocol: socket.getProtocol() ?? "?",
        subjectAltName: certificate.subjectAltName ?? "",
        issuer: certificate.issuer.replaceAll("\n", ", "),
        validTo: certificate.validTo,
      });
      socket.end();
    });
    socket.on("timeout", () => socket.destroy(new Error(`no TLS handshake with ${gateway.address} within 10 s`)));
    socket.on("error", reject);
  });
}
