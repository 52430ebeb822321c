// `npm run demo`: builds the filters, installs Envoy if needed, starts an echo backend (which also serves the
// demo's JWKS) and one Envoy running metrics → jwt-auth → rate-limit in front of it, then prints the URLs, a token
// and sample requests, runs those samples, and keeps serving until Ctrl-C.
//   npm run demo -- [--port 10000] [--admin-port 9901] [--backend-port 10001] [--once]
// --once runs the samples on ephemeral ports and exits (non-zero if any answer was not the expected one).
// --write-docker-config regenerates envoy/demo/envoy.docker.yaml (the single-Envoy config) and exits.
// --mesh runs the demo mesh instead (gateway, ride v1/v2 → driver → payment with sidecars, Prometheus; see
// scripts/demo/): as root each workload in its own network namespace, else on loopback (--loopback forces it);
// --compose runs the same mesh with docker-compose.yml in a real Docker engine. Both take --once.
import { buildAll } from "./build.ts";
import { projectRoot, ToolInstallError } from "./tools.ts";
import { startEnvoy, type EnvoyInstance } from "../tests/harness/envoy.ts";
import { demoMesh, dockerConfigYaml, DOCKER_CONFIG_PATH } from "../envoy/demo/mesh.ts";
import { writeFileSync } from "node:fs";
import { JWKS_PATH, startDemoBackend } from "../envoy/demo/backend.mjs";
import { join } from "node:path";
import { runMeshTour } from "./demo/mesh_tour.ts";

interface Options { port: number; adminPort: number; backendPort: number; once: boolean; writeDockerConfig: boolean }

function parseArgs(argv: string[]): Options {
  const options: Options = { port: 10000, adminPort: 9901, backendPort: 10001, once: false, writeDockerConfig: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--once") options.once = true;
    else if (arg === "--write-docker-config") options.writeDockerConfig = true;
    else if (arg === "--port") options.port = Number(argv[++i]);
    else if (arg === "--admin-port") options.adminPort = Number(argv[++i]);
    else if (arg === "--backend-port") options.backendPort = Number(argv[++i]);
    else throw new Error(`unknown option ${arg} (known: --port N, --admin-port N, --backend-port N, --once, --write-docker-config)`);
  }
  if (options.once) Object.assign(options, { port: 0, adminPort: 0, backendPort: 0 });
  for (const [name, value] of [["--port", options.port], ["--admin-port", options.adminPort], ["--backend-port", options.backendPort]] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 65535) throw new Error(`${name} must be a port number`);
  }
  return options;
}

interface Sample { title: string; path: string; token?: string; expect: number | "mixed"; repeat?: number }

