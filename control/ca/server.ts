// The certificate issuance API: istiod's istio.v1.auth.IstioCertificateService/CreateCertificate over gRPC + TLS.
// A caller proves who it is with a bootstrap token (`authorization: Bearer <token>`) or with its current SVID as
// the TLS client certificate; the CA signs the CSR's key for exactly that identity. Every refusal is a gRPC status
// with a message saying why, a log line with the reason (never the token, CSR or any key) and a metric.
import * as grpc from "@grpc/grpc-js";
import type { PeerCertificate } from "node:tls";
import type { SecureContextOptions } from "node:tls";
import { pino, type Logger } from "pino";
import { Registry } from "prom-client";
import { CaError, type CaErrorReason, type MeshCa } from "./ca.ts";
import { parseSpiffeId, spiffeId, type WorkloadIdentity } from "./identity.ts";
import { createCaMetrics, type CaMetrics } from "./metrics.ts";
import { CREATE_CERTIFICATE_PATH, decodeRequest, encodeResponse, type IstioCertificateRequest, type IstioCertificateResponse } from "./proto.ts";
import { KeyedRateLimiter, TokenBucket, type BucketOptions } from "./rate_limit.ts";
import type { TokenAuthority } from "./tokens.ts";

export interface CaServerOptions {
  ca: MeshCa;
  tokens: TokenAuthority;
  logger?: Logger;
  registry?: Registry;
  /** Names in the CA endpoint's TLS certificate (default: localhost, as-mesh-ca, 127.0.0.1, ::1). */
  serverNames?: { dns?: string[]; ips?: string[] };
  /** Default: 200 in a burst, 100/s for everybody together; 10 in a burst, 1/s per identity. */
  rateLimits?: { global?: BucketOptions; perIdentity?: BucketOptions };
  /** gRPC messages above this are refused by the transport before decoding (default 256 KiB). */
  maxMessageBytes?: number;
  /** Lifetime of the endpoint's own TLS certificate (default 1 year; renewed at half-life). */
  servingCertTtlSeconds?: number;
}

export interface IssuedCertificate {
  spiffeId: string;
  serialNumber: string;
  notAfter: Date;
  issuedAt: Date;
  credential: "token" | "certificate";
}

type Credential = { identity: WorkloadIdentity; kind: IssuedCertificate["credential"] };

/** Pino options that keep secrets out of logs even if a caller passes them in a log object by mistake. */
export const CA_LOG_REDACT = [
  "token", "authorization", "keyPem", "privateKey", "csr", "csrPem",
  "*.token", "*.authorization", "*.keyPem", "*.privateKey", "*.csr", "*.csrPem",
];

const STATUS_OF: Record<CaErrorReason, grpc.status> = {
  csr_too_large: grpc.status.INVALID_ARGUMENT,
  csr_parse_error: grpc.status.INVALID_ARGUMENT,
  csr_signature_invalid: grpc.status.INVALID_ARGUMENT,
  unsupported_key_type: grpc.status.INVALID_ARGUMENT,
  invalid_ttl: grpc.status.INVALID_ARGUMENT,
  invalid_identity: grpc.status.INVALID_ARGUMENT,
  unauthenticated: grpc.status.UNAUTHENTICATED,
  rate_limited: grpc.status.RESOURCE_EXHAUSTED,
  signing_error: grpc.status.INTERNAL,
};

/** A request that failed to decode is passed on as such, so the handler can answer INVALID_ARGUMENT and count it. */
type DecodedRequest = IstioCertificateRequest | { malformed: string };

const serviceDefinition = {
  CreateCertificate: {
    path: CREATE_CERTIFICATE_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (): Buffer => { throw new Error("the CA server does not send requests"); },
    requestDeserialize: (bytes: Buffer): DecodedRequest => {
      try {
        return decodeRequest(bytes);
      } catch (error) {
        return { malformed: (error as Error).message };
      }
    },
    responseSerialize: (response: IstioCertificateResponse): Buffer => encodeResponse(response),
    responseDeserialize: (): IstioCertificateResponse => { throw new Error("the CA server does not read responses"); },
  },
} satisfies grpc.ServiceDefinition;

/**
 * TLS that asks for a client certificate but does not require one: token callers connect without, SVID callers
 * are verified against the trust bundle by TLS itself and show up as an authorized peer.
 */
class OptionalClientCertCredentials extends grpc.ServerCredentials {
  constructor(context: SecureContextOptions) {
    super({ requestCert: true, rejectUnauthorized: false }, context);
  }

