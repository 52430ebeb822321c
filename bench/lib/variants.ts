// The benchmark's variants: the same per-request work done by no filter, by the Lua baselines, by our Wasm filters
// and by Envoy's native C++ filters, plus the three-filter chain. Each variant is the HTTP filter list of one Envoy;
// the route behind it (direct_response, or a loopback upstream) is the same for all.
import { wasmFilter, type Json } from "../../envoy/bootstrap.ts";
import { statsConfigForIstioMetrics, type MetricsFilterConfig } from "../../envoy/istio_metrics.ts";
import { luaBaselineFilter } from "../../envoy/lua/index.ts";
import { jwtAuthnStyleConfig, nativeJwtAuthnFilter, SUBJECT_HEADER, type JwtAlg, type JwtFixture } from "./jwt_fixture.ts";
import { FLOOR_WASM, floorUnavailable } from "./floor.ts";
import {
  asMeshFilter, asMeshUnavailable, wasmFilterUnavailable, wasmJwtAuthFilter, wasmMetricsFilter, wasmRateLimitFilter,
  type WasmFilterName,
} from "./wasm_filters.ts";

export type FilterGroup = "none" | "jwt" | "rate-limit" | "metrics" | "chain";
export const FILTER_GROUPS: readonly FilterGroup[] = ["none", "jwt", "rate-limit", "metrics", "chain"];
export type Impl = "none" | "lua" | "wasm" | "native";
export const IMPLS: readonly Impl[] = ["none", "lua", "wasm", "native"];

export interface Variant {
  /** Stable identifier, e.g. `jwt-rs256-wasm`. */
  id: string;
  group: FilterGroup;
  impl: Impl;
  /** What the report calls it. */
  label: string;
  /** The algorithm of the tokens k6 sends, for variants that verify JWTs. */
  alg?: JwtAlg;
  /** Why it cannot run here, or false. */
  unavailable: () => string | false;
  httpFilters: (fixture: JwtFixture) => Json[];
  /** Top-level bootstrap fields the variant needs (the metrics filters' stats_tags). */
  bootstrapExtra?: Json;
}

/** Verified tokens a cache keeps: the same size for the Lua, Wasm and native caches. */
export const JWT_CACHE_SIZE = 1000;
/** Distinct x-user values k6 sends (the rate limit's key). */
export const BENCH_USERS = 100;

// A limit the benchmark never reaches: every request pays for a full check and is allowed.
const NEVER_LIMITING_BUCKET = { max_tokens: 1_000_000_000, tokens_per_fill: 1_000_000_000, fill_interval: "1s" };

/** The rate-limit configuration the Lua baseline and the Wasm filter both run: a bucket per user. */
export function rateLimitConfig(keyHeader: { request_headers: { header_name: string } } | { jwt_claim: { header_name: string } }) {
  return {
    stat_prefix: "bench",
    rules: [{ name: "per_user", match: { path_prefix: "/" }, descriptors: [keyHeader], token_bucket: NEVER_LIMITING_BUCKET }],
  };
}

/** Envoy's local_ratelimit with a bucket per value of `header` (dynamic descriptors), the same never-reached limit. */
export function nativeLocalRateLimitFilter(header: string): Json {
  const always = (key: string) => ({ runtime_key: key, default_value: { numerator: 100, denominator: "HUNDRED" } });
  return {
    name: "envoy.filters.http.local_ratelimit",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
      stat_prefix: "bench",
      token_bucket: NEVER_LIMITING_BUCKET,
      filter_enabled: always("bench_rl_enabled"),
      filter_enforced: always("bench_rl_enforced"),
      rate_limits: [{ actions: [{ request_headers: { header_name: header, descriptor_key: "user" } }] }],
      descriptors: [{ entries: [{ key: "user" }], token_bucket: NEVER_LIMITING_BUCKET }],
      max_dynamic_descriptors: 1024,
    },
  };
}

