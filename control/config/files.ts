// Reading config from files and folders, shared by `as-mesh validate` and the folder store: folders are walked
// recursively for *.yaml / *.yml in a stable (sorted) order, so the same tree always yields the same documents.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join, relative } from "node:path";
import { parseYaml, type Issue, type SourcedDocument } from "./parse.ts";
import { validateMesh } from "./validate.ts";
import type { MeshOptions } from "./mesh.ts";

export const CONFIG_FILE = /\.ya?ml$/i;

/** Every config file under `dir` (recursive, sorted, hidden entries such as `.git` and editor swap files skipped). */
export async function listConfigFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (current: string): Promise<void> => {
    const entries = await readdir(current, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const full = join(current, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() && CONFIG_FILE.test(entry.name)) found.push(full);
    }
  };
  await walk(dir);
  return found;
}

export interface LoadedFiles {
  documents: SourcedDocument[];
  /** Unreadable paths and YAML syntax errors. */
  errors: Issue[];
  files: string[];
}

function listConfigFilesSync(dir: string): string[] {
  const found: string[] = [];
  const walk = (current: string): void => {
    const entries = readdirSync(current, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const full = join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && CONFIG_FILE.test(entry.name)) found.push(full);
    }
  };
  walk(dir);
  return found;
}

/**
 * Reads files and folders; `displayBase` makes sources relative ("mesh/ride.yaml:12") when given. Reads are
 * synchronous on purpose: for a one-shot check of a few dozen small files, thread-pool round trips cost more than
 * the reads (and `as-mesh validate` should answer in well under 100 ms).
 */
export async function readConfigPaths(paths: readonly string[], displayBase?: string): Promise<LoadedFiles> {
  const errors: Issue[] = [];
  const files: string[] = [];
  for (const path of paths) {
    try {
      if (statSync(path).isDirectory()) files.push(...listConfigFilesSync(path));
      else files.push(path);
    } catch (error) {
      errors.push({ path, message: `cannot read: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (error as Error).message}`, source: path });
    }
  }
  const texts = files.map((file) => {
    try {
      return readFileSync(file, "utf8");
    } catch (error) {
      errors.push({ path: file, message: `cannot read: ${(error as Error).message}`, source: file });
      return undefined;
    }
  });
  const documents: SourcedDocument[] = [];
  files.forEach((file, index) => {
    const text = texts[index];
    if (text === undefined) return;
    const parsed = parseYaml(text, displayBase ? relative(displayBase, file) || file : file);
    documents.push(...parsed.documents);
    errors.push(...parsed.errors);
  });
  return { documents, errors, files };
}

/**
 * `as-mesh validate PATH…`: the same checks the control service runs on a change, offline. `count` is the number of
 * resources read; any error means the control service would refuse this config.
 */
export async function validatePaths(paths: readonly string[], options: Partial<MeshOptions> = {}): Promise<{ errors: Issue[]; warnings: Issue[]; count: number }> {
  const loaded = await readConfigPaths(paths);
  const result = validateMesh(loaded.documents, options);
  return { errors: [...loaded.errors, ...result.errors], warnings: result.warnings, count: loaded.documents.length };
}
