// Command-line options of `npm run bench`, with the defaults of a full run and of the smoke mode.
import { FILTER_GROUPS, IMPLS, type FilterGroup, type Impl } from "./variants.ts";
import { JWT_ALGS, type JwtAlg } from "./jwt_fixture.ts";

export interface BenchOptions {
  /** Filter groups to run ("none" always runs: it is the baseline every delta is taken against). */
  filters: FilterGroup[];
  impls: Impl[];
  /** Explicit variant ids (overrides filters/impls). */
  variants: string[];
  jwtAlgs: JwtAlg[];
  rate: number;
  warmupSeconds: number;
  durationSeconds: number;
  saturationSeconds: number;
  saturationVus: number;
  repeats: number;
  /** Envoy worker threads (memory per worker: each runs its own Wasm VMs). */
  concurrency: number;
  /** Share of JWT requests that carry a token never sent before (cache-cold). */
  coldShare: number;
  /** Route to a loopback upstream instead of Envoy's direct_response. */
  upstream: boolean;
  pin: boolean;
  micro: boolean;
  microOnly: boolean;
  microIterations?: number;
  /** perf profile of Envoy during the saturation phase of the Lua and Wasm variants. */
  profile: boolean;
  build: boolean;
  smoke: boolean;
  outDir?: string;
  /** Rewrite the generated part of bench/RESULTS.md from this run. */
  resultsMd: boolean;
  /** Write the reports of an earlier run from its JSON instead of running. */
  report?: string;
}

export const USAGE = `npm run bench -- [options]

Runs every variant (no filter, Lua, Wasm, native, the three-filter chain) in its own Envoy (--concurrency 1,
pinned to core 0; k6 on core 1), k6 fixed-rate then saturation load, and writes bench/results/<timestamp>.json,
.md (tables) and .svg (latency chart).

  --filters LIST         jwt,rate-limit,metrics,chain (default: all)
  --impls LIST           lua,wasm,native (default: all; "none" always runs)
  --variants LIST        explicit variant ids (see --list)
  --list                 print the variant ids and whether each can run, then exit
  --jwt-algs LIST        RS256,ES256 (default: RS256)
  --rate N               fixed arrival rate, requests/s (default 1000)
  --warmup S             warm-up seconds at that rate before measuring (default 10)
  --duration S           measured fixed-rate seconds (default 30)
  --saturation S         closed-model seconds (default 15; 0 skips)
  --saturation-vus N     closed-model virtual users (default 32)
  --repeats N            rounds over all variants, order rotated each round (default 3)
  --concurrency N        Envoy worker threads (default 1; more shows the memory each worker adds)
  --cold-share X         share of JWT requests with a never-seen token, 0..1 (default 0.1)
  --upstream             route to a loopback upstream instead of direct_response
  --no-pin               do not pin Envoy and k6 to cores
  --micro / --no-micro   host-emulator micro-benchmarks (bench/micro/*.ts) too (default: on)
  --micro-only           only the micro-benchmarks
  --micro-iterations N   iterations per micro-benchmark case (default: each benchmark's own)
  --profile              perf profile of Envoy during the saturation phase of Lua and Wasm variants
  --no-build             use build/*.wasm as they are
  --smoke                seconds per phase and a low rate: proves the bench works (the test suite runs it)
  --out DIR              where results go (default bench/results)
  --results-md           rewrite the generated tables of bench/RESULTS.md from this run
  --report FILE          write the .md/.svg (and with --results-md, RESULTS.md) of an earlier run from its JSON
`;

function list<T extends string>(text: string, allowed: readonly T[], flag: string): T[] {
  const items = text.split(",").map((item) => item.trim()).filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item as T)) throw new Error(`${flag}: unknown value '${item}' (known: ${allowed.join(", ")})`);
  }
  return items as T[];
}

function number(text: string | undefined, flag: string, min: number, max = Infinity): number {
  const value = Number(text);
  if (text === undefined || !Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${flag} needs a number from ${min}${max === Infinity ? "" : ` to ${max}`} (got ${text})`);
  }
  return value;
}

export function parseOptions(argv: string[]): BenchOptions & { help: boolean; list: boolean } {
  const smoke = argv.includes("--smoke");
  const options: BenchOptions & { help: boolean; list: boolean } = {
    filters: ["jwt", "rate-limit", "metrics", "chain"],
    impls: ["lua", "wasm", "native"],
    variants: [],
    jwtAlgs: ["RS256"],
    rate: smoke ? 100 : 1000,
    warmupSeconds: smoke ? 1 : 10,
    durationSeconds: smoke ? 2 : 30,
    saturationSeconds: smoke ? 2 : 15,
    saturationVus: smoke ? 4 : 32,
    repeats: smoke ? 1 : 3,
    concurrency: 1,
    coldShare: 0.1,
    upstream: false,
    pin: true,
    micro: true,
    microOnly: false,
    microIterations: smoke ? 50 : undefined,
    profile: false,
    build: true,
    smoke,
    resultsMd: false,
    help: false,
    list: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case "--help": case "-h": options.help = true; break;
      case "--list": options.list = true; break;
      case "--smoke": break;
      case "--filters": options.filters = list(value(), FILTER_GROUPS, flag); break;
      case "--impls": options.impls = list(value(), IMPLS, flag); break;
      case "--variants": options.variants = value().split(",").map((v) => v.trim()).filter(Boolean); break;
      case "--jwt-algs": options.jwtAlgs = list(value().toUpperCase(), JWT_ALGS, flag); break;
      case "--rate": options.rate = number(value(), flag, 1); break;
      case "--warmup": options.warmupSeconds = number(value(), flag, 0); break;
      case "--duration": options.durationSeconds = number(value(), flag, 1); break;
      case "--saturation": options.saturationSeconds = number(value(), flag, 0); break;
      case "--saturation-vus": options.saturationVus = number(value(), flag, 1); break;
      case "--repeats": options.repeats = number(value(), flag, 1); break;
      case "--concurrency": options.concurrency = number(value(), flag, 1, 64); break;
      case "--cold-share": options.coldShare = number(value(), flag, 0, 1); break;
      case "--upstream": options.upstream = true; break;
      case "--no-pin": options.pin = false; break;
      case "--micro": options.micro = true; break;
      case "--no-micro": options.micro = false; break;
      case "--micro-only": options.microOnly = true; options.micro = true; break;
      case "--micro-iterations": options.microIterations = number(value(), flag, 1); break;
      case "--profile": options.profile = true; break;
      case "--no-build": options.build = false; break;
      case "--out": options.outDir = value(); break;
      case "--results-md": options.resultsMd = true; break;
      case "--report": options.report = value(); break;
      default: throw new Error(`unknown option '${flag}' (see --help)`);
    }
  }
  if (options.jwtAlgs.length === 0) throw new Error("--jwt-algs needs at least one algorithm");
  return options;
}

/** The options as a command line that reproduces the run (what RESULTS.md quotes). */
export function commandLine(argv: string[]): string {
  return ["npm run bench", ...(argv.length ? ["--", ...argv] : [])].join(" ");
}
