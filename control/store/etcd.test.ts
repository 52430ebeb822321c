// EtcdStore against a real single-member etcd (Debian's etcd-server on loopback); each test uses its own key prefix.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { parse, stringify } from "yaml";
import { startEtcdCluster, type EtcdCluster } from "../../scripts/etcd.ts";
import { commitPlan, MeshValidationError, planApply } from "./apply.ts";
import { EtcdRequestError, EtcdStore, EtcdUnavailableError } from "./etcd.ts";
import { RevisionCompactedError, RevisionConflictError, validateStore, type ConfigEvent } from "./index.ts";

const serviceEntry = (name: string, port = 80): Record<string, unknown> => parse(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec:
  hosts: [${name}]
  ports: [{number: ${port}, name: http, protocol: HTTP}]
  resolution: STATIC
`) as Record<string, unknown>;

const virtualService = (name: string, timeout: string): Record<string, unknown> => parse(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}}
spec:
  hosts: [${name}]
  http:
  - route: [{destination: {host: ${name}}}]
    retries: {attempts: 2, perTryTimeout: "${timeout}"}
`) as Record<string, unknown>;

let cluster: EtcdCluster;
let prefixCount = 0;
const stores: EtcdStore[] = [];

before(async () => { cluster = await startEtcdCluster({ members: 1 }); });
after(async () => {
  await Promise.all(stores.map((store) => store.stop().catch(() => {})));
  await cluster?.stop();
});

