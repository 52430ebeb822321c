// The proxy as Envoy describes itself: node id and metadata (Istio's keys where Istio has them) → ProxyInfo, and
// the key that lets proxies with equal config share one snapshot.
import { createHash } from "node:crypto";
import { hasAgent } from "./mtls.ts";
import type { ProxyInfo, TranslateIssue, WorkloadInstance } from "./types.ts";

/** Node metadata keys, as `as-mesh bootstrap` writes them. */
export const NodeMetadataKey = {
  namespace: "NAMESPACE",
  labels: "LABELS",
  serviceAccount: "SERVICE_ACCOUNT",
  /** Comma-separated; the first is the workload's address (Istio's INSTANCE_IPS). */
  instanceIps: "INSTANCE_IPS",
  workloadName: "WORKLOAD_NAME",
  /** "sidecar" or "router"; Istio encodes it as the first `~` field of the node id, which is read too. */
  proxyType: "PROXY_TYPE",
  inboundPorts: "INBOUND_PORTS",
  appPorts: "APP_PORTS",
  listenAddress: "LISTEN_ADDRESS",
  listenPorts: "LISTEN_PORTS",
  /** The agent's SDS socket: the proxy can hold a workload certificate (mTLS); see mtls.ts. */
  sdsSocket: "SDS_SOCKET",
  /** The SPIFFE trust domain of the workload's identity (default: the control service's). */
  trustDomain: "TRUST_DOMAIN",
} as const;

export interface EnvoyNode {
  id: string;
  cluster?: string;
  metadata?: Record<string, unknown>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringMap(value: unknown, key: string, issues: TranslateIssue[]): Record<string, string> {
  if (value === undefined) return {};
  if (!isRecord(value)) {
    issues.push({ path: `node.metadata.${key}`, message: "must be a map of strings" });
    return {};
  }
  const result: Record<string, string> = {};
  for (const [name, entry] of Object.entries(value)) {
    if (typeof entry === "string") result[name] = entry;
    else issues.push({ path: `node.metadata.${key}.${name}`, message: `must be a string, not ${JSON.stringify(entry)}` });
  }
  return result;
}

function portMap(value: unknown, key: string, issues: TranslateIssue[], allowZero: boolean): Record<string, number> {
  if (value === undefined) return {};
  if (!isRecord(value)) {
    issues.push({ path: `node.metadata.${key}`, message: "must be a map of port numbers" });
    return {};
  }
  const result: Record<string, number> = {};
  for (const [name, entry] of Object.entries(value)) {
    const port = typeof entry === "string" && /^[0-9]+$/.test(entry) ? Number(entry) : entry;
    if (typeof port === "number" && Number.isInteger(port) && port >= (allowZero ? 0 : 1) && port <= 65535) result[name] = port;
    else issues.push({ path: `node.metadata.${key}.${name}`, message: `${JSON.stringify(entry)} is not a port number` });
  }
  return result;
}

function optionalString(value: unknown, key: string, issues: TranslateIssue[]): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (typeof value === "string") return value;
  issues.push({ path: `node.metadata.${key}`, message: `must be a string, not ${JSON.stringify(value)}` });
  return undefined;
}

/**
 * Reads a proxy from its node. Istio's node id form `<type>~<ip>~<name>.<namespace>~<domain>` fills what the
 * metadata leaves out; the metadata wins where both say something. Every problem is reported, not just the first.
 */
