// `as-mesh get KIND [NAME] [-n NS | -A] [-o table|yaml|json]`: reads resources from the store the control service
// uses, as stored (not defaulted), with the store revision each last changed at.
import { stringify } from "yaml";
import type { StoredResource } from "../store/index.ts";
import { openTargetStore, processIO, resolveKind, type CommandIO, type StoreTargetOptions } from "./store_target.ts";

export interface GetCommandOptions extends StoreTargetOptions {
  namespace: string;
  allNamespaces?: boolean;
  output: string;
}

export async function runGet(kindArgument: string, name: string | undefined, options: GetCommandOptions, io: CommandIO = processIO): Promise<number> {
  if (!["table", "yaml", "json"].includes(options.output)) throw new Error(`-o ${options.output}: expected table, yaml or json`);
  const kind = kindArgument === "all" ? undefined : resolveKind(kindArgument);
  const store = await openTargetStore(options);
  let resources: StoredResource[];
  try {
    resources = store.list(kind, options.allNamespaces ? undefined : options.namespace)
      .filter((resource) => name === undefined || resource.name === name)
      .sort((a, b) => `${a.kind}/${a.namespace}/${a.name}`.localeCompare(`${b.kind}/${b.namespace}/${b.name}`));
  } finally {
    await store.stop();
  }
  if (name !== undefined && resources.length === 0) {
    io.err(`${kind ?? "resource"} "${name}" not found in namespace ${options.allNamespaces ? "(any)" : options.namespace}\n`);
    return 1;
  }
  if (options.output === "json") {
    const documents = resources.map((resource) => resource.document);
    io.out(`${JSON.stringify(name !== undefined && documents.length === 1 ? documents[0] : { apiVersion: "v1", kind: "List", items: documents }, null, 2)}\n`);
  } else if (options.output === "yaml") {
    io.out(resources.map((resource) => stringify(resource.document)).join("---\n"));
  } else {
    io.out(table(resources));
  }
  return 0;
}

function table(resources: readonly StoredResource[]): string {
  if (resources.length === 0) return "No resources found.\n";
  const rows = [["KIND", "NAMESPACE", "NAME", "REVISION", "SOURCE"],
    ...resources.map((resource) => [resource.kind, resource.namespace, resource.name, String(resource.revision), resource.source])];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join("  ")).join("\n") + "\n";
}
