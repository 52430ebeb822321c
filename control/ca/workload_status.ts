// What proxy status shows about a workload's certificate: the SPIFFE ID its proxy stands for, and the CA's latest
// issuance to that identity (serial, expiry). Whether the Envoy really serves that certificate is Envoy's /certs
// (parseEnvoyCerts) compared with the serial here; `as-mesh proxy-status --envoy <admin url>` does that.
import type { IssuedCertificate } from "./server.ts";

/** Where issuance records come from: the CA server in this process (CaServer.issued()). */
export interface CertificateRecords {
  issued(): IssuedCertificate[];
}

export interface ProxyCertificate {
  spiffeId: string;
  /** The CA's latest certificate for this identity; absent when the CA has issued none (or is not in this process). */
  serialNumber?: string;
  notAfter?: string;
  issuedAt?: string;
  expiresInSeconds?: number;
}

export function proxyCertificate(
  identity: { trustDomain: string; namespace: string; serviceAccount: string }, records: CertificateRecords | undefined, now = Date.now(),
): ProxyCertificate {
  const spiffeId = `spiffe://${identity.trustDomain}/ns/${identity.namespace}/sa/${identity.serviceAccount}`;
  const latest = records?.issued().find((record) => record.spiffeId === spiffeId);
  if (!latest) return { spiffeId };
  return {
    spiffeId, serialNumber: latest.serialNumber, notAfter: latest.notAfter.toISOString(), issuedAt: latest.issuedAt.toISOString(),
    expiresInSeconds: Math.round((latest.notAfter.getTime() - now) / 1000),
  };
}
