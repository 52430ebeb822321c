// The CA's Prometheus metrics, named as istiod names them where istiod has the metric (citadel_server_*), so
// existing Istio dashboards and alerts keep working.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { CaErrorReason } from "./ca.ts";

export interface CaMetrics {
  csrCount: Counter;
  successCount: Counter;
  signErrors: Counter<"error">;
  authenticationFailures: Counter;
  issuanceSeconds: Histogram;
  recordError(reason: CaErrorReason): void;
}

export interface ExpirySources {
  rootNotAfter(): Date;
  signingCertNotAfter(): Date;
  /** Earliest expiry among the newest certificate of each identity, or null before the first issuance. */
  earliestWorkloadCertNotAfter(): Date | null;
}

const secondsUntil = (date: Date) => (date.getTime() - Date.now()) / 1000;

export function createCaMetrics(registry: Registry, expiry: ExpirySources): CaMetrics {
  const registers = [registry];
  const signErrors = new Counter({
    name: "citadel_server_csr_sign_error_count",
    help: "CSRs refused or failed, by reason",
    labelNames: ["error"] as const,
    registers,
  });
  const metrics: CaMetrics = {
    csrCount: new Counter({ name: "citadel_server_csr_count", help: "CSRs received by the CA", registers }),
    successCount: new Counter({ name: "citadel_server_success_cert_issuance_count", help: "Certificates issued", registers }),
    signErrors,
    authenticationFailures: new Counter({
      name: "citadel_server_authentication_failure_count",
      help: "CSRs refused because the caller's credential did not authenticate",
      registers,
    }),
    issuanceSeconds: new Histogram({
      name: "citadel_server_cert_issuance_duration_seconds",
      help: "Time from receiving a CSR to returning the signed chain",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    recordError(reason) {
      signErrors.inc({ error: reason });
    },
  };
  new Gauge({
    name: "citadel_server_root_cert_expiry_seconds",
    help: "Seconds until the CA's root certificate expires",
    registers,
    collect() { this.set(secondsUntil(expiry.rootNotAfter())); },
  });
  new Gauge({
    name: "citadel_server_cert_chain_expiry_seconds",
    help: "Seconds until the CA's signing certificate expires",
    registers,
    collect() { this.set(secondsUntil(expiry.signingCertNotAfter())); },
  });
  new Gauge({
    name: "as_mesh_ca_workload_cert_earliest_expiry_seconds",
    help: "Seconds until the earliest expiry among the newest certificate issued to each identity (negative: a workload runs on an expired certificate unless it renewed elsewhere)",
    registers,
    collect() {
      const earliest = expiry.earliestWorkloadCertNotAfter();
      if (earliest) this.set(secondsUntil(earliest));
    },
  });
  return metrics;
}
