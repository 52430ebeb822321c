// Reading a request's label values and measurements from Envoy at access-log time, when request, response,
// connection and upstream attributes are final. Only what the configured dimensions need is read.
import { HeaderName, PropertyPath, headers } from "../../assembly";
import { ExtraSource, MetricsConfig, ReporterMode } from "./config";
import {
  Dimension, UNKNOWN, hostWithoutPort, istioClusterHost, responseFlagsLabel, sanitize, sanitizeString,
  LastValue, serviceShortName, spiffeNamespace,
} from "./labels";

// Property paths, serialized once: most are read on every request.
const RESPONSE_CODE = new PropertyPath(["response", "code"]);
const RESPONSE_FLAGS = new PropertyPath(["response", "flags"]);
const GRPC_STATUS = new PropertyPath(["response", "grpc_status"]);
const CONNECTION_MTLS = new PropertyPath(["connection", "mtls"]);
const PEER_PRINCIPAL = new PropertyPath(["connection", "uri_san_peer_certificate"]);
const UPSTREAM_PEER_PRINCIPAL = new PropertyPath(["upstream", "uri_san_peer_certificate"]);
const UPSTREAM_LOCAL_PRINCIPAL = new PropertyPath(["upstream", "uri_san_local_certificate"]);
const LISTENER_DIRECTION = new PropertyPath(["xds", "listener_direction"]);
const CLUSTER_NAME = new PropertyPath(["xds", "cluster_name"]);
const NODE_WORKLOAD_NAME = new PropertyPath(["xds", "node", "metadata", "WORKLOAD_NAME"]);
const NODE_NAMESPACE = new PropertyPath(["xds", "node", "metadata", "NAMESPACE"]);

/** Envoy's envoy.config.core.v3.TrafficDirection. */
const INBOUND: i64 = 1;
const OUTBOUND: i64 = 2;

/** The decimal strings of HTTP status codes, made once each: a label value per request without allocating. */
const statusLabels = new StaticArray<string | null>(600);

function statusLabel(code: i64): string {
  if (code < 0 || code >= 600) return code.toString();
  let label = unchecked(statusLabels[<i32>code]);
  if (label === null) {
    label = code.toString();
    unchecked((statusLabels[<i32>code] = label));
  }
  return label;
}

const CONTENT_TYPE = new HeaderName("content-type");
const GRPC_CONTENT_TYPE = "application/grpc";

/** Whether a content-type starts with application/grpc (+proto, +json ...), compared as bytes. */
function isGrpcContentType(value: ArrayBuffer | null): bool {
  if (value === null || value.byteLength < GRPC_CONTENT_TYPE.length) return false;
  const bytes = changetype<usize>(value);
  for (let i = 0; i < GRPC_CONTENT_TYPE.length; i++) {
    if (<i32>load<u8>(bytes + <usize>i) != GRPC_CONTENT_TYPE.charCodeAt(i)) return false;
  }
  return true;
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
    local.name = identity.name.length > 0 ? sanitizeString(identity.name, max) : sanitize(NODE_WORKLOAD_NAME.get(), max);
    local.namespace = identity.namespace.length > 0 ? sanitizeString(identity.namespace, max) : sanitize(NODE_NAMESPACE.get(), max);
    if (identity.principal.length > 0) local.principal = sanitizeString(identity.principal, max);
    if (identity.service.length > 0) local.service = sanitizeString(identity.service, max);
    if (identity.serviceName.length > 0) local.serviceName = sanitizeString(identity.serviceName, max);
    else if (local.service.length > 0) local.serviceName = serviceShortName(local.service);
    return local;
  }
}

/**
 * A peer certificate's identity (its URI SAN) and the namespace in it, kept from one request to the next:
 * connections are long-lived, so consecutive requests mostly carry the same certificate, and comparing its bytes
 * costs less than sanitizing and parsing it again.
 */
class PeerIdentity {
  private readonly last: LastValue = new LastValue();
  principal: string = UNKNOWN;
  namespace: string = UNKNOWN;

  update(raw: ArrayBuffer | null, maxLength: i32): void {
    const principal = this.last.sanitize(raw, maxLength);
    if (principal == this.principal) return;
    this.principal = principal;
    const namespace = spiffeNamespace(principal);
    this.namespace = namespace !== null ? namespace : UNKNOWN;
  }
}

/** Per-request values, filled lazily: each property is read at most once per request. */
export class RequestAttributes {
  private reporterIsSource: i8 = -1; // -1 not read yet, -2 unknown direction, 0 destination, 1 source
  private service: string | null = null;
  private readonly downstreamPeer: PeerIdentity = new PeerIdentity();
  private readonly upstreamPeer: PeerIdentity = new PeerIdentity();
  private downstreamPeerRead: bool = false;
  private upstreamPeerRead: bool = false;
  private mtls: i8 = -1;
  private grpc: i8 = -1;

  /** One memory per extra dimension, in configuration order. */
  private readonly extraValues: Array<LastValue> = new Array<LastValue>();

