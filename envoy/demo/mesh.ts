// The demo: one Envoy in front of an echo backend, with the three as-mesh filters chained the way an operator
// would chain them — metrics first (it records every request, including ones the others answer), then jwt-auth,
// then rate-limit keyed on the `sub` claim that jwt-auth writes. The backend also serves the JWKS.
// An example config of the three filters together: written to envoy/demo/envoy.docker.yaml by
// `npm run demo -- --write-docker-config` and checked by tests/e2e/demo_mesh.test.ts.
import { bootstrap, httpListener, staticCluster, wasmFilter, type Json } from "../bootstrap.ts";
import { statsConfigForIstioMetrics, type MetricsFilterConfig } from "../istio_metrics.ts";

import { join } from "node:path";
import { stringify } from "yaml";
import { DEMO_AUDIENCE, DEMO_ISSUER, JWKS_PATH } from "./backend.mjs";
import { projectRoot } from "../../scripts/tools.ts";

export interface DemoMeshOptions {
  wasmDir: string;
  listenerPort: number;
  adminPort: number;
  backendHost: string;
  backendPort: number;
  /** 127.0.0.1 unless told otherwise (0.0.0.0 in a container). */
  bindAddress?: string;
}

export const metricsConfig: MetricsFilterConfig = {
  reporter: "destination",
  workload: {
    name: "echo-v1",
    namespace: "demo",
    principal: "spiffe://cluster.local/ns/demo/sa/echo",
    service: "echo.demo.svc.cluster.local",
    service_name: "echo",
  },
  max_label_sets: 500,
};

export const jwtConfig = {
  providers: {
    demo: {
      issuer: DEMO_ISSUER,
      audiences: [DEMO_AUDIENCE],
      remote_jwks: {
        http_uri: { uri: `http://backend${JWKS_PATH}`, cluster: "backend", timeout: "2s" },
        cache_duration: "300s",
      },
      forward: true,
      claim_to_headers: [{ header_name: "x-jwt-claim-sub", claim_name: "sub" }],
    },
  },
  rules: [
    { match: { prefix: "/public" } },
    { match: { prefix: "/api" }, requires: { provider_name: "demo" } },
  ],
};

export const rateLimitConfig = {
  stat_prefix: "demo",
  enable_x_ratelimit_headers: "DRAFT_VERSION_03",
  rules: [{
    name: "api_per_subject",
    match: { path_prefix: "/api" },
    descriptors: [{ jwt_claim: { header_name: "x-jwt-claim-sub" } }],
    token_bucket: { max_tokens: 5, tokens_per_fill: 5, fill_interval: "10s" },
  }],
};

export function demoMesh(options: DemoMeshOptions): Json {
  const wasm = (name: string) => `${options.wasmDir}/${name}.wasm`;
  return bootstrap({
    adminPort: options.adminPort,
    adminAddress: options.bindAddress,
    listeners: [httpListener({
      name: "demo",
      address: options.bindAddress,
      port: options.listenerPort,
      httpFilters: [
        wasmFilter({ name: "metrics", wasmPath: wasm("metrics"), configuration: metricsConfig }),
        wasmFilter({ name: "jwt-auth", wasmPath: wasm("jwt-auth"), configuration: jwtConfig }),
        wasmFilter({ name: "rate-limit", wasmPath: wasm("rate-limit"), configuration: rateLimitConfig }),
      ],
      routes: [
        { prefix: "/public", action: { cluster: "backend" } },
        { prefix: "/api", action: { cluster: "backend" } },
      ],
    })],
    clusters: [staticCluster("backend", options.backendHost, options.backendPort)],
    extra: { stats_config: statsConfigForIstioMetrics(metricsConfig) },
  });
}

export const DOCKER_CONFIG_PATH = join(projectRoot, "envoy", "demo", "envoy.docker.yaml");

/** The single-Envoy demo as a container would run it: wasm mounted at /etc/envoy/wasm, the backend by host name. */
export function dockerConfigYaml(): string {
  const config = demoMesh({
    wasmDir: "/etc/envoy/wasm", listenerPort: 10000, adminPort: 9901, backendHost: "backend", backendPort: 10001,
    bindAddress: "0.0.0.0",
  });
  return "# Generated from envoy/demo/mesh.ts by `npm run demo -- --write-docker-config`: the three filters together in one Envoy.\n" +
    stringify(config, { lineWidth: 0 });
}
