// Config stores: where the mesh YAML comes from. FolderStore is the embedded default.
export {
  RevisionCompactedError, RevisionConflictError,
  type ConfigEvent, type ConfigEventType, type ConfigStore, type ResourceKey, type StoredResource, type WatchOptions,
} from "./types.ts";
export { FolderStore, type FolderStoreOptions } from "./folder.ts";
export { validateStore } from "./validate.ts";
