// The as-mesh filter modules the control service serves to Envoy over HTTP. A WasmPlugin names one with the URL
// `as-mesh://<name>` (e.g. `as-mesh://rate-limit`); translation turns that into a remote data source with the
// module's sha256, which Envoy checks before it loads the bytes.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";

export interface WasmModule {
  name: string;
  bytes: Buffer;
  sha256: string;
}

/** Loads every `<name>.wasm` in a folder (the build output), keyed by name. */
export function loadWasmModules(folder: string, names?: string[]): Map<string, WasmModule> {
  const modules = new Map<string, WasmModule>();
  if (!existsSync(folder)) return modules;
  for (const file of readdirSync(folder).sort()) {
    if (!file.endsWith(".wasm")) continue;
    const name = basename(file, ".wasm");
    if (names && !names.includes(name)) continue;
    const bytes = readFileSync(join(folder, file));
    modules.set(name, { name, bytes, sha256: createHash("sha256").update(bytes).digest("hex") });
  }
  return modules;
}

/** The HTTP path a module is served at on the admin port. */
export function wasmModulePath(name: string): string {
  return `/wasm/${encodeURIComponent(name)}.wasm`;
}
