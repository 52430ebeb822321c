// Validated writes, shared by every store and the apply/delete verbs: a planned change is checked against the whole
// mesh it would produce, so a write that would make the mesh invalid is refused with every error before anything is
// stored. Stores that can commit several changes atomically (etcd: one transaction) implement TransactionalStore;
// the folder store writes file by file after the same validation.
import {
  validateMesh, type Issue, type MeshOptions, type SourcedDocument,
} from "../config/index.ts";
import { RevisionConflictError, StaleBasisError, type ConfigStore, type ResourceKey, type StoredResource } from "./types.ts";

export type ChangeAction = "added" | "changed" | "removed" | "unchanged";

export interface ResourceChange {
  action: ChangeAction;
  key: ResourceKey;
  /** The stored resource before the change (absent for "added"). */
  before?: StoredResource;
  /** The document after the change (absent for "removed"). */
  after?: Record<string, unknown>;
}

export interface ApplyPlan {
  changes: ResourceChange[];
  /** The store revision the plan was made and validated at (a transactional commit refuses a stale one). */
  basis: number;
  /** What was asked, to validate again when the mesh moved on before the commit. */
  input: PlanInput;
  /** Errors of the mesh the change would produce, and of the input itself; non-empty means refused. */
  errors: Issue[];
  warnings: Issue[];
}

/**
 * A store that commits a plan's changes all or nothing, each guarded by the revision it was planned against, and,
 * given a basis, only if nothing else was committed after it (else StaleBasisError).
 */
export interface TransactionalStore extends ConfigStore {
  commit(changes: readonly ResourceChange[], basis?: number): Promise<number>;
  waitForRevision(revision: number, timeoutMs?: number): Promise<void>;
}

export function isTransactional(store: ConfigStore): store is TransactionalStore {
  return typeof (store as Partial<TransactionalStore>).commit === "function";
}

/** An apply refused because the mesh it would produce is invalid. */
export class MeshValidationError extends Error {
  constructor(readonly errors: readonly Issue[]) {
    super(`refused: the mesh would be invalid (${errors.length} error${errors.length === 1 ? "" : "s"}):\n${errors.map((issue) => `  ${issue.source ? `${issue.source}: ` : ""}${issue.path}: ${issue.message}`).join("\n")}`);
    this.name = "MeshValidationError";
  }
}

export function resourceKeyOf(document: unknown, defaultNamespace = "default"): ResourceKey | undefined {
  if (typeof document !== "object" || document === null || Array.isArray(document)) return undefined;
  const { kind, metadata } = document as Record<string, unknown>;
  if (typeof kind !== "string" || kind === "" || typeof metadata !== "object" || metadata === null) return undefined;
  const { name, namespace } = metadata as Record<string, unknown>;
  if (typeof name !== "string" || name === "") return undefined;
  return { kind, name, namespace: typeof namespace === "string" && namespace !== "" ? namespace : defaultNamespace };
}

export function keyString(key: ResourceKey): string {
  return `${key.kind}/${key.namespace}/${key.name}`;
}

export interface PlanInput {
  /** Documents to create or replace. */
  apply?: readonly SourcedDocument[];
  /** Resources to remove. */
  remove?: readonly ResourceKey[];
  /** A removal of something absent is an error (default), or skipped (delete --ignore-not-found). */
  ignoreNotFound?: boolean;
  meshOptions?: Partial<MeshOptions>;
}

