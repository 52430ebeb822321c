// What SotW and delta streams share: node identity from the first request, choosing the snapshot group, watching
// it, nonces, ACK/NACK bookkeeping and the write pump. The pump builds a response only when the stream can take
// it: while grpc-js says the stream is full (`write()` returned false) nothing is built, types just stay marked
// dirty, and after 'drain' the responses are built from the newest snapshot. A slow proxy therefore holds at
// most one snapshot's worth of pending work, never a queue of pushes.
import { status as GrpcStatus, type ServerDuplexStream } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { Node } from "../api/gen/envoy/config/core/v3/base_pb.ts";
import { shortTypeName, type GroupSnapshot, type SnapshotCache } from "../cache/index.ts";
import type { XdsMetrics } from "./metrics.ts";
import { TypeTracker, type ConnectedProxy, type ProxySyncStatus } from "./status.ts";

export interface StreamContext {
  cache: SnapshotCache;
  groupOf(proxy: ConnectedProxy): string | Promise<string>;
  onConnect?(proxy: ConnectedProxy): void;
  onDisconnect?(proxy: ConnectedProxy): void;
  metrics: XdsMetrics;
  logger: Logger;
  register(stream: XdsStream): void;
  unregister(stream: XdsStream): void;
  /** Type URL assumed when a request leaves it empty (the SDS service's streams). */
  defaultTypeUrl?: string;
  service: "ads" | "sds";
  /** Type URLs this service answers; requests for others are ignored with a log line. */
  servedTypes: ReadonlySet<string>;
}

interface RequestWithNode {
  node?: Node;
  typeUrl: string;
  responseNonce: string;
}

let nextStreamId = 1;

/**
 * A whole encoded response shared by every stream that sends the same bytes: its version, type and resources are
 * the same for all of them, and so may its nonce be, since a nonce only has to tell one stream's responses apart.
 * Encoded once, it spares each stream a copy of the resources (a push sends a 31 KiB route table to thousands).
 */
export interface SharedResponse {
  readonly nonce: string;
  readonly encoded: Buffer;
  /** Where the resources (field 2) start: the fields before are the version, type and nonce. */
  readonly resourcesAt: number;
}

let sharedNonces = 0;

/** A nonce for a shared response: no stream is numbered 0, so it never equals a stream's own ("<stream>-<n>"). */
export function sharedNonce(): string {
  sharedNonces += 1;
  return `0-${sharedNonces}`;
}

/** Responses handed to grpc-js but not yet flushed to the connection; more waits (a slow proxy holds at most this many). */
const MAX_IN_FLIGHT = 2;

export abstract class XdsStream<Req extends RequestWithNode = RequestWithNode, Res extends object = object> {
  readonly streamId = nextStreamId++;
  proxy?: ConnectedProxy;
  group?: string;
  protected entry?: GroupSnapshot;
  protected readonly trackers = new Map<string, TypeTracker>();
  protected readonly dirty = new Set<string>();
  protected logger: Logger;
  private readonly pending: Req[] = [];
  private ready = false;
  private closed = false;
  private blocked = false;
  private pumpScheduled = false;
  private unwatch?: () => void;
  private nonceCounter = 0;
  /** Responses written to grpc-js on this stream (for tests and benchmarks). */
  writes = 0;
  /** Responses written whose write has not completed yet. */
  inFlight = 0;

  constructor(
    protected readonly call: ServerDuplexStream<Req, Res>,
    protected readonly context: StreamContext,
    readonly protocol: "sotw" | "delta",
  ) {
    this.logger = context.logger.child({ stream: this.streamId, protocol });
    call.on("data", (request: Req) => this.receive(request));
    call.on("end", () => {
      this.close("client ended the stream");
      call.end();
    });
    call.on("error", (error: Error) => this.close(`stream error: ${error.message}`));
    call.on("cancelled", () => this.close("stream cancelled"));
    call.on("close", () => this.close("stream closed"));
  }

