// Generates docker-compose.yml and the files it mounts (envoy/demo/compose/) from envoy/demo/topology.ts, so the
// Compose mesh and the local one cannot drift: the same mesh on the control service. Each workload is a pod: the
// app container owns the network namespace (a fixed address on the mesh network, so the bootstraps can be written
// now) and its agent and sidecar join it (`network_mode: service:<app>`), sharing a pod volume with the bootstrap
// token, the mesh root and the agent's SDS socket. scripts/demo/compose_control.ts starts the control container.
//   npx tsx scripts/demo/compose.ts --write     rewrite the committed files (a test checks they are current)
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { projectRoot } from "../tools.ts";
import { EDGE_HOST, PORTS, TRUST_DOMAIN, envoyNames, serviceHost, topology } from "../../envoy/demo/topology.ts";
import { servicesYaml } from "../../envoy/demo/mesh_services.ts";
import type { MeshPlacement } from "../../envoy/demo/placement.ts";
import { sidecarBootstrap } from "../../control/translate/index.ts";
import { CA_SERVER_NAME, meshRootFile } from "./mesh_ca.ts";
import { COMPOSE_PATHS, COMPOSE_SUBNET, composeAddress } from "./compose_layout.ts";
import { prometheusConfigYaml, recordingRulesYaml } from "./prometheus_config.ts";

export const COMPOSE_PATH = join(projectRoot, "docker-compose.yml");
export const COMPOSE_DIR = join(projectRoot, "envoy", "demo", "compose");

/** Image variables and their defaults: the official images. */
export const IMAGE_DEFAULTS = {
  ENVOY_IMAGE: "envoyproxy/envoy:v1.40.0",
  NODE_IMAGE: "node:20-slim",
  PROMETHEUS_IMAGE: "prom/prometheus:v2.55.1",
  K6_IMAGE: "grafana/k6:1.8.1",
} as const;

/** Host ports the mesh publishes (on DEMO_BIND, 127.0.0.1 by default); 0 lets Docker choose. */
export const PUBLISHED = {
  GATEWAY_HTTPS_PORT: { default: 8443, container: PORTS.gatewayHttps, service: "gateway" },
  ISSUER_PORT: { default: 8080, container: PORTS.app, service: "issuer" },
  PROMETHEUS_PORT: { default: 9090, container: PORTS.prometheus, service: "prometheus" },
  CONTROL_PORT: { default: 15014, container: PORTS.controlHttp, service: "control" },
} as const;

const image = (variable: keyof typeof IMAGE_DEFAULTS) => `\${${variable}:-${IMAGE_DEFAULTS[variable]}}`;
const publish = (variable: keyof typeof PUBLISHED) =>
  `\${DEMO_BIND:-127.0.0.1}:\${${variable}:-${PUBLISHED[variable].default}}:${PUBLISHED[variable].container}`;

const WASM_DIR = "/etc/envoy/wasm";
const BOOTSTRAP_PATH = "/etc/envoy/bootstrap.json";
const NETWORK = "mesh";
const CONTROL = topology.control.name;
/** In the control container: the mesh root, which the edge gateway's certificate chains to. */
export const COMPOSE_MESH_ROOT = meshRootFile(COMPOSE_PATHS.meshCa);

/** The mesh registry's placement: every workload's sidecar inbound at its fixed address. */
const placement: MeshPlacement = {
  bindAddress: "0.0.0.0",
  portsOf: () => ({ app: PORTS.app, inbound: PORTS.sidecarInbound, outbound: PORTS.sidecarOutbound, admin: PORTS.envoyAdmin }),
  inboundOf: (name) => ({ address: composeAddress(name), port: name === topology.issuer.name ? PORTS.app : PORTS.sidecarInbound }),
  appAddress: "127.0.0.1",
  wasmDir: WASM_DIR,
  gatewayHttpsPort: PORTS.gatewayHttps,
};

/**
 * What `as-mesh bootstrap` writes for one proxy of the Compose mesh (its builder, called with the options the
 * command would pass): the control at its fixed address, the agent's SDS socket in the pod volume.
 */
