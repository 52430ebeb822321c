// The server around the streams: write back-pressure with a proxy that stops reading, SDS over a Unix socket
// for the per-workload agent, the proxy-status table, and shutting down.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { TypeUrl } from "../api/index.ts";
import { Snapshot, SnapshotCache } from "../cache/index.ts";
import { XdsClient } from "./client.ts";
import { edsCluster, eventually, meshResources, sleep, startXds } from "./fixtures.ts";
import { formatStatusTable } from "./format.ts";
import { XdsServer } from "./server.ts";

/** A snapshot whose single cluster carries `bytes` of metadata, so every push is large. */
function bigSnapshot(generation: number, bytes: number): Snapshot {
  const cluster = { ...edsCluster("backend"), metadata: { filterMetadata: { padding: { generation, blob: "x".repeat(bytes) } } } };
  const resources = meshResources();
  resources[TypeUrl.cluster] = new Map([["backend", cluster]]);
  return new Snapshot(resources);
}

test("a proxy that stops reading blocks its stream; pushes coalesce and it gets the newest config when it reads again", async () => {
  // HTTP/2's default 64 KiB window, so the proxy's buffers fill after a few of the 256 KiB pushes.
  const xds = await startXds({ clientWindow: 65_535 });
  try {
    const stream = xds.client.sotw({ id: "slow" }, { autoAck: true });
    xds.cache.setSnapshot("default", bigSnapshot(0, 256 * 1024));
    stream.request(TypeUrl.cluster);
    await eventually(() => stream.received.length === 1, "the first push");
    stream.pause();
    const pushes = 60;
    for (let generation = 1; generation <= pushes; generation++) {
      xds.cache.setSnapshot("default", bigSnapshot(generation, 256 * 1024));
      await sleep(5);
    }
    const [serverStream] = xds.server.connectedStreams();
    await eventually(() => serverStream.isBlocked, "the server stream to report it is full");
    const writesWhileBlocked = serverStream.writes;
    // The client's own receive buffer takes 16 messages; the server holds no more than its in-flight limit.
    assert.ok(writesWhileBlocked < pushes / 2, `only what fits the stream's buffers was written (${writesWhileBlocked} of ${pushes + 1})`);
    assert.ok(serverStream.inFlight <= 2, `${serverStream.inFlight} responses held by the server`);
    await sleep(100);
    assert.equal(serverStream.writes, writesWhileBlocked, "nothing more is written while the proxy does not read");
    stream.resume();
    const newest = bigSnapshot(pushes, 256 * 1024).typeVersion(TypeUrl.cluster);
    await eventually(() => stream.versions.get(TypeUrl.cluster) === newest, "the newest config after resuming", 15_000);
    assert.ok(stream.received.length < pushes / 2, `${stream.received.length} responses instead of ${pushes + 1}`);
    assert.equal(serverStream.isBlocked, false);
  } finally {
    await xds.close();
  }
});

