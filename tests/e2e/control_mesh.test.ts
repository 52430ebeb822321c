// The control service in front of real Envoys: sidecars started from `as-mesh bootstrap`'s builder register their
// workloads over ADS, get listeners, routes, clusters, endpoints and the as-mesh filters, and route real HTTP
// between loopback workloads. Config changes are made by editing the YAML folder, as an operator would.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { startUpstream, type Upstream } from "../harness/upstream.ts";
import type { EnvoyInstance } from "../harness/envoy.ts";
import {
  MeshFolder, eventually, freePort, get, refreshListeners, sleep, startControlInProcess, startProxy, syncStatus,
  type ControlEndpoints,
} from "../harness/control_mesh.ts";
import type { ControlService } from "../../control/server.ts";

const REVIEWS = "reviews.default.svc.cluster.local";

const services = `
apiVersion: networking.istio.io/v1
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

const canary = (v1: number, v2: number) => `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - route:
    - { destination: { host: ${REVIEWS}, subset: v1 }, weight: ${v1} }
    - { destination: { host: ${REVIEWS}, subset: v2 }, weight: ${v2} }
`;

const rateLimit = (capacity: number, bucket = "all") => `
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: limit, namespace: default }
spec:
  selector: { matchLabels: { app: productpage } }
  url: as-mesh://rate-limit
  phase: AUTHZ
  pluginConfig:
    default_rule:
      descriptors: [{ generic_key: { descriptor_value: ${bucket} } }]
      token_bucket: { max_tokens: ${capacity}, tokens_per_fill: ${capacity}, fill_interval: 3600s }
`;

function versionApp(version: string): (request: unknown, body: string, response: import("node:http").ServerResponse) => void {
  return (_request, _body, response) => {
    response.writeHead(200, { "content-type": "text/plain" });
    response.end(version);
  };
}

describe("control service with real Envoys", { timeout: 240_000 }, () => {
  const folder = new MeshFolder();
  let service: ControlService;
  let control: ControlEndpoints;
  const apps: Upstream[] = [];
  const envoys: EnvoyInstance[] = [];
  let client: EnvoyInstance;
  let outbound = "";

  before(async () => {
    folder.write("services.yaml", services);
    folder.write("reviews-vs.yaml", canary(100, 0));
    ({ service, endpoints: control } = await startControlInProcess(folder));
    for (const [index, version] of ["v1", "v2"].entries()) {
      const app = await startUpstream(versionApp(version) as never);
      apps.push(app);
      envoys.push(await startProxy(control, {
        namespace: "default", ip: `127.0.3.${index + 1}`, labels: { app: "reviews", version },
        serviceAccount: "reviews", inboundPorts: { http: 9080 }, appPorts: { http: app.port },
      }));
    }
    // The client's outbound listeners get distinct free ports: several listeners on port 0 of one address end up
    // sharing a reuse_port socket in Envoy, so a request could land on another port's listener.
    client = await startProxy(control, {
      namespace: "default", ip: "127.0.3.9", labels: { app: "productpage" }, serviceAccount: "productpage",
      listenPorts: { "9080": await freePort(), "9090": await freePort() },
    });
    envoys.push(client);
    await refreshListeners(client);
    outbound = client.url("127.0.0.1_9080");
  });

  after(async () => {
    await Promise.all(envoys.map((envoy) => envoy.stop()));
    await Promise.all(apps.map((app) => app.close()));
    await service?.stop();
    folder.cleanup();
  });

  it("routes a sidecar's outbound call to an auto-registered workload through its inbound sidecar", async () => {
    await eventually(async () => (await get(outbound, { host: "reviews" })).body === "v1", "reviews answers through the mesh");
    const answer = await get(outbound, { host: REVIEWS });
    assert.equal(answer.status, 200);
    assert.equal(answer.body, "v1");
    const statuses = await syncStatus(control);
    assert.equal(statuses.length, 3, "three proxies connected");
    for (const proxy of statuses) {
      for (const type of proxy.types.filter((entry) => ["cds", "lds"].includes(entry.type))) {
        assert.equal(type.state, "SYNCED", `${proxy.id} ${type.type}`);
      }
    }
  });

  it("moves real traffic 90/10 when the VirtualService is edited, with no failed request during the change", async () => {
    let failures = 0;
    let sent = 0;
    let running = true;
    const load = (async () => {
      while (running) {
        const answer = await get(outbound, { host: "reviews" }).catch(() => ({ status: 0, body: "" }));
        sent++;
        if (answer.status !== 200) failures++;
      }
    })();
    await sleep(300);
    folder.write("reviews-vs.yaml", canary(90, 10));
    await eventually(async () => {
      const dump = await client.admin("/config_dump?resource=dynamic_route_configs");
      return dump.includes("outbound|9080|v2|" + REVIEWS) && /"weight":\s*10\b/.test(dump);
    }, "the 90/10 route reaches the client sidecar");
    await sleep(300);
    running = false;
    await load;
    assert.equal(failures, 0, `${failures} of ${sent} requests failed during the change`);

    const counts = { v1: 0, v2: 0, other: 0 };
    const total = 2000;
    for (let i = 0; i < total; i++) {
      const answer = await get(outbound, { host: "reviews" });
      if (answer.status === 200 && (answer.body === "v1" || answer.body === "v2")) counts[answer.body]++;
      else counts.other++;
    }
    assert.equal(counts.other, 0);
    const share = counts.v2 / total;
    assert.ok(Math.abs(share - 0.10) <= 0.03, `v2 got ${(share * 100).toFixed(1)} % of ${total} requests`);
  });

  it("changes a WasmPlugin's config over ECDS without draining the listener", async () => {
    folder.write("limit.yaml", rateLimit(3));
    await eventually(async () => (await get(outbound, { host: "reviews" })).status === 429, "the rate limit applies", 30_000);
    const listenersBefore = await client.admin("/config_dump?resource=dynamic_listeners");
    const statsBefore = await client.stats("listener_manager");

    // A new bucket key with a new capacity: the exhausted bucket keeps its state (shared data), the new one is full.
    folder.write("limit.yaml", rateLimit(1000, "all-again"));
    await eventually(async () => {
      const dump = await client.admin("/config_dump?resource=ecds_filters");
      return dump.includes("all-again");
    }, "the new config reaches Envoy over ECDS");
    const answers = await Promise.all(Array.from({ length: 5 }, () => get(outbound, { host: "reviews" })));
    assert.deepEqual(answers.map((answer) => answer.status), [200, 200, 200, 200, 200]);

    const listenersAfter = await client.admin("/config_dump?resource=dynamic_listeners");
    const statsAfter = await client.stats("listener_manager");
    assert.equal(listenersAfter, listenersBefore, "no listener was updated");
    assert.equal(statsAfter.get("listener_manager.listener_modified"), statsBefore.get("listener_manager.listener_modified"));
    assert.equal(statsAfter.get("listener_manager.total_listeners_draining") ?? 0, 0);
    folder.remove("limit.yaml");
    await eventually(async () => (await get(outbound, { host: "reviews" })).status === 200, "the plugin is removed");
  });

  it("refuses an invalid change with all its errors and keeps serving the running config", async () => {
    folder.write("broken.yaml", `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: broken, namespace: default }