/** Plans a change against the store's current content and validates the mesh it would produce. */
export function planApply(store: ConfigStore, input: PlanInput): ApplyPlan {
  const defaultNamespace = input.meshOptions?.defaultNamespace ?? "default";
  const errors: Issue[] = [];
  const changes = new Map<string, ResourceChange>();
  const replacedSources = new Set<string>();
  const applied: SourcedDocument[] = [];

  for (const sourced of input.apply ?? []) {
    const key = resourceKeyOf(sourced.document, defaultNamespace);
    if (!key) {
      errors.push({ path: "document", message: "a resource needs kind and metadata.name", source: sourced.source });
      continue;
    }
    const id = keyString(key);
    if (changes.has(id)) {
      errors.push({ path: id, message: "given twice in this apply", source: sourced.source });
      continue;
    }
    const before = store.get(key.kind, key.namespace, key.name);
    const after = sourced.document as Record<string, unknown>;
    const same = before !== undefined && canonical(before.document) === canonical(after);
    changes.set(id, { action: before ? (same ? "unchanged" : "changed") : "added", key, before, after });
    if (before) replacedSources.add(before.source);
    applied.push(sourced);
  }
  for (const key of input.remove ?? []) {
    const id = keyString(key);
    const before = store.get(key.kind, key.namespace, key.name);
    if (!before) {
      if (!input.ignoreNotFound) errors.push({ path: id, message: "not found" });
      continue;
    }
    if (changes.has(id)) {
      errors.push({ path: id, message: "both applied and deleted in one request" });
      continue;
    }
    changes.set(id, { action: "removed", key, before });
    replacedSources.add(before.source);
  }

  // The mesh after the change: every stored document except the replaced and removed ones, plus the applied ones.
  const kept = store.documents().filter((document) => {
    const key = resourceKeyOf(document.document, defaultNamespace);
    return !(key && changes.has(keyString(key))) && !replacedSources.has(document.source);
  });
  const readErrors = store.errors().filter((issue) => !issue.source || !replacedSources.has(issue.source));
  const result = validateMesh([...kept, ...applied], input.meshOptions);
  errors.push(...readErrors, ...result.errors);
  const ordered = [...changes.values()].sort((a, b) => keyString(a.key).localeCompare(keyString(b.key)));
  return { changes: ordered, basis: store.revision(), input, errors, warnings: result.warnings };
}

/** How many times a commit is validated again because other resources were committed in between. */
const STALE_BASIS_ATTEMPTS = 5;

/** Stores a validated plan: one transaction where the store has them, else change by change with revision checks. */
export async function commitPlan(store: ConfigStore, plan: ApplyPlan): Promise<number> {
  if (plan.errors.length > 0) throw new MeshValidationError(plan.errors);
  const effective = plan.changes.filter((change) => change.action !== "unchanged");
  if (effective.length === 0) return store.revision();
  if (isTransactional(store)) {
    // Applies to different resources do not conflict, but each was validated without the other: the mesh both
    // produce together is validated before the second commits (the resources it touches keep their guards).
    for (let attempt = 1; ; attempt++) {
      try {
        return await store.commit(effective, plan.basis);
      } catch (error) {
        if (!(error instanceof StaleBasisError) || attempt === STALE_BASIS_ATTEMPTS) throw error;
        await store.waitForRevision(error.revision);
        plan = revalidated(store, plan);
      }
    }
  }
  let revision = store.revision();
  for (const change of effective) {
    if (change.action === "added") revision = await store.create(change.after!);
    else if (change.action === "changed") revision = await store.update(change.after!, change.before!.revision);
    else revision = await store.delete(change.key, change.before!.revision);
  }
  return revision;
}

/** The plan validated again over the store's newer mesh; a resource it touches that moved meanwhile is a conflict. */
function revalidated(store: ConfigStore, plan: ApplyPlan): ApplyPlan {
  for (const change of plan.changes) {
    const current = store.get(change.key.kind, change.key.namespace, change.key.name)?.revision;
    if ((current ?? 0) !== (change.before?.revision ?? 0)) throw conflictOf(change, current);
  }
  const again = planApply(store, plan.input);
  if (again.errors.length > 0) throw new MeshValidationError(again.errors);
  return { ...plan, basis: again.basis, warnings: again.warnings };
}

/** The conflict a failed guarded write reports, from the revision now stored. */
export function conflictOf(change: ResourceChange, current: number | undefined): RevisionConflictError {
  return new RevisionConflictError(change.key, change.before?.revision ?? 0, current);
}

/** JSON with sorted keys, so two documents that differ only in key order compare equal. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (typeof inner !== "object" || inner === null || Array.isArray(inner)) return inner;
    return Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)));
  });
}