export function composeBootstrap(name: string): object {
  const common = {
    ip: composeAddress(name),
    control: [{ host: composeAddress(CONTROL), port: PORTS.controlXds }],
    controlHttp: { host: composeAddress(CONTROL), port: PORTS.controlHttp },
    adminAddress: "0.0.0.0",
    adminPort: PORTS.envoyAdmin,
    sdsSocket: `${COMPOSE_PATHS.pod}/sds.sock`,
    trustDomain: TRUST_DOMAIN,
  };
  if (name === topology.gateway.name) {
    const gateway = topology.gateway;
    return sidecarBootstrap({
      ...common, type: "router", namespace: gateway.namespace, serviceAccount: gateway.serviceAccount,
      workloadName: gateway.name, labels: gateway.labels, listenAddress: "0.0.0.0",
      // The Gateway's HTTPS server on its own port 8443, which the compose file publishes.
      listenPorts: { [PORTS.gatewayHttps]: PORTS.gatewayHttps },
    });
  }
  const workload = topology.workloads.find((w) => w.name === name);
  if (!workload) throw new Error(`no workload ${name}`);
  return sidecarBootstrap({
    ...common, type: "sidecar", namespace: workload.namespace, serviceAccount: workload.serviceAccount,
    workloadName: workload.name, labels: workload.labels,
    inboundPorts: { http: PORTS.sidecarInbound }, appPorts: { http: PORTS.app },
    // The app reaches its sidecar's outbound where envoy/demo/app.mjs is told (SIDECAR_OUTBOUND).
    listenAddress: "127.0.0.1", listenPorts: { [PORTS.app]: PORTS.sidecarOutbound },
  });
}

const controlHealthcheck = `require("fs").accessSync(${JSON.stringify(COMPOSE_PATHS.tokensMinted)}); ` +
  `fetch("http://${composeAddress(topology.control.name)}:${PORTS.controlHttp}/ready").then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`;

const nodeService = (extra: Record<string, unknown>) => ({ image: image("NODE_IMAGE"), init: true, ...extra });
const onMesh = (name: string) => ({ networks: { [NETWORK]: { ipv4_address: composeAddress(name) } } });
const podVolume = (name: string) => `${name}-pod`;

/** The proxy's agent: in its pod's network namespace, its token, root and SDS socket in the pod volume. */
function agentService(name: string): Record<string, unknown> {
  return nodeService({
    working_dir: COMPOSE_PATHS.checkout,
    command: [
      "node", `${COMPOSE_PATHS.checkout}/control/as-mesh.mjs`, "agent",
      "--ca", `${composeAddress(CONTROL)}:${PORTS.controlCa}`, "--ca-root", `${COMPOSE_PATHS.pod}/root-cert.pem`,
      "--ca-server-name", CA_SERVER_NAME, "--token-file", `${COMPOSE_PATHS.pod}/token`,
      "--sds-socket", `${COMPOSE_PATHS.pod}/sds.sock`, "--log-level", "info",
    ],
    volumes: [`.:${COMPOSE_PATHS.checkout}:ro`, `${podVolume(name)}:${COMPOSE_PATHS.pod}`],
    // A workload's agent joins its pod's network namespace; the gateway's Envoy owns its own and waits for the
    // agent, so that agent only needs the mesh network (it talks to the CA and serves a Unix socket).
    ...(name === topology.gateway.name
      ? { networks: [NETWORK], depends_on: { [CONTROL]: { condition: "service_healthy" } } }
      : { network_mode: `service:${name}`, depends_on: { [CONTROL]: { condition: "service_healthy" }, [name]: { condition: "service_started" } } }),
    // Healthy once it serves SDS, so the Envoy starts with its secrets at hand instead of backing off.
    healthcheck: {
      test: ["CMD", "node", "-e", `require("fs").accessSync(${JSON.stringify(`${COMPOSE_PATHS.pod}/sds.sock`)})`],
      interval: "1s", timeout: "5s", retries: 120,
    },
    // Restarted should the CA be unreachable for longer than the agent's own retries.
    restart: "on-failure",
  });
}

function envoyService(name: string, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    image: image("ENVOY_IMAGE"),
    command: ["envoy", "-c", BOOTSTRAP_PATH, "--concurrency", "1", "--log-level", "warning"],
    // The official image drops to uid 101 unless told otherwise; the agent's socket in the pod volume is root's.
    environment: { ENVOY_UID: "0" },
    volumes: [`./envoy/demo/compose/${name}.bootstrap.json:${BOOTSTRAP_PATH}:ro`, `${podVolume(name)}:${COMPOSE_PATHS.pod}`],
    ...extra,
  };
}

