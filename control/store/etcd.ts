// Mesh config in etcd v3, for control services that outgrow one machine: several replicas read the same keys, and
// etcd's revisions give every change one global order.
//
// Layout: `<prefix><kind>/<namespace>/<name>` (default prefix `/as-mesh/config/`), the value the resource's YAML
// document. The store lists the prefix once (start), then watches it from the listed revision + 1, so no change
// between the two is missed; a watch cancelled by compaction, or a stream that cannot resume, leads to a fresh list
// whose differences become events. Values that do not parse, or whose kind/name disagree with their key, are reported
// through errors() and so reject the mesh (validateStore), like a folder's YAML syntax error.
//
// Writes are validated against the whole mesh they would produce (planApply) and committed as one transaction that
// compares each touched key's mod_revision with the revision the change was planned against (create: the key must
// not exist). A failed compare is a RevisionConflictError: nothing of the apply is stored. The transaction also
// checks that nothing else was committed since the revision the plan was validated at (a marker key every commit
// writes); if something was, commitPlan validates the change again over the newer mesh before it commits, so two
// applies to different resources never store a mesh that was validated only in halves.
import {
  Etcd3, EtcdPermissionDeniedError, GRPCFailedPreconditionError, GRPCInvalidArgumentError, GRPCUnauthenticatedError,
  type IOptions, type IKeyValue,
} from "etcd3";
import pino, { type Logger } from "pino";
import { parseYaml, type Issue, type MeshOptions, type SourcedDocument } from "../config/index.ts";
import { commitPlan, conflictOf, keyString, planApply, resourceKeyOf, type ResourceChange, type TransactionalStore } from "./apply.ts";
import {
  RevisionCompactedError, StaleBasisError,
  type ConfigEvent, type ResourceKey, type StoredResource, type WatchOptions,
} from "./types.ts";

export const DEFAULT_ETCD_PREFIX = "/as-mesh/config/";

export interface EtcdStoreOptions {
  /** Client URLs of the etcd members ("http://127.0.0.1:2379"). */
  endpoints: readonly string[];
  /** Key prefix of the mesh config (default /as-mesh/config/). */
  prefix?: string;
  /** Namespace of documents that name none (default "default"). */
  defaultNamespace?: string;
  /** Validation options for writes (root namespace, domain suffix). */
  meshOptions?: Partial<MeshOptions>;
  /**
   * Quiet time before onChange listeners run after watch events (default 0: the next turn of the event loop, which
   * still merges the watch responses that arrived together). A transaction's events come in one watch response,
   * and the control service debounces its pushes itself, as istiod does; waiting here only delays every change.
   */
  debounceMs?: number;
  /** Deadline of each etcd request (default 5 s): without a quorum, writes fail after it instead of hanging. */
  requestTimeoutMs?: number;
  /** Events kept for watch resumption (default 10,000). */
  historyLimit?: number;
  logger?: Logger;
}

/** etcd could not be reached or could not commit (no quorum, no leader, all members down). */
export class EtcdUnavailableError extends Error {
  constructor(readonly endpoints: readonly string[], readonly cause: Error) {
    super(`etcd (${endpoints.join(",")}) did not answer: ${cause.message}; check that a majority of its members is up`);
    this.name = "EtcdUnavailableError";
  }
}

/** etcd answered but refused the request (too large a transaction, permissions): retrying will not help. */
export class EtcdRequestError extends Error {
  constructor(readonly cause: Error, hint?: string) {
    super(`etcd refused the request: ${cause.message}${hint ? `; ${hint}` : ""}`);
    this.name = "EtcdRequestError";
  }
}

/** An etcd client error as the operator should read it: unreachable/no quorum, or a refused request. */
function etcdFailure(endpoints: readonly string[], error: Error, operations?: number): Error {
  if (error instanceof GRPCInvalidArgumentError && /too many operations in txn/.test(error.message)) {
    return new EtcdRequestError(error, `this apply changes ${operations ?? "too many"} resources and etcd takes at most --max-txn-ops (default 128) in one transaction; apply fewer at once or raise --max-txn-ops on every member`);
  }
  if (error instanceof GRPCInvalidArgumentError || error instanceof GRPCFailedPreconditionError
    || error instanceof GRPCUnauthenticatedError || error instanceof EtcdPermissionDeniedError) {
    return new EtcdRequestError(error);
  }
  return new EtcdUnavailableError(endpoints, error);
}

