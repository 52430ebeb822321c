// Mesh mTLS in the translation: which inbound ports take mutual TLS (PeerAuthentication), what the inbound filter
// chains look like for each mode, and the workload identities (SPIFFE IDs) the client side checks.
//
// A sidecar "has an agent" when its bootstrap names the agent's SDS socket (node metadata SDS_SOCKET): only then
// can its Envoy hold a workload certificate. Istio's default with nothing configured is PERMISSIVE for such
// sidecars; sidecars without an agent stay plain text (they could not present a certificate anyway).
import {
  TLS_INSPECTOR, filterChain, type FilterChainJson, type FilterJson, type ListenerJson,
} from "../../envoy/builders/index.ts";
import { meshDownstreamTlsContext, meshUpstreamTlsContext } from "../agent/envoy_tls.ts";
import type { MeshConfig, PeerAuthentication } from "../config/index.ts";
import type { UpstreamTlsContextJson } from "../../envoy/builders/index.ts";
import type { ProxyInfo, TranslateContext, TranslateIssue } from "./types.ts";

export type MtlsMode = "DISABLE" | "PERMISSIVE" | "STRICT";

/** Node metadata keys the agent-aware bootstrap writes. */
export const SDS_SOCKET_KEY = "SDS_SOCKET";
export const TRUST_DOMAIN_KEY = "TRUST_DOMAIN";
export const DEFAULT_TRUST_DOMAIN = "cluster.local";

/** Whether the proxy's Envoy can get a workload certificate (its bootstrap has the agent's SDS cluster). */
export function hasAgent(proxy: Pick<ProxyInfo, "metadata">): boolean {
  const socket = proxy.metadata[SDS_SOCKET_KEY];
  return typeof socket === "string" && socket.length > 0;
}

/** The trust domain: the proxy's node metadata, else the control service's, else cluster.local. */
export function trustDomainOf(proxy: Pick<ProxyInfo, "metadata">, context: Pick<TranslateContext, "trustDomain">): string {
  const fromNode = proxy.metadata[TRUST_DOMAIN_KEY];
  return typeof fromNode === "string" && fromNode.length > 0 ? fromNode : context.trustDomain ?? DEFAULT_TRUST_DOMAIN;
}

export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

type ModeSetting = "UNSET" | MtlsMode | undefined;

function concrete(mode: ModeSetting): MtlsMode | undefined {
  return mode === undefined || mode === "UNSET" ? undefined : mode;
}

function byName(a: PeerAuthentication, b: PeerAuthentication): number {
  return a.metadata.name.localeCompare(b.metadata.name);
}

/**
 * The PeerAuthentication mode for one inbound port, by Istio's precedence: the workload's policy (selector in its
 * namespace; port-level settings only there), then the namespace's (no selector), then the mesh's (no selector,
 * root namespace); UNSET inherits from the level above; PERMISSIVE when nothing says otherwise. Several policies
 * at one level: Istio takes the oldest; here, without creation times, the first by name (a warning says so).
 */
export function peerAuthenticationMode(
  mesh: MeshConfig, proxy: Pick<ProxyInfo, "namespace" | "labels">, ports: number[], warnings?: TranslateIssue[],
): MtlsMode {
  const root = mesh.options.rootNamespace;
  const policies = mesh.policiesFor("PeerAuthentication", proxy);
  const hasSelector = (policy: PeerAuthentication) => Object.keys(policy.spec.selector?.matchLabels ?? {}).length > 0;
  const pick = (candidates: PeerAuthentication[], level: string): PeerAuthentication | undefined => {
    const sorted = [...candidates].sort(byName);
    if (sorted.length > 1 && warnings) {
      warnings.push({
        path: `PeerAuthentication/${sorted[0]!.metadata.namespace}/${sorted[0]!.metadata.name}`,
        message: `${sorted.length} ${level} PeerAuthentications apply to the same workload (${sorted.map((policy) => policy.metadata.name).join(", ")}); the first by name is used`,
      });
    }
    return sorted[0];
  };
  const workload = pick(policies.filter((policy) => policy.metadata.namespace === proxy.namespace && hasSelector(policy)), "workload-level");
  const namespaceWide = pick(policies.filter((policy) => policy.metadata.namespace === proxy.namespace && !hasSelector(policy)), "namespace-wide");
  const meshWide = proxy.namespace === root ? undefined : pick(policies.filter((policy) => policy.metadata.namespace === root && !hasSelector(policy)), "mesh-wide");
  let mode: MtlsMode = concrete(meshWide?.spec.mtls?.mode) ?? "PERMISSIVE";
  mode = concrete(namespaceWide?.spec.mtls?.mode) ?? mode;
  mode = concrete(workload?.spec.mtls?.mode) ?? mode;
  for (const port of ports) {
    const portMode = concrete(workload?.spec.portLevelMtls?.[String(port)]?.mode);
    if (portMode) return portMode;
  }
  return mode;
}

