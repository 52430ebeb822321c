// Micro-benchmark of jwt-auth in the host emulator, in nanoseconds per request (stream created, request headers
// through the filter, stream completed):
//   - cached token: a token the filter verified before (the verified-token cache hit), target ≤ 5 µs;
//   - cold <alg>: a token the cache does not hold, so parse + claims + signature check, per algorithm
//     (targets: RS256 ≤ 60 µs, ES256 ≤ 150 µs);
//   - the cheap answers: no token (401) and a path no rule covers.
// Each case reports the time spent in the module itself ("in the filter": module time minus the emulator's host
// functions, which are JavaScript and far slower than Envoy's C++) and the whole emulator round trip.
//   npx tsx bench/micro/jwt-auth.ts [iterations]
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";
import { HostEmulator, type HeaderList } from "../../tests/host/emulator.ts";
import { buildArtifact } from "../../tests/harness/artifacts.ts";
import { ALGORITHMS, type Algorithm, generateAllKeys, jwksOf, nowSeconds, signToken } from "../../tests/harness/tokens.ts";

const BATCHES = 7;
const BATCH_TARGET_MS = 120;
const WARMUP_MS = 400;
const TARGETS: Partial<Record<string, number>> = { "cached token": 5_000, "cold RS256": 60_000, "cold ES256": 150_000 };

/** Splits a module call's time into the module's own work and the host functions it called. */
class Split {
  depth = 0;
  moduleMs = 0;
  hostMs = 0;
  hostCalls = 0;
  private since = 0;

  enter(): void {
    if (this.depth++ === 0) this.since = performance.now();
  }

  leave(): void {
    if (--this.depth === 0) this.moduleMs += performance.now() - this.since;
  }

  clear(): void {
    this.moduleMs = 0;
    this.hostMs = 0;
    this.hostCalls = 0;
  }
}

type Imports = Record<string, (...args: never[]) => unknown>;

/** An emulator whose host functions and module entries are timed into `split`. */
async function timedEmulator(configuration: object, split: Split): Promise<HostEmulator> {
  const prototype = HostEmulator.prototype as unknown as { imports: (this: HostEmulator) => Imports };
  const plain = prototype.imports;
  prototype.imports = function (this: HostEmulator): Imports {
    const table = plain.call(this);
    for (const name of Object.keys(table)) {
      const fn = table[name];
      table[name] = (...args: never[]) => {
        if (split.depth === 0) return fn(...args);
        const started = performance.now();
        try {
          return fn(...args);
        } finally {
          split.hostMs += performance.now() - started;
          split.hostCalls++;
        }
      };
    }
    return table;
  };
  let host: HostEmulator;
  try {
    host = await HostEmulator.start(buildArtifact("jwt-auth"), {
      pluginConfiguration: configuration,
      nowNanos: BigInt(Date.now()) * 1_000_000n,
    });
  } finally {
    prototype.imports = plain;
  }
  const call = host.call.bind(host);
  host.call = (name: string, ...args: Array<number | bigint>): number => {
    split.enter();
    try {
      return call(name, ...args);
    } finally {
      split.leave();
    }
  };
  return host;
}

/** Cost of one performance.now(), taken off the module's time once per host call (each is timed inside it). */
function clockCostMs(): number {
  const count = 200_000;
  let sink = 0;
  const started = performance.now();
  for (let i = 0; i < count; i++) sink += performance.now();
  return (performance.now() - started) / count + (sink < 0 ? 1 : 0);
}

interface Case {
  name: string;
  host: HostEmulator;
  split: Split;
  /** Requests cycled through; each must get `expect` from on_request_headers (0 continue, 1 answered). */
  requests: HeaderList[];
  expect: number;
  next: number;
}

function send(benchCase: Case): number {
  const headers = benchCase.requests[benchCase.next];
  benchCase.next = (benchCase.next + 1) % benchCase.requests.length;
  const stream = benchCase.host.newStream();
  const action = stream.sendRequestHeaders(headers);
  stream.complete();
  return action;
}

const request = (path: string, token?: string): HeaderList => [
  [":method", "GET"], [":path", path], [":authority", "api.example"], [":scheme", "http"], ["x-forwarded-proto", "http"],
  ["user-agent", "bench"], ["accept", "*/*"], ...(token ? [["authorization", `Bearer ${token}`] as [string, string]] : []),
];