  update(context: SecureContextOptions): void {
    this.updateSecureContextOptions(context);
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

function uriSans(certificate: PeerCertificate): string[] {
  return (certificate.subjectaltname ?? "").split(/,\s*/).filter((name) => name.startsWith("URI:")).map((name) => name.slice(4));
}

export class CaServer {
  private readonly logger: Logger;
  readonly registry: Registry;
  private readonly metrics: CaMetrics;
  private readonly globalLimit: TokenBucket;
  private readonly identityLimit: KeyedRateLimiter;
  private readonly latestByIdentity = new Map<string, IssuedCertificate>();
  private server: grpc.Server | null = null;
  private credentials: OptionalClientCertCredentials | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: CaServerOptions) {
    this.logger = (options.logger ?? pino({ name: "ca", redact: CA_LOG_REDACT })).child({ component: "ca" });
    this.registry = options.registry ?? new Registry();
    this.metrics = createCaMetrics(this.registry, {
      rootNotAfter: () => this.options.ca.rootNotAfter,
      signingCertNotAfter: () => this.options.ca.signingCertNotAfter,
      earliestWorkloadCertNotAfter: () => {
        let earliest: Date | null = null;
        for (const issued of this.latestByIdentity.values()) if (!earliest || issued.notAfter < earliest) earliest = issued.notAfter;
        return earliest;
      },
    });
    this.globalLimit = new TokenBucket(options.rateLimits?.global ?? { burst: 200, perSecond: 100 });
    this.identityLimit = new KeyedRateLimiter(options.rateLimits?.perIdentity ?? { burst: 10, perSecond: 1 });
  }

  /** PEM roots a client must trust to reach this endpoint (and to trust the certificates it issues). */
  get trustBundlePem(): string {
    return this.options.ca.trustBundle().join("");
  }

  /** The newest certificate issued to each identity (for proxy-status and the admin API). */
  issued(): IssuedCertificate[] {
    return [...this.latestByIdentity.values()].sort((a, b) => a.spiffeId.localeCompare(b.spiffeId));
  }

  /** Binds "host:port" (port 0 picks one) and returns the port. */
  async listen(address: string): Promise<number> {
    if (this.server) throw new Error("the CA server is already listening");
    const credentials = new OptionalClientCertCredentials(await this.tlsContext());
    this.credentials = credentials;
    const maxBytes = this.options.maxMessageBytes ?? 256 * 1024;
    const server = new grpc.Server({ "grpc.max_receive_message_length": maxBytes, "grpc.max_send_message_length": 1024 * 1024 });
    server.addService(serviceDefinition, {
      CreateCertificate: (call: grpc.ServerUnaryCall<DecodedRequest, IstioCertificateResponse>, callback: grpc.sendUnaryData<IstioCertificateResponse>) => {
        this.createCertificate(call).then(
          (response) => callback(null, response),
          (error: unknown) => callback(this.toStatus(error, call.getPeer())),
        );
      },
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(address, credentials, (error, boundPort) => (error ? reject(error) : resolve(boundPort)));
    });
    this.server = server;
    this.logger.info({ address, port, trustDomain: this.options.ca.trustDomain }, "CA issuance API listening");
    return port;
  }

  /** The endpoint's TLS: a fresh serving certificate, client certificates verified against the trust bundle. */
  private async tlsContext(): Promise<SecureContextOptions> {
    const names = this.options.serverNames ?? { dns: ["localhost", "as-mesh-ca"], ips: ["127.0.0.1", "::1"] };
    const serving = await this.options.ca.issueServingCertificate(names, this.options.servingCertTtlSeconds);
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    // Renewed at half-life like a workload certificate; unref'd so it never keeps a process alive on its own.
    const halfLife = Math.max(1000, (serving.notAfter.getTime() - Date.now()) / 2);
    this.refreshTimer = setTimeout(() => void this.refreshTls().catch((error: Error) =>
      this.logger.error({ err: error.message }, "cannot renew the CA endpoint's certificate")), Math.min(halfLife, 2 ** 31 - 1));
    this.refreshTimer.unref();
    return { key: serving.keyPem, cert: serving.certChainPem, ca: this.options.ca.trustBundle() };
  }

  /**
   * Re-issues the endpoint's certificate and reloads the trust bundle for client certificates, without closing
   * connections: call it after `MeshCa.setExtraTrustedRoots` (e.g. a rollover). Also runs on a timer.
   */
  async refreshTls(): Promise<void> {
    if (!this.credentials) return;
    this.credentials.update(await this.tlsContext());
    this.logger.info({ trustedRoots: this.options.ca.trustBundle().length }, "reloaded the CA endpoint's TLS");
  }

  /**
   * Signs with `ca` from now on (a replica's new intermediate) and reloads the endpoint's TLS, without closing
   * connections or forgetting issuance records. The caller checks that workloads already trust `ca`'s root.
   */
  async replaceCa(ca: MeshCa): Promise<void> {
    this.options.ca = ca;
    await this.refreshTls();
  }

  async close(): Promise<void> {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    this.credentials = null;
    const server = this.server;
    this.server = null;
    if (!server) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { server.forceShutdown(); resolve(); }, 2000);
      server.tryShutdown(() => { clearTimeout(timer); resolve(); });
    });
  }

  private authenticate(call: grpc.ServerUnaryCall<DecodedRequest, IstioCertificateResponse>): Credential {
    const header = call.metadata.get("authorization")[0];
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)$/i.exec(String(header));
      if (!match) throw new CaError("unauthenticated", "authorization header is not 'Bearer <token>'");
      const result = this.options.tokens.check(match[1]);
      if (!result.ok) throw new CaError("unauthenticated", `${result.reason}`);
      return { identity: result.identity, kind: "token" };
    }
    const peer = call.getAuthContext().sslPeerCertificate;
    if (peer) {
      for (const uri of uriSans(peer)) {
        const identity = parseSpiffeId(uri, this.options.ca.trustDomain);
        if (identity) return { identity, kind: "certificate" };
      }
      throw new CaError("unauthenticated", `client certificate has no SPIFFE ID of trust domain ${this.options.ca.trustDomain}`);
    }
    throw new CaError("unauthenticated", "no credential: send 'authorization: Bearer <token>' or a client certificate issued by this CA");
  }

  private async createCertificate(call: grpc.ServerUnaryCall<DecodedRequest, IstioCertificateResponse>): Promise<IstioCertificateResponse> {
    const started = performance.now();
    this.metrics.csrCount.inc();
    let credential: Credential;
    try {
      credential = this.authenticate(call);
    } catch (error) {
      this.metrics.authenticationFailures.inc();
      throw error;
    }
    const id = spiffeId(this.options.ca.trustDomain, credential.identity);
    // Per identity first: one workload's flood then spends its own budget, not everybody's.
    if (!this.identityLimit.tryTake(id)) throw new CaError("rate_limited", `too many CSRs for ${id}; retry with backoff`);
    if (!this.globalLimit.tryTake()) throw new CaError("rate_limited", "the CA is busy (global CSR rate limit); retry with backoff");
    const request = call.request;
    if ("malformed" in request) throw new CaError("csr_parse_error", `request is not an IstioCertificateRequest: ${request.malformed}`);
    const signed = await this.options.ca.sign(request.csr, credential.identity, request.validityDuration);
    const issued: IssuedCertificate = {
      spiffeId: signed.spiffeId,
      serialNumber: signed.serialNumber,
      notAfter: signed.notAfter,
      issuedAt: new Date(),
      credential: credential.kind,
    };
    this.latestByIdentity.set(signed.spiffeId, issued);
    const seconds = (performance.now() - started) / 1000;
    this.metrics.issuanceSeconds.observe(seconds);
    this.metrics.successCount.inc();
    this.logger.info({
      spiffeId: signed.spiffeId, serial: signed.serialNumber, notAfter: signed.notAfter.toISOString(),
      credential: credential.kind, peer: call.getPeer(), ms: Math.round(seconds * 1000),
    }, "issued workload certificate");
    return { certChain: signed.certChain };
  }

  private toStatus(error: unknown, peer: string): Partial<grpc.StatusObject> {
    const caError = error instanceof CaError ? error : new CaError("signing_error", (error as Error)?.message ?? String(error));
    this.metrics.recordError(caError.reason);
    const level = caError.reason === "signing_error" ? "error" : "warn";
    // Rate-limited floods would drown the log; they are counted and logged at debug.
    this.logger[caError.reason === "rate_limited" ? "debug" : level]({ reason: caError.reason, peer, err: caError.message }, "CSR refused");
    return { code: STATUS_OF[caError.reason], details: `${caError.reason}: ${caError.message}` };
  }
}
