// Compiles every filter (filters/<name>/index.ts) and every test fixture (tests/fixtures/<name>/index.ts) to an
// optimized build/<name>.wasm exporting only the callbacks its contexts implement (callback_exports.ts), then
// checks that each module imports only what Envoy provides. It also generates the control service's Envoy API
// types first (scripts/protos.ts; skipped when up to date).
//   tsx scripts/build.ts [name ...]     (no names: build all)
import asc from "assemblyscript/asc";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { projectRoot } from "./tools.ts";
import { generateEnvoyTypes } from "./protos.ts";
import { CallbackExportPruner } from "./callback_exports.ts";

export interface WasmModuleEntry {
  name: string;
  entry: string;
}

export function listModules(): WasmModuleEntry[] {
  const modules: WasmModuleEntry[] = [];
  for (const folder of ["filters", join("tests", "fixtures")]) {
    const base = join(projectRoot, folder);
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base).sort()) {
      const entry = join(base, name, "index.ts");
      if (existsSync(entry)) modules.push({ name, entry });
    }
  }
  return modules;
}

/** Imports a module may have: the proxy-wasm ABI and the WASI calls Envoy implements. */
export function disallowedImports(wasm: Uint8Array<ArrayBuffer>): string[] {
  const module = new WebAssembly.Module(wasm);
  return WebAssembly.Module.imports(module)
    .map((entry) => `${entry.module}.${entry.name}`)
    .filter((name) => !/^env\.proxy_[a-z0-9_]+$/.test(name) && !/^wasi_snapshot_preview1\.[a-z_]+$/.test(name));
}

/**
 * Runs asc with `args` from `directory` (asc resolves asconfig.json, and its `use` elements, against the working
 * directory); throws with asc's own messages when compiling fails.
 */
export async function runAsc(directory: string, args: string[], transforms: object[] = []): Promise<void> {
  let stderrText = "";
  const previousDirectory = process.cwd();
  process.chdir(directory);
  let error: Error | null;
  try {
    ({ error } = await asc.main(args, {
      transforms: transforms as never, // asc fills in the Transform fields it does not use
      stdout: { write: () => true } as never,
      stderr: { write: (chunk: string) => { stderrText += chunk; return true; } } as never,
    }));
  } finally {
    process.chdir(previousDirectory);
  }
  if (error) throw new Error(`compiling ${args[0]} failed:\n${stderrText || error.message}`);
}

export async function buildModule(module: WasmModuleEntry, outDir = join(projectRoot, "build")): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  const outFile = join(outDir, `${module.name}.wasm`);
  await runAsc(projectRoot, [
    relative(projectRoot, module.entry), "--config", "asconfig.json", "--target", "release", "--outFile", outFile,
  ], [new CallbackExportPruner()]);
  const bad = disallowedImports(readFileSync(outFile));
  if (bad.length) throw new Error(`${outFile} imports functions Envoy does not provide: ${bad.join(", ")}`);
  return outFile;
}

export async function buildAll(names: string[] = []): Promise<string[]> {
  generateEnvoyTypes();
  const modules = listModules().filter((module) => names.length === 0 || names.includes(module.name));
  if (names.length && modules.length !== names.length) {
    const known = listModules().map((module) => module.name).join(", ");
    throw new Error(`unknown module in ${names.join(", ")} (known: ${known})`);
  }
  const outputs: string[] = [];
  for (const module of modules) {
    const started = Date.now();
    const outFile = await buildModule(module);
    const size = statSync(outFile).size;
    process.stdout.write(`built ${relative(projectRoot, outFile).padEnd(32)} ${(size / 1024).toFixed(1).padStart(7)} KiB  (${Date.now() - started} ms)\n`);
    outputs.push(outFile);
  }
  return outputs;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildAll(process.argv.slice(2)).catch((error: Error) => {
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(1);
  });
}
