// Runs docker-compose.yml for real on this machine: makes sure a Docker engine runs (installs Debian's docker.io
// and docker-compose when missing, starts dockerd when it is not running), builds the local stand-in images
// (scripts/demo/images.ts) unless told to use the official ones, brings the mesh up under its own project name,
// reports the published URLs, and brings it down again (containers, networks and volumes) however the run ends.
import { execFile, spawn, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureEnvoy, projectRoot, toolsDir } from "../tools.ts";
import { ensurePrometheus } from "../../tests/harness/prometheus.ts";
import { buildLocalImages } from "./images.ts";
import { COMPOSE_MESH_ROOT, PUBLISHED } from "./compose.ts";
import { COMPOSE_PATHS } from "./compose_layout.ts";
import type { MeshFiles } from "./tour.ts";
import { gatewayEndpoint, type GatewayEndpoint } from "./gateway_client.ts";

/** No engine can run here (no apt-get to install it, not root, dockerd refuses to start): the only reason to skip. */
export class DockerUnavailableError extends Error {}
export class ComposeError extends Error {}

export const PROJECT = "asm-demo";
const DOCKERD_LOG = "/var/log/as-mesh-dockerd.log";

function run(command: string, args: string[], env?: Record<string, string>, input?: string): { ok: boolean; output: string; stdout: string } {
  const result = spawnSync(command, args, {
    input,
    encoding: "utf8", maxBuffer: 64 * 1024 * 1024, cwd: projectRoot,
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive", ...env },
  });
  return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? ""}${result.error ?? ""}`, stdout: result.stdout ?? "" };
}

const has = (command: string) => run("sh", ["-c", `command -v ${command}`]).ok;
const tail = (text: string, lines = 12) => text.trim().split("\n").slice(-lines).join("\n");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function aptInstall(packages: string[], log: (line: string) => void): void {
  if (!has("apt-get")) throw new DockerUnavailableError(`${packages.join(", ")} missing and apt-get is not available to install them`);
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    throw new DockerUnavailableError(`${packages.join(", ")} missing and installing Debian's packages needs root`);
  }
  log(`installing Debian's ${packages.join(" ")} (apt-get) ...`);
  const lock = ["-o", "DPkg::Lock::Timeout=300"];
  const update = run("apt-get", [...lock, "update"]);
  if (!update.ok) throw new DockerUnavailableError(`apt-get update failed:\n${tail(update.output)}`);
  const install = run("apt-get", [...lock, "install", "-y", "--no-install-recommends", ...packages]);
  if (!install.ok) throw new DockerUnavailableError(`apt-get install ${packages.join(" ")} failed:\n${tail(install.output)}`);
}

/** The compose command: Compose v2 (`docker compose`) when the CLI has it, else Debian's docker-compose. */
export function composeCommand(): string[] {
  if (run("docker", ["compose", "version"]).ok) return ["docker", "compose"];
  if (has("docker-compose")) return ["docker-compose"];
  throw new DockerUnavailableError("neither `docker compose` nor `docker-compose` is available");
}

/** Installs and starts the engine when needed; resolves once `docker info` answers. */
export async function ensureDockerEngine(log: (line: string) => void = (line) => process.stderr.write(line + "\n")): Promise<void> {
  const missing = [
    ...(!has("dockerd") ? ["docker.io"] : []),
    ...(!run("docker", ["compose", "version"]).ok && !has("docker-compose") ? ["docker-compose"] : []),
  ];
  if (missing.length) aptInstall(missing, log);
  if (run("docker", ["info"]).ok) return;
  log("starting dockerd ...");
  const logFd = openSync(DOCKERD_LOG, "a");
  // Detached: the engine outlives this run (like a system service) and is reused by the next one.
  const daemon = spawn("dockerd", [], { detached: true, stdio: ["ignore", logFd, logFd] });
  closeSync(logFd);
  daemon.unref();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (run("docker", ["info"]).ok) return;
    if (daemon.exitCode !== null) break;
    await sleep(500);
  }
  const logTail = existsSync(DOCKERD_LOG) ? tail(run("tail", ["-n", "15", DOCKERD_LOG]).output) : "";
  throw new DockerUnavailableError(`dockerd did not start (see ${DOCKERD_LOG}):\n${logTail}`);
}

export interface ComposeMesh {
  /** The edge gateway's HTTPS server as published, with a copy of the mesh root taken from the control container. */
  gateway: GatewayEndpoint;
  issuerUrl: string;
  prometheusUrl: string;
  /** The control service's admin (for `as-mesh proxy-status`). */
  controlAdminUrl: string;
  /** The mesh YAML the control service watches, in its container's mesh-config volume. */
  meshFiles: MeshFiles;
  /** Restarts one service's containers without blocking (requests keep flowing meanwhile). */
  restart(service: string): Promise<void>;
  /** Logs of every container, for a failure report. */
  logs(): string;
  down(): void;
}

export interface ComposeUpOptions {
  /** Build and use the local stand-in images (the default: no registry is needed). */
  localImages?: boolean;
  /** Let Docker choose the published host ports (tests) instead of 8443/8080/9090. */
  ephemeralPorts?: boolean;
  log?: (line: string) => void;
}

/** Containers, networks and volumes of the demo's compose project that exist now (for leftovers checks). */
export function projectResources(): { containers: string[]; networks: string[]; volumes: string[] } {
  const label = `label=com.docker.compose.project=${PROJECT}`;
  const lines = (output: string) => output.split("\n").map((line) => line.trim()).filter(Boolean);
  return {
    containers: lines(run("docker", ["ps", "-a", "--filter", label, "--format", "{{.Names}}"]).output),
    networks: lines(run("docker", ["network", "ls", "--filter", label, "--format", "{{.Name}}"]).output),
    volumes: lines(run("docker", ["volume", "ls", "--filter", label, "--format", "{{.Name}}"]).output),
  };
}