/** The connection manager of the mTLS chain passes the caller's identity to the application (Istio's XFCC). */
function withClientCertDetails(hcm: FilterJson, mtls: boolean): FilterJson {
  const config = hcm.typedConfig as Record<string, unknown>;
  return {
    ...hcm,
    typedConfig: {
      ...config,
      // SANITIZE_SET: drop whatever XFCC the peer sent and, on the mTLS chain, set the verified certificate's URI.
      forwardClientCertDetails: mtls ? "SANITIZE_SET" : "SANITIZE",
      ...(mtls ? { setCurrentClientCertDetails: { uri: true } } : {}),
    } as FilterJson["typedConfig"],
  };
}

export interface InboundChains {
  filterChains: FilterChainJson[];
  listenerFilters?: ListenerJson["listenerFilters"];
}

/**
 * The inbound filter chains for a mode. STRICT: only a TLS chain (client certificate required and verified against
 * ROOTCA, the server certificate from the agent's `default`); a plain-text connection matches no chain and is
 * closed. PERMISSIVE: the TLS chain for `transport_protocol: tls`, a plain-text chain for the rest. DISABLE: plain
 * text only. `filters(mtls)` builds the network filters of a chain (the HTTP connection manager or a TCP proxy).
 */
export function inboundChainsFor(mode: MtlsMode, filters: (mtls: boolean) => FilterJson[]): InboundChains {
  if (mode === "DISABLE") return { filterChains: [filterChain({ filters: filters(false) })] };
  const tlsChain = filterChain({ name: "inbound-mtls", filters: filters(true), tls: meshDownstreamTlsContext() });
  tlsChain.filterChainMatch = { transportProtocol: "tls" };
  const chains = [tlsChain];
  if (mode === "PERMISSIVE") {
    const plain = filterChain({ name: "inbound-plaintext", filters: filters(false) });
    plain.filterChainMatch = { transportProtocol: "raw_buffer" };
    chains.push(plain);
  }
  return { filterChains: chains, listenerFilters: TLS_INSPECTOR };
}

/** The HTTP connection manager with Istio's XFCC handling for the chain it sits on. */
export function inboundHttpFilters(hcm: FilterJson): (mtls: boolean) => FilterJson[] {
  return (mtls) => [withClientCertDetails(hcm, mtls)];
}

/**
 * The mode an inbound port is served with: the PeerAuthentication mode for sidecars with an agent, plain text for
 * sidecars without one (a STRICT policy on them is reported: its plain text cannot be refused by a certificate the
 * Envoy does not have, so it is served as DISABLE with a warning).
 */
export function inboundMode(mesh: MeshConfig, proxy: ProxyInfo, ports: number[], warnings: TranslateIssue[]): MtlsMode {
  const mode = peerAuthenticationMode(mesh, proxy, ports, warnings);
  if (hasAgent(proxy)) return mode;
  if (mode === "STRICT") {
    warnings.push({
      path: `PeerAuthentication (${proxy.namespace})`,
      message: `STRICT mTLS applies to port ${ports[0]} of ${proxy.id}, but its bootstrap has no agent SDS socket (as-mesh bootstrap --sds-socket); it takes plain text`,
    });
  }
  return "DISABLE";
}

/** ISTIO_MUTUAL towards a destination: the workload certificate, and the destination's identities as SAN checks. */
export function istioMutualContext(destinationSpiffeIds: string[], sni: string): UpstreamTlsContextJson {
  return meshUpstreamTlsContext({ destinationSpiffeIds: [...new Set(destinationSpiffeIds)].sort(), sni });
}
