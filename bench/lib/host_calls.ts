// How many proxy-wasm host calls each Wasm filter makes per request, with the benchmark's configurations, counted
// in the host emulator. In Envoy each one crosses from V8 into C++ (and a call that returns bytes calls back into
// the module to allocate them), which is where perf finds most of the Wasm filters' added CPU.
import { HostEmulator, type HeaderList } from "../../tests/host/emulator.ts";
import { createJwtFixture, jwtAuthnStyleConfig, mintToken } from "./jwt_fixture.ts";
import { JWT_CACHE_SIZE, METRICS_CONFIG, chainConfig, rateLimitConfig } from "./variants.ts";
import { asMeshUnavailable, wasmFilterUnavailable, wasmPath, type WasmFilterName } from "./wasm_filters.ts";
import { join } from "node:path";
import { FLOOR_WASM, floorUnavailable } from "./floor.ts";
import { projectRoot } from "../../scripts/tools.ts";

export interface HostCallCount {
  filter: WasmFilterName | "chain" | "floor";
  case: string;
  /** proxy_* imports called during one request, by name. */
  calls: Record<string, number>;
  hostCalls: number;
  /** Entries from the host into the module (callbacks and allocations for returned bytes), by export name. */
  entries: Record<string, number>;
  moduleEntries: number;
}

type ImportTable = Record<string, (...args: never[]) => unknown>;

interface Counted {
  host: HostEmulator;
  calls: Map<string, number>;
  entries: Map<string, number>;
}

async function countingEmulator(module: string, pluginConfiguration: object, rootId: string): Promise<Counted> {
  const calls = new Map<string, number>();
  const entries = new Map<string, number>();
  const prototype = HostEmulator.prototype;
  const original = Reflect.get(prototype, "imports") as (this: HostEmulator) => ImportTable;
  Reflect.set(prototype, "imports", function (this: HostEmulator): ImportTable {
    const counted: ImportTable = {};
    for (const [name, fn] of Object.entries(original.call(this))) {
      counted[name] = (...args: never[]) => {
        calls.set(name, (calls.get(name) ?? 0) + 1);
        return fn(...args);
      };
    }
    return counted;
  });
  let host: HostEmulator;
  try {
    host = await HostEmulator.start(module, { pluginConfiguration, rootId, nowNanos: BigInt(Date.now()) * 1_000_000n });
  } finally {
    Reflect.set(prototype, "imports", original);
  }
  const enter = host.call.bind(host);
  host.call = (name: string, ...args: Array<number | bigint>): number => {
    // Envoy skips a callback the module does not export: only real entries count.
    if (host.hasExport(name)) entries.set(name, (entries.get(name) ?? 0) + 1);
    return enter(name, ...args);
  };
  return { host, calls, entries };
}

/** Properties Envoy has at log time, for the metrics filter (set once for the VM). */
const FINISHED_REQUEST: Record<string, bigint | boolean | string> = {
  "response.code": 200n, "response.flags": 0n, "request.duration": 2_000_000n, "request.total_size": 320n,
  "response.total_size": 180n, "xds.listener_direction": 1n, "connection.mtls": false, "source.address": "127.0.0.1:40000",
};

const REQUEST: HeaderList = [
  [":method", "GET"], [":path", "/bench"], [":authority", "127.0.0.1:10000"], [":scheme", "http"],
  ["user-agent", "k6/1.8.1"], ["x-user", "user-7"],
];

function sorted(map: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...map].sort(([a], [b]) => a.localeCompare(b)));
}

function total(map: Map<string, number>): number {
  return [...map.values()].reduce((a, b) => a + b, 0);
}

function measure(counted: Counted, headers: HeaderList, respond: boolean): Omit<HostCallCount, "filter" | "case"> {
  counted.calls.clear();
  counted.entries.clear();
  const stream = counted.host.newStream();
  stream.sendRequestHeaders(headers);
  if (respond) stream.sendResponseHeaders({ ":status": "200", "content-length": "3" });
  stream.complete();
  return {
    calls: sorted(counted.calls), hostCalls: total(counted.calls),
    entries: sorted(counted.entries), moduleEntries: total(counted.entries),
  };
}

export async function countHostCalls(): Promise<HostCallCount[]> {
  const results: HostCallCount[] = [];
  if (!wasmFilterUnavailable("rate-limit")) {
    const counted = await countingEmulator(wasmPath("rate-limit"), rateLimitConfig({ request_headers: { header_name: "x-user" } }), "rate-limit");
    measure(counted, REQUEST, true); // the key's bucket exists from here on
    results.push({ filter: "rate-limit", case: "allowed, known key", ...measure(counted, REQUEST, true) });
  }
  if (!wasmFilterUnavailable("metrics")) {
    const counted = await countingEmulator(wasmPath("metrics"), METRICS_CONFIG, "metrics");
    for (const [path, value] of Object.entries(FINISHED_REQUEST)) counted.host.setProperty(path, value);
    measure(counted, REQUEST, true); // the label set is known from here on
    results.push({ filter: "metrics", case: "13 labels, known series", ...measure(counted, REQUEST, true) });
  }
  if (!wasmFilterUnavailable("jwt-auth")) {
    const fixture = await createJwtFixture();
    const counted = await countingEmulator(wasmPath("jwt-auth"), jwtAuthnStyleConfig(fixture, { cacheSize: JWT_CACHE_SIZE }), "jwt-auth");
    const token = await mintToken(fixture, { alg: "RS256" });
    const withToken: HeaderList = [...REQUEST, ["authorization", `Bearer ${token}`]];
    results.push({ filter: "jwt-auth", case: "RS256, first sight (verified)", ...measure(counted, withToken, true) });
    results.push({ filter: "jwt-auth", case: "RS256, cached", ...measure(counted, withToken, true) });
  }
  if (!asMeshUnavailable()) {
    const fixture = await createJwtFixture();
    const counted = await countingEmulator(join(projectRoot, "build", "as-mesh.wasm"), chainConfig(fixture), "chain");
    for (const [path, value] of Object.entries(FINISHED_REQUEST)) counted.host.setProperty(path, value);
    const token = await mintToken(fixture, { alg: "RS256" });
    const withToken: HeaderList = [...REQUEST, ["authorization", `Bearer ${token}`]];
    measure(counted, withToken, true); // token verified and cached, bucket and label set known from here on
    results.push({ filter: "chain", case: "as-mesh chain root, RS256 cached", ...measure(counted, withToken, true) });
    if (!floorUnavailable()) {
      const floor = await countingEmulator(FLOOR_WASM, {}, "floor");
      for (const [path, value] of Object.entries(FINISHED_REQUEST)) floor.host.setProperty(path, value);
      measure(floor, withToken, true); // its bucket exists from here on, as the chain's does
      results.push({ filter: "floor", case: "the chain's calls alone (bench/floor)", ...measure(floor, withToken, true) });
    }
  }
  return results;
}
