// Where mesh config comes from, shaped like Istio's ConfigStoreController (get/list/create/update/delete with
// revisions, watch, HasSynced) so a folder, etcd or an API server can back the control service interchangeably.
// A store holds documents as read, not validated ones: validation decides over the whole set, so that an invalid
// change is refused as a whole and the running config stays.
import type { Issue, SourcedDocument } from "../config/index.ts";

/** Identity of a resource in the store. */
export interface ResourceKey {
  kind: string;
  namespace: string;
  name: string;
}

export interface StoredResource extends ResourceKey {
  /** The document as read (apiVersion, kind, metadata, spec), not validated. */
  document: Record<string, unknown>;
  /** "mesh/ride.yaml:12", "etcd:/as-mesh/..." */
  source: string;
  /** The store revision at which this resource last changed (etcd's mod_revision). */
  revision: number;
}

export type ConfigEventType = "added" | "modified" | "deleted";

export interface ConfigEvent {
  type: ConfigEventType;
  resource: StoredResource;
  /** The store revision the event produced. */
  revision: number;
}

export interface WatchOptions {
  /** Replay every event after this revision first (resume after a disconnect). Omit to get only new events. */
  fromRevision?: number;
}

/** Thrown when a watch asks for history the store no longer keeps (etcd's "compacted"). Re-list and watch again. */
export class RevisionCompactedError extends Error {
  constructor(readonly requested: number, readonly oldest: number) {
    super(`revision ${requested} is no longer available (history starts after ${oldest}); list again and watch from the current revision`);
    this.name = "RevisionCompactedError";
  }
}

/** A write that lost a race: the resource changed since the revision the writer read. */
export class RevisionConflictError extends Error {
  constructor(readonly key: ResourceKey, readonly expected: number, readonly actual: number | undefined) {
    super(`${key.kind}/${key.namespace}/${key.name} is at revision ${actual ?? "(absent)"}, not ${expected}; read it again and retry`);
    this.name = "RevisionConflictError";
  }
}

/**
 * A transactional commit found that other resources were committed after the revision its plan was validated
 * against: the plan is still its own, but must be validated again over the newer mesh (commitPlan does).
 */
export class StaleBasisError extends Error {
  constructor(readonly basis: number, readonly revision: number) {
    super(`the mesh changed after revision ${basis} (now ${revision}); validate the change again`);
    this.name = "StaleBasisError";
  }
}

export interface ConfigStore {
  /** Reads everything once (hasSynced() is true afterwards) and starts watching. */
  start(): Promise<void>;
  stop(): Promise<void>;
  hasSynced(): boolean;
  /** The current revision; it increases with every change. */
  revision(): number;
  /** Every document, in a stable order, to validate as one mesh. */
  documents(): SourcedDocument[];
  /**
   * Problems reading the store (an unreadable file, a YAML syntax error, a document without kind or name). A config
   * with any of them is incomplete: refuse it like a validation error rather than run the part that parsed.
   */
  errors(): Issue[];
  /** Called after every change (debounced by the store); read documents()/errors() then. Returns unsubscribe. */
  onChange(listener: () => void): () => void;

  get(kind: string, namespace: string, name: string): StoredResource | undefined;
  list(kind?: string, namespace?: string): StoredResource[];
  /** Adds a resource; fails if it exists. Returns the new store revision. */
  create(document: Record<string, unknown>): Promise<number>;
  /** Replaces a resource; with `expectedRevision`, only if it has not changed since. */
  update(document: Record<string, unknown>, expectedRevision?: number): Promise<number>;
  delete(key: ResourceKey, expectedRevision?: number): Promise<number>;
  /** Resource-level events, optionally replayed from a revision. Returns unsubscribe. */
  watch(listener: (events: ConfigEvent[]) => void, options?: WatchOptions): () => void;
}
