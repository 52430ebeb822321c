// Reads Envoy's admin /certs (JSON) into what proxy-status shows: the workload certificate Envoy presents (SPIFFE
// ID, serial, expiry) and the roots it trusts, so "is Envoy using the certificate the agent issued" is a comparison
// of serials.
export interface EnvoyCertificate {
  serialNumber: string;
  spiffeIds: string[];
  expiresAt: string | null;
  daysUntilExpiration: number | null;
}

export interface EnvoyCertificates {
  /** Certificates Envoy presents (the `default` secret wherever it is used), deduplicated by serial. */
  workload: EnvoyCertificate[];
  /** Trusted CA certificates (ROOTCA), deduplicated by serial. */
  roots: EnvoyCertificate[];
}

interface CertDetails {
  serial_number?: string;
  subject_alt_names?: Array<{ uri?: string; dns?: string }>;
  expiration_time?: string;
  days_until_expiration?: string | number;
}

/** Serials as Envoy prints them may keep a leading zero; the CA's never start with one. */
export function normalizeSerial(serial: string): string {
  return serial.toLowerCase().replace(/^0+/, "");
}

function convert(details: CertDetails): EnvoyCertificate {
  return {
    serialNumber: normalizeSerial(details.serial_number ?? ""),
    spiffeIds: (details.subject_alt_names ?? []).map((san) => san.uri ?? "").filter((uri) => uri.startsWith("spiffe://")),
    expiresAt: details.expiration_time ?? null,
    daysUntilExpiration: details.days_until_expiration === undefined ? null : Number(details.days_until_expiration),
  };
}

/** Parses the body of GET /certs; throws on a body that is not Envoy's certs JSON. */
export function parseEnvoyCerts(body: string | unknown): EnvoyCertificates {
  const json = typeof body === "string" ? JSON.parse(body) as unknown : body;
  if (typeof json !== "object" || json === null || !Array.isArray((json as { certificates?: unknown }).certificates)) {
    throw new Error("not an Envoy /certs response: no certificates array");
  }
  const entries = (json as { certificates: Array<{ ca_cert?: CertDetails[]; cert_chain?: CertDetails[] }> }).certificates;
  // The same certificate appears once per TLS context that uses it; the first entry is kept.
  const unique = (list: EnvoyCertificate[]) => {
    const bySerial = new Map<string, EnvoyCertificate>();
    for (const cert of list) if (!bySerial.has(cert.serialNumber)) bySerial.set(cert.serialNumber, cert);
    return [...bySerial.values()];
  };
  return {
    workload: unique(entries.flatMap((entry) => (entry.cert_chain ?? []).map(convert))),
    roots: unique(entries.flatMap((entry) => (entry.ca_cert ?? []).map(convert))),
  };
}
