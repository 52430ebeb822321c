// The embedded default store: a folder of YAML files (recursive, *.yaml / *.yml), re-read on change.
//
// Change detection is fs.watch (recursive) plus a periodic rescan, because watches miss events: editors replace
// files by rename, folders appear and disappear, and inotify drops events under load. Either way the store rescans
// the whole folder after a short quiet period and compares file contents, so a burst of writes (a `git checkout`,
// an editor's save dance) becomes one change with one new revision. Parse errors are recorded per file and
// reported through errors(); they never throw and never leave a half-read folder behind.
import { watch, type FSWatcher } from "node:fs";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import pino, { type Logger } from "pino";
import { stringify } from "yaml";
import { listConfigFiles, parseYaml, type Issue, type SourcedDocument } from "../config/index.ts";
import {
  RevisionCompactedError, RevisionConflictError,
  type ConfigEvent, type ConfigStore, type ResourceKey, type StoredResource, type WatchOptions,
} from "./types.ts";

export interface FolderStoreOptions {
  /** Quiet time after a file event before rescanning (default 50 ms). */
  debounceMs?: number;
  /** Full rescan period, the safety net for missed watch events (default 5 s; 0 disables). */
  resyncIntervalMs?: number;
  /** Namespace of documents that name none (default "default"), used for resource keys. */
  defaultNamespace?: string;
  /** Events kept for watch resumption (default 10,000). */
  historyLimit?: number;
  logger?: Logger;
}

interface FileState {
  text: string;
  documents: SourcedDocument[];
  errors: Issue[];
}

export class FolderStore implements ConfigStore {
  private readonly debounceMs: number;
  private readonly resyncIntervalMs: number;
  private readonly defaultNamespace: string;
  private readonly historyLimit: number;
  private readonly logger: Logger;

  private files = new Map<string, FileState>();
  private resources = new Map<string, StoredResource>();
  private documentList: SourcedDocument[] = [];
  private errorList: Issue[] = [];
  private currentRevision = 0;
  private history: ConfigEvent[] = [];
  /** Events at or below this revision are no longer in `history`. */
  private compactedThrough = 0;
  private synced = false;
  private stopped = false;

  private readonly folderWatchers = new Map<string, FSWatcher>();
  private debounceTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private rescanRequested = false;
  private readonly changeListeners = new Set<() => void>();
  private readonly watchers = new Set<(events: ConfigEvent[]) => void>();

