// Conformance of the state-of-the-world ADS stream: ordering, nonces, ACK/NACK, wildcard and named subscriptions,
// reconnection, and what the status and metrics say about it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TypeUrl } from "../api/index.ts";
import { shortTypeName, Snapshot } from "../cache/index.ts";
import type { SotwClientStream } from "./client.ts";
import { abortFilter, eventually, histogramCount, meshResources, metricValue, sleep, startXds, type XdsFixture } from "./fixtures.ts";

const node = { id: "sidecar~10.0.0.1~ride-1.default~cluster.local", cluster: "ride", metadata: { NAMESPACE: "default" } };

/** Subscribes the way Envoy does over ADS: CDS and LDS wildcard, EDS/RDS/ECDS by name. */
function subscribeAll(stream: SotwClientStream): void {
  stream.request(TypeUrl.cluster);
  stream.request(TypeUrl.endpoint, ["backend"]);
  stream.request(TypeUrl.listener);
  stream.request(TypeUrl.route, ["routes"]);
  stream.request(TypeUrl.extensionConfig, ["fault"]);
}

async function withXds(body: (xds: XdsFixture) => Promise<void>): Promise<void> {
  const xds = await startXds();
  try {
    await body(xds);
  } finally {
    await xds.close();
  }
}

test("pushes ECDS, then CDS → EDS → LDS → RDS once the group has a snapshot", () => withXds(async (xds) => {
  const stream = xds.client.sotw(node);
  subscribeAll(stream);
  assert.equal(await stream.quietFor(150), true, "nothing is sent before the group has a snapshot");
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ filters: [abortFilter("fault", 503, 10)] })));
  const order: string[] = [];
  for (let index = 0; index < 5; index++) order.push(shortTypeName((await stream.next()).typeUrl));
  assert.deepEqual(order, ["ecds", "cds", "eds", "lds", "rds"]);
}));

test("every response has its own nonce; an ACK marks the type SYNCED and an unchanged snapshot is not resent", () => withXds(async (xds) => {
  xds.cache.setSnapshot("default", new Snapshot(meshResources()));
  const stream = xds.client.sotw(node);
  stream.request(TypeUrl.cluster);
  stream.request(TypeUrl.endpoint, ["backend"]);
  const cds = await stream.next();
  const eds = await stream.next();
  assert.notEqual(cds.nonce, eds.nonce);
  assert.equal(cds.resources.length, 1);
  await eventually(() => xds.server.status()[0]?.types.every((type) => type.state === "STALE") ?? false, "STALE before ACK");
  stream.ack(cds);
  stream.ack(eds);
  await eventually(() => xds.server.status()[0]?.types.every((type) => type.state === "SYNCED") ?? false, "SYNCED after ACK");
  xds.cache.setSnapshot("default", new Snapshot(meshResources()));
  assert.equal(await stream.quietFor(300), true, "identical resources are not resent");
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ upstreamPort: 9090 })));
  const changed = await stream.next();
  assert.equal(changed.typeUrl, TypeUrl.endpoint, "only the type that changed is sent");
  assert.equal(await stream.quietFor(200), true);
  assert.equal(await metricValue(xds.server.metricsRegistry, "pilot_xds_pushes", { type: "eds" }), 2);
  stream.ack(changed);
  await eventually(async () => await histogramCount(xds.server.metricsRegistry, "pilot_proxy_convergence_time") === 3,
    "convergence observed for the three ACKed responses");
}));

test("streams sending the same response share its nonce, but one stream never has two unanswered responses with one nonce", () => withXds(async (xds) => {
  const first = new Snapshot(meshResources());
  xds.cache.setSnapshot("default", first);
  const one = xds.client.sotw(node);
  const other = xds.client.sotw({ ...node, id: "sidecar~10.0.0.2~ride-2.default~cluster.local" });
  one.request(TypeUrl.endpoint, ["backend"]);
  other.request(TypeUrl.endpoint, ["backend"]);
  const [sent, alsoSent] = [await one.next(), await other.next()];
  assert.equal(sent.nonce, alsoSent.nonce, "one encoded response, one nonce");
  assert.deepEqual(sent.resources, alsoSent.resources);

  // Unanswered, the same content comes back to `one` (a change and its revert): it needs a nonce of its own.
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ upstreamPort: 9090 })));
  const changed = await one.next();
  assert.notEqual(changed.versionInfo, sent.versionInfo);
  xds.cache.setSnapshot("default", first);
  const reverted = await one.next();
  assert.equal(reverted.versionInfo, sent.versionInfo);
  assert.notEqual(reverted.nonce, sent.nonce, "the first response with that content is still unanswered");
  one.ack(sent);
  one.ack(changed);
  await sleep(100);
  assert.equal(xds.server.status().find((proxy) => proxy.id === node.id)?.types[0]?.state, "STALE", "late ACKs do not count for the latest response");
  one.ack(reverted);
  await eventually(() => xds.server.status().find((proxy) => proxy.id === node.id)?.types[0]?.state === "SYNCED", "SYNCED once the latest is ACKed");
}));