interface Entry {
  resource: StoredResource;
  document?: SourcedDocument;
  errors: Issue[];
}

type WatchBackoff = NonNullable<NonNullable<IOptions["faultHandling"]>["watchBackoff"]>;

/** Doubling reconnect delay for the watch stream, capped low: after an etcd outage the mesh should converge quickly. */
function cappedBackoff(delayMs: number, maxMs: number): WatchBackoff {
  return { duration: delayMs, next: () => cappedBackoff(Math.min(delayMs * 2, maxMs), maxMs) } as WatchBackoff;
}

export class EtcdStore implements TransactionalStore {
  readonly endpoints: readonly string[];
  readonly prefix: string;
  private readonly defaultNamespace: string;
  private readonly debounceMs: number;
  private readonly requestTimeoutMs: number;
  private readonly historyLimit: number;
  private readonly logger: Logger;
  private readonly client: Etcd3;

  private entries = new Map<string, Entry>();
  private documentList: SourcedDocument[] | null = [];
  private errorList: Issue[] | null = [];
  private currentRevision = 0;
  private history: ConfigEvent[] = [];
  /** Events at or below this revision are not in `history`. */
  private oldestResumable = 0;
  private synced = false;
  private stopped = false;
  private watcher: { cancel(): Promise<void> } | undefined;
  private resyncing: Promise<void> | undefined;
  private changeTimer: NodeJS.Timeout | undefined;
  private readonly changeListeners = new Set<() => void>();
  private readonly watchers = new Set<(events: ConfigEvent[]) => void>();

