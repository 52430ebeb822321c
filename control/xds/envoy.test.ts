// The xDS server with the real Envoy 1.40 over ADS, SotW and delta: Envoy gets its listener, route, cluster,
// endpoints and an ECDS filter from a snapshot and proxies real HTTP; config changes apply live; a route Envoy
// rejects shows as ERROR with Envoy's own message, is not resent, and Envoy keeps serving its last good config.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { BootstrapJson } from "../api/gen/envoy/config/bootstrap/v3/bootstrap_pb.ts";
import { Snapshot } from "../cache/index.ts";
import { startEnvoy, withEnvoyLog, type EnvoyInstance } from "../../tests/harness/envoy.ts";
import { startUpstream, type Upstream } from "../../tests/harness/upstream.ts";
import { abortFilter, eventually, meshResources, metricValue, sleep, startXds, type XdsFixture } from "./fixtures.ts";
import type { Json } from "../../envoy/bootstrap.ts";

type ApiType = "GRPC" | "DELTA_GRPC";

/** An Envoy bootstrap that gets everything but the xDS cluster itself over ADS from `xdsPort`. */
function adsBootstrap(xdsPort: number, apiType: ApiType): BootstrapJson {
  const ads = { ads: {}, resourceApiVersion: "V3" as const };
  return {
    node: { id: `sidecar~127.0.0.1~test-${apiType.toLowerCase()}.default~cluster.local`, cluster: "test", metadata: { NAMESPACE: "default" } },
    admin: { address: { socketAddress: { address: "127.0.0.1", portValue: 0 } } },
    dynamicResources: {
      adsConfig: { apiType, transportApiVersion: "V3", setNodeOnFirstMessageOnly: true, grpcServices: [{ envoyGrpc: { clusterName: "xds" } }] },
      cdsConfig: ads,
      ldsConfig: ads,
    },
    staticResources: {
      clusters: [{
        name: "xds",
        type: "STATIC",
        connectTimeout: "1s",
        typedExtensionProtocolOptions: {
          "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            explicitHttpConfig: { http2ProtocolOptions: {} },
          } as { "@type": string },
        },
        loadAssignment: {
          clusterName: "xds",
          endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: "127.0.0.1", portValue: xdsPort } } } }] }],
        },
      }],
    },
  };
}

interface Running {
  xds: XdsFixture;
  upstream: Upstream;
  envoy?: EnvoyInstance;
}

/** Starts the xDS server with the snapshot `initial` builds, then Envoy (ready only once it has that config). */
async function withEnvoyAndXds(
  apiType: ApiType,
  initial: (upstreamPort: number) => Snapshot,
  body: (running: Running & { envoy: EnvoyInstance }) => Promise<void>,
): Promise<void> {
  const running: Running = { xds: await startXds(), upstream: await startUpstream() };
  try {
    running.xds.cache.setSnapshot("default", initial(running.upstream.port));
    await withEnvoyLog(() => running.envoy, async () => {
      running.envoy = await startEnvoy({ config: adsBootstrap(running.xds.port, apiType) as Json, readyTimeoutMs: 15_000 });
      await body(running as Running & { envoy: EnvoyInstance });
    })();
  } finally {
    await running.envoy?.stop();
    await running.xds.close();
    await running.upstream.close();
  }
}

async function get(url: string): Promise<{ status: number; generation: string | null }> {
  const response = await fetch(url);
  await response.arrayBuffer();
  return { status: response.status, generation: response.headers.get("x-generation") };
}

const allSynced = (xds: XdsFixture, types: number) => {
  const [proxy] = xds.server.status();
  return proxy !== undefined && proxy.types.length === types && proxy.types.every((type) => type.state === "SYNCED");
};

