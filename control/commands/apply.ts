// `as-mesh apply -f FILE|DIR`: creates or replaces resources in the store the control service reads, like
// `kubectl apply`. The mesh the change would produce is validated first; an invalid one is refused with every error
// and nothing is written. On etcd the whole apply is one transaction guarded by the revisions it was planned against,
// so a concurrent apply to the same resource makes one of them fail with a conflict instead of losing an update.
import { stringify } from "yaml";
import { formatIssue, readConfigPaths, type Issue, type SourcedDocument } from "../config/index.ts";
import {
  commitPlan, MeshValidationError, planApply, RevisionConflictError, type ApplyPlan, type ConfigStore, type ResourceChange,
} from "../store/index.ts";
import { unifiedDiff } from "./diff.ts";
import { openTargetStore, processIO, type CommandIO, type StoreTargetOptions } from "./store_target.ts";

export interface ApplyCommandOptions extends StoreTargetOptions {
  filename: string[];
  dryRun?: boolean;
}

export async function runApply(options: ApplyCommandOptions, io: CommandIO = processIO): Promise<number> {
  if (options.filename.length === 0) throw new Error("name what to apply: -f FILE|DIR (repeatable)");
  const loaded = await readConfigPaths(options.filename);
  if (loaded.errors.length > 0) return refuse(loaded.errors, io);
  const documents = expandLists(loaded.documents);
  if (documents.length === 0) {
    io.err(`no resources in ${options.filename.join(", ")}\n`);
    return 1;
  }
  const store = await openTargetStore(options);
  try {
    return await executePlan(store, planApply(store, { apply: documents }), options.dryRun ?? false, io);
  } finally {
    await store.stop();
  }
}

/** Prints the plan's diff, then commits it unless dry-running; shared with `delete`. */
export async function executePlan(store: ConfigStore, plan: ApplyPlan, dryRun: boolean, io: CommandIO): Promise<number> {
  if (plan.errors.length > 0) return refuse(plan.errors, io);
  for (const warning of plan.warnings) io.err(`Warning: ${formatIssue(warning)}\n`);
  io.out(describePlan(plan, dryRun));
  if (dryRun) {
    io.out("dry run: nothing written\n");
    return 0;
  }
  try {
    const revision = await commitPlan(store, plan);
    const changed = plan.changes.filter((change) => change.action !== "unchanged").length;
    io.out(changed === 0 ? "no changes\n" : `committed ${changed} change(s) at revision ${revision}\n`);
    return 0;
  } catch (error) {
    if (error instanceof RevisionConflictError) {
      io.err(`conflict: ${error.message}\nnothing was written; run the command again to apply over the new version\n`);
      return 1;
    }
    if (error instanceof MeshValidationError) return refuse(error.errors, io);
    throw error;
  }
}

/** kubectl-style one line per resource, then a unified diff for each changed one. */
export function describePlan(plan: ApplyPlan, dryRun: boolean): string {
  const verbs: Record<ResourceChange["action"], string> = { added: "created", changed: "configured", removed: "deleted", unchanged: "unchanged" };
  const suffix = dryRun ? " (dry run)" : "";
  let text = "";
  for (const change of plan.changes) text += `${change.key.kind}/${change.key.namespace}/${change.key.name} ${verbs[change.action]}${suffix}\n`;
  for (const change of plan.changes) {
    if (change.action === "unchanged") continue;
    const id = `${change.key.kind}/${change.key.namespace}/${change.key.name}`;
    const before = change.before ? stringify(change.before.document) : "";
    const after = change.after ? stringify(change.after) : "";
    const from = change.before ? `${id} (revision ${change.before.revision})` : "/dev/null";
    const to = change.after ? `${id} (applied)` : "/dev/null";
    text += unifiedDiff(before, after, from, to);
  }
  return text;
}

function refuse(errors: readonly Issue[], io: CommandIO): number {
  for (const issue of errors) io.err(`Error: ${formatIssue(issue)}\n`);
  io.err(`refused: ${errors.length} error(s); nothing was written\n`);
  return 1;
}

/** `kind: List` exports (kubectl get -o yaml) apply item by item. */
function expandLists(documents: readonly SourcedDocument[]): SourcedDocument[] {
  return documents.flatMap((sourced) => {
    const value = sourced.document as { kind?: unknown; items?: unknown } | null;
    if (value && typeof value === "object" && value.kind === "List" && Array.isArray(value.items)) {
      return value.items.map((item, index) => ({ source: `${sourced.source} items[${index}]`, document: item }));
    }
    return [sourced];
  });
}
