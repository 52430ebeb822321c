// Generates TypeScript types for the Envoy v3 API (control/api/gen/, git-ignored) with buf and protoc-gen-es,
// from the .proto files pinned by the npm package @grpc/grpc-js-xds (its deps/ folder holds a snapshot of
// envoyproxy/data-plane-api, cncf/xds, googleapis and protoc-gen-validate). Only the files the control service
// uses are generated, with everything they import. Skipped when the output is newer than its inputs.
//   tsx scripts/protos.ts
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { projectRoot } from "./tools.ts";

/** The Envoy API files the control service builds messages from (each pulls in its imports). */
export const ENVOY_PROTOS = [
  "envoy/service/discovery/v3/ads.proto",
  "envoy/service/discovery/v3/discovery.proto",
  "envoy/service/secret/v3/sds.proto",
  "envoy/service/extension/v3/config_discovery.proto",
  "envoy/config/bootstrap/v3/bootstrap.proto",
  "envoy/config/cluster/v3/cluster.proto",
  "envoy/config/endpoint/v3/endpoint.proto",
  "envoy/config/listener/v3/listener.proto",
  "envoy/config/route/v3/route.proto",
  "envoy/config/core/v3/extension.proto",
  "envoy/config/rbac/v3/rbac.proto",
  "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
  "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto",
  "envoy/extensions/filters/network/rbac/v3/rbac.proto",
  "envoy/extensions/filters/http/router/v3/router.proto",
  "envoy/extensions/filters/http/wasm/v3/wasm.proto",
  "envoy/extensions/filters/http/fault/v3/fault.proto",
  "envoy/extensions/filters/http/rbac/v3/rbac.proto",
  "envoy/extensions/filters/http/lua/v3/lua.proto",
  "envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto",
  "envoy/extensions/filters/http/jwt_authn/v3/config.proto",
  "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto",
  "envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto",
  "envoy/extensions/filters/listener/original_dst/v3/original_dst.proto",
  "envoy/extensions/transport_sockets/tls/v3/tls.proto",
  "envoy/extensions/transport_sockets/tls/v3/secret.proto",
  "envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto",
  "envoy/extensions/upstreams/http/v3/http_protocol_options.proto",
  "envoy/extensions/access_loggers/file/v3/file.proto",
  "envoy/extensions/access_loggers/stream/v3/stream.proto",
  "envoy/extensions/wasm/v3/wasm.proto",
];

/** Module folders of the snapshot; protoc-gen-validate also holds test protos, so only its validate/ is used. */
const PROTO_ROOTS: Record<string, string> = {
  "envoy-api": "envoy-api",
  "xds": "xds",
  "googleapis": "googleapis",
  "validate": join("protoc-gen-validate", "validate"),
};
export const generatedDir = join(projectRoot, "control", "api", "gen");
const workspace = join(projectRoot, "build", "envoy-protos");

function depsFolder(): string {
  const require = createRequire(join(projectRoot, "package.json"));
  return join(dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");
}

/**
 * The snapshot's protoc-gen-validate predates `StringRules.ignore_empty` (field 26), which Envoy's protos already
 * use in their validation annotations. buf resolves option values strictly, so the field is added to a copy.
 * The annotations only matter to protoc-gen-validate; generated messages are unaffected.
 */
function patchValidateProto(): void {
  const link = join(workspace, "validate", "validate");
  const source = readFileSync(join(link, "validate.proto"), "utf8");
  const marker = "optional bool strict = 25 [default = true];";
  if (!source.includes(marker)) throw new Error("validate.proto changed shape; review patchValidateProto()");
  rmSync(link);
  mkdirSync(link);
  writeFileSync(join(link, "validate.proto"),
    source.replace(marker, `${marker}\n\n  // Added for buf: see scripts/protos.ts.\n  optional bool ignore_empty = 26;`));
}

function upToDate(stamp: string, inputs: string[]): boolean {
  if (!existsSync(stamp)) return false;
  const built = statSync(stamp).mtimeMs;
  return inputs.every((input) => statSync(input).mtimeMs <= built);
}

export function generateEnvoyTypes(log: (line: string) => void = (line) => process.stdout.write(line + "\n")): void {
  const deps = depsFolder();
  const xdsPackage = join(deps, "..", "package.json");
  const stamp = join(generatedDir, ".stamp");
  if (upToDate(stamp, [xdsPackage, fileURLToPath(import.meta.url)])) return;

  rmSync(workspace, { recursive: true, force: true });
  mkdirSync(workspace, { recursive: true });
  for (const [module, source] of Object.entries(PROTO_ROOTS)) {
    // validate.proto is imported as "validate/validate.proto": its module folder holds a validate/ folder.
    const target = module === "validate" ? join(workspace, module, "validate") : join(workspace, module);
    mkdirSync(dirname(target), { recursive: true });
    symlinkSync(join(deps, source), target);
  }
  patchValidateProto();
  writeFileSync(join(workspace, "buf.yaml"),
    `version: v2\nmodules:\n${Object.keys(PROTO_ROOTS).map((module) => `  - path: ${module}\n`).join("")}`);
  const plugin = join(projectRoot, "node_modules", ".bin", "protoc-gen-es");
  writeFileSync(join(workspace, "buf.gen.yaml"), [
    "version: v2",
    "plugins:",
    `  - local: ${plugin}`,
    `    out: ${generatedDir}`,
    "    include_imports: true",
    "    opt: [target=ts, json_types=true, import_extension=ts]",
    "",
  ].join("\n"));

  rmSync(generatedDir, { recursive: true, force: true });
  const buf = join(projectRoot, "node_modules", ".bin", "buf");
  const args = ["generate", "--template", join(workspace, "buf.gen.yaml"), ...ENVOY_PROTOS.flatMap((path) => {
    const root = Object.keys(PROTO_ROOTS).find((module) => existsSync(join(deps, PROTO_ROOTS[module], path)));
    if (!root) throw new Error(`${path} is not in @grpc/grpc-js-xds's proto snapshot`);
    return ["--path", join(root, path)];
  })];
  const started = Date.now();
  const result = spawnSync(buf, args, { cwd: workspace, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`buf generate failed:\n${result.stderr}${result.stdout}${result.error ?? ""}`);
  const version = JSON.parse(readFileSync(xdsPackage, "utf8")).version as string;
  writeFileSync(stamp, `@grpc/grpc-js-xds ${version}\n`);
  log(`generated Envoy API types in ${Date.now() - started} ms (protos from @grpc/grpc-js-xds ${version})`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try { generateEnvoyTypes(); } catch (error) {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
