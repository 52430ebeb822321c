// The mesh CA inside `as-mesh control` (istiod's role): started when --ca-dir is given, on --ca-address, with the
// bootstrap tokens of --token-file; its issuance records feed /debug/syncz and its metrics /metrics.
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { startCaService, type CaService, type MeshCa } from "../ca/index.ts";
import type { CertificateRecords } from "../ca/workload_status.ts";
import type { IssuedCertificate } from "../ca/server.ts";

export interface ControlCaOptions {
  /** Folder of the CA's key and chain (a self-signed root is generated there when absent). No folder: no CA. */
  caDir?: string;
  /** Operator-supplied signing key and chain (signing certificate first, root last) instead of the folder's. */
  caKeyFile?: string;
  caCertChainFile?: string;
  /** Extra roots to publish and trust (watched): the previous root during a rollover. */
  extraRootsFile?: string;
  caAddress: string;
  tokenFile?: string;
  trustDomain: string;
  /** The config is in a store several replicas share (--etcd): each replica should sign with its own intermediate. */
  sharedStore?: boolean;
  /** Default workload certificate lifetime in seconds (the CA's default, 24 h, when unset). */
  workloadTtl?: number;
}

/** The CA of the control process; `issued()` answers empty until it has started (and when there is none). */
export class ControlCa implements CertificateRecords {
  private service: CaService | null = null;

  constructor(private readonly options: ControlCaOptions) {}

  get enabled(): boolean {
    return Boolean(this.options.caDir || this.options.caKeyFile);
  }

  /** The CA that signs gateway serving certificates; null until started, or when there is no CA. */
  servingIssuer(): MeshCa | null {
    return this.service?.ca ?? null;
  }

  issued(): IssuedCertificate[] {
    return this.service?.server.issued() ?? [];
  }

  async start(logger: Logger, registry: Registry): Promise<void> {
    if (!this.enabled) return;
    if (!this.options.tokenFile) logger.warn("the CA runs without --token-file: workloads without a certificate cannot get their first one");
    if (this.options.sharedStore && !this.options.caKeyFile) {
      // Replicas that each keep a root of their own in --ca-dir issue certificates the other replicas' workloads reject.
      logger.warn("with several replicas, give each an intermediate of one mesh root (as-mesh ca intermediate; --ca-key, --ca-cert-chain) instead of a root in --ca-dir");
    }
    this.service = await startCaService({
      trustDomain: this.options.trustDomain,
      caDir: this.options.caDir ?? ".",
      operatorKeyFile: this.options.caKeyFile,
      operatorCertChainFile: this.options.caCertChainFile,
      extraRootsFile: this.options.extraRootsFile,
      tokenFile: this.options.tokenFile,
      address: this.options.caAddress,
      workloadTtlSeconds: this.options.workloadTtl,
      logger,
      registry,
    });
  }

  async close(): Promise<void> {
    await this.service?.close();
    this.service = null;
  }
}
