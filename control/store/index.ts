// Config stores: where the mesh YAML comes from. FolderStore is the embedded default; EtcdStore (./etcd.ts, imported
// directly so that folder users do not load the etcd client) keeps it in etcd for several control replicas.
export {
  RevisionCompactedError, RevisionConflictError, StaleBasisError,
  type ConfigEvent, type ConfigEventType, type ConfigStore, type ResourceKey, type StoredResource, type WatchOptions,
} from "./types.ts";
export { FolderStore, type FolderStoreOptions } from "./folder.ts";
export { validateStore } from "./validate.ts";
export {
  MeshValidationError, commitPlan, planApply, isTransactional, resourceKeyOf,
  type ApplyPlan, type ChangeAction, type ResourceChange, type TransactionalStore,
} from "./apply.ts";