  constructor(readonly dir: string, options: FolderStoreOptions = {}) {
    this.debounceMs = options.debounceMs ?? 50;
    this.resyncIntervalMs = options.resyncIntervalMs ?? 5000;
    this.defaultNamespace = options.defaultNamespace ?? "default";
    this.historyLimit = options.historyLimit ?? 10_000;
    this.logger = options.logger ?? pino({ enabled: false });
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.rescan();
    this.synced = true;
    this.syncWatchers([...this.files.keys()]);
    if (this.resyncIntervalMs > 0) {
      this.resyncTimer = setInterval(() => this.scheduleRescan(0), this.resyncIntervalMs);
      this.resyncTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const watcher of this.folderWatchers.values()) watcher.close();
    this.folderWatchers.clear();
    clearTimeout(this.debounceTimer);
    clearInterval(this.resyncTimer);
    await this.scanning;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  revision(): number {
    return this.currentRevision;
  }

  documents(): SourcedDocument[] {
    return this.documentList;
  }

  errors(): Issue[] {
    return this.errorList;
  }

  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  get(kind: string, namespace: string, name: string): StoredResource | undefined {
    return this.resources.get(keyString({ kind, namespace, name }));
  }

  list(kind?: string, namespace?: string): StoredResource[] {
    return [...this.resources.values()].filter((resource) =>
      (kind === undefined || resource.kind === kind) && (namespace === undefined || resource.namespace === namespace));
  }

  watch(listener: (events: ConfigEvent[]) => void, options: WatchOptions = {}): () => void {
    const from = options.fromRevision;
    if (from !== undefined) {
      if (from < this.compactedThrough) throw new RevisionCompactedError(from, this.compactedThrough);
      const missed = this.history.filter((event) => event.revision > from);
      if (missed.length > 0) queueMicrotask(() => { if (this.watchers.has(listener)) listener(missed); });
    }
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  async create(document: Record<string, unknown>): Promise<number> {
    const key = this.keyOf(document);
    if (!key) throw new Error("a resource needs kind and metadata.name");
    await this.settle();
    if (this.resources.has(keyString(key))) throw new Error(`${keyString(key)} already exists (at ${this.resources.get(keyString(key))!.source})`);
    const file = join(this.dir, key.namespace, `${key.kind.toLowerCase()}-${key.name}.yaml`);
    if (this.files.has(file)) throw new Error(`${relative(this.dir, file)} already exists; choose another name`);
    await writeAtomically(file, stringify(document));
    return this.rescanNow();
  }

  async update(document: Record<string, unknown>, expectedRevision?: number): Promise<number> {
    const key = this.keyOf(document);
    if (!key) throw new Error("a resource needs kind and metadata.name");
    await this.settle();
    const file = this.soleFileOf(key, expectedRevision);
    await writeAtomically(file, stringify(document));
    return this.rescanNow();
  }

  async delete(key: ResourceKey, expectedRevision?: number): Promise<number> {
    await this.settle();
    const file = this.soleFileOf(key, expectedRevision);
    await rm(file);
    return this.rescanNow();
  }

  /** Waits for pending file events to be read, so callers and tests see the folder as it is now. */
  async settle(): Promise<void> {
    if (this.debounceTimer || this.scanning) await this.rescanNow();
  }

  // ---------------------------------------------------------------------------------------------------------------

  /** The file that holds only this resource; writes through the store never rewrite someone's multi-document file. */
  private soleFileOf(key: ResourceKey, expectedRevision: number | undefined): string {
    const existing = this.resources.get(keyString(key));
    if (expectedRevision !== undefined && existing?.revision !== expectedRevision) {
      throw new RevisionConflictError(key, expectedRevision, existing?.revision);
    }
    if (!existing) throw new Error(`${keyString(key)} does not exist`);
    const file = join(this.dir, existing.source.replace(/:\d+$/, ""));
    const state = this.files.get(file);
    if (!state || state.documents.length !== 1) {
      throw new Error(`${keyString(key)} is defined in ${existing.source} together with other documents; edit that file instead`);
    }
    return file;
  }

  private keyOf(document: Record<string, unknown>): ResourceKey | undefined {
    const kind = document["kind"];
    const metadata = document["metadata"];
    if (typeof kind !== "string" || typeof metadata !== "object" || metadata === null) return undefined;
    const { name, namespace } = metadata as Record<string, unknown>;
    if (typeof name !== "string" || name === "") return undefined;
    return { kind, name, namespace: typeof namespace === "string" && namespace !== "" ? namespace : this.defaultNamespace };
  }

  /**
   * Watches every folder that holds config (not the files: an editor's save replaces the file, and a watch on the
   * old file would go quiet). Node's recursive watch on Linux watches files, so each folder gets its own watch.
   */
  private syncWatchers(paths: readonly string[]): void {
    if (this.stopped) return;
    const folders = new Set<string>([this.dir]);
    for (const path of paths) {
      for (let folder = dirname(path); folder.startsWith(this.dir) && folder !== this.dir; folder = dirname(folder)) folders.add(folder);
    }
    for (const [folder, watcher] of this.folderWatchers) {
      if (!folders.has(folder)) {
        watcher.close();
        this.folderWatchers.delete(folder);
      }
    }
    for (const folder of folders) {
      if (this.folderWatchers.has(folder)) continue;
      try {
        const watcher = watch(folder, { persistent: false }, () => this.scheduleRescan(this.debounceMs));
        watcher.on("error", (error) => {
          this.logger.warn({ dir: folder, err: error.message }, "config folder watch failed; relying on periodic rescans");
          watcher.close();
          this.folderWatchers.delete(folder);
        });
        this.folderWatchers.set(folder, watcher);
      } catch (error) {
        // The folder may be gone already; the periodic rescan notices what changed.
        this.logger.warn({ dir: folder, err: (error as Error).message }, "cannot watch config folder");
      }
    }
  }

  private scheduleRescan(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      void this.rescan().catch((error: unknown) => this.logger.error({ err: (error as Error).message }, "config folder rescan failed"));
    }, delayMs);
  }

  private async rescanNow(): Promise<number> {
    clearTimeout(this.debounceTimer);
    this.debounceTimer = undefined;
    await this.rescan();
    return this.currentRevision;
  }

