// `npm run bench -- control`: the control plane under N simulated proxies and a few real Envoys — config change →
// all-ACKed convergence, push CPU, RSS per connected proxy, bytes pushed. Writes bench/results/control-<time>.{json,md}.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { projectRoot } from "../scripts/tools.ts";
import { renderControlReport } from "./control/report.ts";
import { FLEET_ENGINES, type FleetEngine } from "./control/fleet_process.ts";
import { DEFAULT_CONTROL_BENCH, runControlBench, type ControlBenchOptions } from "./control/run.ts";

export const CONTROL_USAGE = `usage: npm run bench -- control [options]

  --proxies N              simulated ADS clients, each its own gRPC stream that ACKs (default ${DEFAULT_CONTROL_BENCH.proxies})
  --services N             services in the generated mesh (default ${DEFAULT_CONTROL_BENCH.services})
  --protocol P             sotw, delta or mix (half each; default ${DEFAULT_CONTROL_BENCH.protocol})
  --envoys N               real Envoys from the sidecar bootstrap, alternately SotW and delta (default ${DEFAULT_CONTROL_BENCH.envoys})
  --changes N              VirtualService edits measured (default ${DEFAULT_CONTROL_BENCH.changes})
  --streams-per-channel N  simulated streams per gRPC channel (default ${DEFAULT_CONTROL_BENCH.streamsPerChannel})
  --quiet-ms N             silence that ends a change's measurement (default ${DEFAULT_CONTROL_BENCH.quietMs})
  --fleet go|node          what simulates the proxies: bench/xdsfleet (Go, default) or the TypeScript fleet the tests use
  --cpu-prof               write the server's CPU profile (node --cpu-prof) next to the results, and the node fleet's
  --out DIR                where results go (default bench/results)
`;

function integer(text: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${flag} needs a whole number from ${min} to ${max} (got ${text})`);
  return value;
}

export function parseControlOptions(argv: string[]): { options: ControlBenchOptions; out: string; cpuProf: boolean; help: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      proxies: { type: "string" }, services: { type: "string" }, protocol: { type: "string" }, envoys: { type: "string" },
      changes: { type: "string" }, "streams-per-channel": { type: "string" }, "quiet-ms": { type: "string" },
      fleet: { type: "string" }, "cpu-prof": { type: "boolean" }, out: { type: "string" }, help: { type: "boolean", short: "h" },
    },
  });
  const protocol = values.protocol ?? DEFAULT_CONTROL_BENCH.protocol;
  if (protocol !== "sotw" && protocol !== "delta" && protocol !== "mix") throw new Error(`--protocol must be sotw, delta or mix (got ${protocol})`);
  const fleet = values.fleet ?? DEFAULT_CONTROL_BENCH.fleet;
  if (!FLEET_ENGINES.includes(fleet as FleetEngine)) throw new Error(`--fleet must be ${FLEET_ENGINES.join(" or ")} (got ${fleet})`);
  const d = DEFAULT_CONTROL_BENCH;
  return {
    options: {
      proxies: integer(values.proxies, "proxies", d.proxies, 0, 65_000),
      services: integer(values.services, "services", d.services, 1, 1000),
      protocol,
      envoys: integer(values.envoys, "envoys", d.envoys, 0, 8),
      changes: integer(values.changes, "changes", d.changes, 1, 9),
      streamsPerChannel: integer(values["streams-per-channel"], "streams-per-channel", d.streamsPerChannel, 1, 10_000),
      quietMs: integer(values["quiet-ms"], "quiet-ms", d.quietMs, 200, 60_000),
      fleet: fleet as FleetEngine,
    },
    out: values.out ?? join(projectRoot, "bench", "results"),
    cpuProf: values["cpu-prof"] ?? false,
    help: values.help ?? false,
  };
}

export async function main(argv: string[]): Promise<void> {
  const { options, out, cpuProf, help } = parseControlOptions(argv);
  if (help) {
    process.stdout.write(CONTROL_USAGE);
    return;
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  mkdirSync(out, { recursive: true });
  const cpuProfileDir = cpuProf ? join(out, `control-${stamp}-cpuprofile`) : undefined;
  const result = await runControlBench({ ...options, cpuProfileDir });
  const command = ["npm run bench -- control", ...argv].join(" ");
  const base = join(out, `control-${stamp}`);
  writeFileSync(`${base}.json`, JSON.stringify({ command, ...result }, null, 2) + "\n");
  const markdown = renderControlReport(result, command);
  writeFileSync(`${base}.md`, markdown);
  process.stdout.write(`${markdown}\nresults: ${relative(process.cwd(), base)}.{json,md}${cpuProfileDir ? `\nCPU profiles: ${relative(process.cwd(), cpuProfileDir)}/ (the server's; fleet/: the simulated proxies')` : ""}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
