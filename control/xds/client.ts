// A small xDS client (SotW and delta over ADS) for the conformance suite and the control-plane benchmark. It sends
// exactly what a test tells it to (requests, ACKs, NACKs with error text), queues responses for `next()`, and can
// ACK everything by itself to stand in for a proxy. Many streams can share one channel (`XdsClient`), so a
// thousand simulated proxies are a thousand streams, not a thousand connections.
import { EventEmitter } from "node:events";
import { Client, credentials, Metadata, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import { create, type JsonObject } from "@bufbuild/protobuf";
import { NodeSchema } from "../api/gen/envoy/config/core/v3/base_pb.ts";
import { StatusSchema } from "../api/gen/google/rpc/status_pb.ts";
import {
  DeltaDiscoveryRequestSchema, DiscoveryRequestSchema,
  type DeltaDiscoveryRequest, type DeltaDiscoveryResponse, type DiscoveryRequest, type DiscoveryResponse,
} from "../api/gen/envoy/service/discovery/v3/discovery_pb.ts";
import { adsService, sdsService } from "./services.ts";
import { decodeDeltaDiscoveryResponse, decodeDiscoveryResponse, encodeDeltaDiscoveryRequest, encodeDiscoveryRequest } from "./lean_codec.ts";

export interface ClientNode {
  id: string;
  cluster?: string;
  metadata?: JsonObject;
}

export interface StreamOptions {
  /** ACK every response as soon as it arrives (a well-behaved proxy). */
  autoAck?: boolean;
  /** Use the SDS service's stream instead of ADS. */
  service?: "ads" | "sds";
}

/** Options of a stream whose responses go to a handler instead of being kept (simulated fleets). */
export interface HandledStreamOptions<Res> extends StreamOptions {
  onResponse?: (response: Res) => void;
}

export interface ClientOptions {
  /**
   * Read responses with the lean codec (lean_codec.ts): version, nonce, type and resources as undecoded bytes,
   * nothing else. For simulated fleets, whose CPU would otherwise come out of the server's under test.
   */
  lean?: boolean;
  /**
   * HTTP/2 stream and connection window in bytes; Envoy's default (256 MiB) unless set. A small window makes a proxy
   * that stops reading block the server's writes sooner.
   */
  flowControlWindow?: number;
}

/** Envoy's default initial_stream_window_size and initial_connection_window_size. */
const ENVOY_HTTP2_WINDOW = 256 * 1024 * 1024;

/** One gRPC channel to an xDS server; open as many streams on it as needed. */
export class XdsClient {
  readonly channel: Client;
  private readonly lean: boolean;

  constructor(address: string, options: ClientOptions = {}) {
    this.channel = new Client(address, credentials.createInsecure(), {
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
      // Envoy's HTTP/2 windows (initial stream and connection window 256 MiB): with HTTP/2's 64 KiB default, a
      // push to many streams on one channel trickles through one window update at a time, which real proxies
      // never wait for.
      "grpc-node.flow_control_window": options.flowControlWindow ?? ENVOY_HTTP2_WINDOW,
    });
    this.lean = options.lean ?? false;
  }

  sotw(node: ClientNode, options: HandledStreamOptions<DiscoveryResponse> = {}): SotwClientStream {
    const method = options.service === "sds" ? sdsService.streamSecrets : adsService.streamAggregatedResources;
    const call = this.lean
      ? this.channel.makeBidiStreamRequest(method.path, encodeDiscoveryRequest, decodeDiscoveryResponse, new Metadata())
      : this.channel.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, new Metadata());
    return new SotwClientStream(call, node, options);
  }

  delta(node: ClientNode, options: HandledStreamOptions<DeltaDiscoveryResponse> = {}): DeltaClientStream {
    const method = options.service === "sds" ? sdsService.deltaSecrets : adsService.deltaAggregatedResources;
    const call = this.lean
      ? this.channel.makeBidiStreamRequest(method.path, encodeDeltaDiscoveryRequest, decodeDeltaDiscoveryResponse, new Metadata())
      : this.channel.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, new Metadata());
    return new DeltaClientStream(call, node, options);
  }

  close(): void {
    this.channel.close();
  }
}

abstract class ClientStream<Req extends object, Res extends { typeUrl: string; nonce: string }> extends EventEmitter {
  private readonly queue: Res[] = [];
  private nodeSent = false;
  /** Set when the server ends the stream. */
  ended?: { code: number; details: string };
  readonly received: Res[] = [];

  constructor(protected readonly call: ClientDuplexStream<Req, Res>, protected readonly node: ClientNode, protected readonly options: HandledStreamOptions<Res>) {
    super();
    call.on("data", (response: Res) => {
      if (this.options.onResponse) {
        // Nothing is kept: a thousand simulated proxies must not hold every response they ever got.
        this.options.onResponse(response);
        return;
      }
      this.received.push(response);
      this.onResponse(response);
      if (this.options.autoAck) this.ack(response);
      else this.queue.push(response);
      this.emit("response", response);
    });
    call.on("error", (error: ServiceError) => {
      this.ended = { code: error.code, details: error.details };
      this.emit("ended");
    });
    call.on("status", (status: { code: number; details: string }) => {
      this.ended ??= { code: status.code, details: status.details };
      this.emit("ended");
    });
  }

  protected abstract onResponse(response: Res): void;
  abstract ack(response: Res): void;

  protected nodeOnce(): ReturnType<typeof create<typeof NodeSchema>> | undefined {
    if (this.nodeSent) return undefined;
    this.nodeSent = true;
    return create(NodeSchema, {
      id: this.node.id,
      cluster: this.node.cluster ?? "",
      metadata: this.node.metadata ?? {},
      userAgentName: "as-mesh-xds-client",
    });
  }

