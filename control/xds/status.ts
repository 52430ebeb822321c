// What each connected proxy has of each resource type, as `as-mesh proxy-status` and /debug/syncz show it
// (istioctl proxy-status's columns): SYNCED (the last response was ACKed), STALE (sent, no answer yet),
// NOT SENT, ERROR (the last response was NACKed; Envoy's text is kept, like istiod's LastError).
import type { JsonObject } from "@bufbuild/protobuf";

export type SyncState = "SYNCED" | "STALE" | "NOT SENT" | "ERROR";

export interface NackRecord {
  version: string;
  message: string;
  at: string;
}

export interface TypeSyncStatus {
  typeUrl: string;
  /** "cds", "eds", "lds", "rds", "sds", "ecds". */
  type: string;
  state: SyncState;
  /** Version of the last response sent on this stream. */
  sentVersion?: string;
  /** Version the proxy last accepted (ACK, or what it reported having when it connected). */
  ackedVersion?: string;
  /** The last rejection, kept after later ACKs for reference; `state` says whether it is current. */
  lastError?: NackRecord;
}

export interface ConnectedProxy {
  /** Envoy's node.id. */
  id: string;
  /** Envoy's node.cluster. */
  cluster: string;
  /** Envoy's node.metadata as a plain object. */
  metadata: JsonObject;
  /** Envoy's user agent and version as it reports them, e.g. "envoy 1.40.0". */
  userAgent: string;
  streamId: number;
  protocol: "sotw" | "delta";
  service: "ads" | "sds";
  peer: string;
  connectedAt: Date;
}

export interface ProxySyncStatus {
  id: string;
  cluster: string;
  group: string;
  streamId: number;
  protocol: "sotw" | "delta";
  service: "ads" | "sds";
  peer: string;
  userAgent: string;
  connectedAt: string;
  /** Version of the group's snapshot the stream serves. */
  snapshotVersion?: string;
  types: TypeSyncStatus[];
}

/** Unanswered nonces remembered per type: a proxy answers each response, so more than a few means it does not. */
const MAX_UNANSWERED = 8;

/** The sync state of one type on one stream. */
export class TypeTracker {
  private readonly unanswered: string[] = [];
  private sentVersion?: string;
  private sentNonce?: string;
  private sentSetAt?: number;
  private ackedVersion?: string;
  private lastError?: NackRecord;
  private current: SyncState = "NOT SENT";

  constructor(readonly typeUrl: string, readonly type: string) {}

  get nonce(): string | undefined {
    return this.sentNonce;
  }

  get state(): SyncState {
    return this.current;
  }

  get everSent(): boolean {
    return this.sentVersion !== undefined;
  }

  sent(version: string, nonce: string, setAt: number): void {
    this.sentVersion = version;
    this.sentNonce = nonce;
    this.sentSetAt = setAt;
    this.current = "STALE";
    this.unanswered.push(nonce);
    if (this.unanswered.length > MAX_UNANSWERED) this.unanswered.shift();
  }

  /** The proxy answered the response with this nonce; it answers in order, so the earlier ones are answered too. */
  answered(nonce: string): void {
    const index = this.unanswered.indexOf(nonce);
    if (index >= 0) this.unanswered.splice(0, index + 1);
  }

  /**
   * Whether a response with this nonce was sent and not answered yet. Streams share one nonce among every stream
   * sending the same encoded response; a nonce must still tell one stream's responses apart while they are in
   * flight, or a late ACK of the first would pass for an ACK of the second.
   */
  awaitsAnswer(nonce: string): boolean {
    return this.unanswered.includes(nonce);
  }

  /** An ACK of the last response; returns when the acked snapshot was set, for the convergence metric. */
  acked(): number | undefined {
    this.ackedVersion = this.sentVersion;
    this.current = "SYNCED";
    const setAt = this.sentSetAt;
    this.sentSetAt = undefined;
    return setAt;
  }

  nacked(message: string): NackRecord {
    this.lastError = { version: this.sentVersion ?? "", message, at: new Date().toISOString() };
    this.current = "ERROR";
    this.sentSetAt = undefined;
    return this.lastError;
  }

  /** The proxy already has this version (it said so when it reconnected), so nothing needs to be sent. */
  inSync(version: string): void {
    this.ackedVersion = version;
    if (this.current === "NOT SENT") this.current = "SYNCED";
  }

  status(): TypeSyncStatus {
    return {
      typeUrl: this.typeUrl,
      type: this.type,
      state: this.current,
      ...(this.sentVersion !== undefined ? { sentVersion: this.sentVersion } : {}),
      ...(this.ackedVersion !== undefined ? { ackedVersion: this.ackedVersion } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }
}