test("serves SDS over a Unix socket with SotW and delta streams, and only secrets", async () => {
  const dir = mkdtempSync(join(tmpdir(), "as-mesh-sds-"));
  const cache = new SnapshotCache();
  const server = new XdsServer({ cache, groupOf: () => "workload", services: ["sds"], logger: pino({ level: "silent" }) });
  const secret = (key: string) => ({ name: "default", tlsCertificate: { certificateChain: { inlineString: `cert-${key}` } } });
  cache.setSnapshot("workload", new Snapshot({ [TypeUrl.secret]: new Map<string, object>([["default", secret("1")], ["ROOTCA", { name: "ROOTCA", validationContext: { trustedCa: { inlineString: "ca" } } }]]) }));
  const socket = join(dir, "sds.sock");
  await server.listen(`unix:${socket}`);
  const client = new XdsClient(`unix:${socket}`);
  try {
    const sotw = client.sotw({ id: "workload-1" }, { service: "sds" });
    sotw.request(TypeUrl.secret, ["default"]);
    const response = await sotw.next();
    assert.equal(response.typeUrl, TypeUrl.secret);
    assert.deepEqual(response.resources.map((any) => any.typeUrl), [TypeUrl.secret]);
    sotw.ack(response);

    const delta = client.delta({ id: "workload-1" }, { service: "sds" });
    delta.subscribe(TypeUrl.secret, ["default", "ROOTCA"]);
    const both = await delta.next();
    assert.deepEqual(both.resources.map((resource) => resource.name).sort(), ["ROOTCA", "default"]);
    delta.ack(both);

    cache.setSnapshot("workload", new Snapshot({ [TypeUrl.secret]: new Map<string, object>([["default", secret("2")], ["ROOTCA", { name: "ROOTCA", validationContext: { trustedCa: { inlineString: "ca" } } }]]) }));
    assert.equal((await sotw.next()).resources.length, 1, "the rotated certificate reaches the SotW stream");
    assert.deepEqual((await delta.next()).resources.map((resource) => resource.name), ["default"], "and only it reaches the delta stream");

    sotw.request(TypeUrl.cluster);
    assert.equal(await sotw.quietFor(200), true, "the SDS service does not serve clusters");
  } finally {
    client.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the status table shows every proxy's types and the NACK text of those in ERROR", async () => {
  const xds = await startXds();
  try {
    xds.cache.setSnapshot("default", new Snapshot(meshResources()));
    const good = xds.client.sotw({ id: "good", cluster: "ride" }, { autoAck: true });
    good.request(TypeUrl.cluster);
    good.request(TypeUrl.listener);
    const bad = xds.client.delta({ id: "bad", cluster: "ride" });
    bad.subscribe(TypeUrl.listener);
    bad.nack(await bad.next(), "error adding listener '127.0.0.1:1': cannot bind");
    await eventually(() => xds.server.status().length === 2 && xds.server.status()[0].types.length === 1 &&
      xds.server.status()[0].types[0].state === "ERROR" && xds.server.status()[1].types.every((type) => type.state === "SYNCED"), "both proxies' states");
    const table = formatStatusTable(xds.server.status());
    const lines = table.split("\n");
    assert.match(lines[0], /^NAME\s+CLUSTER\s+CDS\s+LDS\s+EDS\s+RDS\s+ECDS\s+SDS\s+PROTOCOL\s+CONNECTED$/);
    assert.match(lines[1], /^bad\s+ride\s+IGNORED\s+ERROR\s+IGNORED/);
    assert.match(lines[2], /^good\s+ride\s+SYNCED\s+SYNCED\s+IGNORED/);
    assert.match(table, /bad LDS rejected version \S+: error adding listener '127\.0\.0\.1:1': cannot bind/);
  } finally {
    await xds.close();
  }
});

test("closing the server ends every stream", async () => {
  const xds = await startXds();
  xds.cache.setSnapshot("default", new Snapshot(meshResources()));
  const stream = xds.client.sotw({ id: "p" });
  stream.request(TypeUrl.cluster);
  await stream.next();
  await xds.server.close();
  const ended = await stream.endedWithin();
  assert.equal(ended.code, 0);
  assert.deepEqual(xds.server.status(), []);
  xds.client.close();
});

test("undecodable requests end only their own stream, and requests for unknown types are ignored", async () => {
  const xds = await startXds();
  try {
    xds.cache.setSnapshot("default", new Snapshot(meshResources()));
    const raw = xds.client.channel.makeBidiStreamRequest(
      "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources",
      (bytes: Buffer) => bytes, (bytes: Buffer) => bytes);
    const ended = new Promise<number>((resolve) => {
      raw.on("error", (error: { code: number }) => resolve(error.code));
      raw.on("data", () => undefined);
    });
    raw.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
    assert.notEqual(await ended, 0, "the garbage stream ends with an error status");

    const stream = xds.client.sotw({ id: "p" });
    stream.request("type.googleapis.com/envoy.config.route.v3.VirtualHost", ["x"]);
    assert.equal(await stream.quietFor(200), true, "an unknown type gets no response");
    stream.request(TypeUrl.cluster);
    assert.equal((await stream.next()).typeUrl, TypeUrl.cluster, "the stream and the server still serve");
  } finally {
    await xds.close();
  }
});
