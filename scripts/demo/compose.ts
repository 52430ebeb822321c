// Generates docker-compose.yml and the files it mounts (envoy/demo/compose/) from envoy/demo/topology.ts, so the
// Compose mesh and the local one cannot drift. Each workload is a pod-like pair: the app container owns the
// network namespace and its sidecar joins it (`network_mode: service:<app>`), so the app reaches its sidecar on
// 127.0.0.1 and every other proxy reaches the pod by the app's service name.
//   npx tsx scripts/demo/compose.ts --write     rewrite the committed files (a test checks they are current)
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { projectRoot } from "../tools.ts";
import { PORTS, envoyNames, serviceHost, topology } from "../../envoy/demo/topology.ts";
import { servicesYaml } from "../../envoy/demo/mesh_services.ts";
import { staticGateway, staticSidecar, type StaticMeshPlacement } from "../../envoy/demo/static_mesh.ts";
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
  GATEWAY_PORT: { default: 8443, container: PORTS.gatewayHttps, service: "gateway" },
  ISSUER_PORT: { default: 8080, container: PORTS.app, service: "issuer" },
  PROMETHEUS_PORT: { default: 9090, container: PORTS.prometheus, service: "prometheus" },
} as const;

const image = (variable: keyof typeof IMAGE_DEFAULTS) => `\${${variable}:-${IMAGE_DEFAULTS[variable]}}`;
const publish = (variable: keyof typeof PUBLISHED) =>
  `\${DEMO_BIND:-127.0.0.1}:\${${variable}:-${PUBLISHED[variable].default}}:${PUBLISHED[variable].container}`;

const WASM_DIR = "/etc/envoy/wasm";

const placement: StaticMeshPlacement = {
  bindAddress: "0.0.0.0",
  portsOf: () => ({ app: PORTS.app, inbound: PORTS.sidecarInbound, outbound: PORTS.sidecarOutbound, admin: PORTS.envoyAdmin }),
  inboundOf: (name) => ({ address: name, port: name === topology.issuer.name ? PORTS.app : PORTS.sidecarInbound }),
  appAddress: "127.0.0.1",
  wasmDir: WASM_DIR,
  gatewayPort: PORTS.gatewayHttps,
};

function envoyService(config: string, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    image: image("ENVOY_IMAGE"),
    command: ["envoy", "-c", "/etc/envoy/envoy.yaml", "--concurrency", "1", "--log-level", "warning"],
    volumes: [`./envoy/demo/compose/${config}:/etc/envoy/envoy.yaml:ro`, `./build:${WASM_DIR}:ro`],
    ...extra,
  };
}

function composeDocument(): Record<string, unknown> {
  const services: Record<string, unknown> = {};
  services[topology.issuer.name] = {
    image: image("NODE_IMAGE"),
    init: true,
    command: ["node", "/demo/backend.mjs", String(PORTS.app)],
    volumes: ["./envoy/demo:/demo:ro"],
    ports: [publish("ISSUER_PORT")],
  };
  for (const w of topology.workloads) {
    services[w.name] = {
      image: image("NODE_IMAGE"),
      init: true,
      command: ["node", "/demo/app.mjs"],
      environment: {
        APP_NAME: w.service, APP_VERSION: w.version, PORT: String(PORTS.app), HOST: "127.0.0.1",
        NEXT_SERVICE: w.calls ? serviceHost(w.calls, w.namespace) : "",
        SIDECAR_OUTBOUND: `127.0.0.1:${PORTS.sidecarOutbound}`,
      },
      volumes: ["./envoy/demo:/demo:ro"],
      labels: { "as-mesh.app": w.service, "as-mesh.version": w.version },
    };
    services[`${w.name}-sidecar`] = envoyService(`${w.name}.yaml`, { network_mode: `service:${w.name}`, depends_on: [w.name] });
  }
  services[topology.gateway.name] = envoyService("gateway.yaml", {
    ports: [publish("GATEWAY_PORT")],
    depends_on: [topology.issuer.name, ...topology.workloads.map((w) => `${w.name}-sidecar`)],
  });
  services.prometheus = {
    image: image("PROMETHEUS_IMAGE"),
    command: ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", `--web.listen-address=0.0.0.0:${PORTS.prometheus}`],
    volumes: ["./envoy/demo/compose/prometheus:/etc/prometheus:ro"],
    ports: [publish("PROMETHEUS_PORT")],
    depends_on: [topology.gateway.name],
  };
  services.k6 = {
    image: image("K6_IMAGE"),
    profiles: ["load"],
    command: ["run", "/scripts/demo-load.js"],
    environment: {
      TARGET: `http://${topology.gateway.name}:${PORTS.gatewayHttps}`,
      TOKEN_URL: `http://${topology.issuer.name}:${PORTS.app}/demo/token`,
    },
    volumes: ["./envoy/demo:/scripts:ro"],
    depends_on: [topology.gateway.name],
  };
  return { services };
}

const HEADER = `# The demo mesh in containers: an edge gateway, ride v1/v2 → driver → payment each with its sidecar Envoy, the
# demo issuer and Prometheus. Generated from envoy/demo/topology.ts by \`npx tsx scripts/demo/compose.ts --write\`
# (a test keeps it current); do not edit by hand.
#   npm run build                 # the filters the Envoys load: build/*.wasm
#   docker compose up             # or docker-compose up
#   TOKEN=$(curl -s localhost:8080/demo/token?sub=alice)
#   curl -H "Authorization: Bearer $TOKEN" localhost:8443/rides     # the call chain ride → driver → payment
#   open http://localhost:9090    # Prometheus (recording rules destination_service:istio_requests:*)
#   docker compose --profile load run --rm k6
# Images default to the official ones; override with ENVOY_IMAGE, NODE_IMAGE, PROMETHEUS_IMAGE, K6_IMAGE.
# Published ports bind to DEMO_BIND (127.0.0.1); move them with GATEWAY_PORT, ISSUER_PORT, PROMETHEUS_PORT.
`;

const generatedNote = (what: string) => `# Generated from envoy/demo/topology.ts by scripts/demo/compose.ts (${what}); do not edit by hand.\n`;

/** Every generated file: absolute path → content. */
export function composeFiles(): Map<string, string> {
  const files = new Map<string, string>();
  files.set(COMPOSE_PATH, HEADER + stringify(composeDocument(), { lineWidth: 0 }));
  for (const w of topology.workloads) {
    files.set(join(COMPOSE_DIR, `${w.name}.yaml`), generatedNote(`${w.name}'s sidecar`) + stringify(staticSidecar(w, placement), { lineWidth: 0 }));
  }
  files.set(join(COMPOSE_DIR, "gateway.yaml"), generatedNote("the edge gateway") + stringify(staticGateway(placement), { lineWidth: 0 }));
  const envoys = Object.fromEntries(envoyNames().map((name) => [name, `${name}:${PORTS.envoyAdmin}`]));
  files.set(join(COMPOSE_DIR, "prometheus", "prometheus.yml"), generatedNote("Prometheus") +
    prometheusConfigYaml({ envoys }, "/etc/prometheus/rules.yml"));
  files.set(join(COMPOSE_DIR, "prometheus", "rules.yml"), generatedNote("recording rules") + recordingRulesYaml());
  files.set(join(COMPOSE_DIR, "mesh", "services.yaml"), servicesYaml({
    placeOf: (name) => placement.inboundOf(name), resolution: "DNS",
    header: "Generated from envoy/demo/topology.ts by scripts/demo/compose.ts: the registry with compose service names.",
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
