// Versioned snapshots of Envoy resources per proxy group (see snapshot.ts and cache.ts).
export { Snapshot, ResourceLayer, sharedLayer, PUSH_ORDER, REMOVAL_ORDER, WILDCARD_TYPES, shortTypeName, isResourceTypeUrl, shortHash, versionOfSet } from "./snapshot.ts";
export type { PackedResource, Selection, SnapshotResources } from "./snapshot.ts";
export { SnapshotCache, InconsistentSnapshotError } from "./cache.ts";
export type { GroupSnapshot, SnapshotListener } from "./cache.ts";
export { findReferences } from "./references.ts";
export type { Reference } from "./references.ts";