export async function composeUp(options: ComposeUpOptions = {}): Promise<ComposeMesh> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + "\n"));
  await ensureDockerEngine(log);
  const compose = composeCommand();
  const env: Record<string, string> = {};
  if (options.localImages ?? true) {
    // k6 only serves the `load` profile: use a k6 already built (scripts/tools.ts k6), never build one here.
    const k6 = process.env.K6_BIN ?? join(toolsDir, "bin", "k6");
    Object.assign(env, buildLocalImages({
      envoy: ensureEnvoy(log), node: process.execPath, prometheus: ensurePrometheus(log), k6: existsSync(k6) ? k6 : undefined,
    }));
  }
  if (options.ephemeralPorts) for (const variable of Object.keys(PUBLISHED)) env[variable] = "0";
  const composeRun = (args: string[], input?: string) => run(compose[0], [...compose.slice(1), "-p", PROJECT, ...args], env, input);
  // The scratch images have no shell: node reads or writes the file (exec works in Compose v1 and v2 alike).
  const meshPath = (file: string) => `${COMPOSE_PATHS.meshConfig}/${file}`;
  const meshFiles: MeshFiles = {
    describe: (file) => `control:${meshPath(file)}`,
    read(file) {
      const answer = composeRun(["exec", "-T", "control", "node", "-e", "process.stdout.write(require('fs').readFileSync(process.argv[1]))", meshPath(file)]);
      if (!answer.ok) throw new ComposeError(`reading ${meshPath(file)} in the control container failed: ${tail(answer.output)}`);
      return answer.stdout;
    },
    write(file, text) {
      const answer = composeRun(["exec", "-T", "control", "node", "-e", "require('fs').writeFileSync(process.argv[1], require('fs').readFileSync(0))", meshPath(file)], text);
      if (!answer.ok) throw new ComposeError(`writing ${meshPath(file)} in the control container failed: ${tail(answer.output)}`);
    },
  };
  // Where the mesh root copied out of the control container goes, for this machine's clients of the edge.
  let rootDir: string | undefined;
  const down = () => {
    composeRun(["--profile", "load", "down", "--volumes", "--remove-orphans", "--timeout", "5"]);
    if (rootDir) rmSync(rootDir, { recursive: true, force: true });
  };
  const logs = () => tail(composeRun(["logs", "--no-color", "--tail", "20"]).output, 200);
  down(); // a crashed run's containers
  const up = composeRun(["up", "--detach", "--no-build"]);
  if (!up.ok) {
    const shown = logs();
    down();
    throw new ComposeError(`compose up failed:\n${tail(up.output)}\n${shown}`);
  }
  /** host:port on this machine where a service's container port is published. */
  const published = (variable: keyof typeof PUBLISHED): { host: string; port: number } => {
    const { service, container } = PUBLISHED[variable];
    const answer = composeRun(["port", service, String(container)]);
    const address = answer.output.trim().split("\n").pop() ?? "";
    const match = /^(.*):(\d+)$/.exec(address);
    if (!answer.ok || !match) throw new ComposeError(`no published port for ${service}:${container}: ${answer.output.trim()}`);
    return { host: match[1] === "0.0.0.0" ? "127.0.0.1" : match[1], port: Number(match[2]) };
  };
  const httpUrl = (variable: keyof typeof PUBLISHED) => {
    const { host, port } = published(variable);
    return `http://${host}:${port}`;
  };
  try {
    // The control container is healthy once `up` returns (every proxy depends on it), so its CA has written the root.
    const root = composeRun(["exec", "-T", "control", "node", "-e", "process.stdout.write(require('fs').readFileSync(process.argv[1]))", COMPOSE_MESH_ROOT]);
    if (!root.ok || !root.stdout.includes("BEGIN CERTIFICATE")) throw new ComposeError(`reading the mesh root ${COMPOSE_MESH_ROOT} in the control container failed: ${tail(root.output)}`);
    rootDir = mkdtempSync(join(tmpdir(), "as-mesh-compose-"));
    const rootFile = join(rootDir, "mesh-root.pem");
    writeFileSync(rootFile, root.stdout);
    const gateway = () => {
      const { host, port } = published("GATEWAY_HTTPS_PORT");
      return gatewayEndpoint(host, port, rootFile);
    };
    const mesh: ComposeMesh = {
      gateway: gateway(),
      issuerUrl: httpUrl("ISSUER_PORT"),
      prometheusUrl: httpUrl("PROMETHEUS_PORT"),
      controlAdminUrl: httpUrl("CONTROL_PORT"),
      meshFiles,
      async restart(service) {
        await promisify(execFile)(compose[0], [...compose.slice(1), "-p", PROJECT, "restart", "--timeout", "5", service], {
          cwd: projectRoot, env: { ...process.env, ...env }, timeout: 120_000,
        });
        // A port Docker chose (ephemeralPorts) is chosen again when the container restarts.
        for (const variable of Object.keys(PUBLISHED) as Array<keyof typeof PUBLISHED>) {
          if (PUBLISHED[variable].service !== service) continue;
          if (variable === "GATEWAY_HTTPS_PORT") mesh.gateway = gateway();
          if (variable === "ISSUER_PORT") mesh.issuerUrl = httpUrl(variable);
          if (variable === "PROMETHEUS_PORT") mesh.prometheusUrl = httpUrl(variable);
          if (variable === "CONTROL_PORT") mesh.controlAdminUrl = httpUrl(variable);
        }
      },
      logs,
      down,
    };
    return mesh;
  } catch (error) {
    down();
    throw error;
  }
}
