// Losing the control service: Envoys keep serving with their last config while it is gone (killed, not stopped),
// and when it comes back on the same address every proxy — state-of-the-world and delta — resyncs without a
// resend storm: each gets its config once, and the push counters stay still afterwards.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startUpstream, type Upstream } from "../harness/upstream.ts";
import type { EnvoyInstance } from "../harness/envoy.ts";
import {
  ControlProcess, MeshFolder, eventually, freePort, get, refreshListeners, sleep, startProxy, syncStatus,
} from "../harness/control_mesh.ts";

const REVIEWS = "reviews.default.svc.cluster.local";
const mesh = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: default }
spec:
  hosts: [${REVIEWS}]
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  resolution: STATIC
  workloadSelector: { labels: { app: reviews } }
`;

async function pushesSoFar(adminUrl: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  return [...text.matchAll(/^pilot_xds_pushes\{[^}]*\} (\d+)$/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
}

describe("control service restart", { timeout: 240_000 }, () => {
  const folder = new MeshFolder();
  let control: ControlProcess;
  let app: Upstream;
  const envoys: EnvoyInstance[] = [];
  const clients: Array<{ name: string; url: string }> = [];

  before(async () => {
    folder.write("mesh.yaml", mesh);
    control = new ControlProcess(folder, await freePort(), await freePort());
    await control.start();
    app = await startUpstream((_request, _body, response) => { response.writeHead(200); response.end("reviews"); });
    envoys.push(await startProxy(control.endpoints, {
      namespace: "default", ip: "127.0.4.1", labels: { app: "reviews" }, inboundPorts: { http: 9080 }, appPorts: { http: app.port },
    }));
    for (const [index, delta] of [false, true].entries()) {
      const envoy = await startProxy(control.endpoints, {
        namespace: "default", ip: `127.0.4.${index + 10}`, labels: { app: `client-${index}` }, delta,
        listenPorts: { "9080": await freePort() },
      });
      envoys.push(envoy);
      await refreshListeners(envoy);
      clients.push({ name: delta ? "delta" : "sotw", url: envoy.url("127.0.0.1_9080") });
    }
    for (const client of clients) {
      await eventually(async () => (await get(client.url, { host: "reviews" })).status === 200, `${client.name} client reaches reviews`);
    }
  });

  after(async () => {
    await control?.kill();
    await Promise.all(envoys.map((envoy) => envoy.stop()));
    await app?.close();
    folder.cleanup();
  });

  it("keeps every Envoy serving while the control service is down, then resyncs SotW and delta proxies without a storm", async () => {
    const failures: string[] = [];
    let sent = 0;
    let running = true;
    const load = (async () => {
      while (running) {
        for (const client of clients) {
          const answer = await get(client.url, { host: "reviews" }).catch((error: Error) => ({ status: 0, body: error.message }));
          sent++;
          if (answer.status !== 200) failures.push(`${client.name}: ${answer.status} ${answer.body.slice(0, 80)}`);
        }
        await sleep(20);
      }
    })();
    await control.kill();
    await sleep(1000);
    await control.start();
    await eventually(async () => {
      const statuses = await syncStatus(control.endpoints);
      return statuses.length === 3 && statuses.every((proxy) =>
        proxy.types.filter((type) => type.state !== "NOT SENT").every((type) => type.state === "SYNCED"));
    }, "all three proxies reconnect and ACK", 60_000);
    running = false;
    await load;
    assert.deepEqual(failures.slice(0, 4), [], `${failures.length} of ${sent} requests failed while the control service was down and restarting\n${control.output.split("\n").filter((line) => /stream|connect|accepted|listening/i.test(line)).join("\n")}`);
    const statuses = await syncStatus(control.endpoints);
    assert.deepEqual(statuses.map((proxy) => proxy.protocol).sort(), ["delta", "sotw", "sotw"]);

    const settled = await pushesSoFar(control.endpoints.adminUrl);
    // At most one response per proxy and type after a reconnect (plus one EDS update when the reviews workload
    // re-registered after a client had connected).
    assert.ok(settled <= 3 * 6 + 3, `${settled} responses pushed during the resync`);
    await sleep(2000);
    assert.equal(await pushesSoFar(control.endpoints.adminUrl), settled, "nothing more is pushed once synced");
    for (const client of clients) {
      assert.equal((await get(client.url, { host: "reviews" })).status, 200, `${client.name} client after the resync`);
    }
  });
});