  constructor(private readonly options: EtcdStoreOptions) {
    if (options.endpoints.length === 0) throw new Error("EtcdStore needs at least one etcd endpoint");
    this.endpoints = options.endpoints.map(normalizeEndpoint);
    this.prefix = options.prefix ?? DEFAULT_ETCD_PREFIX;
    this.defaultNamespace = options.defaultNamespace ?? options.meshOptions?.defaultNamespace ?? "default";
    this.debounceMs = options.debounceMs ?? 0;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5000;
    this.historyLimit = options.historyLimit ?? 10_000;
    this.logger = options.logger ?? pino({ enabled: false });
    this.client = new Etcd3({
      hosts: [...this.endpoints],
      dialTimeout: this.requestTimeoutMs,
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + this.requestTimeoutMs }),
      faultHandling: { watchBackoff: cappedBackoff(100, 2000) },
    });
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.resync();
    this.synced = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.changeTimer);
    await this.resyncing?.catch(() => {});
    await this.watcher?.cancel().catch(() => {});
    this.watcher = undefined;
    this.client.close();
  }

  hasSynced(): boolean {
    return this.synced;
  }

  revision(): number {
    return this.currentRevision;
  }

  documents(): SourcedDocument[] {
    if (!this.documentList) {
      this.documentList = this.sortedEntries().flatMap((entry) => (entry.document ? [entry.document] : []));
    }
    return this.documentList;
  }

  errors(): Issue[] {
    if (!this.errorList) this.errorList = this.sortedEntries().flatMap((entry) => entry.errors);
    return this.errorList;
  }

  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  get(kind: string, namespace: string, name: string): StoredResource | undefined {
    return this.entries.get(this.keyOf({ kind, namespace, name }))?.resource;
  }

  list(kind?: string, namespace?: string): StoredResource[] {
    return this.sortedEntries().map((entry) => entry.resource).filter((resource) =>
      (kind === undefined || resource.kind === kind) && (namespace === undefined || resource.namespace === namespace));
  }

  watch(listener: (events: ConfigEvent[]) => void, options: WatchOptions = {}): () => void {
    const from = options.fromRevision;
    if (from !== undefined) {
      if (from < this.oldestResumable) throw new RevisionCompactedError(from, this.oldestResumable);
      const missed = this.history.filter((event) => event.revision > from);
      if (missed.length > 0) queueMicrotask(() => { if (this.watchers.has(listener)) listener(missed); });
    }
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  async create(document: Record<string, unknown>): Promise<number> {
    const key = this.requireKey(document);
    if (this.get(key.kind, key.namespace, key.name)) throw new Error(`${keyString(key)} already exists`);
    return commitPlan(this, planApply(this, { apply: [this.sourced(document)], meshOptions: this.meshOptions() }));
  }

  async update(document: Record<string, unknown>, expectedRevision?: number): Promise<number> {
    const key = this.requireKey(document);
    if (!this.get(key.kind, key.namespace, key.name)) throw new Error(`${keyString(key)} does not exist`);
    const plan = planApply(this, { apply: [this.sourced(document)], meshOptions: this.meshOptions() });
    return commitPlan(this, this.guarded(plan, expectedRevision));
  }

  async delete(key: ResourceKey, expectedRevision?: number): Promise<number> {
    const plan = planApply(this, { remove: [key], meshOptions: this.meshOptions() });
    return commitPlan(this, this.guarded(plan, expectedRevision));
  }

  /**
   * Commits changes in one transaction, each guarded by the mod_revision it was planned against (absent for an
   * added resource). Callers validate first (commitPlan does). Returns the revision of the commit.
   */
  async commit(changes: readonly ResourceChange[], basis?: number): Promise<number> {
    const effective = changes.filter((change) => change.action !== "unchanged");
    if (effective.length === 0) return this.currentRevision;
    const [first, ...rest] = effective;
    const guard = (change: ResourceChange) => [this.etcdKey(change.key), "Mod", "==", change.before?.revision ?? 0] as const;
    let transaction = this.client.if(...guard(first!));
    for (const change of rest) transaction = transaction.and(...guard(change));
    // Every commit also writes the marker, so its mod_revision is the last commit's: one after the basis means
    // the mesh this change was validated against is no longer the stored one.
    if (basis !== undefined) transaction = transaction.and(this.commitMarker, "Mod", "<", basis + 1);
    transaction = transaction.then(
      ...effective.map((change) => change.action === "removed"
        ? this.client.delete().key(this.etcdKey(change.key))
        : this.client.put(this.etcdKey(change.key)).value(JSON.stringify(change.after))),
      this.client.put(this.commitMarker).value(String(effective.length)),
    );
    let response;
    try {
      response = await transaction.commit();
    } catch (error) {
      throw etcdFailure(this.endpoints, error as Error, effective.length);
    }
    const revision = Number(response.header.revision);
    if (!response.succeeded) {
      // Find the key that moved, to name it in the error.
      for (const change of effective) {
        const current = await this.client.get(this.etcdKey(change.key)).exec().catch(() => undefined);
        const actual = current?.kvs[0] ? Number(current.kvs[0].mod_revision) : undefined;
        if ((actual ?? 0) !== (change.before?.revision ?? 0)) throw conflictOf(change, actual);
      }
      if (basis !== undefined) throw new StaleBasisError(basis, revision);
      throw conflictOf(effective[0]!, undefined);
    }
    this.logger.info({ revision, changes: effective.map((change) => `${change.action} ${keyString(change.key)}`) }, "config committed to etcd");
    // Read-your-writes: once a write returns, this store's reads include it (a create followed by an update on the
    // same store must not see "does not exist"). The commit stands even if the watch lags past the bound.
    await this.waitForRevision(revision).catch((error: Error) => this.logger.warn({ revision, err: error.message }, "committed, but the watch has not caught up"));
    return revision;
  }

  /** Waits until the store has seen a revision (its own commit, say), so reads reflect it. */
  async waitForRevision(revision: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.currentRevision < revision) {
      if (Date.now() > deadline) throw new Error(`etcd store did not see revision ${revision} within ${timeoutMs} ms (at ${this.currentRevision})`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Written by every commit, beside the prefix (so the store never lists it as config). */
  private get commitMarker(): string {
    return `${this.prefix.replace(/\/+$/, "")}.committed`;
  }

  /** The etcd client, for the registry and tools that share this connection. */
  get etcd(): Etcd3 {
    return this.client;
  }

  // ---------------------------------------------------------------------------------------------------------------

  private meshOptions(): Partial<MeshOptions> {
    return { ...this.options.meshOptions, defaultNamespace: this.defaultNamespace };
  }

  private requireKey(document: Record<string, unknown>): ResourceKey {
    const key = resourceKeyOf(document, this.defaultNamespace);
    if (!key) throw new Error("a resource needs kind and metadata.name");
    return key;
  }

  private sourced(document: Record<string, unknown>): SourcedDocument {
    return { source: `etcd:${this.etcdKey(this.requireKey(document))}`, document };
  }

  /** With an expected revision, the transaction compares against it rather than the revision this store last saw. */
  private guarded(plan: ReturnType<typeof planApply>, expectedRevision: number | undefined): ReturnType<typeof planApply> {
    if (expectedRevision === undefined) return plan;
    return {
      ...plan,
      changes: plan.changes.map((change) => change.before
        ? { ...change, action: change.action === "unchanged" ? "changed" : change.action, before: { ...change.before, revision: expectedRevision } }
        : change),
    };
  }

  private keyOf(key: ResourceKey): string {
    return this.etcdKey(key);
  }

  private etcdKey(key: ResourceKey): string {
    return `${this.prefix}${key.kind}/${key.namespace}/${key.name}`;
  }

  private sortedEntries(): Entry[] {
    return [...this.entries.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, entry]) => entry);
  }

  /** Lists the prefix, turns differences from what the store held into events, and watches from there. */
  private resync(): Promise<void> {
    if (!this.resyncing) {
      this.resyncing = this.listAndWatch().finally(() => { this.resyncing = undefined; });
    }
    return this.resyncing;
  }

  private async listAndWatch(): Promise<void> {
    await this.watcher?.cancel().catch(() => {});
    this.watcher = undefined;
    let listed;
    try {
      listed = await this.client.getAll().prefix(this.prefix).exec();
    } catch (error) {
      throw etcdFailure(this.endpoints, error as Error);
    }
    const revision = Number(listed.header.revision);
    const next = new Map<string, Entry>();
    for (const kv of listed.kvs) if (kv.key.toString() !== this.commitMarker) next.set(kv.key.toString(), this.entryOf(kv));
    const events: ConfigEvent[] = [];
    for (const [key, entry] of next) {
      const previous = this.entries.get(key);
      if (!previous) events.push({ type: "added", resource: entry.resource, revision: entry.resource.revision });
      else if (previous.resource.revision !== entry.resource.revision) events.push({ type: "modified", resource: entry.resource, revision: entry.resource.revision });
    }
    for (const [key, previous] of this.entries) {
      if (!next.has(key)) events.push({ type: "deleted", resource: { ...previous.resource, revision }, revision });
    }
    this.entries = next;
    this.invalidate();
    // History before a list is not replayable: its order is lost. Watchers resuming from earlier must list again.
    const wasSynced = this.synced;
    this.history = [];
    this.oldestResumable = revision;
    this.currentRevision = revision;
    if (wasSynced && events.length > 0) this.publish(events.sort((a, b) => a.revision - b.revision));
    this.logger.info({ revision, resources: next.size }, "config listed from etcd");
    if (this.stopped) return;

    const watcher = await this.client.watch().prefix(this.prefix).startRevision(String(revision + 1)).create();
    this.watcher = watcher;
    watcher.on("data", (response) => {
      const changed: ConfigEvent[] = [];
      for (const event of response.events) {
        if (event.kv.key.toString() !== this.commitMarker) changed.push(this.applyEvent(event.type, event.kv));
      }
      const headerRevision = Number(response.header.revision);
      if (changed.length > 0 || headerRevision > this.currentRevision) {
        this.currentRevision = Math.max(this.currentRevision, headerRevision, ...changed.map((event) => event.revision));
      }
      if (changed.length > 0) this.publish(changed);
    });
    watcher.on("error", (error) => {
      // etcd cancels a watch whose start revision was compacted away (during a long disconnect): list again.
      if (this.stopped || this.watcher !== watcher) return;
      this.logger.warn({ err: error.message }, "etcd watch cancelled; listing the config again");
      this.watcher = undefined;
      this.retryResync();
    });
    watcher.on("disconnected", (error) => this.logger.warn({ err: error.message }, "etcd watch disconnected; resuming"));
  }

  private retryResync(): void {
    if (this.stopped) return;
    this.resync().catch((error: unknown) => {
      this.logger.warn({ err: (error as Error).message }, "etcd list failed; retrying");
      setTimeout(() => this.retryResync(), 1000).unref();
    });
  }

  private applyEvent(type: "Put" | "Delete", kv: IKeyValue): ConfigEvent {
    const key = kv.key.toString();
    const revision = Number(kv.mod_revision);
    if (type === "Delete") {
      const previous = this.entries.get(key);
      this.entries.delete(key);
      this.invalidate();
      const resource = previous?.resource ?? { ...this.keyFromEtcd(key), document: {}, source: `etcd:${key}`, revision };
      return { type: "deleted", resource: { ...resource, revision }, revision };
    }
    const existed = this.entries.has(key);
    const entry = this.entryOf(kv);
    this.entries.set(key, entry);
    this.invalidate();
    return { type: existed ? "modified" : "added", resource: entry.resource, revision };
  }

  private entryOf(kv: IKeyValue): Entry {
    const key = kv.key.toString();
    const source = `etcd:${key}`;
    const keyParts = this.keyFromEtcd(key);
    const revision = Number(kv.mod_revision);
    const { documents, errors } = parseStoredValue(kv.value.toString(), source);
    const problems: Issue[] = [...errors];
    let document: SourcedDocument | undefined;
    if (errors.length === 0 && documents.length !== 1) {
      problems.push({ path: source, message: `holds ${documents.length} documents; one resource per key`, source });
    } else if (documents.length === 1) {
      const documentKey = resourceKeyOf(documents[0]!.document, this.defaultNamespace);
      if (!documentKey) problems.push({ path: source, message: "a resource needs kind and metadata.name", source });
      else if (keyString(documentKey) !== keyString(keyParts)) {
        problems.push({ path: source, message: `the key names ${keyString(keyParts)} but the document is ${keyString(documentKey)}`, source });
      } else document = documents[0];
    }
    const raw = document?.document;
    return {
      resource: { ...keyParts, document: (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>, source, revision },
      document,
      errors: problems,
    };
  }

  private keyFromEtcd(key: string): ResourceKey {
    const [kind = "", namespace = "", ...name] = key.slice(this.prefix.length).split("/");
    return { kind, namespace, name: name.join("/") };
  }

  private invalidate(): void {
    this.documentList = null;
    this.errorList = null;
  }

  private publish(events: ConfigEvent[]): void {
    this.history.push(...events);
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.splice(0, this.history.length - this.historyLimit);
      this.oldestResumable = dropped[dropped.length - 1]!.revision;
      while (this.history.length > 0 && this.history[0]!.revision <= this.oldestResumable) this.history.shift();
    }
    for (const watcher of [...this.watchers]) this.safely(() => watcher(events));
    clearTimeout(this.changeTimer);
    this.changeTimer = setTimeout(() => {
      this.changeTimer = undefined;
      for (const listener of [...this.changeListeners]) this.safely(listener);
    }, this.debounceMs);
  }

  private safely(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.logger.error({ err: (error as Error).message }, "config change listener failed");
    }
  }
}

/**
 * A stored resource: JSON as this store writes it (JSON.parse reads a prefix's few hundred resources in a few
 * milliseconds, where the YAML parser took over a hundred, on every list and so on every `as-mesh` verb), or YAML
 * as an operator may have put it by hand.
 */
function parseStoredValue(text: string, source: string): { documents: SourcedDocument[]; errors: Issue[] } {
  if (text.trimStart().startsWith("{")) {
    try {
      return { documents: [{ source: `${source}:1`, document: JSON.parse(text) as unknown }], errors: [] };
    } catch {
      // Not JSON after all: the YAML parser says what is wrong with it.
    }
  }
  return parseYaml(text, source);
}

function normalizeEndpoint(endpoint: string): string {
  const trimmed = endpoint.trim();
  return /^https?:\/\//.test(trimmed) ? trimmed : `http://${trimmed}`;
}

/** "a:2379,b:2379" → ["http://a:2379", "http://b:2379"]. */
export function parseEndpoints(value: string): string[] {
  const endpoints = value.split(",").map((part) => part.trim()).filter(Boolean).map(normalizeEndpoint);
  if (endpoints.length === 0) throw new Error("--etcd needs at least one endpoint (host:port, comma-separated)");
  return endpoints;
}
