// The simulated proxies, in their own process so that decoding a thousand proxies' config does not share a core's
// time slice with the server being measured. Driven by its parent over the IPC channel (see fleet_process.ts).
import { SimulatedFleet, type ConvergenceResult } from "../../control/xds/index.ts";
import { simulatedSidecarNode } from "./mesh.ts";
import { splitFleet, type FleetCommand, type FleetReply } from "./fleet_process.ts";

const fleets: Array<{ protocol: "sotw" | "delta"; fleet: SimulatedFleet }> = [];
let changeDone: (() => void) | null = null;

function reply(message: FleetReply): void {
  process.send?.(message);
}

async function start(command: Extract<FleetCommand, { type: "start" }>): Promise<void> {
  const started = performance.now();
  for (const part of splitFleet(command.count, command.protocol)) {
    if (part.count === 0) continue;
    const fleet = new SimulatedFleet({
      address: command.address,
      count: part.count,
      protocol: part.protocol,
      streamsPerChannel: command.streamsPerChannel,
      // Distinct node ids and addresses across the fleet processes of one run.
      node: (index) => simulatedSidecarNode((command.firstIndex ?? 0) + part.first + index, command.services),
    });
    fleets.push({ protocol: part.protocol, fleet });
  }
  await Promise.all(fleets.map(({ fleet }) => fleet.start(command.timeoutMs, 1000)));
  reply({ type: "started", ms: performance.now() - started });
}

/** One change, measured by every fleet from the same instant: the fleets' waits nest around the parent's edit. */
async function measure(quietMs: number, timeoutMs: number): Promise<void> {
  const results: Array<{ protocol: "sotw" | "delta"; result: ConvergenceResult }> = [];
  const change = () => new Promise<void>((resolve) => {
    changeDone = resolve;
    reply({ type: "change" });
  });
  const nest = (at: number): Promise<void> => {
    if (at === fleets.length) return change();
    const { protocol, fleet } = fleets[at];
    return fleet.measureConvergence(() => nest(at + 1), quietMs, timeoutMs, true).then((result) => { results.push({ protocol, result }); });
  };
  await nest(0);
  reply({ type: "measured", results });
}

process.on("message", (message: FleetCommand) => {
  const run = async () => {
    switch (message.type) {
      case "start": return start(message);
      case "measure": return measure(message.quietMs, message.timeoutMs);
      case "changed": changeDone?.(); changeDone = null; return;
      case "close":
        for (const { fleet } of fleets) fleet.close();
        process.disconnect?.();
        setTimeout(() => process.exit(0), 100).unref();
        return;
    }
  };
  run().catch((error: unknown) => reply({ type: "error", message: error instanceof Error ? error.stack ?? error.message : String(error) }));
});
process.on("disconnect", () => process.exit(0));
