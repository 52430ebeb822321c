// The Compose mesh's control container: what an operator's init step would do before istiod starts. It copies the
// mesh YAML from the checkout into the writable config volume (the tour edits it live there), mints a bootstrap
// token per proxy into that proxy's pod volume (the CA's token file keeps only their hashes; nothing is committed),
// starts `as-mesh control` with its CA (which also issues the edge gateway's certificate, sent over SDS), and once
// the CA has written its root, puts the root beside each token so the agents can verify the CA endpoint. SIGTERM/SIGINT are passed on to the control service.
//   node --import tsx scripts/demo/compose_control.ts   (the compose file's control command)
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { projectRoot } from "../tools.ts";
import { PORTS, TRUST_DOMAIN, topology } from "../../envoy/demo/topology.ts";
import { prepareCaFiles } from "./mesh_ca.ts";
import { COMPOSE_PATHS, composeAddress } from "./compose_layout.ts";

const log = pino({ name: "compose-control" });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function copyMeshYaml(): void {
  mkdirSync(COMPOSE_PATHS.meshConfig, { recursive: true });
  // A fresh volume per `up` (down --volumes); a restarted container keeps the live edits.
  if (readdirSync(COMPOSE_PATHS.meshConfig).some((file) => file.endsWith(".yaml"))) return;
  const sources = [join(projectRoot, "envoy", "demo", "mesh"), join(projectRoot, "envoy", "demo", "compose", "mesh")];
  for (const dir of sources) {
    for (const file of readdirSync(dir)) if (file.endsWith(".yaml")) copyFileSync(join(dir, file), join(COMPOSE_PATHS.meshConfig, file));
  }
}

async function main(): Promise<void> {
  copyMeshYaml();
  // The CA folder is in the control-state volume: a restarted control container keeps its root, so the running
  // pods' certificates and trust bundles stay valid. The tokens are minted afresh (only their hashes are kept).
  rmSync(COMPOSE_PATHS.tokensMinted, { force: true });
  const proxies = [
    { name: topology.gateway.name, namespace: topology.gateway.namespace, serviceAccount: topology.gateway.serviceAccount },
    ...topology.workloads.map((w) => ({ name: w.name, namespace: w.namespace, serviceAccount: w.serviceAccount })),
  ];
  const files = prepareCaFiles(COMPOSE_PATHS.meshCa, proxies);
  const self = composeAddress(topology.control.name);
  const child = spawn(process.execPath, [
    join(projectRoot, "control", "as-mesh.mjs"), "control", "--config", COMPOSE_PATHS.meshConfig,
    // Its fixed address rather than 0.0.0.0: the control names its admin address in the .wasm URLs it sends.
    "--xds", `${self}:${PORTS.controlXds}`, "--admin", `${self}:${PORTS.controlHttp}`,
    "--wasm-dir", join(projectRoot, "build"),
    "--ca-dir", files.caDir, "--ca-address", `${self}:${PORTS.controlCa}`, "--token-file", files.tokenFile,
    // The default startup grace: after `docker compose restart control` the proxies reconnect and re-register
    // within it, so no endpoint set goes out missing the workloads not yet back.
    "--trust-domain", TRUST_DOMAIN, "--log-level", "info",
  ], { stdio: "inherit" });
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  while (!existsSync(files.rootFile)) {
    if (child.exitCode !== null) return;
    await sleep(200);
  }
  for (const proxy of proxies) {
    const pod = join(COMPOSE_PATHS.pods, proxy.name);
    mkdirSync(pod, { recursive: true });
    const token = files.workloadTokens.get(proxy.name);
    if (!token) throw new Error(`no token for ${proxy.name}`);
    // The root first: an agent starts once its token exists, and then needs the root at once.
    copyFileSync(files.rootFile, join(pod, "root-cert.pem"));
    copyFileSync(token, join(pod, "token"));
  }
  writeFileSync(COMPOSE_PATHS.tokensMinted, new Date().toISOString() + "\n");
  log.info({ address: self, proxies: proxies.length }, "bootstrap tokens and the mesh root are in the pod volumes");
}

main().catch((error: unknown) => {
  log.error({ err: error }, "the control container could not start");
  process.exit(1);
});
