// Local stand-ins for the demo's official images, for machines that cannot pull from a registry: each is
// `FROM scratch` with one binary and the shared libraries `ldd` lists for it (the dynamic loader included), so
// building one takes about a second. They run the compose file unchanged: the same command lines work in both
// (envoy and node on PATH, prometheus and k6 as the entrypoint, as in the official images).
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export class ImageBuildError extends Error {}

export interface LocalImage {
  /** The compose variable that selects this image (ENVOY_IMAGE, ...). */
  variable: string;
  tag: string;
  binary: string;
  /** Where the binary goes in the image. */
  installPath: string;
  /** ENTRYPOINT (exec form); none means the compose command names the binary, found on PATH. */
  entrypoint?: string[];
  /** Empty directories the program writes to (Prometheus' /prometheus). */
  directories?: string[];
}

/** Shared libraries a binary loads, from `ldd` (absolute paths, the loader included). */
export function sharedLibraries(binary: string): string[] {
  const result = spawnSync("ldd", [binary], { encoding: "utf8" });
  const output = `${result.stdout}${result.stderr}`;
  if (/not a dynamic executable|statically linked/.test(output)) return [];
  if (result.status !== 0) throw new ImageBuildError(`ldd ${binary} failed: ${output.trim()}`);
  const libraries: string[] = [];
  for (const line of output.split("\n")) {
    if (/not found/.test(line)) throw new ImageBuildError(`${binary} needs a library that is missing here: ${line.trim()}`);
    const match = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (match) libraries.push(match[1]);
  }
  return libraries;
}

function docker(args: string[], cwd?: string): string {
  const result = spawnSync("docker", args, { encoding: "utf8", cwd, maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new ImageBuildError(`docker ${args.join(" ")} failed: ${(result.stderr || result.stdout || String(result.error)).trim()}`);
  return result.stdout;
}

/** Builds one image; the build context holds the binary and its libraries at their paths on this machine. */
export function buildImage(image: LocalImage): void {
  if (!existsSync(image.binary)) throw new ImageBuildError(`${image.binary} does not exist (needed for ${image.tag})`);
  const context = mkdtempSync(join(tmpdir(), "as-mesh-image-"));
  try {
    const root = join(context, "rootfs");
    const place = (source: string, target: string) => {
      mkdirSync(join(root, dirname(target)), { recursive: true });
      // Copy the file a symlink points at, under the symlink's name: the loader asks for the name.
      copyFileSync(realpathSync(source), join(root, target));
    };
    place(image.binary, image.installPath);
    for (const library of sharedLibraries(image.binary)) place(library, library);
    for (const directory of [...(image.directories ?? []), "/tmp"]) mkdirSync(join(root, directory), { recursive: true });
    const lines = [
      "FROM scratch",
      "COPY rootfs/ /",
      `ENV PATH=${dirname(image.installPath)}:/usr/local/bin:/usr/bin:/bin`,
      ...(image.entrypoint ? [`ENTRYPOINT ${JSON.stringify(image.entrypoint)}`] : []),
      `LABEL org.opencontainers.image.description="as-mesh demo stand-in built from ${image.binary}"`,
    ];
    writeFileSync(join(context, "Dockerfile"), lines.join("\n") + "\n");
    docker(["build", "--quiet", "--tag", image.tag, "."], context);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

export interface LocalImageSources {
  envoy: string;
  node: string;
  prometheus: string;
  /** k6 is only needed by the `load` profile; absent when not built. */
  k6?: string;
}

export function localImages(sources: LocalImageSources): LocalImage[] {
  const images: LocalImage[] = [
    { variable: "ENVOY_IMAGE", tag: "as-mesh-local/envoy:1.40.0", binary: sources.envoy, installPath: "/usr/local/bin/envoy" },
    { variable: "NODE_IMAGE", tag: `as-mesh-local/node:${process.versions.node}`, binary: sources.node, installPath: "/usr/local/bin/node" },
    {
      variable: "PROMETHEUS_IMAGE", tag: "as-mesh-local/prometheus:debian", binary: sources.prometheus,
      installPath: "/bin/prometheus", entrypoint: ["/bin/prometheus"], directories: ["/prometheus"],
    },
  ];
  if (sources.k6) images.push({ variable: "K6_IMAGE", tag: "as-mesh-local/k6:local", binary: sources.k6, installPath: "/usr/bin/k6", entrypoint: ["/usr/bin/k6"] });
  return images;
}

/** Builds every local image; returns the compose variables that select them. */
export function buildLocalImages(sources: LocalImageSources): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const image of localImages(sources)) {
    buildImage(image);
    variables[image.variable] = image.tag;
  }
  return variables;
}
