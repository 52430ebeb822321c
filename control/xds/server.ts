// The xDS server: one grpc-js server on one address serving ADS (SotW and delta) and, when asked, SDS (the
// per-workload agent reuses the same streams to serve certificates over a Unix socket).
import { Server, ServerCredentials, status as GrpcStatus, type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import { pino, type Logger } from "pino";
import { Registry } from "prom-client";
import { TypeUrl } from "../api/index.ts";
import type { SnapshotCache } from "../cache/index.ts";
import { DeltaStream } from "./delta.ts";
import { XdsMetrics } from "./metrics.ts";
import {
  adsServerService, sdsServerService,
  type DeltaDiscoveryRequest, type DiscoveryRequest, type DiscoveryResponse, type EncodedResponse,
} from "./services.ts";
import { SotwStream } from "./sotw.ts";
import type { ConnectedProxy, ProxySyncStatus } from "./status.ts";
import type { StreamContext, XdsStream } from "./stream.ts";

export interface XdsServerOptions {
  cache: SnapshotCache;
  /** The snapshot group of a proxy; may be computed asynchronously (the stream waits). Throwing refuses the proxy. */
  groupOf(proxy: ConnectedProxy): string | Promise<string>;
  onConnect?(proxy: ConnectedProxy): void;
  onDisconnect?(proxy: ConnectedProxy): void;
  /** Where the pilot_* metrics are registered; a new registry when omitted (see `metricsRegistry`). */
  registry?: Registry;
  logger?: Logger;
  /** Which gRPC services to serve: ADS (default) and/or SDS. */
  services?: ("ads" | "sds")[];
}

const ALL_TYPES: ReadonlySet<string> = new Set(Object.values(TypeUrl));
const SECRET_ONLY: ReadonlySet<string> = new Set([TypeUrl.secret]);

export class XdsServer {
  private readonly server: Server;
  private readonly streams = new Set<XdsStream>();
  private readonly metrics: XdsMetrics;
  private readonly logger: Logger;
  readonly metricsRegistry: Registry;
  private closing?: Promise<void>;

  constructor(private readonly options: XdsServerOptions) {
    this.logger = options.logger ?? pino({ name: "xds", level: "warn" });
    this.metricsRegistry = options.registry ?? new Registry();
    this.metrics = new XdsMetrics(this.metricsRegistry);
    this.server = new Server({
      // Detect proxies that vanished without closing their connection.
      "grpc.keepalive_time_ms": 60_000,
      "grpc.keepalive_timeout_ms": 20_000,
      "grpc.max_receive_message_length": 16 * 1024 * 1024,
    });
    const services = options.services ?? ["ads"];
    if (services.includes("ads")) {
      const context = this.context("ads", ALL_TYPES);
      this.server.addService(adsServerService, {
        streamAggregatedResources: (call: ServerDuplexStream<DiscoveryRequest, EncodedResponse>) => void new SotwStream(call, context, "sotw"),
        deltaAggregatedResources: (call: ServerDuplexStream<DeltaDiscoveryRequest, EncodedResponse>) => void new DeltaStream(call, context, "delta"),
      });
    }
    if (services.includes("sds")) {
      const context = this.context("sds", SECRET_ONLY);
      this.server.addService(sdsServerService, {
        streamSecrets: (call: ServerDuplexStream<DiscoveryRequest, EncodedResponse>) => void new SotwStream(call, context, "sotw"),
        deltaSecrets: (call: ServerDuplexStream<DeltaDiscoveryRequest, EncodedResponse>) => void new DeltaStream(call, context, "delta"),
        fetchSecrets: (_call: ServerUnaryCall<DiscoveryRequest, DiscoveryResponse>, callback: sendUnaryData<DiscoveryResponse>) =>
          callback({ code: GrpcStatus.UNIMPLEMENTED, details: "FetchSecrets is not served; use StreamSecrets or DeltaSecrets" }),
      });
    }
  }

  private context(service: "ads" | "sds", servedTypes: ReadonlySet<string>): StreamContext {
    return {
      cache: this.options.cache,
      groupOf: this.options.groupOf,
      ...(this.options.onConnect ? { onConnect: this.options.onConnect } : {}),
      ...(this.options.onDisconnect ? { onDisconnect: this.options.onDisconnect } : {}),
      metrics: this.metrics,
      logger: this.logger.child({ service }),
      register: (stream) => this.streams.add(stream),
      unregister: (stream) => this.streams.delete(stream),
      ...(service === "sds" ? { defaultTypeUrl: TypeUrl.secret } : {}),
      service,
      servedTypes,
    };
  }

  /** Binds "host:port" (port 0 picks one) or "unix:/path"; resolves to the bound TCP port (0 for Unix sockets). */
  listen(address: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, ServerCredentials.createInsecure(), (error, port) => {
        if (error) reject(new Error(`xDS server cannot listen on ${address}: ${error.message}`));
        else {
          this.logger.info({ address, port }, "xDS server listening");
          resolve(address.startsWith("unix:") ? 0 : port);
        }
      });
    });
  }

  /** Ends every stream and stops the server. Connected Envoys keep their last config and retry. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    for (const stream of [...this.streams]) stream.end();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 1000);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Every connected proxy with its per-type sync state (what `as-mesh proxy-status` prints). */
  status(): ProxySyncStatus[] {
    const result: ProxySyncStatus[] = [];
    for (const stream of this.streams) {
      const status = stream.status();
      if (status) result.push(status);
    }
    return result.sort((a, b) => a.id.localeCompare(b.id) || a.streamId - b.streamId);
  }

  /** Connected streams (for tests and benchmarks: how many responses each wrote, whether it is blocked). */
  connectedStreams(): ReadonlySet<XdsStream> {
    return this.streams;
  }
}