spec:
  hosts: [reviews]
  http:
  - retries: { attempts: 2, perTryTimeout: 3x }
    timeout: soon
    route: [{ destination: { host: ${REVIEWS} }, weight: 50 }]
`);
    await eventually(async () => {
      const status = (await (await fetch(`${control.adminUrl}/debug/configz`)).json()) as { rejected: { errors: Array<{ path: string; message: string }> } | null };
      return status.rejected !== null && status.rejected.errors.length >= 2;
    }, "the control service reports the rejected change");
    const status = (await (await fetch(`${control.adminUrl}/debug/configz`)).json()) as { rejected: { errors: Array<{ path: string; message: string }> } };
    const paths = status.rejected.errors.map((issue) => issue.path).join("\n");
    assert.match(paths, /VirtualService\/broken.*perTryTimeout/);
    assert.match(paths, /VirtualService\/broken.*timeout/);
    const metrics = await (await fetch(`${control.adminUrl}/metrics`)).text();
    assert.match(metrics, /^as_mesh_config_rejected 1$/m);
    const answer = await get(outbound, { host: "reviews" });
    assert.equal(answer.status, 200, "the running config keeps serving");
    folder.remove("broken.yaml");
    await eventually(async () => /^as_mesh_config_rejected 0$/m.test(await (await fetch(`${control.adminUrl}/metrics`)).text()), "the rejection clears");
  });

  it("shows a config Envoy rejects as ERROR with Envoy's message, does not resend it, and keeps the last good config", async () => {
    // Something else already holds the port the new inbound listener must bind, so Envoy NACKs the LDS update.
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(9090, "127.0.3.1", resolve));
    try {
      folder.write("services.yaml", services.replace("ports: [{ number: 9080, name: http, protocol: HTTP }]",
        "ports: [{ number: 9080, name: http, protocol: HTTP }, { number: 9090, name: http-admin, protocol: HTTP }]"));
      let rejected: { id: string; message: string } | undefined;
      await eventually(async () => {
        for (const proxy of await syncStatus(control)) {
          const lds = proxy.types.find((type) => type.type === "lds");
          if (lds?.state === "ERROR" && lds.lastError) rejected = { id: proxy.id, message: lds.lastError.message };
        }
        return rejected !== undefined;
      }, "proxy-status shows the NACK").catch(async (error: Error) => {
        error.message += `\n${JSON.stringify(await syncStatus(control), null, 1)}\n--- v1 sidecar ---\n${envoys[0]!.logTail(30)}`;
        throw error;
      });
      assert.match(rejected!.id, /127\.0\.3\.1/);
      assert.match(rejected!.message, /127\.0\.3\.1:9090/);
      assert.match(rejected!.message, /[Aa]ddress already in use|cannot bind/);

      const pushes = async () => {
        const text = await (await fetch(`${control.adminUrl}/metrics`)).text();
        return [...text.matchAll(/^pilot_xds_pushes\{type="lds"\} (\d+)$/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
      };
      const before = await pushes();
      await sleep(1500);
      assert.equal(await pushes(), before, "the rejected config is not resent");
      const answer = await get(outbound, { host: "reviews" });
      assert.equal(answer.status, 200, `the mesh keeps serving: ${answer.body}`);
    } finally {
      squatter.close();
      folder.write("services.yaml", services);
    }
    await eventually(async () => (await syncStatus(control)).every((proxy) =>
      proxy.types.every((type) => type.state !== "ERROR")), "the next changed snapshot is accepted");
  });
});