  /** True while grpc-js holds more than its buffer for this stream and the pump waits for 'drain'. */
  get isBlocked(): boolean {
    return this.blocked;
  }

  protected abstract handleRequest(request: Req, typeUrl: string): void;
  /** The next response to send, from the current snapshot and the stream's state; undefined when nothing is due. */
  protected abstract nextResponse(): Res | undefined;

  protected newNonce(): string {
    this.nonceCounter += 1;
    return `${this.streamId}-${this.nonceCounter}`;
  }

  /** The shared response (see SharedResponse), unless this stream has a response with its nonce still unanswered. */
  protected usableShared(tracker: TypeTracker, shared: SharedResponse | undefined): SharedResponse | undefined {
    return shared && !tracker.awaitsAnswer(shared.nonce) ? shared : undefined;
  }

  protected tracker(typeUrl: string): TypeTracker {
    let tracker = this.trackers.get(typeUrl);
    if (!tracker) {
      tracker = new TypeTracker(typeUrl, shortTypeName(typeUrl));
      this.trackers.set(typeUrl, tracker);
    }
    return tracker;
  }

  private receive(request: Req): void {
    if (this.closed) return;
    if (!this.proxy) {
      this.start(request);
      return;
    }
    if (!this.ready) {
      this.pending.push(request);
      return;
    }
    this.process(request);
  }

  private start(first: Req): void {
    const node = first.node;
    if (!node || node.id === "") {
      this.fail(GrpcStatus.INVALID_ARGUMENT, "the first request on an xDS stream must carry node.id");
      return;
    }
    const userAgent = [node.userAgentName, node.userAgentVersionType.case === "userAgentVersion" ? node.userAgentVersionType.value : ""]
      .filter(Boolean).join(" ");
    this.proxy = {
      id: node.id,
      cluster: node.cluster,
      metadata: node.metadata ?? {},
      userAgent,
      streamId: this.streamId,
      protocol: this.protocol,
      service: this.context.service,
      peer: this.call.getPeer(),
      connectedAt: new Date(),
    };
    this.logger = this.logger.child({ proxy: node.id });
    this.pending.push(first);
    const proxy = this.proxy;
    let group: string | Promise<string>;
    try {
      group = this.context.groupOf(proxy);
    } catch (error) {
      this.fail(GrpcStatus.INVALID_ARGUMENT, `proxy ${proxy.id} refused: ${(error as Error).message}`);
      return;
    }
    Promise.resolve(group).then(
      (resolved) => this.attach(resolved),
      (error: unknown) => this.fail(GrpcStatus.INVALID_ARGUMENT, `proxy ${proxy.id} refused: ${(error as Error).message}`),
    );
  }

  private attach(group: string): void {
    if (this.closed || !this.proxy) return;
    this.group = group;
    this.logger = this.logger.child({ group });
    this.context.register(this);
    this.context.metrics.connected.inc();
    this.unwatch = this.context.cache.watch(group, (entry) => this.onSnapshot(entry));
    this.entry = this.context.cache.getEntry(group);
    this.ready = true;
    this.logger.info({ peer: this.proxy.peer, userAgent: this.proxy.userAgent, snapshot: this.entry?.snapshot.version ?? null }, "proxy connected");
    try {
      this.context.onConnect?.(this.proxy);
    } catch (error) {
      this.logger.error({ err: error }, "onConnect hook failed");
    }
    const queued = this.pending.splice(0);
    for (const request of queued) this.process(request);
  }

  private process(request: Req): void {
    const typeUrl = request.typeUrl !== "" ? request.typeUrl : this.context.defaultTypeUrl ?? "";
    if (!this.context.servedTypes.has(typeUrl)) {
      this.logger.warn({ typeUrl }, "request for a resource type this server does not serve; ignored");
      return;
    }
    if (request.responseNonce !== "") this.tracker(typeUrl).answered(request.responseNonce);
    try {
      this.handleRequest(request, typeUrl);
    } catch (error) {
      this.logger.error({ err: error, typeUrl }, "request handling failed");
    }
    this.schedulePump();
  }

