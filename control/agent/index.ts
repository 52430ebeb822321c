// The per-workload agent (`as-mesh agent`) and the Envoy TLS/SDS builders that go with it.
export { startAgent, WorkloadAgent } from "./agent.ts";
export type { AgentOptions, AgentCertificate, AgentStatus } from "./agent.ts";
export {
  WORKLOAD_SECRET, ROOT_SECRET, SDS_CLUSTER, sdsCluster, sdsSecret, meshCommonTlsContext, meshDownstreamTlsContext,
  meshUpstreamTlsContext, workloadSecret, rootSecret,
} from "./envoy_tls.ts";
export { parseEnvoyCerts, normalizeSerial } from "./envoy_certs.ts";
export type { EnvoyCertificate, EnvoyCertificates } from "./envoy_certs.ts";
