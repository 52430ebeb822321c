import { test } from "node:test";
import assert from "node:assert/strict";
import { TypeUrl } from "../api/index.ts";
import { abortFilter, edsCluster, meshResources } from "../xds/fixtures.ts";
import { InconsistentSnapshotError, ResourceLayer, Snapshot, SnapshotCache, sharedLayer, versionOfSet, type GroupSnapshot, type SnapshotResources } from "./index.ts";

test("a consistent listener → route → cluster → endpoints snapshot has no consistency errors", () => {
  const snapshot = new Snapshot(meshResources({ filters: [abortFilter("fault", 503, 100)] }));
  assert.deepEqual(snapshot.consistencyErrors(), []);
  assert.equal(snapshot.resources(TypeUrl.cluster).size, 1);
  assert.equal(snapshot.resources(TypeUrl.cluster).get("backend")?.any.typeUrl, TypeUrl.cluster);
});

test("versions are hashes of the encoded bytes: equal content, equal version; changed content, new version", () => {
  const a = new Snapshot(meshResources({ upstreamPort: 1000 }));
  const b = new Snapshot(meshResources({ upstreamPort: 1000 }));
  const c = new Snapshot(meshResources({ upstreamPort: 1001 }));
  const version = (snapshot: Snapshot, type: string, name: string) => snapshot.resources(type).get(name)?.version;
  assert.equal(version(a, TypeUrl.endpoint, "backend"), version(b, TypeUrl.endpoint, "backend"));
  assert.notEqual(version(a, TypeUrl.endpoint, "backend"), version(c, TypeUrl.endpoint, "backend"));
  assert.equal(version(a, TypeUrl.cluster, "backend"), version(c, TypeUrl.cluster, "backend"));
  assert.equal(a.version, b.version);
  assert.notEqual(a.version, c.version);
  assert.equal(a.typeVersion(TypeUrl.cluster), c.typeVersion(TypeUrl.cluster));
});

test("names every missing EDS, RDS and ECDS resource", () => {
  const resources = meshResources({ filters: [abortFilter("fault", 503, 100)] });
  resources[TypeUrl.endpoint] = new Map();
  resources[TypeUrl.route] = new Map();
  resources[TypeUrl.extensionConfig] = new Map();
  const errors = new Snapshot(resources).consistencyErrors();
  assert.equal(errors.length, 3, errors.join("\n"));
  assert.match(errors.join("\n"), /cds backend references eds "backend"/);
  assert.match(errors.join("\n"), /lds ingress references rds "routes"/);
  assert.match(errors.join("\n"), /lds ingress references ecds "fault"/);
});

test("checks SDS names only when the secret is served over ADS", () => {
  const tlsCluster = (name: string, sdsConfig: object) => ({
    ...edsCluster(name),
    transportSocket: {
      name: "envoy.transport_sockets.tls",
      typedConfig: {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
        commonTlsContext: { tlsCertificateSdsSecretConfigs: [{ name: "default", sdsConfig }] },
      },
    },
  });
  const overAds = meshResources();
  overAds[TypeUrl.cluster] = new Map([["backend", tlsCluster("backend", { ads: {}, resourceApiVersion: "V3" })]]);
  assert.match(new Snapshot(overAds).consistencyErrors().join("\n"), /cds backend references sds "default"/);
  overAds[TypeUrl.secret] = new Map([["default", { name: "default", tlsCertificate: { certificateChain: { inlineString: "x" } } }]]);
  assert.deepEqual(new Snapshot(overAds).consistencyErrors(), []);

  const viaAgent = meshResources();
  const agentSource = { apiConfigSource: { apiType: "GRPC", grpcServices: [{ envoyGrpc: { clusterName: "sds-agent" } }] }, resourceApiVersion: "V3" };
  viaAgent[TypeUrl.cluster] = new Map([["backend", tlsCluster("backend", agentSource)]]);
  assert.deepEqual(new Snapshot(viaAgent).consistencyErrors(), []);
});