/** The cases, each built only when it is measured (see run): every emulator compiles its own copy of the module. */
async function caseBuilders(): Promise<Array<() => Promise<Case>>> {
  const keys = await generateAllKeys();
  const claims = { iss: "https://issuer.example", aud: "api.example", sub: "user-42", exp: nowSeconds() + 86_400 };
  const provider = (cacheSize: number) => ({
    issuer: claims.iss,
    audiences: [claims.aud],
    local_jwks: { inline_string: jwksOf(keys.values()) },
    claim_to_headers: [{ header_name: "x-jwt-sub", claim_name: "sub" }],
    jwt_cache_config: { jwt_cache_size: cacheSize },
  });
  const config = (cacheSize: number) => ({
    providers: { example: provider(cacheSize) },
    rules: [{ match: { prefix: "/static" } }, { match: { prefix: "/" }, requires: { provider_name: "example" } }],
  });
  const make = (name: string, cacheSize: number, requests: HeaderList[], expect: number) => async (): Promise<Case> => {
    const split = new Split();
    return { name, host: await timedEmulator(config(cacheSize), split), split, requests, expect, next: 0 };
  };
  const builders = [make("cached token", 100, [request("/api/orders", await signToken(keys.get("ES256")!, claims))], 0)];
  for (const alg of ALGORITHMS) {
    // A one-entry cache and two tokens taken in turn: every request misses and verifies from scratch.
    const key = keys.get(alg as Algorithm)!;
    const tokens = [await signToken(key, { ...claims, jti: "a" }), await signToken(key, { ...claims, jti: "b" })];
    builders.push(make(`cold ${alg}`, 1, tokens.map((token) => request("/api/orders", token)), 0));
  }
  builders.push(make("no token (401)", 100, [request("/api/orders")], 1));
  builders.push(make("no rule matches", 100, [request("/static/app.js")], 0));
  return builders;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

export default async function run(options: { iterations?: number } = {}): Promise<Array<{ case: string; nsPerOp: number; targetNs?: number }>> {
  const maxPerBatch = Math.max(1, Math.floor((options.iterations ?? 20_000) / BATCHES));
  const clockMs = clockCostMs();
  const results: Array<{ case: string; nsPerOp: number; targetNs?: number }> = [];
  for (const build of await caseBuilders()) {
    const benchCase = await build();
    // Warm up (V8 tiers the module's hot functions up in the background, curve tables, caches) and check the
    // filter decides as expected.
    const warmStarted = performance.now();
    let warmups = 0;
    while (warmups < 50 || (performance.now() - warmStarted < WARMUP_MS && warmups < 20_000)) {
      const action = send(benchCase);
      if (action !== benchCase.expect) throw new Error(`${benchCase.name}: on_request_headers gave ${action}, expected ${benchCase.expect}`);
      warmups++;
    }
    const estimateMs = (performance.now() - warmStarted) / warmups;
    const perBatch = Math.max(5, Math.min(maxPerBatch, Math.ceil(BATCH_TARGET_MS / estimateMs)));
    const inFilter: number[] = [];
    const roundTrip: number[] = [];
    for (let batch = 0; batch < BATCHES; batch++) {
      const split = benchCase.split;
      split.clear();
      const started = performance.now();
      for (let i = 0; i < perBatch; i++) send(benchCase);
      roundTrip.push(((performance.now() - started) * 1e6) / perBatch);
      inFilter.push(((split.moduleMs - split.hostMs - split.hostCalls * clockMs) * 1e6) / perBatch);
    }
    results.push({ case: `${benchCase.name}: in the filter`, nsPerOp: Math.round(median(inFilter)), targetNs: TARGETS[benchCase.name] });
    results.push({ case: `${benchCase.name}: emulator round trip`, nsPerOp: Math.round(median(roundTrip)) });
  }
  return results;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const iterations = process.argv[2] ? Number(process.argv[2]) : undefined;
  run({ iterations }).then((results) => {
    process.stdout.write(`jwt-auth, host emulator, median of ${BATCHES} batches\n`);
    for (const result of results) {
      const target = result.targetNs === undefined ? "" :
        `  target ${result.targetNs} ns: ${result.nsPerOp <= result.targetNs ? "met" : "MISSED"}`;
      process.stdout.write(`  ${result.case.padEnd(40)} ${String(result.nsPerOp).padStart(9)} ns/op${target}\n`);
    }
  }).catch((error: Error) => {
    process.stderr.write(`error: ${error.stack ?? error.message}\n`);
    process.exit(1);
  });
}
