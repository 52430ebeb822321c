// `npm run demo`: the demo mesh on the control service — an edge gateway and ride v1/v2 → driver → payment, each
// workload with its sidecar Envoy and agent, STRICT mTLS and RBAC, Prometheus — then a guided tour of it (see
// scripts/demo/). As root each workload gets its own network namespace, else its own loopback address.
//   npm run demo -- [--once] [--loopback] [--etcd] [--compose] [--no-build]
// --once runs the tour and exits (non-zero if a step failed); without it the mesh serves until Ctrl-C and every
// process and namespace it made is removed. --loopback stays on loopback even as root. --etcd keeps the mesh
// config in a 3-member etcd served by two control replicas (edits with `as-mesh apply --etcd`; local runner only).
// --compose runs the mesh with docker-compose.yml in a real Docker engine instead. --no-build uses build/*.wasm as
// they are (the test suite builds them first).
// --write-docker-config regenerates envoy/demo/envoy.docker.yaml (the three filters in one Envoy, an example
// config) and exits.
import { writeFileSync } from "node:fs";
import { ToolInstallError } from "./tools.ts";
import { dockerConfigYaml, DOCKER_CONFIG_PATH } from "../envoy/demo/mesh.ts";
import { runMeshTour } from "./demo/mesh_tour.ts";

const KNOWN = ["--once", "--loopback", "--etcd", "--compose", "--no-build", "--write-docker-config", "--mesh"];

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const unknown = argv.filter((arg) => !KNOWN.includes(arg));
  if (unknown.length) throw new Error(`unknown option ${unknown[0]} (known: --once, --loopback, --etcd, --compose, --no-build, --write-docker-config)`);
  if (argv.includes("--write-docker-config")) {
    writeFileSync(DOCKER_CONFIG_PATH, dockerConfigYaml());
    process.stdout.write(`wrote ${DOCKER_CONFIG_PATH}\n`);
    return 0;
  }
  if (argv.includes("--etcd") && argv.includes("--compose")) throw new Error("--etcd runs the local mesh; it does not combine with --compose");
  // --mesh is accepted for scripts written when the mesh was not the default.
  return runMeshTour({
    runner: argv.includes("--compose") ? "compose" : "local", once: argv.includes("--once"), loopback: argv.includes("--loopback"),
    etcd: argv.includes("--etcd"), build: !argv.includes("--no-build"),
  });
}

main().then((code) => process.exit(code), (error: unknown) => {
  const message = error instanceof ToolInstallError || error instanceof Error ? error.message : String(error);
  process.stderr.write(`demo: ${message}\n`);
  process.exit(1);
});