  /** One rescan at a time; a request during a scan runs one more afterwards. */
  private rescan(): Promise<void> {
    if (this.scanning) {
      this.rescanRequested = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      try {
        do {
          this.rescanRequested = false;
          await this.scanOnce();
        } while (this.rescanRequested && !this.stopped);
      } finally {
        this.scanning = undefined;
      }
    })();
    return this.scanning;
  }

  private async scanOnce(): Promise<void> {
    const folderErrors: Issue[] = [];
    let paths: string[] = [];
    try {
      const info = await stat(this.dir);
      if (!info.isDirectory()) throw new Error("not a directory");
      paths = await listConfigFiles(this.dir);
      if (this.synced) this.syncWatchers(paths);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such directory" : (error as Error).message;
      folderErrors.push({ path: this.dir, message: `cannot read config folder: ${reason}`, source: this.dir });
    }

    const next = new Map<string, FileState>();
    let changed = this.files.size !== paths.length || folderErrors.length !== this.errorList.filter((issue) => issue.path === this.dir).length;
    for (const path of paths) {
      let text: string;
      try {
        text = await readFile(path, "utf8");
      } catch (error) {
        // Deleted between listing and reading (an editor's rename dance): the next scan settles it.
        if ((error as NodeJS.ErrnoException).code === "ENOENT") { this.rescanRequested = true; continue; }
        text = `\u0000unreadable: ${(error as Error).message}`;
      }
      const previous = this.files.get(path);
      if (previous && previous.text === text) { next.set(path, previous); continue; }
      changed = true;
      next.set(path, this.parseFile(path, text));
    }
    if (!changed && [...this.files.keys()].every((path) => next.has(path))) return;

    const documents: SourcedDocument[] = [];
    const errors: Issue[] = [...folderErrors];
    for (const state of next.values()) {
      documents.push(...state.documents);
      errors.push(...state.errors);
    }
    const revision = this.currentRevision + 1;
    const events = this.diffResources(documents, revision);
    this.files = next;
    this.documentList = documents;
    this.errorList = errors;
    this.currentRevision = revision;
    this.record(events);
    this.logger.info({ dir: this.dir, revision, files: next.size, documents: documents.length, errors: errors.length, events: events.length }, "config folder changed");
    if (events.length > 0) for (const watcher of [...this.watchers]) this.safely(() => watcher(events));
    for (const listener of [...this.changeListeners]) this.safely(listener);
  }

  private parseFile(path: string, text: string): FileState {
    const source = relative(this.dir, path);
    if (text.startsWith("\u0000unreadable: ")) {
      return { text, documents: [], errors: [{ path: source, message: `cannot read: ${text.slice(13)}`, source }] };
    }
    const { documents, errors } = parseYaml(text, source);
    return { text, documents, errors };
  }

  private diffResources(documents: readonly SourcedDocument[], revision: number): ConfigEvent[] {
    const next = new Map<string, StoredResource>();
    const events: ConfigEvent[] = [];
    for (const document of documents) {
      const raw = document.document;
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) continue;
      const key = this.keyOf(raw as Record<string, unknown>);
      if (!key || next.has(keyString(key))) continue; // validation reports these
      const id = keyString(key);
      const previous = this.resources.get(id);
      const same = previous && JSON.stringify(previous.document) === JSON.stringify(raw);
      const resource: StoredResource = {
        ...key,
        document: raw as Record<string, unknown>,
        source: document.source,
        revision: same ? previous.revision : revision,
      };
      next.set(id, resource);
      if (!previous) events.push({ type: "added", resource, revision });
      else if (!same) events.push({ type: "modified", resource, revision });
    }
    for (const [id, previous] of this.resources) {
      if (!next.has(id)) events.push({ type: "deleted", resource: { ...previous, revision }, revision });
    }
    this.resources = next;
    return events;
  }

  private record(events: readonly ConfigEvent[]): void {
    this.history.push(...events);
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.splice(0, this.history.length - this.historyLimit);
      this.compactedThrough = dropped[dropped.length - 1]!.revision;
      // Keep whole revisions: a watcher resuming mid-revision would miss part of a change.
      while (this.history.length > 0 && this.history[0]!.revision <= this.compactedThrough) this.history.shift();
    }
  }

  private safely(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.logger.error({ err: (error as Error).message }, "config change listener failed");
    }
  }
}

function keyString(key: ResourceKey): string {
  return `${key.kind}/${key.namespace}/${key.name}`;
}

/** Write to a hidden temporary file and rename it over the target, so a reader never sees half a file. */
async function writeAtomically(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temporary = join(dirname(file), `.${process.pid}.${Date.now()}.tmp`);
  await writeFile(temporary, text);
  await rename(temporary, file);
}
