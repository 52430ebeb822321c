// `as-mesh delete KIND NAME [-n NS]` or `as-mesh delete -f FILE|DIR`: removes resources from the store the control
// service reads, after checking that the mesh without them is still valid (nothing is removed otherwise).
import { readConfigPaths, type SourcedDocument } from "../config/index.ts";
import { planApply, resourceKeyOf, type ResourceKey } from "../store/index.ts";
import { executePlan } from "./apply.ts";
import { openTargetStore, processIO, resolveKind, type CommandIO, type StoreTargetOptions } from "./store_target.ts";

export interface DeleteCommandOptions extends StoreTargetOptions {
  filename?: string[];
  namespace: string;
  dryRun?: boolean;
  ignoreNotFound?: boolean;
}

export async function runDelete(kind: string | undefined, name: string | undefined, options: DeleteCommandOptions, io: CommandIO = processIO): Promise<number> {
  const keys: ResourceKey[] = [];
  if (options.filename && options.filename.length > 0) {
    if (kind) throw new Error("give either KIND NAME or -f FILE, not both");
    const loaded = await readConfigPaths(options.filename);
    for (const issue of loaded.errors) io.err(`Error: ${issue.source ?? issue.path}: ${issue.message}\n`);
    if (loaded.errors.length > 0) return 1;
    for (const document of loaded.documents as SourcedDocument[]) {
      const key = resourceKeyOf(document.document, options.namespace);
      if (!key) {
        io.err(`Error: ${document.source}: a resource needs kind and metadata.name\n`);
        return 1;
      }
      keys.push(key);
    }
  } else {
    if (!kind || !name) throw new Error("name what to delete: KIND NAME, or -f FILE|DIR");
    keys.push({ kind: resolveKind(kind), namespace: options.namespace, name });
  }
  const store = await openTargetStore(options);
  try {
    const plan = planApply(store, { remove: keys, ignoreNotFound: options.ignoreNotFound });
    return await executePlan(store, plan, options.dryRun ?? false, io);
  } finally {
    await store.stop();
  }
}
