// Reading a request's label values and measurements from Envoy at access-log time, when request, response,
// connection and upstream attributes are final. Only what the configured dimensions need is read.
import { getProperty, headers } from "../../assembly";
import { ExtraDimension, ExtraSource, MetricsConfig, ReporterMode } from "./config";
import {
  Dimension, UNKNOWN, hostWithoutPort, istioClusterHost, responseFlagsLabel, sanitize, sanitizeString,
  serviceShortName, spiffeNamespace,
} from "./labels";

// Property paths, built once (the SDK takes a path as its segments).
const RESPONSE_CODE = ["response", "code"];
const RESPONSE_FLAGS = ["response", "flags"];
const GRPC_STATUS = ["response", "grpc_status"];
const REQUEST_DURATION = ["request", "duration"];
const REQUEST_TOTAL_SIZE = ["request", "total_size"];
const RESPONSE_TOTAL_SIZE = ["response", "total_size"];
const CONNECTION_MTLS = ["connection", "mtls"];
const PEER_PRINCIPAL = ["connection", "uri_san_peer_certificate"];
const UPSTREAM_PEER_PRINCIPAL = ["upstream", "uri_san_peer_certificate"];
const UPSTREAM_LOCAL_PRINCIPAL = ["upstream", "uri_san_local_certificate"];
const LISTENER_DIRECTION = ["xds", "listener_direction"];
const CLUSTER_NAME = ["xds", "cluster_name"];
const NODE_WORKLOAD_NAME = ["xds", "node", "metadata", "WORKLOAD_NAME"];
const NODE_NAMESPACE = ["xds", "node", "metadata", "NAMESPACE"];

/** Envoy's envoy.config.core.v3.TrafficDirection. */
const INBOUND: i64 = 1;
const OUTBOUND: i64 = 2;

/** An integer property (8 bytes, little endian), or -1 when absent. */
export function intProperty(path: Array<string>): i64 {
  const bytes = getProperty(path);
  if (bytes === null || bytes.byteLength != 8) return -1;
  return new DataView(bytes).getInt64(0, true);
}

function boolProperty(path: Array<string>): bool {
  const bytes = getProperty(path);
  return bytes !== null && bytes.byteLength == 1 && Uint8Array.wrap(bytes)[0] != 0;
}

/** This workload's identity, sanitized once: configuration first, then Envoy's node metadata, then `unknown`. */
export class LocalWorkload {
  name: string = UNKNOWN;
  namespace: string = UNKNOWN;
  principal: string = UNKNOWN;
  service: string = "";
  serviceName: string = "";

  static resolve(config: MetricsConfig): LocalWorkload {
    const identity = config.workload;
    const max = config.maxValueLength;
    const local = new LocalWorkload();
    local.name = identity.name.length > 0 ? sanitizeString(identity.name, max) : sanitize(getProperty(NODE_WORKLOAD_NAME), max);
    local.namespace = identity.namespace.length > 0 ? sanitizeString(identity.namespace, max) : sanitize(getProperty(NODE_NAMESPACE), max);
    if (identity.principal.length > 0) local.principal = sanitizeString(identity.principal, max);
    if (identity.service.length > 0) local.service = sanitizeString(identity.service, max);
    if (identity.serviceName.length > 0) local.serviceName = sanitizeString(identity.serviceName, max);
    return local;
  }
}

/** Per-request values, filled lazily: each property is read at most once per request. */
export class RequestAttributes {
  private reporterIsSource: i8 = -1; // -1 unknown direction, 0 destination, 1 source
  private service: string | null = null;
  private grpc: i8 = -1;

  constructor(private readonly config: MetricsConfig, private readonly local: LocalWorkload) {}

  reset(): void {
    this.reporterIsSource = -1;
    this.service = null;
    this.grpc = -1;
  }

  /** 1 when this proxy reports as the client side (source), 0 as the server side, -1 when it cannot tell. */
  private side(): i8 {
    if (this.reporterIsSource >= 0) return this.reporterIsSource;
    const mode = this.config.reporter;
    if (mode == ReporterMode.Source) this.reporterIsSource = 1;
    else if (mode == ReporterMode.Destination) this.reporterIsSource = 0;
    else {
      const direction = intProperty(LISTENER_DIRECTION);
      this.reporterIsSource = direction == OUTBOUND ? 1 : direction == INBOUND ? 0 : -2;
    }
    return this.reporterIsSource;
  }