/** The metrics configuration the Lua baseline and the Wasm filter both run: Istio's standard labels. */
export const METRICS_CONFIG: MetricsFilterConfig = {
  reporter: "destination",
  workload: {
    name: "bench", namespace: "default", service: "bench.default.svc.cluster.local", service_name: "bench",
  },
  max_label_sets: 1000,
};

/** The bootstrap stats_tags that turn the metrics' encoded names into Prometheus labels, as a deployment has them. */
const metricsBootstrap: Json = { stats_config: statsConfigForIstioMetrics(METRICS_CONFIG) };

const byUser = { request_headers: { header_name: "x-user" } };
const bySubject = { jwt_claim: { header_name: SUBJECT_HEADER } };

/** The as-mesh chain root's configuration: the three filters' chain configurations as its sections. */
export function chainConfig(fixture: JwtFixture) {
  return {
    metrics: METRICS_CONFIG,
    jwt_auth: jwtAuthnStyleConfig(fixture, { cacheSize: JWT_CACHE_SIZE, subjectHeader: true }),
    rate_limit: rateLimitConfig(bySubject),
  };
}

function needs(...filters: WasmFilterName[]): () => string | false {
  return () => {
    for (const name of filters) {
      const reason = wasmFilterUnavailable(name);
      if (reason) return reason;
    }
    return false;
  };
}

const always = () => false as const;

