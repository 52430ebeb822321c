// Shared pieces of the rate-limit end-to-end tests: concurrent bursts over fresh connections, per-worker
// connection counts, and the native local_ratelimit filter the Wasm filter is compared with.
import { request } from "node:http";
import type { Json } from "../../envoy/bootstrap.ts";
import type { EnvoyInstance } from "../harness/envoy.ts";

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One GET over its own connection (no keep-alive), so a burst spreads over Envoy's workers. */
export function get(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  return send("GET", url, headers);
}

/** One request without a body over its own connection. */
export function send(method: string, url: string, headers: Record<string, string> = {}, timeoutMs = 30_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const call = request(url, { method, agent: false, headers, timeout: timeoutMs }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({
        status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString("utf8"),
      }));
      response.on("error", reject);
    });
    call.on("timeout", () => call.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)));
    call.on("error", reject);
    call.end();
  });
}

export interface BurstResult {
  replies: Reply[];
  admitted: number;
  limited: number;
  durationMs: number;
}

/** Fires `count` requests at once, each on a new connection, and waits for every answer. */
export async function burst(url: string, count: number, headers: (index: number) => Record<string, string>): Promise<BurstResult> {
  const started = performance.now();
  const replies = await Promise.all(Array.from({ length: count }, (_, index) => get(url, headers(index))));
  const durationMs = performance.now() - started;
  const admitted = replies.filter((reply) => reply.status === 200).length;
  const limited = replies.filter((reply) => reply.status === 429).length;
  return { replies, admitted, limited, durationMs };
}

/** Connections each worker accepted on a listener (needs the listener's stat_prefix). */
export async function connectionsPerWorker(envoy: EnvoyInstance, listenerStatPrefix: string): Promise<number[]> {
  const stats = await envoy.stats(`listener.${listenerStatPrefix}.worker_`);
  const counts: number[] = [];
  for (const [name, value] of stats) {
    const match = new RegExp(`^listener\\.${listenerStatPrefix}\\.worker_(\\d+)\\.downstream_cx_total$`).exec(name);
    if (match) counts[Number(match[1])] = value;
  }
  return Array.from(counts, (value) => value ?? 0);
}

/** Gives an httpListener() result its own listener stat prefix (listeners on port 0 would otherwise share one). */
export function withListenerStatPrefix(listener: Json, prefix: string): Json {
  return { ...listener, stat_prefix: prefix };
}

export interface TokenBucket {
  max_tokens: number;
  tokens_per_fill: number;
  fill_interval: string;
}

/** Envoy's own local_ratelimit filter: one token bucket shared by all workers, enforced on every request. */
export function nativeLocalRateLimit(statPrefix: string, tokenBucket: TokenBucket): Json {
  const always = (key: string) => ({ runtime_key: key, default_value: { numerator: 100, denominator: "HUNDRED" } });
  return {
    name: "envoy.filters.http.local_ratelimit",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
      stat_prefix: statPrefix,
      token_bucket: tokenBucket,
      filter_enabled: always(`${statPrefix}_enabled`),
      filter_enforced: always(`${statPrefix}_enforced`),
      enable_x_ratelimit_headers: "DRAFT_VERSION_03",
    },
  };
}

/** Upper bound on admissions for a burst: capacity, the fills that fell inside it, and one request of slack. */
export function admissionCeiling(bucket: TokenBucket, durationMs: number): number {
  const fillMs = durationToMs(bucket.fill_interval);
  return bucket.max_tokens + bucket.tokens_per_fill * Math.floor(durationMs / fillMs) + 1;
}

export function durationToMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!match) throw new Error(`not a duration: ${text}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as "ms" | "s" | "m" | "h"];
  return Number(match[1]) * unit;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function header(reply: Reply, name: string): string | undefined {
  const value = reply.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}
