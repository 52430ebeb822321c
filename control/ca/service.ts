// The CA as the control service runs it: key material from an operator folder (or a generated root kept in the
// CA folder), the token file (watched), and the issuance API on one address. One call for `as-mesh control`.
// An operator's key and chain files are watched too, so a replica switches to a new intermediate in place (like
// istiod's reload of plugged-in certificates) without dropping the xDS streams a restart would.
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
  /**
   * Operator-supplied key and chain (signing certificate first, root last) instead of the folder's files; both are
   * watched, and a new valid pair whose root workloads already trust replaces the signing CA in place.
   */
  operatorKeyFile?: string;
  operatorCertChainFile?: string;
  /** How often the watched files are polled (default 1 s). */
  watchIntervalMs?: number;
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
  /** The CA signing now (a reload of the operator's files replaces it). */
  readonly ca: MeshCa;
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
  const interval = options.watchIntervalMs ?? 1000;
  const operatorFiles = options.operatorKeyFile && options.operatorCertChainFile
    ? [options.operatorKeyFile, options.operatorCertChainFile] : [];
  let reloadTimer: NodeJS.Timeout | null = null;
  const reloadOperatorCa = async () => {
    try {
      // Everything trusted now stays trusted (the previous root too, in a rollover) until the extra-roots file changes.
      const next = await MeshCa.fromPem({
        keyPem: readFileSync(operatorFiles[0]!, "utf8"), certChainPem: readFileSync(operatorFiles[1]!, "utf8"),
      }, { ...caOptions, extraTrustedRootsPem: ca.trustBundle() });
      if (next.rootCertPem === ca.rootCertPem && next.signingCertPem === ca.signingCertPem) return;
      // A chain to a root the workloads do not trust yet would cut them off; that switch is a root rollover.
      if (!ca.trustBundle().includes(next.rootCertPem)) {
        options.logger.error({ chainFile: operatorFiles[1] }, "the new CA chain ends in a root the mesh does not trust yet; keeping the current CA (add the root to --extra-roots-file first: a root rollover)");
        return;
      }
      ca = next;
      await server.replaceCa(next);
      options.logger.info({ chainFile: operatorFiles[1], signingCertNotAfter: next.signingCertNotAfter.toISOString() }, "reloaded the CA signing key and chain");
    } catch (error) {
      // The two files are rarely replaced at one instant: a key that does not match the chain yet is logged, and
      // the next change of either file tries again.
      options.logger.warn({ keyFile: operatorFiles[0], chainFile: operatorFiles[1], err: (error as Error).message }, "cannot use the CA key and chain files; keeping the current CA");
    }
  };
  for (const file of operatorFiles) {
    watchFile(file, { interval }, () => {
      if (reloadTimer) clearTimeout(reloadTimer);
      // Waits a moment so that replacing the key and then the chain is read as one change.
      reloadTimer = setTimeout(() => void reloadOperatorCa(), Math.min(500, interval));
    });
  }
  const extraRootsFile = options.extraRootsFile;
  if (extraRootsFile) {
    // During a rollover the operator edits this file; the new set is published and trusted for renewals at once.
    watchFile(extraRootsFile, { interval }, () => {
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
    get ca() { return ca; },
    server, tokens, port,
    async close() {
      tokens.unwatch();
      for (const file of operatorFiles) unwatchFile(file);
      if (reloadTimer) clearTimeout(reloadTimer);
      if (extraRootsFile) unwatchFile(extraRootsFile);
      await server.close();
    },
  };
}