async function runSample(envoy: EnvoyInstance, sample: Sample): Promise<boolean> {
  const statuses: number[] = [];
  let lastBody = "";
  for (let i = 0; i < (sample.repeat ?? 1); i++) {
    const response = await fetch(envoy.url("demo") + sample.path, {
      headers: sample.token ? { authorization: `Bearer ${sample.token}` } : {},
    });
    statuses.push(response.status);
    lastBody = await response.text();
  }
  const ok = sample.expect === "mixed" ? statuses.includes(200) && statuses.includes(429) : statuses.every((s) => s === sample.expect);
  const shown = statuses.length > 1 ? statuses.join(" ") : String(statuses[0]);
  process.stdout.write(`  ${ok ? "ok " : "BAD"}  ${sample.title.padEnd(44)} → ${shown}\n`);
  if (sample.path.startsWith("/api/whoami") && statuses[0] === 200) {
    const echoed = JSON.parse(lastBody) as { headers: Record<string, string> };
    process.stdout.write(`       backend saw x-jwt-claim-sub: ${echoed.headers["x-jwt-claim-sub"]}\n`);
  }
  return ok;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes("--mesh") || argv.includes("--compose")) {
    const unknown = argv.filter((arg) => !["--mesh", "--compose", "--once", "--loopback"].includes(arg));
    if (unknown.length) throw new Error(`unknown option ${unknown[0]} (with --mesh/--compose: --once, --loopback)`);
    return runMeshTour({ runner: argv.includes("--compose") ? "compose" : "local", once: argv.includes("--once"), loopback: argv.includes("--loopback") });
  }
  const options = parseArgs(argv);
  if (options.writeDockerConfig) {
    writeFileSync(DOCKER_CONFIG_PATH, dockerConfigYaml());
    process.stdout.write(`wrote ${DOCKER_CONFIG_PATH}\n`);
    return 0;
  }
  await buildAll(["metrics", "jwt-auth", "rate-limit"]);

  const backend = await startDemoBackend({ port: options.backendPort });

  let envoy: EnvoyInstance;
  try {
    envoy = await startEnvoy({
      config: demoMesh({
        wasmDir: join(projectRoot, "build"), listenerPort: options.port, adminPort: options.adminPort,
        backendHost: "127.0.0.1", backendPort: backend.port,
      }),
      concurrency: 2,
    });
  } catch (error) {
    await backend.close();
    throw error;
  }

  const alice = backend.mintToken("alice");
  const bob = backend.mintToken("bob");
  const url = envoy.url("demo");
  process.stdout.write(`
as-mesh demo: Envoy ${JSON.parse(await envoy.admin("/server_info")).version.split("/")[1]} running metrics → jwt-auth → rate-limit
  listener  ${url}        (echo backend behind it: ${backend.url})
  admin     ${envoy.adminUrl}
  metrics   ${envoy.adminUrl}/stats/prometheus   (istio_requests_total, istio_request_duration_milliseconds, …)

A token for subject "alice" (ES256, valid 1 h; the backend plays the issuer and serves the JWKS at ${JWKS_PATH}):
  TOKEN=${alice}
  (more: curl ${backend.url}/demo/token?sub=carol)

Try:
  curl -i ${url}/public/hello                                   # no token needed → 200
  curl -i ${url}/api/whoami                                     # → 401 Jwt is missing
  curl -i -H "Authorization: Bearer $TOKEN" ${url}/api/whoami   # → 200, backend sees x-jwt-claim-sub: alice
  for i in $(seq 8); do curl -s -o /dev/null -w '%{http_code} ' -H "Authorization: Bearer $TOKEN" ${url}/api/x; done
                                                                # 5 per 10 s per subject, then 429
  curl -s ${envoy.adminUrl}/stats/prometheus | grep istio_requests_total
  .tools/bin/k6 run -e TARGET=${url} -e TOKEN_URL=${backend.url}/demo/token envoy/demo/demo-load.js   # load (npx tsx scripts/tools.ts k6 builds k6)

Running the samples:
`);
  const samples: Sample[] = [
    { title: "GET /public/hello without a token", path: "/public/hello", expect: 200 },
    { title: "GET /api/whoami without a token", path: "/api/whoami", expect: 401 },
    { title: "GET /api/whoami with a forged token", path: "/api/whoami", token: alice.slice(0, -4) + "AAAA", expect: 401 },
    { title: "GET /api/whoami as alice", path: "/api/whoami", token: alice, expect: 200 },
    { title: "8 × GET /api/items as bob (limit 5 per 10 s)", path: "/api/items", token: bob, expect: "mixed", repeat: 8 },
  ];
  let allOk = true;
  for (const sample of samples) allOk = (await runSample(envoy, sample)) && allOk;

  const prometheus = await envoy.admin("/stats/prometheus");
  const series = prometheus.split("\n").filter((line) => line.startsWith("istio_requests_total{"));
  const byCode = series.map((line) => `${/response_code="([^"]*)"/.exec(line)?.[1]}=${line.split(" ").pop()}`);
  process.stdout.write(`\nistio_requests_total by response_code (from ${envoy.adminUrl}/stats/prometheus): ${byCode.join(" ")}\n`);
  if (series.length > 0) process.stdout.write(`  one series in full: ${series[0]}\n`);
  if (series.length === 0) allOk = false;

  if (options.once) {
    await envoy.stop();
    await backend.close();
    process.stdout.write(allOk ? "\ndemo: all samples answered as expected\n" : "\ndemo: some samples did not answer as expected\n");
    return allOk ? 0 : 1;
  }
  process.stdout.write(`\nServing; press Ctrl-C to stop.\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await envoy.stop();
  await backend.close();
  return 0;
}

main().then((code) => process.exit(code), (error: unknown) => {
  const message = error instanceof ToolInstallError || error instanceof Error ? error.message : String(error);
  process.stderr.write(`demo: ${message}\n`);
  process.exit(1);
});
