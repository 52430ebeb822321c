import { test } from "node:test";
import assert from "node:assert/strict";
import { Snapshot } from "../cache/index.ts";
import { abortFilter, eventually, meshResources, startXds } from "./fixtures.ts";
import { SimulatedFleet } from "./fleet.ts";

const clusters = Array.from({ length: 10 }, (_, index) => `svc-${index}`);
const config = (port: number) => new Snapshot(meshResources({ clusters, upstreamPort: port, filters: [abortFilter("fault", 503, 0)] }));

for (const protocol of ["sotw", "delta"] as const) {
  test(`a simulated ${protocol} fleet subscribes like Envoy, ACKs everything and gets one update per change`, async () => {
    const xds = await startXds();
    const fleet = new SimulatedFleet({ address: xds.address, count: 50, protocol, streamsPerChannel: 20, node: (index) => ({ id: `proxy-${index}` }) });
    try {
      xds.cache.setSnapshot("default", config(8000));
      await fleet.start();
      await eventually(() => xds.server.status().length === 50 && xds.server.status().every((proxy) =>
        proxy.types.length === 5 && proxy.types.every((type) => type.state === "SYNCED")), "every proxy SYNCED on CDS, EDS, LDS, RDS and ECDS");

      const result = await fleet.measureConvergence(() => xds.cache.setSnapshot("default", config(8001)), 200, 60_000, true);
      assert.equal(result.updated, 50);
      assert.equal(result.responses, 50, "one EDS response per proxy, nothing else");
      assert.ok(result.bytes > 0);
      assert.equal(result.latenciesMs.length, 50);

      const unchanged = await fleet.measureConvergence(() => xds.cache.setSnapshot("default", config(8001)), 200);
      assert.equal(unchanged.responses, 0, "an identical snapshot sends nothing");
    } finally {
      fleet.close();
      await xds.close();
    }
  });
}
