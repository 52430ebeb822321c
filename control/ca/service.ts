// The CA as the control service runs it: key material from an operator folder (or a generated root kept in the
// CA folder), the token file (watched), and the issuance API on one address. One call for `as-mesh control`.
import { readFileSync, unwatchFile, watchFile } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { MeshCa, parsePemBundle } from "./ca.ts";
import { CaServer, type CaServerOptions } from "./server.ts";
import { TokenAuthority } from "./tokens.ts";

export interface CaServiceOptions {
  trustDomain: string;
  /** Folder of the CA's key and chain: ca-key.pem + ca-cert-chain.pem, generated (self-signed root) when absent. */
  caDir: string;
  /** Operator-supplied key and chain (signing certificate first, root last) instead of the folder's files. */
  operatorKeyFile?: string;
  operatorCertChainFile?: string;
  /** Extra roots to publish in the trust bundle (PEM file, watched), e.g. the previous root during a rollover. */
  extraRootsFile?: string;
  /** The bootstrap token file (sha256 → identity); watched for changes. */
  tokenFile?: string;
  /** "host:port" of the issuance API (gRPC over TLS). */
  address: string;
  workloadTtlSeconds?: number;
  maxWorkloadTtlSeconds?: number;
  serverNames?: CaServerOptions["serverNames"];
  rateLimits?: CaServerOptions["rateLimits"];
  logger: Logger;
  registry?: Registry;
}

export interface CaService {
  ca: MeshCa;
  server: CaServer;
  tokens: TokenAuthority;
  port: number;
  close(): Promise<void>;
}

export async function startCaService(options: CaServiceOptions): Promise<CaService> {
  const caOptions = {
    trustDomain: options.trustDomain,
    workloadTtlSeconds: options.workloadTtlSeconds,
    maxWorkloadTtlSeconds: options.maxWorkloadTtlSeconds,
    extraTrustedRootsPem: options.extraRootsFile ? parsePemBundle(readFileSync(options.extraRootsFile, "utf8")) : [],
  };
  let ca: MeshCa;
  if (options.operatorKeyFile || options.operatorCertChainFile) {
    if (!options.operatorKeyFile || !options.operatorCertChainFile) throw new Error("an operator CA needs both the key file and the certificate chain file");
    ca = await MeshCa.fromPem({
      keyPem: readFileSync(options.operatorKeyFile, "utf8"),
      certChainPem: readFileSync(options.operatorCertChainFile, "utf8"),
    }, caOptions);
  } else {
    ca = await MeshCa.loadOrCreate(options.caDir, caOptions);
  }
  const tokens = options.tokenFile ? TokenAuthority.fromFile(options.tokenFile) : new TokenAuthority();
  if (options.tokenFile) tokens.watchFile(options.tokenFile, options.logger);
  const server = new CaServer({
    ca, tokens, logger: options.logger, registry: options.registry,
    serverNames: options.serverNames, rateLimits: options.rateLimits,
  });
  const port = await server.listen(options.address);
  const extraRootsFile = options.extraRootsFile;
  if (extraRootsFile) {
    // During a rollover the operator edits this file; the new set is published and trusted for renewals at once.
    watchFile(extraRootsFile, { interval: 1000 }, () => {
      try {
        const roots = parsePemBundle(readFileSync(extraRootsFile, "utf8"));
        ca.setExtraTrustedRoots(roots);
        void server.refreshTls();
        options.logger.info({ extraRootsFile, roots: roots.length }, "reloaded the extra trusted roots");
      } catch (error) {
        options.logger.error({ extraRootsFile, err: (error as Error).message }, "cannot read the extra trusted roots; keeping the previous ones");
      }
    });
  }
  options.logger.info({
    trustDomain: options.trustDomain, port, tokens: tokens.size,
    rootFile: options.operatorCertChainFile ?? join(options.caDir, "ca-cert-chain.pem"),
    rootNotAfter: ca.rootNotAfter.toISOString(),
  }, "mesh CA started");
  return {
    ca, server, tokens, port,
    async close() {
      tokens.unwatch();
      if (extraRootsFile) unwatchFile(extraRootsFile);
      await server.close();
    },
  };
}
