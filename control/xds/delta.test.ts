// Conformance of the incremental (delta) ADS stream: wildcard and named subscriptions, unsubscribe, removals
// (last, and only of what the proxy has), reconnection with initial_resource_versions, stale nonces, NACKs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TypeUrl } from "../api/index.ts";
import { shortTypeName, Snapshot } from "../cache/index.ts";
import type { DeltaDiscoveryResponse } from "../api/gen/envoy/service/discovery/v3/discovery_pb.ts";
import { eventually, meshResources, metricValue, startXds, type XdsFixture } from "./fixtures.ts";

const node = { id: "router~10.0.0.9~edge.default~cluster.local", cluster: "edge" };

async function withXds(body: (xds: XdsFixture) => Promise<void>): Promise<void> {
  const xds = await startXds();
  try {
    await body(xds);
  } finally {
    await xds.close();
  }
}

const names = (response: DeltaDiscoveryResponse) => response.resources.map((resource) => resource.name).sort();

test("an empty first CDS request is a wildcard subscription; EDS sends only subscribed names", () => withXds(async (xds) => {
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["a", "b"] })));
  const stream = xds.client.delta(node);
  stream.subscribe(TypeUrl.cluster);
  const cds = await stream.next();
  assert.deepEqual(names(cds), ["a", "b"]);
  assert.notEqual(cds.nonce, "");
  stream.ack(cds);
  stream.subscribe(TypeUrl.endpoint, ["b"]);
  const eds = await stream.next();
  assert.deepEqual(names(eds), ["b"]);
  stream.ack(eds);
  await eventually(() => xds.server.status()[0]?.types.every((type) => type.state === "SYNCED") ?? false, "SYNCED");
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["a", "b"] })));
  assert.equal(await stream.quietFor(300), true, "unchanged resources are not resent");
}));

test("only changed resources are sent, and removals come after every update of the push", () => withXds(async (xds) => {
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["a", "b"], routeCluster: "b" })));
  const stream = xds.client.delta(node, { autoAck: true });
  stream.subscribe(TypeUrl.cluster);
  stream.subscribe(TypeUrl.endpoint, ["a", "b"]);
  stream.subscribe(TypeUrl.listener);
  stream.subscribe(TypeUrl.route, ["routes"]);
  await eventually(() => stream.received.length === 4, "the initial four responses");
  stream.received.length = 0;

  // Move the route from b to a and drop b: the route must change before b's cluster and endpoints go.
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["a"], routeCluster: "a" })));
  await eventually(() => stream.received.length === 3, "route update, then cluster and endpoint removals");
  assert.equal(await stream.quietFor(200), true);
  const pushed = stream.received.map((response) =>
    `${shortTypeName(response.typeUrl)}:${response.resources.map((resource) => "+" + resource.name).concat(response.removedResources.map((name) => "-" + name)).join(",")}`);
  assert.deepEqual(pushed, ["rds:+routes", "cds:-b", "eds:-b"]);
}));

test("unsubscribing sends no removal, and subscribing again sends the resource again", () => withXds(async (xds) => {
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["a", "b"] })));
  const stream = xds.client.delta(node);
  stream.subscribe(TypeUrl.endpoint, ["a", "b"]);
  const first = await stream.next();
  assert.deepEqual(names(first), ["a", "b"]);
  stream.ack(first);
  stream.unsubscribe(TypeUrl.endpoint, ["b"]);
  assert.equal(await stream.quietFor(300), true, "no removal for an unsubscribed name");
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["a", "b"], upstreamPort: 7 })));
  const update = await stream.next();
  assert.deepEqual(names(update), ["a"], "an unsubscribed name is no longer pushed");
  stream.ack(update);
  stream.subscribe(TypeUrl.endpoint, ["b"]);
  const again = await stream.next();
  assert.deepEqual(names(again), ["b"]);
}));

test("a subscribed name that never existed is never sent as removed", () => withXds(async (xds) => {
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["a"] })));
  const stream = xds.client.delta(node);
  stream.subscribe(TypeUrl.endpoint, ["ghost"]);
  assert.equal(await stream.quietFor(200), true);
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["a"], upstreamPort: 3 })));
  assert.equal(await stream.quietFor(300), true, "no removal of a resource the proxy never had");
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["a", "ghost"] })));
  assert.deepEqual(names(await stream.next()), ["ghost"], "it is sent once it exists");
}));