  protected send(request: Req): void {
    this.call.write(request);
  }

  /** The next response not yet taken (only when autoAck is off). Rejects after timeoutMs. */
  next(timeoutMs = 3000): Promise<Res> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off("response", onResponse);
        reject(new Error(`no xDS response within ${timeoutMs} ms${this.ended ? ` (stream ended: ${this.ended.code} ${this.ended.details})` : ""}`));
      }, timeoutMs);
      const onResponse = () => {
        const response = this.queue.shift();
        if (!response) return;
        clearTimeout(timer);
        this.off("response", onResponse);
        resolve(response);
      };
      this.on("response", onResponse);
    });
  }

  /** Resolves true when no response arrives within `ms` (to prove the server stays quiet). */
  async quietFor(ms: number): Promise<boolean> {
    if (this.queue.length > 0) return false;
    return new Promise((resolve) => {
      const onResponse = () => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.off("response", onResponse);
        resolve(true);
      }, ms);
      this.once("response", onResponse);
    });
  }

  /** Waits until the server ends the stream. */
  endedWithin(timeoutMs = 3000): Promise<{ code: number; details: string }> {
    if (this.ended) return Promise.resolve(this.ended);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`stream still open after ${timeoutMs} ms`)), timeoutMs);
      this.once("ended", () => {
        clearTimeout(timer);
        resolve(this.ended!);
      });
    });
  }

  /** Stops reading from the network (to exercise the server's back-pressure); resume() reads again. */
  pause(): void {
    this.call.pause();
  }

  resume(): void {
    this.call.resume();
  }

  close(): void {
    this.call.end();
    this.call.cancel();
  }
}

export class SotwClientStream extends ClientStream<DiscoveryRequest, DiscoveryResponse> {
  /** Names subscribed per type (sent again with every ACK/NACK, as Envoy does). */
  readonly names = new Map<string, string[]>();
  /** Last accepted version per type. */
  readonly versions = new Map<string, string>();

  protected onResponse(): void {}

  /** Subscribes to a type (names omitted: wildcard for CDS/LDS), as a first request or a change of names. */
  request(typeUrl: string, names: string[] = [], options: { versionInfo?: string; nonce?: string } = {}): void {
    this.names.set(typeUrl, names);
    const node = this.nodeOnce();
    this.send(create(DiscoveryRequestSchema, {
      ...(node ? { node } : {}),
      typeUrl,
      resourceNames: names,
      versionInfo: options.versionInfo ?? this.versions.get(typeUrl) ?? "",
      responseNonce: options.nonce ?? "",
    }));
  }

  ack(response: DiscoveryResponse): void {
    this.versions.set(response.typeUrl, response.versionInfo);
    const node = this.nodeOnce();
    this.send(create(DiscoveryRequestSchema, {
      ...(node ? { node } : {}),
      typeUrl: response.typeUrl,
      resourceNames: this.names.get(response.typeUrl) ?? [],
      versionInfo: response.versionInfo,
      responseNonce: response.nonce,
    }));
  }

  nack(response: DiscoveryResponse, message: string): void {
    const node = this.nodeOnce();
    this.send(create(DiscoveryRequestSchema, {
      ...(node ? { node } : {}),
      typeUrl: response.typeUrl,
      resourceNames: this.names.get(response.typeUrl) ?? [],
      versionInfo: this.versions.get(response.typeUrl) ?? "",
      responseNonce: response.nonce,
      errorDetail: create(StatusSchema, { code: 3, message }),
    }));
  }
}

export class DeltaClientStream extends ClientStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {
  /** What the client holds per type: name → version (updated when it ACKs). */
  readonly have = new Map<string, Map<string, string>>();

  protected onResponse(): void {}

  private holdings(typeUrl: string): Map<string, string> {
    let map = this.have.get(typeUrl);
    if (!map) {
      map = new Map();
      this.have.set(typeUrl, map);
    }
    return map;
  }

  /** Subscribes to names (none on a first request: wildcard for CDS/LDS; "*" explicitly), optionally telling
   * the server which versions the client already has (a reconnect). */
  subscribe(typeUrl: string, names: string[] = [], options: { initialVersions?: Record<string, string>; nonce?: string } = {}): void {
    const node = this.nodeOnce();
    this.send(create(DeltaDiscoveryRequestSchema, {
      ...(node ? { node } : {}),
      typeUrl,
      resourceNamesSubscribe: names,
      initialResourceVersions: options.initialVersions ?? {},
      responseNonce: options.nonce ?? "",
    }));
  }

  unsubscribe(typeUrl: string, names: string[]): void {
    const node = this.nodeOnce();
    for (const name of names) this.holdings(typeUrl).delete(name);
    this.send(create(DeltaDiscoveryRequestSchema, { ...(node ? { node } : {}), typeUrl, resourceNamesUnsubscribe: names }));
  }

  ack(response: DeltaDiscoveryResponse): void {
    const holdings = this.holdings(response.typeUrl);
    for (const resource of response.resources) holdings.set(resource.name, resource.version);
    for (const name of response.removedResources) holdings.delete(name);
    const node = this.nodeOnce();
    this.send(create(DeltaDiscoveryRequestSchema, { ...(node ? { node } : {}), typeUrl: response.typeUrl, responseNonce: response.nonce }));
  }

  nack(response: DeltaDiscoveryResponse, message: string): void {
    const node = this.nodeOnce();
    this.send(create(DeltaDiscoveryRequestSchema, {
      ...(node ? { node } : {}),
      typeUrl: response.typeUrl,
      responseNonce: response.nonce,
      errorDetail: create(StatusSchema, { code: 3, message }),
    }));
  }
}