export function allVariants(algs: readonly JwtAlg[]): Variant[] {
  const variants: Variant[] = [
    { id: "none", group: "none", impl: "none", label: "no filter", unavailable: always, httpFilters: () => [] },
  ];
  for (const alg of algs) {
    const a = alg.toLowerCase();
    variants.push(
      {
        id: `jwt-${a}-lua`, group: "jwt", impl: "lua", alg, label: `JWT ${alg} · Lua`, unavailable: always,
        httpFilters: (f) => [luaBaselineFilter("jwt_auth", jwtAuthnStyleConfig(f, { cacheSize: JWT_CACHE_SIZE }))],
      },
      {
        id: `jwt-${a}-wasm`, group: "jwt", impl: "wasm", alg, label: `JWT ${alg} · Wasm`, unavailable: needs("jwt-auth"),
        httpFilters: (f) => [wasmJwtAuthFilter(f, { cacheSize: JWT_CACHE_SIZE })],
      },
      {
        id: `jwt-${a}-native`, group: "jwt", impl: "native", alg, label: `JWT ${alg} · jwt_authn (no cache)`,
        unavailable: always, httpFilters: (f) => [nativeJwtAuthnFilter(f)],
      },
      {
        id: `jwt-${a}-native-cache`, group: "jwt", impl: "native", alg, label: `JWT ${alg} · jwt_authn + jwt_cache`,
        unavailable: always, httpFilters: (f) => [nativeJwtAuthnFilter(f, { cacheSize: JWT_CACHE_SIZE })],
      },
    );
  }
  const chainAlg = algs[0];
  variants.push(
    {
      id: "rate-limit-lua", group: "rate-limit", impl: "lua", label: "rate limit · Lua", unavailable: always,
      httpFilters: () => [luaBaselineFilter("rate_limit", rateLimitConfig(byUser))],
    },
    {
      id: "rate-limit-wasm", group: "rate-limit", impl: "wasm", label: "rate limit · Wasm", unavailable: needs("rate-limit"),
      httpFilters: () => [wasmRateLimitFilter(rateLimitConfig(byUser))],
    },
    {
      id: "rate-limit-native", group: "rate-limit", impl: "native", label: "rate limit · local_ratelimit",
      unavailable: always, httpFilters: () => [nativeLocalRateLimitFilter("x-user")],
    },
    {
      id: "metrics-lua", group: "metrics", impl: "lua", label: "metrics · Lua", unavailable: always,
      httpFilters: () => [luaBaselineFilter("metrics", METRICS_CONFIG)], bootstrapExtra: metricsBootstrap,
    },
    {
      id: "metrics-wasm", group: "metrics", impl: "wasm", label: "metrics · Wasm", unavailable: needs("metrics"),
      httpFilters: () => [wasmMetricsFilter(METRICS_CONFIG)], bootstrapExtra: metricsBootstrap,
    },
    // The chain in the order the metrics filter asks for: first, so it also counts what the filters after it answer.
    {
      id: "chain-lua", group: "chain", impl: "lua", alg: chainAlg, label: `chain (metrics → JWT ${chainAlg} → rate limit) · Lua`,
      unavailable: always, bootstrapExtra: metricsBootstrap,
      httpFilters: (f) => [
        luaBaselineFilter("metrics", METRICS_CONFIG),
        luaBaselineFilter("jwt_auth", jwtAuthnStyleConfig(f, { cacheSize: JWT_CACHE_SIZE, subjectHeader: true })),
        luaBaselineFilter("rate_limit", rateLimitConfig(bySubject)),
      ],
    },
    {
      id: "chain-wasm", group: "chain", impl: "wasm", alg: chainAlg, label: `chain (metrics → JWT ${chainAlg} → rate limit) · Wasm`,
      unavailable: needs("jwt-auth", "rate-limit", "metrics"), bootstrapExtra: metricsBootstrap,
      httpFilters: (f) => [
        wasmMetricsFilter(METRICS_CONFIG),
        wasmJwtAuthFilter(f, { cacheSize: JWT_CACHE_SIZE, subjectHeader: true }),
        wasmRateLimitFilter(rateLimitConfig(bySubject)),
      ],
    },
    // The same three filters from build/as-mesh.wasm: three entries sharing one VM, then the chain root (one entry).
    {
      id: "chain-wasm-one-vm", group: "chain", impl: "wasm", alg: chainAlg,
      label: `chain (metrics → JWT ${chainAlg} → rate limit) · Wasm, as-mesh.wasm, 3 entries in 1 VM`,
      unavailable: asMeshUnavailable, bootstrapExtra: metricsBootstrap,
      httpFilters: (f) => [
        asMeshFilter("metrics", METRICS_CONFIG),
        asMeshFilter("jwt-auth", jwtAuthnStyleConfig(f, { cacheSize: JWT_CACHE_SIZE, subjectHeader: true })),
        asMeshFilter("rate-limit", rateLimitConfig(bySubject)),
      ],
    },
    {
      id: "chain-wasm-combined", group: "chain", impl: "wasm", alg: chainAlg,
      label: `chain (metrics → JWT ${chainAlg} → rate limit) · Wasm, as-mesh.wasm chain root`,
      unavailable: asMeshUnavailable, bootstrapExtra: metricsBootstrap,
      httpFilters: (f) => [asMeshFilter("chain", chainConfig(f))],
    },
    // Not a filter: the chain root's proxy-wasm calls with no work around them (bench/floor), the least a chain that
    // makes these calls can cost.
    {
      id: "chain-wasm-floor", group: "chain", impl: "wasm", alg: chainAlg,
      label: "chain's proxy-wasm calls alone, no work (floor)",
      unavailable: floorUnavailable, bootstrapExtra: metricsBootstrap,
      httpFilters: () => [wasmFilter({ name: "floor", wasmPath: FLOOR_WASM })],
    },
    {
      id: "chain-native", group: "chain", impl: "native", alg: chainAlg,
      label: `chain (JWT ${chainAlg} → rate limit, no metrics) · jwt_authn + cache, local_ratelimit`,
      unavailable: always,
      httpFilters: (f) => [
        nativeJwtAuthnFilter(f, { cacheSize: JWT_CACHE_SIZE, subjectHeader: true }),
        nativeLocalRateLimitFilter(SUBJECT_HEADER),
      ],
    },
  );
  return variants;
}