function composeDocument(): Record<string, unknown> {
  const services: Record<string, unknown> = {};
  const proxies = envoyNames();
  services[CONTROL] = nodeService({
    working_dir: COMPOSE_PATHS.checkout,
    command: ["node", "--import", "tsx", `${COMPOSE_PATHS.checkout}/scripts/demo/compose_control.ts`],
    volumes: [
      `.:${COMPOSE_PATHS.checkout}:ro`,
      `mesh-config:${COMPOSE_PATHS.meshConfig}`,
      `control-state:${COMPOSE_PATHS.controlState}`,
      ...proxies.map((name) => `${podVolume(name)}:${COMPOSE_PATHS.pods}/${name}`),
    ],
    ports: [publish("CONTROL_PORT")],
    // Healthy once the tokens are minted and the control service answers /ready (the CA starts with it).
    healthcheck: {
      test: ["CMD", "node", "-e", controlHealthcheck],
      interval: "1s", timeout: "5s", retries: 120,
    },
    ...onMesh(CONTROL),
  });
  services[topology.issuer.name] = nodeService({
    command: ["node", "/demo/backend.mjs", String(PORTS.app)],
    volumes: ["./envoy/demo:/demo:ro"],
    ports: [publish("ISSUER_PORT")],
    ...onMesh(topology.issuer.name),
  });
  for (const w of topology.workloads) {
    services[w.name] = nodeService({
      command: ["node", "/demo/app.mjs"],
      environment: {
        APP_NAME: w.service, APP_VERSION: w.version, PORT: String(PORTS.app), HOST: "127.0.0.1",
        NEXT_SERVICE: w.calls ? serviceHost(w.calls, w.namespace) : "",
        SIDECAR_OUTBOUND: `127.0.0.1:${PORTS.sidecarOutbound}`,
      },
      volumes: ["./envoy/demo:/demo:ro"],
      labels: { "as-mesh.app": w.service, "as-mesh.version": w.version },
      ...onMesh(w.name),
    });
    services[`${w.name}-agent`] = agentService(w.name);
    services[`${w.name}-sidecar`] = envoyService(w.name, {
      network_mode: `service:${w.name}`,
      depends_on: { [w.name]: { condition: "service_started" }, [`${w.name}-agent`]: { condition: "service_healthy" } },
    });
  }
  services[topology.gateway.name] = envoyService(topology.gateway.name, {
    ports: [publish("GATEWAY_HTTPS_PORT")],
    ...onMesh(topology.gateway.name),
    depends_on: {
      [`${topology.gateway.name}-agent`]: { condition: "service_healthy" },
      [topology.issuer.name]: { condition: "service_started" },
    },
  });
  services[`${topology.gateway.name}-agent`] = agentService(topology.gateway.name);
  services.prometheus = {
    image: image("PROMETHEUS_IMAGE"),
    command: ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", `--web.listen-address=0.0.0.0:${PORTS.prometheus}`],
    volumes: ["./envoy/demo/compose/prometheus:/etc/prometheus:ro"],
    ports: [publish("PROMETHEUS_PORT")],
    networks: [NETWORK],
    depends_on: [topology.gateway.name],
  };
  services.k6 = {
    image: image("K6_IMAGE"),
    profiles: ["load"],
    command: ["run", "/scripts/demo-load.js"],
    environment: {
      TARGET: `https://${EDGE_HOST}:${PORTS.gatewayHttps}`,
      TOKEN_URL: `http://${composeAddress(topology.issuer.name)}:${PORTS.app}/demo/token`,
      // k6 verifies the edge's certificate against the mesh root alone (Go reads its roots from SSL_CERT_FILE).
      SSL_CERT_FILE: `${COMPOSE_PATHS.pod}/root-cert.pem`,
    },
    // The gateway's pod volume holds the mesh root the control container put there.
    volumes: ["./envoy/demo:/scripts:ro", `${podVolume(topology.gateway.name)}:${COMPOSE_PATHS.pod}:ro`],
    // The edge's name, as DNS would resolve it, so k6 sends it as SNI and checks the certificate for it.
    extra_hosts: [`${EDGE_HOST}:${composeAddress(topology.gateway.name)}`],
    networks: [NETWORK],
    depends_on: [topology.gateway.name],
  };
  return {
    services,
    networks: { [NETWORK]: { ipam: { config: [{ subnet: `${COMPOSE_SUBNET.prefix}.0/${COMPOSE_SUBNET.bits}` }] } } },
    volumes: Object.fromEntries(["mesh-config", "control-state", ...proxies.map(podVolume)].map((volume) => [volume, {}])),
  };
}

