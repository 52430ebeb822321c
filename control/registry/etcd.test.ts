// EtcdRegistry against a real etcd: registrations are seen by every replica, withdraw at once, lapse with their lease
// when the publishing replica stops renewing, and survive a sidecar's move to another replica.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { startEtcdCluster, type EtcdCluster } from "../../scripts/etcd.ts";
import type { WorkloadInstance } from "../translate/index.ts";
import { EtcdRegistry } from "./etcd.ts";

let cluster: EtcdCluster;
const clients: Etcd3[] = [];
let prefixCount = 0;

before(async () => { cluster = await startEtcdCluster({ members: 1 }); });
after(async () => {
  for (const client of clients) client.close();
  await cluster?.stop();
});

const instance = (name: string, address: string): WorkloadInstance => ({
  name, namespace: "default", address, labels: { app: name }, serviceAccount: name, source: "registered",
});

async function replicas(count: number, ttlSeconds = 2): Promise<{ registries: EtcdRegistry[]; changes: number[] }> {
  const prefix = `/as-mesh-test/${process.pid}/registry-${prefixCount++}/`;
  const changes = Array.from({ length: count }, () => 0);
  const registries: EtcdRegistry[] = [];
  for (let i = 0; i < count; i++) {
    const client = new Etcd3({ hosts: cluster.endpointList });
    clients.push(client);
    const registry = new EtcdRegistry({ client, prefix, ttlSeconds });
    await registry.start(() => { changes[i]!++; });
    registries.push(registry);
  }
  return { registries, changes };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 8000): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now() - started;
}

test("a registration is seen by every replica and withdrawn from all of them", async () => {
  const { registries: [a, b], changes } = await replicas(2);
  a!.publish("sidecar~127.0.0.1~ride", instance("ride", "127.0.0.1"));
  assert.deepEqual(a!.instances().map((entry) => entry.address), ["127.0.0.1"], "the publisher sees it at once");
  await waitFor(() => b!.instances().length === 1, "replica B to see A's registration");
  assert.deepEqual(b!.instances()[0], instance("ride", "127.0.0.1"));
  assert.ok(changes[1]! >= 1);
  a!.withdraw("sidecar~127.0.0.1~ride");
  await waitFor(() => b!.instances().length === 0 && a!.instances().length === 0, "the withdrawal everywhere");
  await Promise.all([a!.stop(), b!.stop()]);
});

test("a stopped replica's registrations stay until their lease lapses, then disappear everywhere", async () => {
  const { registries: [a, b] } = await replicas(2, 2);
  a!.publish("sidecar~127.0.0.2~fare", instance("fare", "127.0.0.2"));
  await waitFor(() => b!.instances().length === 1, "replica B to see it");
  const stoppedAt = Date.now();
  await a!.stop();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.equal(b!.instances().length, 1, "still an endpoint within the lease");
  await waitFor(() => b!.instances().length === 0, "the lease to lapse", 10_000);
  const lapsedAfter = Date.now() - stoppedAt;
  assert.ok(lapsedAfter >= 1500 && lapsedAfter <= 5000, `gone after ${lapsedAfter} ms with a 2 s lease`);
  await b!.stop();
});

test("a sidecar that moved to another replica keeps its endpoint when the first replica withdraws it", async () => {
  const { registries: [a, b, observer] } = await replicas(3, 2);
  const id = "sidecar~127.0.0.3~pay";
  a!.publish(id, instance("pay", "127.0.0.3"));
  await waitFor(() => observer!.instances().length === 1, "the first registration");
  b!.publish(id, { ...instance("pay", "127.0.0.3"), labels: { app: "pay", moved: "yes" } });
  await waitFor(() => observer!.instances()[0]?.labels["moved"] === "yes", "the registration under B's lease");
  a!.withdraw(id);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  assert.equal(observer!.instances().length, 1, "A's revoke does not remove B's registration");
  await Promise.all([a!.stop(), b!.stop(), observer!.stop()]);
});