  constructor(private readonly config: MetricsConfig, private readonly local: LocalWorkload) {
    for (let i = 0; i < config.extraDimensions.length; i++) this.extraValues.push(new LastValue());
  }

  reset(): void {
    this.reporterIsSource = -1;
    this.service = null;
    this.downstreamPeerRead = false;
    this.upstreamPeerRead = false;
    this.mtls = -1;
    this.grpc = -1;
  }

  /** 1 when this proxy reports as the client side (source), 0 as the server side, -1 when it cannot tell. */
  private side(): i8 {
    if (this.reporterIsSource >= 0) return this.reporterIsSource;
    const mode = this.config.reporter;
    if (mode == ReporterMode.Source) this.reporterIsSource = 1;
    else if (mode == ReporterMode.Destination) this.reporterIsSource = 0;
    else {
      const direction = LISTENER_DIRECTION.getInt();
      this.reporterIsSource = direction == OUTBOUND ? 1 : direction == INBOUND ? 0 : -2;
    }
    return this.reporterIsSource;
  }

  private isGrpc(): bool {
    if (this.grpc < 0) {
      this.grpc = isGrpcContentType(headers.request.getBytesOf(CONTENT_TYPE)) ? 1 : 0;
    }
    return this.grpc == 1;
  }

  /** Whether the downstream connection is mutual TLS (the client presented a certificate). */
  private isMutualTls(): bool {
    if (this.mtls < 0) {
      // A client certificate's URI SAN already says so (one host call saved on mesh traffic); without one, ask
      // Envoy, since a client certificate need not carry a URI SAN.
      this.mtls = this.downstream().principal != UNKNOWN || CONNECTION_MTLS.getBool() ? 1 : 0;
    }
    return this.mtls == 1;
  }

  /** The client's certificate identity (absent without mutual TLS). */
  private downstream(): PeerIdentity {
    const peer = this.downstreamPeer;
    if (!this.downstreamPeerRead) {
      peer.update(PEER_PRINCIPAL.get(), this.config.maxValueLength);
      this.downstreamPeerRead = true;
    }
    return peer;
  }

  /** The upstream server's certificate identity. */
  private upstream(): PeerIdentity {
    const peer = this.upstreamPeer;
    if (!this.upstreamPeerRead) {
      peer.update(UPSTREAM_PEER_PRINCIPAL.get(), this.config.maxValueLength);
      this.upstreamPeerRead = true;
    }
    return peer;
  }

  private destinationService(): string {
    const cached = this.service;
    if (cached !== null) return cached;
    const max = this.config.maxValueLength;
    let service = UNKNOWN;
    if (this.side() == 0 && this.local.service.length > 0) {
      service = this.local.service;
    } else {
      const cluster = CLUSTER_NAME.get();
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
        return this.side() == 1 ? this.local.namespace : this.downstream().namespace;
      }
      case Dimension.SourcePrincipal: {
        if (this.side() != 1) return this.downstream().principal;
        return this.local.principal != UNKNOWN ? this.local.principal : sanitize(UPSTREAM_LOCAL_PRINCIPAL.get(), max);
      }
      case Dimension.DestinationWorkload:
        return this.side() == 0 ? this.local.name : UNKNOWN;
      case Dimension.DestinationWorkloadNamespace: {
        return this.side() == 0 ? this.local.namespace : this.upstream().namespace;
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
        const code = RESPONSE_CODE.getInt();
        return code < 0 ? UNKNOWN : statusLabel(code);
      }
      case Dimension.ResponseFlags: {
        const flags = RESPONSE_FLAGS.getInt();
        return flags < 0 ? UNKNOWN : responseFlagsLabel(<u64>flags);
      }
      case Dimension.GrpcResponseStatus: {
        // As in Istio: empty for plain HTTP, the gRPC status number for gRPC.
        if (!this.isGrpc()) return "";
        const status = GRPC_STATUS.getInt();
        return status < 0 ? UNKNOWN : statusLabel(status);
      }
      case Dimension.ConnectionSecurityPolicy: {
        // Only the server side sees how its client connected; Istio reports `unknown` on the client side.
        if (this.side() != 0) return UNKNOWN;
        return this.isMutualTls() ? "mutual_tls" : "none";
      }
      default:
        return UNKNOWN;
    }
  }

  /** The label value of extra dimension `index`: a header or property, sanitized; absent or empty → `unknown`. */
  extraValue(index: i32): string {
    const extra = unchecked(this.config.extraDimensions[index]);
    let raw: ArrayBuffer | null;
    if (extra.source == ExtraSource.RequestHeader) raw = headers.request.getBytesOf(extra.header!);
    else if (extra.source == ExtraSource.ResponseHeader) raw = headers.response.getBytesOf(extra.header!);
    else raw = extra.property!.get();
    return unchecked(this.extraValues[index]).sanitize(raw, this.config.maxValueLength);
  }
}
