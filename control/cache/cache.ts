// Snapshots by proxy group. Setting a snapshot notifies every stream watching the group; a snapshot that is not
// internally consistent is refused with its errors and the group keeps serving the previous one, so Envoy never
// receives a listener whose route, cluster endpoints or filter config this server cannot deliver.
import type { Snapshot } from "./snapshot.ts";

export class InconsistentSnapshotError extends Error {
  constructor(readonly group: string, readonly errors: string[]) {
    super(`snapshot for group ${group} refused (previous one kept):\n  ${errors.join("\n  ")}`);
    this.name = "InconsistentSnapshotError";
  }
}

/** A snapshot as held for a group, with when it was set (convergence time is measured from here to the ACK). */
export interface GroupSnapshot {
  readonly snapshot: Snapshot;
  readonly setAt: number;
}

export type SnapshotListener = (entry: GroupSnapshot) => void;

export class SnapshotCache {
  private readonly entries = new Map<string, GroupSnapshot>();
  private readonly listeners = new Map<string, Set<SnapshotListener>>();

  /**
   * Makes `snapshot` the group's config and tells the group's streams. Throws InconsistentSnapshotError (listing
   * every problem) when the snapshot is inconsistent; the group's previous snapshot stays in place.
   */
  setSnapshot(group: string, snapshot: Snapshot): void {
    const errors = snapshot.consistencyErrors();
    if (errors.length > 0) throw new InconsistentSnapshotError(group, errors);
    const previous = this.entries.get(group);
    if (previous?.snapshot === snapshot) return;
    const entry: GroupSnapshot = { snapshot, setAt: performance.now() };
    this.entries.set(group, entry);
    for (const listener of this.listeners.get(group) ?? []) listener(entry);
  }

  getSnapshot(group: string): Snapshot | undefined {
    return this.entries.get(group)?.snapshot;
  }

  getEntry(group: string): GroupSnapshot | undefined {
    return this.entries.get(group);
  }

  /** Forgets a group (e.g. when its last proxy disconnected); streams still watching it keep their state. */
  clearSnapshot(group: string): void {
    this.entries.delete(group);
  }

  groups(): string[] {
    return [...this.entries.keys()];
  }

  /** Calls `listener` on every snapshot set for the group from now on; returns the function that stops it. */
  watch(group: string, listener: SnapshotListener): () => void {
    let set = this.listeners.get(group);
    if (!set) {
      set = new Set();
      this.listeners.set(group, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(group) === set) this.listeners.delete(group);
    };
  }

  /** Number of streams watching each group. */
  watchers(group: string): number {
    return this.listeners.get(group)?.size ?? 0;
  }
}
