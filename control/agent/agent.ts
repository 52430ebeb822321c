// The per-workload agent (istio-agent's certificate role): creates the workload's private key in this process,
// obtains an SVID from the CA with the bootstrap token (later with the current SVID), renews it at half its
// lifetime with jitter, retries with exponential backoff while the CA is unreachable, and serves the key, chain
// and trust bundle to the workload's Envoy over SDS on a Unix socket as the secrets `default` and `ROOTCA`.
// Envoy keeps the current certificate throughout: a failed renewal changes nothing it sees.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, unlinkSync, unwatchFile, watchFile } from "node:fs";
import { dirname } from "node:path";
import { pino, type Logger } from "pino";
import { Counter, Gauge, Registry } from "prom-client";
import { TypeUrl } from "../api/index.ts";
import { Snapshot, SnapshotCache } from "../cache/index.ts";
import { XdsServer } from "../xds/index.ts";
import { createKeyAndCsr, parsePemBundle } from "../ca/ca.ts";
import { CaRequestError, requestCertificate, type CaClientOptions, type CaCredential } from "../ca/client.ts";
import { rootSecret, workloadSecret, ROOT_SECRET, WORKLOAD_SECRET } from "./envoy_tls.ts";

export interface AgentOptions {
  /** The CA's issuance endpoint and the roots that sign its TLS certificate. */
  ca: CaClientOptions;
  /**
   * Further issuance addresses (other control replicas, same roots and server name), tried in turn when the current
   * one cannot be reached; the agent stays with the last one that answered.
   */
  caFallbackAddresses?: string[];
  /** The bootstrap token the operator handed this workload (needed for the first certificate). */
  token?: string;
  /** Or a file holding it, re-read for every request so the operator can replace the token in place. */
  tokenFile?: string;
  /** Where Envoy reaches the SDS server (the bootstrap's sds-grpc cluster points here). */
  sdsSocketPath: string;
  /** Requested certificate lifetime in seconds; 0 or unset takes the CA's default (24 h). */
  ttlSeconds?: number;
  keyType?: "ECDSA" | "RSA";
  /** Renew at this fraction of the lifetime (istio-agent: 0.5) ± jitter (a fraction of the lifetime, default 0.05). */
  renewAtFraction?: number;
  renewJitterFraction?: number;
  /** Backoff between failed requests: doubles from initialMs up to maxMs, with jitter. */
  retry?: { initialMs?: number; maxMs?: number };
  /**
   * A PEM file of further roots to trust (watched). During a root rollover the operator puts old + new root here,
   * then removes the old one; ROOTCA is the root of the current chain plus these.
   */
  trustBundleFile?: string;
  logger?: Logger;
  registry?: Registry;
}

export interface AgentCertificate {
  spiffeId: string;
  /** Lower-case hex, as Envoy's /certs shows it. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** PEM: leaf, intermediates, root last. */
  certChain: string[];
}

export interface AgentStatus {
  spiffeId: string | null;
  serialNumber: string | null;
  notAfter: string | null;
  nextRenewalAt: string | null;
  trustedRoots: number;
  lastError: string | null;
  failedAttempts: number;
}

type RotationListener = (certificate: AgentCertificate) => void;

const SDS_GROUP = "workload";
const MAX_TIMER_MS = 2 ** 31 - 1;

function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

export class WorkloadAgent {
  private readonly logger: Logger;
  private readonly cache = new SnapshotCache();
  private readonly sds: XdsServer;
  private certificate: AgentCertificate | null = null;
  private keyPem: string | null = null;
  private extraRoots: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private nextRenewal: Date | null = null;
  private failures = 0;
  private lastError: string | null = null;
  private closed = false;
  private inFlight: Promise<void> | null = null;
  /** Index into caAddresses() of the CA that answered last: renewals go there first. */
  private caIndex = 0;
  private readonly listeners = new Set<RotationListener>();
  private readonly firstCertificate: Promise<AgentCertificate>;
  private resolveFirst!: (certificate: AgentCertificate) => void;
  private readonly renewals: Counter<"result">;