test("a NACK is recorded with the proxy's error text, not resent, and the next changed snapshot is sent", () => withXds(async (xds) => {
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["backend"] })));
  const stream = xds.client.sotw(node);
  stream.request(TypeUrl.cluster);
  stream.ack(await stream.next());
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["backend", "extra"] })));
  const rejected = await stream.next();
  stream.nack(rejected, "cluster extra: invalid connect timeout");
  await eventually(() => xds.server.status()[0]?.types[0]?.state === "ERROR", "ERROR after NACK");
  const cds = xds.server.status()[0].types[0];
  assert.equal(cds.lastError?.message, "cluster extra: invalid connect timeout");
  assert.equal(cds.lastError?.version, rejected.versionInfo);
  assert.notEqual(cds.ackedVersion, rejected.versionInfo, "the proxy keeps its last good version");
  assert.equal(await metricValue(xds.server.metricsRegistry, "pilot_total_xds_rejects", { type: "cds" }), 1);

  // A rebuilt snapshot with the same content (e.g. an unrelated config change) must not resend the rejected set.
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["backend", "extra"] })));
  assert.equal(await stream.quietFor(300), true, "the rejected version is not resent");
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["backend", "fixed"] })));
  const next = await stream.next();
  assert.deepEqual(next.resources.length, 2);
  assert.notEqual(next.versionInfo, rejected.versionInfo);
  stream.ack(next);
  await eventually(() => xds.server.status()[0]?.types[0]?.state === "SYNCED", "SYNCED after the next ACK");
}));

test("a request with a stale nonce is ignored", () => withXds(async (xds) => {
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["backend", "other"] })));
  const stream = xds.client.sotw(node);
  stream.request(TypeUrl.endpoint, ["backend"]);
  const first = await stream.next();
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["backend", "other"], upstreamPort: 9 })));
  const second = await stream.next();
  // Answering the first response after the second was sent: neither an ACK nor a change of names.
  stream.request(TypeUrl.endpoint, ["backend", "other"], { nonce: first.nonce, versionInfo: first.versionInfo });
  assert.equal(await stream.quietFor(300), true, "the stale request's new name is not served");
  assert.equal(xds.server.status()[0].types[0].state, "STALE");
  // The same names with the current nonce are an ACK plus a change of names, which is served.
  stream.ack(second);
  const both = await stream.next();
  assert.equal(both.resources.length, 2);
  stream.ack(both);
  await eventually(() => xds.server.status()[0]?.types[0]?.state === "SYNCED", "SYNCED after the current nonce is ACKed");
}));

test("CDS and LDS are wildcard; EDS and RDS carry only the names asked for", () => withXds(async (xds) => {
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["a", "b", "c"] })));
  const stream = xds.client.sotw(node);
  stream.request(TypeUrl.cluster);
  const cds = await stream.next();
  assert.equal(cds.resources.length, 3);
  stream.ack(cds);
  stream.request(TypeUrl.endpoint, ["b"]);
  const eds = await stream.next();
  assert.equal(eds.resources.length, 1);
  stream.ack(eds);
  stream.request(TypeUrl.endpoint, ["b", "c"], { nonce: eds.nonce, versionInfo: eds.versionInfo });
  const more = await stream.next();
  assert.equal(more.resources.length, 2, "a changed subscription gets the full named set");
}));

test("a reconnecting proxy that reports the versions it has is sent nothing and shows SYNCED", () => withXds(async (xds) => {
  xds.cache.setSnapshot("default", new Snapshot(meshResources()));
  const first = xds.client.sotw(node);
  first.request(TypeUrl.cluster);
  first.request(TypeUrl.endpoint, ["backend"]);
  first.ack(await first.next());
  first.ack(await first.next());
  const versions = new Map(first.versions);
  first.close();
  await eventually(() => xds.disconnects.length === 1, "the first stream to close");

  // The control service restarts with the same config: the versions are content hashes, so they match.
  xds.cache.setSnapshot("default", new Snapshot(meshResources()));
  const second = xds.client.sotw(node);
  second.request(TypeUrl.cluster, [], { versionInfo: versions.get(TypeUrl.cluster) });
  second.request(TypeUrl.endpoint, ["backend"], { versionInfo: versions.get(TypeUrl.endpoint) });
  assert.equal(await second.quietFor(300), true, "no resend storm on reconnect");
  await eventually(() => xds.server.status()[0]?.types.every((type) => type.state === "SYNCED") ?? false, "SYNCED without a push");

  const stale = xds.client.sotw({ ...node, id: "behind" });
  stale.request(TypeUrl.cluster, [], { versionInfo: "some-old-version" });
  assert.equal((await stale.next()).typeUrl, TypeUrl.cluster, "a proxy with another version gets the current one");
}));