for (const apiType of ["GRPC", "DELTA_GRPC"] as const) {
  test(`Envoy over ${apiType} ADS gets listener, route, cluster, endpoints and an ECDS filter and proxies real HTTP; changes apply live`, () =>
    withEnvoyAndXds(apiType, (upstreamPort) => new Snapshot(meshResources({
      upstreamPort, responseHeader: ["x-generation", "1"], filters: [abortFilter("fault", 418, 0)],
    })), async ({ xds, upstream, envoy }) => {
      await eventually(() => envoy.listeners.has("ingress"), "the ingress listener");
      const url = envoy.url("ingress");
      assert.deepEqual(await get(url + "/hello"), { status: 200, generation: "1" });
      assert.equal(upstream.received.at(-1)?.path, "/hello");
      await eventually(() => allSynced(xds, 5), "CDS, EDS, LDS, RDS and ECDS SYNCED");
      assert.match(xds.server.status()[0].userAgent, /^envoy/);

      // A route change and a filter change reach the running Envoy without restarting it.
      xds.cache.setSnapshot("default", new Snapshot(meshResources({
        upstreamPort: upstream.port, responseHeader: ["x-generation", "2"], filters: [abortFilter("fault", 418, 0)],
      })));
      await eventually(async () => (await get(url)).generation === "2", "the new route");
      xds.cache.setSnapshot("default", new Snapshot(meshResources({
        upstreamPort: upstream.port, responseHeader: ["x-generation", "2"], filters: [abortFilter("fault", 418, 100)],
      })));
      await eventually(async () => (await get(url)).status === 418, "the ECDS filter's new config");
      await eventually(() => allSynced(xds, 5), "every type SYNCED after the changes");
      const listenerStats = await envoy.stats("listener_manager.listener_modified");
      assert.equal(listenerStats.get("listener_manager.listener_modified"), 0, "no listener was replaced (no drain)");
    }));

  test(`a route Envoy rejects over ${apiType} shows as ERROR with Envoy's message, is not resent, and the last good config keeps serving`, () =>
    withEnvoyAndXds(apiType, (upstreamPort) => new Snapshot(meshResources({ upstreamPort, responseHeader: ["x-generation", "good"] })),
      async ({ xds, upstream, envoy }) => {
      await eventually(() => envoy.listeners.has("ingress"), "the ingress listener");
      const url = envoy.url("ingress");
      await eventually(() => allSynced(xds, 4), "SYNCED");

      // RE2 refuses an unbalanced parenthesis; only Envoy finds out, so it NACKs.
      xds.cache.setSnapshot("default", new Snapshot(meshResources({ upstreamPort: upstream.port, responseHeader: ["x-generation", "bad"], regex: "/(unclosed" })));
      await eventually(() => xds.server.status()[0]?.types.find((type) => type.type === "rds")?.state === "ERROR", "RDS in ERROR");
      const rds = xds.server.status()[0].types.find((type) => type.type === "rds")!;
      assert.match(rds.lastError?.message ?? "", /missing \): \/\(unclosed/, `Envoy's text: ${rds.lastError?.message}`);
      assert.notEqual(rds.ackedVersion, rds.lastError?.version);
      assert.deepEqual(await get(url), { status: 200, generation: "good" }, "Envoy keeps its last good route");

      const rdsPushes = await metricValue(xds.server.metricsRegistry, "pilot_xds_pushes", { type: "rds" });
      const [stream] = xds.server.connectedStreams();
      const writes = stream.writes;
      // An unrelated rebuild with the same bad route, then a pause: nothing is resent.
      xds.cache.setSnapshot("default", new Snapshot(meshResources({ upstreamPort: upstream.port, responseHeader: ["x-generation", "bad"], regex: "/(unclosed" })));
      await sleep(1000);
      assert.equal(await metricValue(xds.server.metricsRegistry, "pilot_xds_pushes", { type: "rds" }), rdsPushes);
      assert.equal(stream.writes, writes, "no response of any type was resent");
      assert.equal(await metricValue(xds.server.metricsRegistry, "pilot_total_xds_rejects", { type: "rds" }), 1);
      assert.deepEqual(await get(url), { status: 200, generation: "good" });

      // The next changed snapshot is sent and accepted.
      xds.cache.setSnapshot("default", new Snapshot(meshResources({ upstreamPort: upstream.port, responseHeader: ["x-generation", "fixed"] })));
      await eventually(async () => (await get(url)).generation === "fixed", "the fixed route");
      await eventually(() => allSynced(xds, 4), "SYNCED again");
      assert.equal(xds.server.status()[0].types.find((type) => type.type === "rds")?.lastError?.version, rds.lastError?.version);
    }));
}

for (const apiType of ["GRPC", "DELTA_GRPC"] as const) {
  test(`Envoy keeps serving while the xDS server is down and resyncs over ${apiType} without anything being resent`, () => {
    const initial = (upstreamPort: number) => new Snapshot(meshResources({
      upstreamPort, responseHeader: ["x-generation", "1"], filters: [abortFilter("fault", 418, 0)],
    }));
    return withEnvoyAndXds(apiType, initial, async ({ xds, upstream, envoy }) => {
      await eventually(() => envoy.listeners.has("ingress"), "the ingress listener");
      const url = envoy.url("ingress");
      await eventually(() => allSynced(xds, 5), "SYNCED");
      await xds.server.close();
      for (let attempt = 0; attempt < 5; attempt++) {
        assert.deepEqual(await get(url), { status: 200, generation: "1" }, "Envoy serves its last config without the server");
        await sleep(100);
      }

      // A restarted control service computes the same versions from the same config.
      const restarted = await startXds({ address: `127.0.0.1:${xds.port}` });
      try {
        restarted.cache.setSnapshot("default", initial(upstream.port));
        await eventually(() => allSynced(restarted, 5), "every type SYNCED after the reconnect", 20_000);
        await sleep(500);
        const [stream] = restarted.server.connectedStreams();
        assert.equal(stream.writes, 0, "nothing was resent to the reconnected Envoy");
        assert.equal(await metricValue(restarted.server.metricsRegistry, "pilot_xds_pushes"), 0);

        restarted.cache.setSnapshot("default", new Snapshot(meshResources({
          upstreamPort: upstream.port, responseHeader: ["x-generation", "2"], filters: [abortFilter("fault", 418, 0)],
        })));
        await eventually(async () => (await get(url)).generation === "2", "a change after the reconnect");
        assert.equal(stream.writes, 1, "only the changed route was sent");
      } finally {
        await restarted.close();
      }
    });
  });
}