  constructor(private readonly options: AgentOptions) {
    this.logger = (options.logger ?? pino({ name: "agent" })).child({ component: "agent" });
    const registry = options.registry ?? new Registry();
    this.sds = new XdsServer({ cache: this.cache, groupOf: () => SDS_GROUP, services: ["sds"], registry, logger: this.logger });
    this.firstCertificate = new Promise((resolve) => { this.resolveFirst = resolve; });
    this.renewals = new Counter({
      name: "as_mesh_agent_certificate_requests_total",
      help: "Certificate requests the agent sent to the CA, by result",
      labelNames: ["result"] as const,
      registers: [registry],
    });
    const self = this;
    new Gauge({
      name: "as_mesh_agent_cert_expiry_seconds",
      help: "Seconds until the workload certificate the agent serves expires",
      registers: [registry],
      collect() { if (self.certificate) this.set((self.certificate.notAfter.getTime() - Date.now()) / 1000); },
    });
  }

  /** Starts SDS on the socket and the first certificate request; call `ready()` to wait for the certificate. */
  async start(): Promise<void> {
    const socket = this.options.sdsSocketPath;
    mkdirSync(dirname(socket), { recursive: true, mode: 0o700 });
    // A socket left by an agent that died would make bind fail; anything else at that path is not ours to delete.
    if (existsSync(socket)) {
      if (!lstatSync(socket).isSocket()) throw new Error(`${socket} exists and is not a socket`);
      unlinkSync(socket);
    }
    if (this.options.trustBundleFile) {
      this.loadTrustBundleFile();
      watchFile(this.options.trustBundleFile, { interval: 1000 }, () => {
        this.loadTrustBundleFile();
        this.publish();
      });
    }
    await this.sds.listen(`unix:${socket}`);
    // The key travels to Envoy over this socket: only the workload's user may connect.
    chmodSync(socket, 0o600);
    this.logger.info({ sdsSocket: socket }, "SDS server listening");
    this.schedule(0);
  }

  /** Resolves with the first certificate (the agent keeps retrying until it gets one). */
  ready(): Promise<AgentCertificate> {
    return this.firstCertificate;
  }

  current(): AgentCertificate | null {
    return this.certificate;
  }

  /** The roots served as ROOTCA. */
  trustBundle(): string[] {
    const roots = new Map<string, string>();
    const chainRoot = this.certificate?.certChain[this.certificate.certChain.length - 1];
    for (const pem of [...(chainRoot ? [chainRoot] : []), ...this.extraRoots]) {
      try {
        roots.set(fingerprintOf(pem), pem.trim() + "\n");
      } catch {
        this.logger.warn("ignoring a trust bundle entry that is not a certificate");
      }
    }
    return [...roots.values()];
  }

  status(): AgentStatus {
    return {
      spiffeId: this.certificate?.spiffeId ?? null,
      serialNumber: this.certificate?.serialNumber ?? null,
      notAfter: this.certificate?.notAfter.toISOString() ?? null,
      nextRenewalAt: this.nextRenewal?.toISOString() ?? null,
      trustedRoots: this.trustBundle().length,
      lastError: this.lastError,
      failedAttempts: this.failures,
    };
  }

  /** Calls `listener` after every new certificate is published to Envoy; returns the function that stops it. */
  onRotate(listener: RotationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Requests a new certificate now (e.g. after the trust domain's root changed); resolves when it is served. */
  async renewNow(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.renew();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.options.trustBundleFile) unwatchFile(this.options.trustBundleFile);
    await this.inFlight?.catch(() => undefined);
    await this.sds.close();
    if (existsSync(this.options.sdsSocketPath)) unlinkSync(this.options.sdsSocketPath);
  }

  private loadTrustBundleFile(): void {
    const path = this.options.trustBundleFile!;
    try {
      const roots = parsePemBundle(readFileSync(path, "utf8"));
      this.extraRoots = roots;
      this.logger.info({ trustBundleFile: path, roots: roots.length }, "loaded the trust bundle file");
    } catch (error) {
      this.logger.error({ trustBundleFile: path, err: (error as Error).message }, "trust bundle file rejected; keeping the roots loaded before");
    }
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    const due = Date.now() + delayMs;
    this.nextRenewal = new Date(due);
    this.armTimer(due);
  }

  /** Node fires timers longer than ~24.8 days at once; long waits (90-day certificates) go in steps. */
  private armTimer(due: number): void {
    const wait = Math.max(0, due - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      if (Date.now() < due) this.armTimer(due);
      else void this.renew();
    }, Math.min(wait, MAX_TIMER_MS));
  }