test("a resource that does not encode is reported with its name, not thrown", () => {
  const resources = meshResources();
  resources[TypeUrl.cluster] = new Map([["backend", { ...edsCluster("backend"), connectTimeut: "1s" }]]);
  const errors = new Snapshot(resources).consistencyErrors();
  assert.ok(errors.some((error) => /^cds backend: .*connectTimeut/.test(error)), errors.join("\n"));
});

test("a resource stored under another name than its own is refused", () => {
  const resources = meshResources();
  resources[TypeUrl.cluster] = new Map([["backend", edsCluster("other")]]);
  assert.match(new Snapshot(resources).consistencyErrors().join("\n"), /cds backend: resource is named "other"/);
});

test("the cache refuses an inconsistent snapshot, keeps the previous one and does not notify", () => {
  const cache = new SnapshotCache();
  const seen: GroupSnapshot[] = [];
  const stop = cache.watch("g", (entry) => seen.push(entry));
  const good = new Snapshot(meshResources());
  cache.setSnapshot("g", good);
  const broken = meshResources();
  broken[TypeUrl.route] = new Map();
  assert.throws(() => cache.setSnapshot("g", new Snapshot(broken)), (error: unknown) =>
    error instanceof InconsistentSnapshotError && error.errors.length === 1 && /rds "routes"/.test(error.message));
  assert.equal(cache.getSnapshot("g"), good);
  assert.equal(seen.length, 1);
  stop();
  cache.setSnapshot("g", new Snapshot(meshResources({ upstreamPort: 9 })));
  assert.equal(seen.length, 1, "a stopped watch is not called");
});

test("groups share one snapshot's packed resources instead of copies", () => {
  const cache = new SnapshotCache();
  const snapshot = new Snapshot(meshResources());
  cache.setSnapshot("a", snapshot);
  cache.setSnapshot("b", snapshot);
  const any = (group: string) => cache.getSnapshot(group)!.resources(TypeUrl.cluster).get("backend")!.any;
  assert.equal(any("a"), any("b"));
});

test("snapshots of different groups built from the same resource objects share their encoding and SotW responses", () => {
  const shared = meshResources({ upstreamPort: 2000 });
  const withExtra = (extra: string) => {
    const resources = meshResources({ upstreamPort: 2000 });
    // The same objects for what the groups share, as translation returns them; one cluster of each group's own.
    for (const typeUrl of [TypeUrl.endpoint, TypeUrl.route, TypeUrl.listener] as const) resources[typeUrl] = shared[typeUrl];
    resources[TypeUrl.cluster] = new Map([...shared[TypeUrl.cluster]!, [extra, edsCluster(extra)]]);
    resources[TypeUrl.endpoint] = new Map([...shared[TypeUrl.endpoint]!, [extra, { clusterName: extra, endpoints: [] }]]);
    return new Snapshot(resources);
  };
  const a = withExtra("inbound-a");
  const b = withExtra("inbound-b");
  assert.equal(a.resources(TypeUrl.cluster).get("backend"), b.resources(TypeUrl.cluster).get("backend"), "one packed cluster");
  const routes = a.select(TypeUrl.route, new Set(["routes"]));
  assert.equal(routes.resources.length, 1);
  assert.equal(routes, b.select(TypeUrl.route, new Set(["routes"])), "one route response body");
  assert.notEqual(a.typeVersion(TypeUrl.cluster), b.typeVersion(TypeUrl.cluster));
  assert.notEqual(a.select(TypeUrl.cluster, null), b.select(TypeUrl.cluster, null));
});

test("equal resources built as separate objects are encoded once", () => {
  const a = new Snapshot(meshResources({ upstreamPort: 3000 }));
  const b = new Snapshot(meshResources({ upstreamPort: 3000 }));
  const c = new Snapshot(meshResources({ upstreamPort: 3001 }));
  assert.equal(a.resources(TypeUrl.listener).get("ingress"), b.resources(TypeUrl.listener).get("ingress"));
  assert.equal(a.resources(TypeUrl.endpoint).get("backend"), b.resources(TypeUrl.endpoint).get("backend"));
  assert.notEqual(a.resources(TypeUrl.endpoint).get("backend"), c.resources(TypeUrl.endpoint).get("backend"));
});

