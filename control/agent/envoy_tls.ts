// The Envoy side of workload certificates, as Istio wires it: a static "sds-grpc" cluster on the agent's Unix
// socket, and TLS contexts that name the SDS secrets "default" (the workload's key + chain) and "ROOTCA" (the trust
// bundle). The sidecar bootstrap adds `sdsCluster`; translate puts the contexts on inbound filter chains and
// upstream clusters. Everything is proto3 JSON typed by the generated Envoy API.
import { http2ProtocolOptions } from "../../envoy/builders/cluster.ts";
import type { ClusterJson } from "../api/gen/envoy/config/cluster/v3/cluster_pb.ts";
import type { SdsSecretConfigJson, SecretJson } from "../api/gen/envoy/extensions/transport_sockets/tls/v3/secret_pb.ts";
import type { CommonTlsContextJson, DownstreamTlsContextJson, UpstreamTlsContextJson } from "../api/gen/envoy/extensions/transport_sockets/tls/v3/tls_pb.ts";

/** Istio's SDS secret names. */
export const WORKLOAD_SECRET = "default";
export const ROOT_SECRET = "ROOTCA";
/** Istio's name for the bootstrap cluster that reaches the agent's SDS socket. */
export const SDS_CLUSTER = "sds-grpc";

/** The static cluster Envoy uses to reach the agent's SDS server over a Unix domain socket (HTTP/2 for gRPC). */
export function sdsCluster(socketPath: string): ClusterJson {
  return {
    name: SDS_CLUSTER,
    type: "STATIC",
    connectTimeout: "1s",
    loadAssignment: {
      clusterName: SDS_CLUSTER,
      endpoints: [{ lbEndpoints: [{ endpoint: { address: { pipe: { path: socketPath } } } }] }],
    },
    typedExtensionProtocolOptions: http2ProtocolOptions(),
  };
}

/** A reference to a secret served by the agent. */
export function sdsSecret(name: string, initialFetchTimeout = "0s"): SdsSecretConfigJson {
  return {
    name,
    sdsConfig: {
      apiConfigSource: {
        apiType: "GRPC",
        transportApiVersion: "V3",
        grpcServices: [{ envoyGrpc: { clusterName: SDS_CLUSTER } }],
        setNodeOnFirstMessageOnly: true,
      },
      resourceApiVersion: "V3",
      // "0s" waits for the secret: a listener or cluster stays warming until the agent has a certificate, instead of
      // serving without one (Istio does the same).
      initialFetchTimeout,
    },
  };
}

/**
 * The TLS context both sides share: the workload certificate from `default`; peers verified against `ROOTCA`,
 * and when `peerSpiffeIds` is given, their URI SAN must be one of them (exact match).
 */
export function meshCommonTlsContext(peerSpiffeIds: string[] = [], alpnProtocols: string[] = []): CommonTlsContextJson {
  const validation = peerSpiffeIds.length === 0 ? {} : {
    matchTypedSubjectAltNames: peerSpiffeIds.map((id) => ({ sanType: "URI" as const, matcher: { exact: id } })),
  };
  return {
    tlsParams: { tlsMinimumProtocolVersion: "TLSv1_2" },
    tlsCertificateSdsSecretConfigs: [sdsSecret(WORKLOAD_SECRET)],
    combinedValidationContext: {
      defaultValidationContext: validation,
      validationContextSdsSecretConfig: sdsSecret(ROOT_SECRET),
    },
    ...(alpnProtocols.length ? { alpnProtocols } : {}),
  };
}

/**
 * Inbound mTLS (STRICT/PERMISSIVE TLS chain): require a client certificate chaining to ROOTCA. The server offers
 * h2 and http/1.1 by ALPN; the HTTP connection manager's automatic codec follows what the client picked.
 */
export function meshDownstreamTlsContext(options: { allowedPeerSpiffeIds?: string[]; alpnProtocols?: string[] } = {}): DownstreamTlsContextJson {
  return {
    commonTlsContext: meshCommonTlsContext(options.allowedPeerSpiffeIds, options.alpnProtocols ?? ["h2", "http/1.1"]),
    requireClientCertificate: true,
  };
}

/**
 * Outbound ISTIO_MUTUAL: present the workload certificate; the server must hold one of the destination's identities.
 * ALPN only when asked: it must name the protocol the cluster really speaks (offering h2 to an HTTP/1.1 cluster
 * makes the server's codec expect HTTP/2 and the requests fail).
 */
export function meshUpstreamTlsContext(options: { destinationSpiffeIds: string[]; sni?: string; alpnProtocols?: string[] }): UpstreamTlsContextJson {
  return {
    commonTlsContext: meshCommonTlsContext(options.destinationSpiffeIds, options.alpnProtocols),
    ...(options.sni ? { sni: options.sni } : {}),
  };
}

/** The `default` secret: the workload's chain (leaf first, no root) and private key. */
export function workloadSecret(certChainPem: string, keyPem: string): SecretJson {
  return {
    name: WORKLOAD_SECRET,
    tlsCertificate: { certificateChain: { inlineString: certChainPem }, privateKey: { inlineString: keyPem } },
  };
}

/** The `ROOTCA` secret: every root to trust (old and new during a rollover). */
export function rootSecret(rootsPem: string[]): SecretJson {
  return { name: ROOT_SECRET, validationContext: { trustedCa: { inlineString: rootsPem.join("") } } };
}
