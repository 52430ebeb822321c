// The bootstrap of a mesh proxy (`as-mesh bootstrap`): who it is (node id and metadata, which parseNodeMetadata
// reads back), where the control service is (ADS over gRPC, plus its HTTP port for Wasm modules), the admin
// endpoint on loopback, and the stats tags that turn the metrics filter's labels into Prometheus labels.
import type { JsonObject } from "@bufbuild/protobuf";
import { adsBootstrap, staticCluster, type BootstrapJson, type ControlAddress } from "../../envoy/builders/index.ts";
import { statsConfigForIstioMetrics } from "../../envoy/istio_metrics.ts";
import { sdsCluster } from "../agent/envoy_tls.ts";
import { NodeMetadataKey } from "./node.ts";
import { CONTROL_HTTP_CLUSTER } from "./types.ts";

export interface SidecarBootstrapOptions {
  type?: "sidecar" | "router";
  namespace: string;
  /** The workload's address (INSTANCE_IPS). */
  ip: string;
  labels?: Record<string, string>;
  serviceAccount?: string;
  /** Default: the `app` label, else "workload". */
  workloadName?: string;
  /** Default: Istio's form `<type>~<ip>~<workload>.<namespace>~<namespace>.svc.cluster.local`. */
  id?: string;
  inboundPorts?: Record<string, number>;
  appPorts?: Record<string, number>;
  listenAddress?: string;
  listenPorts?: Record<string, number>;
  /** The control service's gRPC (ADS) addresses; several replicas may be listed. */
  control: ControlAddress[];
  /** The control service's HTTP port, from which Envoy fetches Wasm modules. */
  controlHttp?: { host: string; port: number };
  /** Incremental xDS instead of state of the world. */
  delta?: boolean;
  adminAddress?: string;
  /** 0 lets the kernel choose (read it back from the admin address file or log). */
  adminPort?: number;
  /**
   * The workload agent's SDS Unix socket: adds the static `sds-grpc` cluster the mesh TLS contexts name, and tells
   * the control service (node metadata SDS_SOCKET) that this proxy can do mTLS.
   */
  sdsSocket?: string;
  /** The SPIFFE trust domain of the workload's identity (node metadata TRUST_DOMAIN; default: the control service's). */
  trustDomain?: string;
}

export function sidecarBootstrap(options: SidecarBootstrapOptions): BootstrapJson {
  const type = options.type ?? "sidecar";
  const labels = options.labels ?? {};
  const workloadName = options.workloadName ?? labels["app"] ?? "workload";
  const metadata: JsonObject = {
    [NodeMetadataKey.proxyType]: type,
    [NodeMetadataKey.namespace]: options.namespace,
    [NodeMetadataKey.labels]: labels,
    [NodeMetadataKey.serviceAccount]: options.serviceAccount ?? "default",
    [NodeMetadataKey.instanceIps]: options.ip,
    [NodeMetadataKey.workloadName]: workloadName,
  };
  if (options.inboundPorts) metadata[NodeMetadataKey.inboundPorts] = options.inboundPorts;
  if (options.appPorts) metadata[NodeMetadataKey.appPorts] = options.appPorts;
  if (options.listenAddress) metadata[NodeMetadataKey.listenAddress] = options.listenAddress;
  if (options.listenPorts) metadata[NodeMetadataKey.listenPorts] = options.listenPorts;
  if (options.sdsSocket) metadata[NodeMetadataKey.sdsSocket] = options.sdsSocket;
  if (options.trustDomain) metadata[NodeMetadataKey.trustDomain] = options.trustDomain;
  const staticClusters = options.controlHttp
    ? [staticCluster(CONTROL_HTTP_CLUSTER, options.controlHttp.host, options.controlHttp.port, { timeoutSeconds: 5 })]
    : [];
  if (options.sdsSocket) staticClusters.push(sdsCluster(options.sdsSocket));
  return adsBootstrap({
    node: {
      id: options.id ?? `${type}~${options.ip}~${workloadName}.${options.namespace}~${options.namespace}.svc.cluster.local`,
      cluster: `${workloadName}.${options.namespace}`,
      metadata,
    },
    controlPlane: options.control,
    delta: options.delta,
    adminAddress: options.adminAddress,
    adminPort: options.adminPort,
    statsConfig: statsConfigForIstioMetrics(),
    staticClusters,
  });
}