  private isGrpc(): bool {
    if (this.grpc < 0) {
      const contentType = headers.request.get("content-type");
      this.grpc = contentType !== null && contentType.startsWith("application/grpc") ? 1 : 0;
    }
    return this.grpc == 1;
  }

  private destinationService(): string {
    const cached = this.service;
    if (cached !== null) return cached;
    const max = this.config.maxValueLength;
    let service = UNKNOWN;
    if (this.side() == 0 && this.local.service.length > 0) {
      service = this.local.service;
    } else {
      const cluster = getProperty(CLUSTER_NAME);
      const host = cluster !== null ? istioClusterHost(String.UTF8.decode(cluster)) : null;
      if (host !== null) {
        service = sanitizeString(host, max);
      } else {
        const authority = headers.request.get(":authority");
        if (authority !== null && authority.length > 0) service = sanitizeString(hostWithoutPort(authority), max);
      }
    }
    this.service = service;
    return service;
  }

  /** The label value of a standard dimension for the current request. */
  value(dimension: Dimension): string {
    const max = this.config.maxValueLength;
    switch (dimension) {
      case Dimension.Reporter: {
        const side = this.side();
        return side == 1 ? "source" : side == 0 ? "destination" : UNKNOWN;
      }
      case Dimension.SourceWorkload:
        return this.side() == 1 ? this.local.name : UNKNOWN;
      case Dimension.SourceWorkloadNamespace: {
        if (this.side() == 1) return this.local.namespace;
        const namespace = spiffeNamespace(sanitize(getProperty(PEER_PRINCIPAL), max));
        return namespace !== null ? namespace : UNKNOWN;
      }
      case Dimension.SourcePrincipal: {
        if (this.side() != 1) return sanitize(getProperty(PEER_PRINCIPAL), max);
        return this.local.principal != UNKNOWN ? this.local.principal : sanitize(getProperty(UPSTREAM_LOCAL_PRINCIPAL), max);
      }
      case Dimension.DestinationWorkload:
        return this.side() == 0 ? this.local.name : UNKNOWN;
      case Dimension.DestinationWorkloadNamespace: {
        if (this.side() == 0) return this.local.namespace;
        const namespace = spiffeNamespace(sanitize(getProperty(UPSTREAM_PEER_PRINCIPAL), max));
        return namespace !== null ? namespace : UNKNOWN;
      }
      case Dimension.DestinationService:
        return this.destinationService();
      case Dimension.DestinationServiceName: {
        if (this.side() == 0 && this.local.serviceName.length > 0) return this.local.serviceName;
        return serviceShortName(this.destinationService());
      }
      case Dimension.RequestProtocol:
        return this.isGrpc() ? "grpc" : "http";
      case Dimension.ResponseCode: {
        const code = intProperty(RESPONSE_CODE);
        return code < 0 ? UNKNOWN : code.toString();
      }
      case Dimension.ResponseFlags: {
        const flags = intProperty(RESPONSE_FLAGS);
        return flags < 0 ? UNKNOWN : responseFlagsLabel(<u64>flags);
      }
      case Dimension.GrpcResponseStatus: {
        // As in Istio: empty for plain HTTP, the gRPC status number for gRPC.
        if (!this.isGrpc()) return "";
        const status = intProperty(GRPC_STATUS);
        return status < 0 ? UNKNOWN : status.toString();
      }
      case Dimension.ConnectionSecurityPolicy: {
        // Only the server side sees how its client connected; Istio reports `unknown` on the client side.
        if (this.side() != 0) return UNKNOWN;
        return boolProperty(CONNECTION_MTLS) ? "mutual_tls" : "none";
      }
      default:
        return UNKNOWN;
    }
  }

  /** The label value of an extra dimension: a header or property, sanitized; absent or empty → `unknown`. */
  extraValue(extra: ExtraDimension): string {
    const max = this.config.maxValueLength;
    if (extra.source == ExtraSource.RequestHeader) return sanitize(headers.request.getBytes(extra.key), max);
    if (extra.source == ExtraSource.ResponseHeader) return sanitize(headers.response.getBytes(extra.key), max);
    return sanitize(getProperty(extra.propertyPath), max);
  }
}