test("a reconnect with initial_resource_versions gets only what differs, and removals of what is gone", () => withXds(async (xds) => {
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["a", "b", "c"] })));
  const first = xds.client.delta(node);
  first.subscribe(TypeUrl.cluster);
  first.ack(await first.next());
  const had = Object.fromEntries(first.have.get(TypeUrl.cluster)!);
  first.close();
  await eventually(() => xds.disconnects.length === 1, "the first stream to close");

  const same = xds.client.delta({ ...node, id: "same" });
  same.subscribe(TypeUrl.cluster, [], { initialVersions: had });
  assert.equal(await same.quietFor(300), true, "nothing is resent to a proxy that has it all");
  await eventually(() => xds.server.status().find((proxy) => proxy.id === "same")?.types[0]?.state === "SYNCED", "SYNCED");

  const behind = xds.client.delta({ ...node, id: "behind" });
  behind.subscribe(TypeUrl.cluster, [], { initialVersions: { ...had, a: "old", gone: "v1" } });
  const update = await behind.next();
  assert.deepEqual(names(update), ["a"]);
  behind.ack(update);
  const removal = await behind.next();
  assert.deepEqual(removal.removedResources, ["gone"]);
  assert.equal(removal.resources.length, 0);
}));

test("subscription changes in a request with a stale nonce are honoured, its ACK is not", () => withXds(async (xds) => {
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["a", "b"] })));
  const stream = xds.client.delta(node);
  stream.subscribe(TypeUrl.endpoint, ["a"]);
  const first = await stream.next();
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["a", "b"], upstreamPort: 5 })));
  const second = await stream.next();
  assert.notEqual(first.nonce, second.nonce);
  stream.subscribe(TypeUrl.endpoint, ["b"], { nonce: first.nonce });
  assert.deepEqual(names(await stream.next()), ["b"]);
  const eds = xds.server.status()[0].types[0];
  assert.equal(eds.state, "STALE", "the stale nonce did not ACK anything");
}));

test("a NACKed resource is not resent until it changes, and the error shows in the status", () => withXds(async (xds) => {
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["a"] })));
  const stream = xds.client.delta(node);
  stream.subscribe(TypeUrl.cluster);
  stream.ack(await stream.next());
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["a", "bad"] })));
  const rejected = await stream.next();
  assert.deepEqual(names(rejected), ["bad"]);
  stream.nack(rejected, "Proto constraint validation failed (cluster bad)");
  await eventually(() => xds.server.status()[0]?.types[0]?.state === "ERROR", "ERROR");
  assert.equal(xds.server.status()[0].types[0].lastError?.message, "Proto constraint validation failed (cluster bad)");
  assert.equal(await metricValue(xds.server.metricsRegistry, "pilot_total_xds_rejects", { type: "cds" }), 1);
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["a", "bad"], upstreamPort: 1 })));
  assert.equal(await stream.quietFor(300), true, "the rejected cluster is not resent");
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["a"] })));
  const removal = await stream.next();
  assert.deepEqual(removal.removedResources, ["bad"]);
  stream.ack(removal);
  await eventually(() => xds.server.status()[0]?.types[0]?.state === "SYNCED", "SYNCED again");
}));

test("an explicit \"*\" subscribes to every resource of a type and unsubscribing it stops that", () => withXds(async (xds) => {
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["a", "b"] })));
  const stream = xds.client.delta(node);
  stream.subscribe(TypeUrl.endpoint, ["*"]);
  const all = await stream.next();
  assert.deepEqual(names(all), ["a", "b"]);
  stream.ack(all);
  stream.unsubscribe(TypeUrl.endpoint, ["*"]);
  assert.equal(await stream.quietFor(200), true, "unsubscribing sends no removals");
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["a", "b", "c"], upstreamPort: 2 })));
  assert.equal(await stream.quietFor(300), true, "resources are no longer pushed once \"*\" is unsubscribed");
}));