  /** Delay until the next renewal: fraction ± jitter of the lifetime after notBefore. */
  private renewalDelay(certificate: AgentCertificate): number {
    const lifetime = certificate.notAfter.getTime() - certificate.notBefore.getTime();
    const fraction = this.options.renewAtFraction ?? 0.5;
    const jitter = this.options.renewJitterFraction ?? 0.05;
    const at = certificate.notBefore.getTime() + lifetime * (fraction + (Math.random() * 2 - 1) * jitter);
    return Math.max(0, at - Date.now());
  }

  private retryDelay(): number {
    const initial = this.options.retry?.initialMs ?? 1000;
    const max = this.options.retry?.maxMs ?? 30_000;
    const base = Math.min(max, initial * 2 ** Math.min(this.failures - 1, 20));
    // Full jitter between half and all of the step keeps many agents from retrying in lockstep.
    let delay = base / 2 + Math.random() * (base / 2);
    // Never sleep past the point where the current certificate expires without one more try before it.
    if (this.certificate) delay = Math.min(delay, Math.max(initial, this.certificate.notAfter.getTime() - Date.now() - 1000));
    return delay;
  }

  private renew(): Promise<void> {
    if (!this.inFlight) {
      this.inFlight = this.requestAndPublish().finally(() => { this.inFlight = null; });
    }
    return this.inFlight;
  }

  private credentials(): CaCredential[] {
    const result: CaCredential[] = [];
    const current = this.certificate;
    // The current SVID is the preferred credential while it has some life left; the token is the fallback.
    if (current && this.keyPem && current.notAfter.getTime() - Date.now() > 5000) {
      result.push({ certificate: { keyPem: this.keyPem, certChainPem: current.certChain.slice(0, -1).join("") } });
    }
    const token = this.readToken();
    if (token) result.push({ token });
    return result;
  }

  /**
   * The CA endpoint's certificate chains to a mesh root, so the roots of the trust bundle file count as well: after
   * a rollover the CA serves under the new root, which the operator put in the bundle before switching.
   */
  private caEndpoint(address: string): CaClientOptions {
    if (this.extraRoots.length === 0) return { ...this.options.ca, address };
    return { ...this.options.ca, address, caCertificatesPem: this.options.ca.caCertificatesPem.trimEnd() + "\n" + this.extraRoots.join("") };
  }

  private caAddresses(): string[] {
    return [this.options.ca.address, ...(this.options.caFallbackAddresses ?? [])];
  }

  /** One CSR to one CA, with each credential in turn; rejects with the last error. */
  private async requestFrom(address: string, csrPem: string): Promise<{ chain: string[]; credential: "token" | "certificate" }> {
    let lastError: unknown = new Error("no credential: the agent has neither a token nor a valid certificate");
    for (const credential of this.credentials()) {
      try {
        const chain = await requestCertificate(this.caEndpoint(address), credential, { csr: csrPem, validityDuration: this.options.ttlSeconds ?? 0 });
        return { chain, credential: "token" in credential ? "token" : "certificate" };
      } catch (error) {
        lastError = error;
        this.renewals.inc({ result: "error" });
        // Only a refused credential is worth retrying with the next one; a CA that is down is down for both.
        if (!(error instanceof CaRequestError) || error.code !== GrpcStatus.UNAUTHENTICATED) break;
      }
    }
    throw lastError;
  }

