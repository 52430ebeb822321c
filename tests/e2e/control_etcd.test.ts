// Two `as-mesh control` replicas on a 3-member etcd, in front of real Envoys: sidecars registered with one replica
// are endpoints everywhere (etcd leases), a config applied to etcd reaches Envoys on either replica, killing the
// replica a client uses costs no request, and losing etcd members stops changes (with a clear error) but never
// traffic, until the members return and everything converges.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startEtcdCluster, type EtcdCluster } from "../../scripts/etcd.ts";
import { runApply } from "../../control/commands/apply.ts";
import type { CommandIO } from "../../control/commands/store_target.ts";
import { startUpstream, type Upstream } from "../harness/upstream.ts";
import type { EnvoyInstance } from "../harness/envoy.ts";
import { eventually, freePort, get, refreshListeners, sleep, syncStatus } from "../harness/control_mesh.ts";
import { ControlReplica, startLoad, startReplicatedProxy } from "../harness/etcd.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const REVIEWS = "reviews.default.svc.cluster.local";
const services = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: default }
spec:
  hosts: [${REVIEWS}]
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  resolution: STATIC
  workloadSelector: { labels: { app: reviews } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: ${REVIEWS}
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
`;
const canary = (v1: number, v2: number) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - route:
    - { destination: { host: ${REVIEWS}, subset: v1 }, weight: ${v1} }
    - { destination: { host: ${REVIEWS}, subset: v2 }, weight: ${v2} }
`;

describe("control replicas on etcd with real Envoys", { timeout: 240_000 }, () => {
  let cluster: EtcdCluster;
  const dir = mkdtempSync(join(tmpdir(), "as-mesh-replicas-"));
  const replicas: ControlReplica[] = [];
  const apps: Upstream[] = [];
  const envoys: EnvoyInstance[] = [];
  let client: EnvoyInstance;
  let outbound = "";

  /** `as-mesh apply` of one YAML text; returns the exit status and what it printed. */
  async function apply(yaml: string, requestTimeoutMs?: number): Promise<{ code: number; stderr: string }> {
    const file = join(dir, `apply-${Date.now()}.yaml`);
    writeFileSync(file, yaml);
    let stderr = "";
    const io: CommandIO = { out: () => {}, err: (text) => { stderr += text; } };
    try {
      const code = await runApply({ filename: [file], etcd: cluster.endpoints, requestTimeoutMs }, io);
      return { code, stderr };
    } catch (error) {
      return { code: 1, stderr: stderr + (error as Error).message };
    }
  }

  /** Which versions answer over `count` requests through the client sidecar. */
  async function split(count: number): Promise<Record<string, number>> {
    const seen: Record<string, number> = {};
    for (let i = 0; i < count; i++) {
      const answer = await get(outbound, { host: "reviews" });
      const key = answer.status === 200 ? answer.body : `HTTP ${answer.status}`;
      seen[key] = (seen[key] ?? 0) + 1;
    }
    return seen;
  }

  before(async () => {
    cluster = await startEtcdCluster({ members: 3 });
    assert.equal((await apply(`${services}---\n${canary(100, 0)}`)).code, 0);
    for (const name of ["A", "B"]) {
      const replica = await ControlReplica.create(name, cluster.endpoints, ["--startup-grace", "1000"]);
      replicas.push(replica);
      await replica.start();
    }
    const [a, b] = replicas as [ControlReplica, ControlReplica];
    // v1's sidecar knows only replica A and v2's only B, so each version is registered with one replica; the client
    // lists both and fails over between them.
    for (const [index, version] of ["v1", "v2"].entries()) {
      const app = await startUpstream((_request, _body, response) => { response.writeHead(200); response.end(version); });
      apps.push(app);
      envoys.push(await startReplicatedProxy(index === 0 ? [a] : [b], {
        namespace: "default", ip: `127.0.13.${index + 1}`, labels: { app: "reviews", version },
        serviceAccount: "reviews", inboundPorts: { http: 9080 }, appPorts: { http: app.port },
      }));
    }
    client = await startReplicatedProxy([b, a], {
      namespace: "default", ip: "127.0.13.9", labels: { app: "productpage" }, serviceAccount: "productpage",
      listenPorts: { "9080": await freePort() },
    });
    envoys.push(client);
    await refreshListeners(client);
    outbound = client.url("127.0.0.1_9080");
  });

  after(async () => {
    await Promise.all(envoys.map((envoy) => envoy.stop()));
    await Promise.all(apps.map((app) => app.close()));
    await Promise.all(replicas.map((replica) => replica.kill()));
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("every replica knows every auto-registered sidecar, and a config applied to etcd reaches Envoys on both", async () => {
    await eventually(async () => (await get(outbound, { host: "reviews" })).body === "v1", "v1 answers through the mesh");
    // The client bootstrap's ADS cluster holds both replicas, so Envoy can fail over.
    const clusters = await client.admin("/clusters");
    for (const replica of replicas) assert.match(clusters, new RegExp(`^xds-grpc::127\\.0\\.0\\.1:${replica.xdsPort}::`, "m"));
    const statuses = await Promise.all(replicas.map((replica) => syncStatus(replica.endpoints)));
    assert.equal(statuses.flat().length, 3, "three proxies over the two replicas");
    assert.ok(statuses[0]!.some((proxy) => proxy.id.includes("127.0.13.1")), "v1's sidecar on replica A");
    assert.ok(statuses[1]!.some((proxy) => proxy.id.includes("127.0.13.2")), "v2's sidecar on replica B");

    assert.equal((await apply(canary(50, 50))).code, 0);
    await eventually(async () => {
      const seen = await split(40);
      return (seen["v1"] ?? 0) >= 8 && (seen["v2"] ?? 0) >= 8 && Object.keys(seen).length === 2;
    }, "the 50/50 canary splits real traffic between v1 (registered on A) and v2 (on B)");
    assert.equal((await apply(canary(0, 100))).code, 0);
    await eventually(async () => JSON.stringify(await split(20)) === JSON.stringify({ v2: 20 }), "all traffic on v2");
  });

  it("killing the replica a client uses under load fails no request; the client resyncs on the other", async (t) => {
    assert.equal((await apply(canary(50, 50))).code, 0);
    await eventually(async () => Object.keys(await split(20)).length === 2, "both versions answer");
    const serving = async (replica: ControlReplica) => (await syncStatus(replica.endpoints)).some((proxy) => proxy.id.includes("127.0.13.9"));
    const victim = (await serving(replicas[1]!)) ? replicas[1]! : replicas[0]!;
    const survivor = victim === replicas[0] ? replicas[1]! : replicas[0]!;
    assert.ok(await serving(victim), "the client is connected to one replica");

    const load = startLoad(outbound, { host: "reviews" }, 6);
    await sleep(1000);
    await victim.kill();
    await eventually(async () => {
      const status = (await syncStatus(survivor.endpoints)).find((proxy) => proxy.id.includes("127.0.13.9"));
      return !!status && status.types.filter((type) => ["lds", "cds"].includes(type.type)).every((type) => type.state === "SYNCED");
    }, "the client reports SYNCED on the surviving replica", 20_000);
    await sleep(1000);
    const result = await load.stop();
    t.diagnostic(`${result.sent} requests at ${result.ratePerSecond.toFixed(0)}/s across the kill, ${result.failed} failed`);
    assert.equal(result.failed, 0, `failures: ${result.failures.join("; ")}`);
    assert.ok(result.sent > 100, `sent ${result.sent}`);
    assert.equal(result.bodies.size, 2, "both versions kept answering: the killed replica's sidecar stayed an endpoint on its lease");
    // The killed replica comes back; its pinned sidecar reconnects, and nothing was ever removed.
    await victim.start();
    await eventually(async () => (await Promise.all(replicas.map((replica) => syncStatus(replica.endpoints)))).flat().length === 3,
      "every proxy connected again", 20_000);
    assert.equal(Object.keys(await split(20)).length, 2, "both versions still answer");
  });

  it("one etcd member down: changes apply; two down: applies fail clearly while traffic flows; back: converges", async () => {
    await cluster.members[0]!.kill();
    assert.equal((await apply(canary(100, 0))).code, 0);
    await eventually(async () => JSON.stringify(await split(10)) === JSON.stringify({ v1: 10 }), "100/0 with one member down", 20_000);

    await cluster.members[1]!.kill();
    const refused = await apply(canary(0, 100), 1500);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /etcd \(.*\) did not answer: .*check that a majority of its members is up/);
    assert.deepEqual(await split(20), { v1: 20 }, "proxies keep their last config");

    await Promise.all([cluster.members[0]!.start(), cluster.members[1]!.start()]);
    await eventually(async () => (await apply(canary(0, 100))).code === 0, "applies succeed once a quorum is back", 30_000);
    await eventually(async () => JSON.stringify(await split(10)) === JSON.stringify({ v2: 10 }), "every replica pushes the change", 30_000);
    for (const replica of replicas) {
      const statuses = await syncStatus(replica.endpoints);
      for (const proxy of statuses) {
        for (const type of proxy.types.filter((entry) => ["lds", "cds", "rds"].includes(entry.type))) {
          assert.equal(type.state, "SYNCED", `${replica.name} ${proxy.id} ${type.type}`);
        }
      }
    }
  });
});
