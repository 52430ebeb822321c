// A text table of proxy sync states in istioctl proxy-status's layout: one row per proxy, one column per type.
import type { ProxySyncStatus } from "./status.ts";

const COLUMNS = ["cds", "lds", "eds", "rds", "ecds", "sds"] as const;

/** Renders statuses as aligned columns, then the NACK text of every type in ERROR below the table. */
export function formatStatusTable(statuses: ProxySyncStatus[]): string {
  const header = ["NAME", "CLUSTER", ...COLUMNS.map((column) => column.toUpperCase()), "PROTOCOL", "CONNECTED"];
  const rows = statuses.map((proxy) => {
    const byType = new Map(proxy.types.map((type) => [type.type, type.state]));
    return [proxy.id, proxy.cluster, ...COLUMNS.map((column) => byType.get(column) ?? "IGNORED"), proxy.protocol, proxy.connectedAt];
  });
  const widths = header.map((title, index) => Math.max(title.length, ...rows.map((row) => row[index].length)));
  const line = (cells: string[]) => cells.map((cell, index) => cell.padEnd(widths[index])).join("  ").trimEnd();
  const errors = statuses.flatMap((proxy) => proxy.types
    .filter((type) => type.state === "ERROR" && type.lastError)
    .map((type) => `${proxy.id} ${type.type.toUpperCase()} rejected version ${type.lastError!.version}: ${type.lastError!.message}`));
  return [line(header), ...rows.map(line), ...(errors.length ? ["", ...errors] : [])].join("\n") + "\n";
}