export function parseNodeMetadata(node: EnvoyNode): ProxyInfo | TranslateIssue[] {
  const issues: TranslateIssue[] = [];
  const metadata = node.metadata ?? {};
  if (!node.id) issues.push({ path: "node.id", message: "is empty; the bootstrap must set node.id" });
  const idParts = node.id.split("~");
  const fromId = idParts.length === 4 ? { type: idParts[0], ip: idParts[1], namespace: idParts[2].split(".").slice(1).join(".") || undefined } : {};

  const type = optionalString(metadata[NodeMetadataKey.proxyType], NodeMetadataKey.proxyType, issues) ?? fromId.type ?? "sidecar";
  if (type !== "sidecar" && type !== "router") {
    issues.push({ path: `node.metadata.${NodeMetadataKey.proxyType}`, message: `"${type}" is not a proxy type (sidecar or router)` });
  }
  const namespace = optionalString(metadata[NodeMetadataKey.namespace], NodeMetadataKey.namespace, issues) ?? fromId.namespace;
  if (!namespace) issues.push({ path: `node.metadata.${NodeMetadataKey.namespace}`, message: "is required: the workload's namespace" });
  const ips = optionalString(metadata[NodeMetadataKey.instanceIps], NodeMetadataKey.instanceIps, issues);
  const ip = ips?.split(",")[0]?.trim() || fromId.ip;
  if (!ip) issues.push({ path: `node.metadata.${NodeMetadataKey.instanceIps}`, message: "is required: the workload's address" });
  const labels = stringMap(metadata[NodeMetadataKey.labels], NodeMetadataKey.labels, issues);
  const serviceAccount = optionalString(metadata[NodeMetadataKey.serviceAccount], NodeMetadataKey.serviceAccount, issues) ?? "default";
  const workloadName = optionalString(metadata[NodeMetadataKey.workloadName], NodeMetadataKey.workloadName, issues) ??
    labels["app"] ?? node.id;
  const inboundPorts = portMap(metadata[NodeMetadataKey.inboundPorts], NodeMetadataKey.inboundPorts, issues, false);
  const appPorts = portMap(metadata[NodeMetadataKey.appPorts], NodeMetadataKey.appPorts, issues, false);
  const listenPorts = portMap(metadata[NodeMetadataKey.listenPorts], NodeMetadataKey.listenPorts, issues, true);
  const listenAddress = optionalString(metadata[NodeMetadataKey.listenAddress], NodeMetadataKey.listenAddress, issues) ??
    (type === "router" ? "0.0.0.0" : "127.0.0.1");

  if (issues.length > 0 || !namespace || !ip || (type !== "sidecar" && type !== "router")) return issues;
  return { id: node.id, type, namespace, labels, serviceAccount, ip, workloadName, inboundPorts, appPorts, listenAddress, listenPorts, metadata };
}

/** The endpoint a connected sidecar contributes while its stream is up (auto-registration). */
export function workloadInstanceOf(proxy: ProxyInfo): WorkloadInstance {
  return {
    name: proxy.workloadName, namespace: proxy.namespace, address: proxy.ip, labels: proxy.labels,
    serviceAccount: proxy.serviceAccount, ports: proxy.inboundPorts, source: "registered",
    ...(hasAgent(proxy) ? { mtls: true } : {}),
  };
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (isRecord(value)) return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical(value[key])]));
  return value;
}

/**
 * Proxies with equal keys get identical resources from translateProxy, so they can share one snapshot. The key
 * covers exactly the ProxyInfo fields translation reads: type, namespace, labels (selectors, sourceLabels), listen
 * address and ports, and for sidecars also the address and inbound/app ports (their inbound listeners bind the
 * address). Not the node id, service account or workload name. The mesh is not part of it (a mesh change
 * retranslates every group anyway), so a proxy's key never changes while it is connected. In practice a sidecar
 * group holds the proxies of one workload instance, and every gateway replica with the same labels shares one.
 */
export function proxyGroupKey(_mesh: unknown, proxy: ProxyInfo): string {
  const relevant: Record<string, unknown> = {
    type: proxy.type, namespace: proxy.namespace, labels: proxy.labels, listenAddress: proxy.listenAddress, listenPorts: proxy.listenPorts,
    // Mesh mTLS: inbound chains and client TLS depend on whether the proxy has an agent, SANs on its trust domain.
    agent: hasAgent(proxy), trustDomain: proxy.metadata[NodeMetadataKey.trustDomain] ?? null,
  };
  if (proxy.type === "sidecar") Object.assign(relevant, { ip: proxy.ip, inboundPorts: proxy.inboundPorts, appPorts: proxy.appPorts });
  const digest = createHash("sha256").update(JSON.stringify(canonical(relevant))).digest("hex").slice(0, 16);
  return `${proxy.type}/${proxy.namespace}/${proxy.labels["app"] ?? "-"}/${digest}`;
}
