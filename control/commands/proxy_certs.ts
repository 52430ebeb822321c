// The certificate part of `as-mesh proxy-status`: each proxy's SPIFFE ID, the CA's latest certificate for it
// (serial, expiry), and — for the Envoys named with --envoy <admin url> — whether that Envoy serves that very
// certificate (its /certs), like `istioctl proxy-config secret`.
import { normalizeSerial, parseEnvoyCerts, type EnvoyCertificate } from "../agent/envoy_certs.ts";
import type { ProxyCertificate } from "../ca/workload_status.ts";

export interface ProxyWithCertificate {
  id: string;
  certificate?: ProxyCertificate;
}

/** The workload certificates each Envoy presents, by SPIFFE ID (an unreachable Envoy is reported, not fatal). */
export async function envoyCertificates(adminUrls: string[]): Promise<{ bySpiffeId: Map<string, EnvoyCertificate[]>; errors: string[] }> {
  const bySpiffeId = new Map<string, EnvoyCertificate[]>();
  const errors: string[] = [];
  for (const adminUrl of adminUrls) {
    try {
      const response = await fetch(new URL("/certs", adminUrl));
      if (!response.ok) throw new Error(`answered ${response.status}`);
      for (const certificate of parseEnvoyCerts(await response.text()).workload) {
        for (const id of certificate.spiffeIds) bySpiffeId.set(id, [...(bySpiffeId.get(id) ?? []), certificate]);
      }
    } catch (error) {
      errors.push(`${adminUrl}/certs: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { bySpiffeId, errors };
}

/**
 * "yes" when an Envoy serves the CA's latest serial for the identity, "no (<serial>)" when it serves another
 * (an older certificate not yet rotated, or one from another CA), "-" when no Envoy was asked or none serves it.
 */
export function inUse(certificate: ProxyCertificate, served: Map<string, EnvoyCertificate[]> | undefined): string {
  const certificates = served?.get(certificate.spiffeId);
  if (!certificates?.length) return "-";
  if (!certificate.serialNumber) return `no CA record (${certificates[0]!.serialNumber})`;
  const latest = normalizeSerial(certificate.serialNumber);
  return certificates.some((entry) => normalizeSerial(entry.serialNumber) === latest) ? "yes" : `no (${certificates[0]!.serialNumber})`;
}

export function formatCertificateTable(proxies: ProxyWithCertificate[], served?: Map<string, EnvoyCertificate[]>, now = Date.now()): string {
  const rows = proxies.filter((proxy) => proxy.certificate).map((proxy) => {
    const certificate = proxy.certificate!;
    const expires = certificate.notAfter ? `${certificate.notAfter} (${Math.round((Date.parse(certificate.notAfter) - now) / 1000)}s)` : "-";
    return [proxy.id, certificate.spiffeId, certificate.serialNumber ?? "-", expires, inUse(certificate, served)];
  });
  if (rows.length === 0) return "";
  const table = [["PROXY", "SPIFFE ID", "CA SERIAL", "EXPIRES", "IN ENVOY"], ...rows];
  const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  return table.map((row) => row.map((cell, column) => column === row.length - 1 ? cell : cell.padEnd(widths[column]!)).join("  ")).join("\n") + "\n";
}
