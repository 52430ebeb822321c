// `as-mesh proxy-status`: the control service's /debug/syncz as a table, like `istioctl proxy-status`.
import { formatStatusTable, type ProxySyncStatus } from "../xds/index.ts";

export async function runProxyStatus(options: { admin: string; output: string }): Promise<number> {
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
  return 0;
}