  private readToken(): string | undefined {
    if (this.options.token) return this.options.token;
    if (!this.options.tokenFile) return undefined;
    try {
      return readFileSync(this.options.tokenFile, "utf8").trim() || undefined;
    } catch (error) {
      this.logger.warn({ tokenFile: this.options.tokenFile, err: (error as Error).message }, "cannot read the token file");
      return undefined;
    }
  }

  private async requestAndPublish(): Promise<void> {
    if (this.closed) return;
    const { keyPem, csrPem } = await createKeyAndCsr({ keyType: this.options.keyType });
    const addresses = this.caAddresses();
    let lastError: unknown = new Error("the agent closed");
    // The CA that answered last first, then the other replicas in order.
    for (let step = 0; step < addresses.length && !this.closed; step++) {
      const index = (this.caIndex + step) % addresses.length;
      try {
        const { chain, credential } = await this.requestFrom(addresses[index]!, csrPem);
        if (index !== this.caIndex) this.logger.info({ ca: addresses[index], previous: addresses[this.caIndex] }, "renewing at another CA replica");
        this.caIndex = index;
        this.accept(chain, keyPem, credential);
        return;
      } catch (error) {
        lastError = error;
        // Another replica signs with the same root: worth asking when this one is unreachable, not when it refused.
        const unreachable = error instanceof CaRequestError && (error.code === GrpcStatus.UNAVAILABLE || error.code === GrpcStatus.DEADLINE_EXCEEDED);
        if (!unreachable) break;
      }
    }
    if (this.closed) return;
    this.failures += 1;
    this.lastError = (lastError as Error).message;
    const delay = this.retryDelay();
    this.logger.warn({
      err: this.lastError, failures: this.failures, retryInMs: Math.round(delay),
      servingSerial: this.certificate?.serialNumber ?? null, servingNotAfter: this.certificate?.notAfter.toISOString() ?? null,
    }, "certificate request failed; keeping the current certificate and retrying");
    this.schedule(delay);
  }

  private accept(chain: string[], keyPem: string, credential: "token" | "certificate"): void {
    const leaf = new X509Certificate(chain[0]);
    if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) throw new Error("the CA returned a certificate for another key");
    const uri = (leaf.subjectAltName ?? "").split(/,\s*/).find((name) => name.startsWith("URI:spiffe://"))?.slice(4);
    const certificate: AgentCertificate = {
      spiffeId: uri ?? "",
      serialNumber: leaf.serialNumber.toLowerCase(),
      notBefore: new Date(leaf.validFrom),
      notAfter: new Date(leaf.validTo),
      certChain: chain,
    };
    const previous = this.certificate;
    this.certificate = certificate;
    this.keyPem = keyPem;
    this.failures = 0;
    this.lastError = null;
    this.renewals.inc({ result: "success" });
    this.publish();
    const delay = this.renewalDelay(certificate);
    this.logger.info({
      spiffeId: certificate.spiffeId, serial: certificate.serialNumber, notAfter: certificate.notAfter.toISOString(),
      previousSerial: previous?.serialNumber ?? null, credential, renewInMs: Math.round(delay),
    }, previous ? "rotated the workload certificate" : "obtained the workload certificate");
    this.schedule(delay);
    if (!previous) this.resolveFirst(certificate);
    for (const listener of this.listeners) listener(certificate);
  }

  /** Hands Envoy the current key + chain (without the root, which is in ROOTCA) and the trust bundle. */
  private publish(): void {
    if (!this.certificate || !this.keyPem) return;
    const chainWithoutRoot = this.certificate.certChain.length > 1 ? this.certificate.certChain.slice(0, -1) : this.certificate.certChain;
    this.cache.setSnapshot(SDS_GROUP, new Snapshot({
      [TypeUrl.secret]: new Map<string, object>([
        [WORKLOAD_SECRET, workloadSecret(chainWithoutRoot.join(""), this.keyPem)],
        [ROOT_SECRET, rootSecret(this.trustBundle())],
      ]),
    }));
  }
}

/** Creates and starts an agent; `await agent.ready()` for the first certificate. */
export async function startAgent(options: AgentOptions): Promise<WorkloadAgent> {
  const agent = new WorkloadAgent(options);
  await agent.start();
  return agent;
}
