// `as-mesh proxy-status`: the control service's /debug/syncz as a table, like `istioctl proxy-status`.
import { formatStatusTable, type ProxySyncStatus } from "../xds/index.ts";
import { envoyCertificates, formatCertificateTable } from "./proxy_certs.ts";

export async function runProxyStatus(options: { admin: string; output: string; envoy?: string[] }): Promise<number> {
  let response: Response;
  try {
    response = await fetch(new URL("/debug/syncz", options.admin));
  } catch (error) {
    process.stderr.write(`cannot reach the control service at ${options.admin}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  if (!response.ok) {
    process.stderr.write(`${options.admin}/debug/syncz answered ${response.status}\n`);
    return 1;
  }
  const proxies = (await response.json()) as ProxySyncStatus[];
  process.stdout.write(options.output === "json" ? JSON.stringify(proxies, null, 2) + "\n" : formatStatusTable(proxies));
  if (options.output !== "json") {
    // Workload certificates: the CA's latest per identity, and whether the Envoys named with --envoy serve it.
    const served = options.envoy?.length ? await envoyCertificates(options.envoy) : undefined;
    for (const error of served?.errors ?? []) process.stderr.write(`${error}\n`);
    const certificates = formatCertificateTable(proxies, served?.bySpiffeId);
    if (certificates) process.stdout.write(`\n${certificates}`);
  }
  return 0;
}