test("a set's version does not depend on order, and changes with any name or version in it", () => {
  const set = [{ name: "a", version: "1" }, { name: "b", version: "2" }, { name: "c", version: "3" }];
  assert.equal(versionOfSet(set), versionOfSet([...set].reverse()));
  assert.equal(versionOfSet(set), versionOfSet(set.map((entry) => ({ ...entry }))));
  assert.notEqual(versionOfSet(set), versionOfSet([...set.slice(0, 2), { name: "c", version: "4" }]));
  assert.notEqual(versionOfSet(set), versionOfSet([...set.slice(0, 2), { name: "d", version: "3" }]));
  assert.notEqual(versionOfSet(set), versionOfSet(set.slice(0, 2)));
  assert.equal(versionOfSet([]), "empty");
});

/** Splits resources into a shared part (everything but `own` names of each type) and the group's own part. */
function split(resources: SnapshotResources, own: Partial<Record<string, string[]>>): { shared: SnapshotResources; mine: SnapshotResources } {
  const shared: SnapshotResources = {};
  const mine: SnapshotResources = {};
  for (const [typeUrl, byName] of Object.entries(resources) as [keyof SnapshotResources, Map<string, object>][]) {
    shared[typeUrl] = new Map([...byName].filter(([name]) => !own[typeUrl]?.includes(name)));
    mine[typeUrl] = new Map([...byName].filter(([name]) => own[typeUrl]?.includes(name)));
  }
  return { shared, mine };
}

test("a snapshot over shared layers equals the flat snapshot of the merged resources", () => {
  const resources = meshResources({ filters: [abortFilter("fault", 503, 100)], upstreamPort: 4000 });
  const flat = new Snapshot(resources);
  const { shared, mine } = split(resources, { [TypeUrl.listener]: ["ingress"], [TypeUrl.extensionConfig]: ["fault"] });
  const layered = new Snapshot(mine, [new ResourceLayer(shared)]);
  assert.deepEqual(layered.consistencyErrors(), []);
  assert.equal(layered.version, flat.version);
  for (const typeUrl of Object.values(TypeUrl)) {
    assert.equal(layered.typeVersion(typeUrl), flat.typeVersion(typeUrl), typeUrl);
    assert.deepEqual([...layered.resources(typeUrl).keys()].sort(), [...flat.resources(typeUrl).keys()].sort(), typeUrl);
    assert.deepEqual([...layered.resourceJson(typeUrl).keys()].sort(), [...flat.resourceJson(typeUrl).keys()].sort(), typeUrl);
  }
});

test("the group's own resources win over a shared layer's, and the versions follow the merged content", () => {
  const base = meshResources({ upstreamPort: 5000 });
  const changed = meshResources({ upstreamPort: 5001 });
  const layered = new Snapshot({ [TypeUrl.endpoint]: changed[TypeUrl.endpoint] }, [new ResourceLayer(base)]);
  assert.equal(layered.resources(TypeUrl.endpoint).size, 1);
  assert.equal(layered.typeVersion(TypeUrl.endpoint), new Snapshot(changed).typeVersion(TypeUrl.endpoint));
  assert.equal(layered.version, new Snapshot(changed).version);
  assert.equal(layered.resourceJson(TypeUrl.endpoint).get("backend"), changed[TypeUrl.endpoint]!.get("backend"));
});

test("a reference a shared layer leaves open must be met by the snapshot holding it", () => {
  const resources = meshResources({ upstreamPort: 6000 });
  const { shared, mine } = split(resources, { [TypeUrl.route]: ["routes"] });
  const layer = new ResourceLayer(shared);
  assert.deepEqual(layer.openReferences.map((reference) => reference.name), ["routes"]);
  assert.deepEqual(new Snapshot(mine, [layer]).consistencyErrors(), []);
  assert.match(new Snapshot({}, [layer]).consistencyErrors().join("\n"), /lds ingress references rds "routes"/);
});

test("a shared layer is packed once per key object", () => {
  const key = {};
  let built = 0;
  const build = () => (built++, meshResources({ upstreamPort: 7000 }));
  assert.equal(sharedLayer(key, build), sharedLayer(key, build));
  assert.equal(built, 1);
});