/** A started store on a fresh prefix (or the given one, to share it between two stores). */
async function openStore(prefix = `/as-mesh-test/${process.pid}/${prefixCount++}/`): Promise<EtcdStore> {
  const store = new EtcdStore({ endpoints: cluster.endpointList, prefix, debounceMs: 5 });
  stores.push(store);
  await store.start();
  return store;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test("create, get, list, update and delete carry etcd mod_revisions and reach a second store by watch", async () => {
  const writer = await openStore();
  const reader = await openStore(writer.prefix);
  assert.equal(writer.hasSynced(), true);
  assert.deepEqual(writer.list(), []);

  const created = await writer.create(serviceEntry("ride"));
  await writer.waitForRevision(created);
  const stored = writer.get("ServiceEntry", "default", "ride");
  assert.equal(stored?.revision, created);
  assert.equal(stored?.source, `etcd:${writer.prefix}ServiceEntry/default/ride`);
  assert.deepEqual(stored?.document, serviceEntry("ride"));
  await assert.rejects(writer.create(serviceEntry("ride")), /already exists/);

  const updated = await writer.update(serviceEntry("ride", 8080), created);
  assert.ok(updated > created);
  await reader.waitForRevision(updated);
  assert.equal(reader.get("ServiceEntry", "default", "ride")?.revision, updated);
  assert.equal(reader.list("ServiceEntry").length, 1);
  assert.notEqual(validateStore(reader).mesh, null);

  const deleted = await writer.delete({ kind: "ServiceEntry", namespace: "default", name: "ride" }, updated);
  await reader.waitForRevision(deleted);
  assert.equal(reader.get("ServiceEntry", "default", "ride"), undefined);
  assert.deepEqual(reader.documents(), []);
});

test("two concurrent updates from the same revision: one wins, the other gets RevisionConflictError", async () => {
  const first = await openStore();
  const second = await openStore(first.prefix);
  const revision = await first.create(serviceEntry("fare"));
  assert.equal(first.get("ServiceEntry", "default", "fare")?.revision, revision, "a store reads its own write once it returns");
  await second.waitForRevision(revision);
  const results = await Promise.allSettled([
    first.update(serviceEntry("fare", 81), revision),
    second.update(serviceEntry("fare", 82), revision),
  ]);
  const won = results.filter((result) => result.status === "fulfilled");
  const lost = results.filter((result): result is PromiseRejectedResult => result.status === "rejected");
  assert.equal(won.length, 1);
  assert.equal(lost.length, 1);
  assert.ok(lost[0]!.reason instanceof RevisionConflictError, String(lost[0]!.reason));
  assert.match((lost[0]!.reason as Error).message, /ServiceEntry\/default\/fare is at revision \d+, not \d+/);
  // No lost update: the stored port is the winner's.
  await first.waitForRevision((won[0] as PromiseFulfilledResult<number>).value);
  const port = ((first.get("ServiceEntry", "default", "fare")!.document["spec"] as { ports: { number: number }[] }).ports[0]!.number);
  assert.equal(port, results[0]!.status === "fulfilled" ? 81 : 82);
});

test("concurrent applies to different resources both land, the later one validated over the mesh with the earlier", async () => {
  const first = await openStore();
  const second = await openStore(first.prefix);
  // Both planned over the same (empty) mesh, each without the other's resource.
  const plans = [
    planApply(first, { apply: [{ source: "a.yaml:1", document: serviceEntry("alpha") }] }),
    planApply(second, { apply: [{ source: "b.yaml:1", document: serviceEntry("beta") }] }),
  ];
  const revisions = await Promise.all([commitPlan(first, plans[0]!), commitPlan(second, plans[1]!)]);
  assert.notEqual(revisions[0], revisions[1]);
  await first.waitForRevision(Math.max(...revisions));
  assert.deepEqual(first.documents().map((document) => (document.document as { metadata: { name: string } }).metadata.name).sort(), ["alpha", "beta"]);
  assert.deepEqual(first.errors(), [], "the commit marker is not read as config");
});

test("a plan whose basis went stale is validated again, and a resource it touches that moved is a conflict", async () => {
  const first = await openStore();
  const second = await openStore(first.prefix);
  const created = await first.create(serviceEntry("gamma"));
  await Promise.all([first.waitForRevision(created), second.waitForRevision(created)]);
  const stale = planApply(first, { apply: [{ source: "c.yaml:1", document: serviceEntry("gamma", 81) }] });
  // Someone else changes another resource: the stale plan still commits, after validating again.
  await second.create(serviceEntry("delta"));
  const committed = await commitPlan(first, stale);
  await Promise.all([first.waitForRevision(committed), second.waitForRevision(committed)]);
  assert.equal(((first.get("ServiceEntry", "default", "gamma")!.document.spec as { ports: { number: number }[] }).ports[0]!.number), 81);
  // Someone else changes the resource the plan touches: a conflict, not a lost update.
  const outdated = planApply(first, { apply: [{ source: "c.yaml:1", document: serviceEntry("gamma", 82) }] });
  const moved = await second.update(serviceEntry("gamma", 83));
  await assert.rejects(commitPlan(first, outdated), RevisionConflictError);
  await first.waitForRevision(moved);
  assert.equal(((first.get("ServiceEntry", "default", "gamma")!.document.spec as { ports: { number: number }[] }).ports[0]!.number), 83);
});

test("an apply that would make the mesh invalid is refused with every error and stores nothing", async () => {
  const store = await openStore();
  const before = store.revision();
  const plan = planApply(store, {
    apply: [
      { source: "a.yaml:1", document: serviceEntry("good") },
      { source: "a.yaml:9", document: virtualService("good", "3x") },
      { source: "a.yaml:20", document: { ...virtualService("bad", "2s"), spec: { hosts: ["bad"], http: [{ route: [{ destination: { host: "bad", port: { number: 0 } } }] }] } } },
    ],
  });
  assert.ok(plan.errors.length >= 2, JSON.stringify(plan.errors));
  assert.ok(plan.errors.some((issue) => issue.path.includes("perTryTimeout")), JSON.stringify(plan.errors));
  assert.ok(plan.errors.some((issue) => issue.path.includes("VirtualService/bad")), JSON.stringify(plan.errors));
  await assert.rejects(commitPlan(store, plan), (error: unknown) => error instanceof MeshValidationError && /perTryTimeout/.test(error.message));
  // Nothing at all was written: the etcd revision did not move.
  const response = await store.etcd.getAll().prefix(store.prefix).exec();
  assert.equal(response.kvs.length, 0);
  assert.equal(Number(response.header.revision) >= before, true);
  assert.deepEqual(store.list(), []);

  // The valid part alone commits as one transaction: one revision for both resources.
  const good = planApply(store, { apply: [{ source: "a.yaml:1", document: serviceEntry("good") }, { source: "a.yaml:9", document: virtualService("good", "2s") }] });
  assert.deepEqual(good.errors, []);
  const revision = await commitPlan(store, good);
  await store.waitForRevision(revision);
  assert.deepEqual(store.list().map((resource) => [resource.kind, resource.revision]), [["ServiceEntry", revision], ["VirtualService", revision]]);
});

test("writes resources as JSON and still reads YAML an operator put by hand, and names a broken value's problem", async () => {
  const store = await openStore();
  const revision = await store.create(serviceEntry("json"));
  const stored = await store.etcd.get(`${store.prefix}ServiceEntry/default/json`).string();
  assert.deepEqual(JSON.parse(stored!), serviceEntry("json"));
  await store.etcd.put(`${store.prefix}ServiceEntry/default/by-hand`).value(`# put with etcdctl\n${stringify(serviceEntry("by-hand"))}`);
  await store.etcd.put(`${store.prefix}ServiceEntry/default/flow`).value(`{apiVersion: networking.istio.io/v1, kind: ServiceEntry, metadata: {name: flow}, spec: {hosts: [flow], ports: [{number: 80, name: http, protocol: HTTP}], resolution: STATIC}}`);
  const put = await store.etcd.put(`${store.prefix}ServiceEntry/default/cut`).value(JSON.stringify(serviceEntry("cut")).slice(0, 40));
  await store.waitForRevision(Number(put.header.revision));
  assert.ok(revision < Number(put.header.revision));
  assert.deepEqual(store.get("ServiceEntry", "default", "by-hand")?.document, serviceEntry("by-hand"));
  assert.deepEqual((store.get("ServiceEntry", "default", "flow")?.document.spec as { hosts: string[] }).hosts, ["flow"]);
  const errors = store.errors().map((issue) => `${issue.source}: ${issue.message}`);
  assert.ok(errors.length > 0 && errors.every((error) => /ServiceEntry\/default\/cut:1: YAML syntax error/.test(error)), errors.join("\n"));
});

test("a value that does not parse or names another resource than its key rejects the mesh through errors()", async () => {
  const store = await openStore();
  await store.etcd.put(`${store.prefix}ServiceEntry/default/broken`).value("kind: [unclosed");
  const put = await store.etcd.put(`${store.prefix}ServiceEntry/default/other`).value(JSON.stringify(serviceEntry("mismatch")));
  await store.waitForRevision(Number(put.header.revision));
  const sources = store.errors().map((issue) => `${issue.source}: ${issue.message}`);
  assert.equal(sources.length, 2, sources.join("\n"));
  assert.match(sources.join("\n"), /broken/);
  assert.match(sources.join("\n"), /the key names ServiceEntry\/default\/other but the document is ServiceEntry\/default\/mismatch/);
  assert.equal(validateStore(store).mesh, null);
});

test("watch resumes from a revision, and a revision before the store's history is RevisionCompactedError", async () => {
  const store = await openStore();
  const start = store.revision();
  const first = await store.create(serviceEntry("a"));
  const second = await store.create(serviceEntry("b"));
  await store.etcd.delete().key(`${store.prefix}ServiceEntry/default/a`).exec();
  await waitFor(() => store.list().length === 1, "the delete");

  const replayed: ConfigEvent[] = [];
  const unsubscribe = store.watch((events) => replayed.push(...events), { fromRevision: first });
  await waitFor(() => replayed.length === 2, "the replay");
  assert.deepEqual(replayed.map((event) => [event.type, event.resource.name]), [["added", "b"], ["deleted", "a"]]);
  assert.equal(replayed[0]!.revision, second);
  await store.create(serviceEntry("c"));
  await waitFor(() => replayed.length === 3, "a live event");
  assert.deepEqual([replayed[2]!.type, replayed[2]!.resource.name], ["added", "c"]);
  unsubscribe();

  // A new store's history starts at its list: resuming from before it must list again.
  const late = await openStore(store.prefix);
  assert.throws(() => late.watch(() => {}, { fromRevision: start }), RevisionCompactedError);
});

test("after a gap in its watch (history compacted meanwhile) the store lists again and reports the differences as events", async () => {
  const store = await openStore();
  await store.create(serviceEntry("kept"));
  const doomed = await store.create(serviceEntry("doomed"));
  await store.waitForRevision(doomed);
  // Simulate a long disconnect: stop watching, change and compact etcd meanwhile, then resume from the old revision.
  const events: ConfigEvent[] = [];
  store.watch((batch) => events.push(...batch));
  const internals = store as unknown as { watcher?: { cancel(): Promise<void> }; resync(): Promise<void> };
  await internals.watcher?.cancel();
  await store.etcd.delete().key(`${store.prefix}ServiceEntry/default/doomed`).exec();
  const put = await store.etcd.put(`${store.prefix}ServiceEntry/default/fresh`).value(JSON.stringify(serviceEntry("fresh")));
  await store.etcd.kv.compact({ revision: put.header.revision, physical: true });
  await internals.resync();
  assert.deepEqual(store.list().map((resource) => resource.name), ["fresh", "kept"]);
  assert.deepEqual(events.map((event) => `${event.type} ${event.resource.name}`).sort(), ["added fresh", "deleted doomed"]);
});

test("an unreachable etcd fails start() with a clear error instead of hanging", async () => {
  const store = new EtcdStore({ endpoints: ["127.0.0.1:1"], requestTimeoutMs: 300 });
  const started = Date.now();
  await assert.rejects(store.start(), (error: unknown) => error instanceof EtcdUnavailableError && /127\.0\.0\.1:1.*did not answer.*majority of its members/.test(error.message));
  assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  await store.stop();
});

test("an apply larger than etcd's transaction limit is refused with the limit named, and nothing is stored", async () => {
  const store = await openStore();
  const documents = Array.from({ length: 130 }, (_, index) => ({ source: `many.yaml:${index}`, document: serviceEntry(`svc-${index}`) }));
  const plan = planApply(store, { apply: documents });
  assert.deepEqual(plan.errors, []);
  await assert.rejects(commitPlan(store, plan), (error: unknown) => error instanceof EtcdRequestError && /130 resources .*--max-txn-ops \(default 128\)/.test(error.message));
  assert.equal((await store.etcd.getAll().prefix(store.prefix).exec()).kvs.length, 0);
});