const HEADER = `# The demo mesh in containers, configured by the as-mesh control service (xDS + mesh CA + the .wasm filters): an
# edge gateway and ride v1/v2 → driver → payment, each app with its sidecar Envoy and its agent (certificates over
# SDS), the demo issuer and Prometheus, on a fixed-address network. Generated from envoy/demo/topology.ts by
# \`npx tsx scripts/demo/compose.ts --write\` (a test keeps it current); do not edit by hand.
#   npm ci && npm run build       # the control service runs from this checkout (mounted read-only): node_modules, build/*.wasm
#   docker compose up             # or docker-compose up
#   TOKEN=$(curl -s localhost:8080/demo/token?sub=alice)
# The gateway serves HTTPS for ${EDGE_HOST} with a certificate from the mesh CA; verify it with the mesh root, taken
# out of the control container (the call chain ride → driver → payment answers):
#   docker compose exec -T control node -e 'process.stdout.write(require("fs").readFileSync(process.argv[1]))' ${COMPOSE_MESH_ROOT} > mesh-root.pem
#   curl --cacert mesh-root.pem --resolve ${EDGE_HOST}:8443:127.0.0.1 -H "Authorization: Bearer $TOKEN" https://${EDGE_HOST}:8443/rides
#   npx as-mesh proxy-status --admin http://127.0.0.1:15014
#   open http://localhost:9090    # Prometheus (recording rules destination_service:istio_requests:*)
#   docker compose --profile load run --rm k6   # over HTTPS too, verifying the gateway against the mesh root
# The mesh YAML the control service watches is a copy in the mesh-config volume: edit it live with
#   docker compose exec control node -e '...'   (the tour does so for the canary)
# Bootstrap tokens are minted when the control container starts, one per pod volume; none is in the repository.
# Images default to the official ones; override with ENVOY_IMAGE, NODE_IMAGE, PROMETHEUS_IMAGE, K6_IMAGE.
# Published ports bind to DEMO_BIND (127.0.0.1); move them with GATEWAY_HTTPS_PORT, ISSUER_PORT, PROMETHEUS_PORT, CONTROL_PORT.
`;

const generatedNote = (what: string) => `# Generated from envoy/demo/topology.ts by scripts/demo/compose.ts (${what}); do not edit by hand.\n`;

/** Every generated file: absolute path → content. */
export function composeFiles(): Map<string, string> {
  const files = new Map<string, string>();
  files.set(COMPOSE_PATH, HEADER + stringify(composeDocument(), { lineWidth: 0 }));
  for (const name of envoyNames()) {
    files.set(join(COMPOSE_DIR, `${name}.bootstrap.json`), JSON.stringify(composeBootstrap(name), null, 2) + "\n");
  }
  const envoys = Object.fromEntries(envoyNames().map((name) => [name, `${composeAddress(name)}:${PORTS.envoyAdmin}`]));
  files.set(join(COMPOSE_DIR, "prometheus", "prometheus.yml"), generatedNote("Prometheus") +
    prometheusConfigYaml({ envoys, control: `${composeAddress(CONTROL)}:${PORTS.controlHttp}` }, "/etc/prometheus/rules.yml"));
  files.set(join(COMPOSE_DIR, "prometheus", "rules.yml"), generatedNote("recording rules") + recordingRulesYaml());
  files.set(join(COMPOSE_DIR, "mesh", "services.yaml"), servicesYaml({
    placeOf: (name) => placement.inboundOf(name), resolution: "STATIC",
    header: "Generated from envoy/demo/topology.ts by scripts/demo/compose.ts: the registry with the compose network's fixed addresses.",
  }));
  return files;
}

/** Files whose committed content differs from the generator's. */
export function staleComposeFiles(): string[] {
  const stale: string[] = [];
  for (const [path, content] of composeFiles()) {
    let current = "";
    try { current = readFileSync(path, "utf8"); } catch { /* missing counts as stale */ }
    if (current !== content) stale.push(relative(projectRoot, path));
  }
  return stale;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (!process.argv.includes("--write")) {
    const stale = staleComposeFiles();
    process.stdout.write(stale.length ? `stale: ${stale.join(", ")} (rewrite with --write)\n` : "docker-compose.yml and envoy/demo/compose/ are current\n");
    process.exit(stale.length ? 1 : 0);
  }
  for (const [path, content] of composeFiles()) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    process.stdout.write(`wrote ${relative(projectRoot, path)}\n`);
  }
}