test("waits for an asynchronous group and its first snapshot, and reports connects and disconnects", async () => {
  let release: (group: string) => void = () => {};
  const xds = await startXds({ groupOf: () => new Promise<string>((resolve) => { release = resolve; }) });
  try {
    const stream = xds.client.sotw(node);
    stream.request(TypeUrl.cluster);
    await sleep(100);
    assert.equal(xds.connects.length, 0, "not connected before its group is known");
    release("ride");
    await eventually(() => xds.connects.length === 1, "onConnect");
    assert.deepEqual(xds.connects[0].metadata, { NAMESPACE: "default" });
    assert.equal(xds.connects[0].id, node.id);
    assert.equal(xds.connects[0].cluster, "ride");
    assert.equal(await metricValue(xds.server.metricsRegistry, "pilot_xds"), 1);
    assert.equal(xds.server.status()[0].types[0].state, "NOT SENT");
    assert.equal(await stream.quietFor(150), true);
    xds.cache.setSnapshot("ride", new Snapshot(meshResources()));
    assert.equal((await stream.next()).typeUrl, TypeUrl.cluster);
    stream.close();
    await eventually(() => xds.disconnects.length === 1, "onDisconnect");
    assert.equal(await metricValue(xds.server.metricsRegistry, "pilot_xds"), 0);
    assert.deepEqual(xds.server.status(), []);
  } finally {
    await xds.close();
  }
});

test("a proxy whose group cannot be chosen is refused with the reason", async () => {
  const xds = await startXds({ groupOf: () => { throw new Error("node metadata lacks NAMESPACE"); } });
  try {
    const stream = xds.client.sotw(node);
    stream.request(TypeUrl.cluster);
    const ended = await stream.endedWithin();
    assert.equal(ended.code, 3);
    assert.match(ended.details, /lacks NAMESPACE/);
    const anonymous = xds.client.sotw({ id: "" });
    anonymous.request(TypeUrl.cluster);
    assert.match((await anonymous.endedWithin()).details, /node\.id/);
  } finally {
    await xds.close();
  }
});

test("a push that removes a cluster keeps it until the routes moved off it, then removes it", () => withXds(async (xds) => {
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["a", "b"], routeCluster: "b" })));
  const stream = xds.client.sotw(node, { autoAck: true });
  stream.request(TypeUrl.cluster);
  stream.request(TypeUrl.route, ["routes"]);
  await eventually(() => stream.received.length === 2, "the initial CDS and RDS");
  stream.received.length = 0;
  xds.cache.setSnapshot("default", new Snapshot(meshResources({ clusters: ["a"], routeCluster: "a" })));
  await eventually(() => stream.received.length === 3, "three responses");
  assert.equal(await stream.quietFor(200), true);
  const clustersIn = (index: number) => stream.received[index].resources.length;
  assert.deepEqual(stream.received.map((response) => shortTypeName(response.typeUrl)), ["cds", "rds", "cds"]);
  assert.equal(clustersIn(0), 2, "b is still there while the route names it");
  assert.equal(clustersIn(2), 1, "b is removed after the route moved");
  const final = new Snapshot(meshResources({ clusters: ["a"], routeCluster: "a" }));
  assert.equal(stream.versions.get(TypeUrl.cluster), final.typeVersion(TypeUrl.cluster));
}));

test("an inconsistent snapshot is never pushed; streams keep the last consistent one", () => withXds(async (xds) => {
  const good = new Snapshot(meshResources());
  xds.cache.setSnapshot("default", good);
  const stream = xds.client.sotw(node, { autoAck: true });
  stream.request(TypeUrl.cluster);
  stream.request(TypeUrl.listener);
  stream.request(TypeUrl.route, ["routes"]);
  await eventually(() => stream.versions.size === 3, "the first push");
  const broken = meshResources({ upstreamPort: 1 });
  broken[TypeUrl.route] = new Map();
  assert.throws(() => xds.cache.setSnapshot("default", new Snapshot(broken)), /rds "routes"/);
  assert.equal(await stream.quietFor(300), true);
  assert.equal(xds.server.status()[0].snapshotVersion, good.version);
  assert.ok(await histogramCount(xds.server.metricsRegistry, "pilot_xds_config_size_bytes") >= 3, "response sizes are recorded");
}));