  private onSnapshot(entry: GroupSnapshot): void {
    this.entry = entry;
    for (const typeUrl of this.trackers.keys()) this.dirty.add(typeUrl);
    this.schedulePump();
  }

  /** Pumps on the next microtask, so a burst of requests or snapshots produces one pass. */
  protected schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (!this.closed && !this.blocked && this.entry) {
      const started = performance.now();
      const response = this.nextResponse();
      if (!response) return;
      const typeUrl = (response as { typeUrl?: string }).typeUrl ?? "";
      this.writes += 1;
      this.inFlight += 1;
      const writable = this.call.write(response, () => this.written());
      const type = shortTypeName(typeUrl);
      this.context.metrics.pushes.inc({ type });
      this.context.metrics.pushTime.observe({ type }, (performance.now() - started) / 1000);
      if (!writable) {
        this.blocked = true;
        this.logger.debug("stream full; waiting for drain");
        this.call.once("drain", () => this.unblock());
      } else if (this.inFlight >= MAX_IN_FLIGHT) {
        this.blocked = true;
      }
    }
  }

  private written(): void {
    this.inFlight -= 1;
    if (this.inFlight < MAX_IN_FLIGHT && this.call.writableNeedDrain !== true) this.unblock();
  }

  private unblock(): void {
    if (!this.blocked || this.inFlight >= MAX_IN_FLIGHT || this.call.writableNeedDrain) return;
    this.blocked = false;
    this.pump();
  }

  protected recordAck(tracker: TypeTracker): void {
    const setAt = tracker.acked();
    if (setAt !== undefined) this.context.metrics.convergence.observe((performance.now() - setAt) / 1000);
    this.logger.debug({ type: tracker.type }, "ACK");
  }

  protected recordNack(tracker: TypeTracker, message: string): void {
    const record = tracker.nacked(message);
    this.context.metrics.rejects.inc({ type: tracker.type });
    this.logger.warn({ type: tracker.type, version: record.version, error: message }, "proxy rejected config (NACK); it keeps its last good config and nothing is resent until the config changes");
  }

  protected observeSize(typeUrl: string, bytes: number): void {
    this.context.metrics.configSize.observe({ type: shortTypeName(typeUrl) }, bytes);
  }

  private fail(code: GrpcStatus, message: string): void {
    this.logger.warn({ code }, message);
    if (!this.closed) {
      this.call.emit("error", { code, details: message });
      this.close(message);
    }
  }

  /** Ends the stream from the server side (used when the server shuts down). */
  end(): void {
    if (this.closed) return;
    this.call.end();
    this.close("server closed the stream");
  }

  private close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.unwatch?.();
    if (this.ready && this.proxy) {
      this.context.unregister(this);
      this.context.metrics.connected.dec();
      this.logger.info({ reason }, "proxy disconnected");
      try {
        this.context.onDisconnect?.(this.proxy);
      } catch (error) {
        this.logger.error({ err: error }, "onDisconnect hook failed");
      }
    }
  }

  status(): ProxySyncStatus | undefined {
    if (!this.proxy || this.group === undefined) return undefined;
    return {
      id: this.proxy.id,
      cluster: this.proxy.cluster,
      group: this.group,
      streamId: this.streamId,
      protocol: this.protocol,
      service: this.proxy.service,
      peer: this.proxy.peer,
      userAgent: this.proxy.userAgent,
      connectedAt: this.proxy.connectedAt.toISOString(),
      ...(this.entry ? { snapshotVersion: this.entry.snapshot.version } : {}),
      types: [...this.trackers.values()].map((tracker) => tracker.status()),
    };
  }
}
