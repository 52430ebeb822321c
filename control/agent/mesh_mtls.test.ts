// Two workloads, each with its own agent and Envoy, talking over mTLS with certificates that only ever travel over
// SDS: the client Envoy presents frontend's SVID and checks checkout's SPIFFE ID, the server Envoy requires a client
// certificate from the mesh root and forwards the caller's identity in x-forwarded-client-cert. Then both sides
// rotate (20 s certificates) under a fixed request rate, and not one request may fail.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import type { EnvoyInstance } from "../../tests/harness/envoy.ts";
import type { WorkloadAgent } from "./agent.ts";
import { envoyCerts, fixedRateLoad, FRONTEND, get, MeshPair } from "./fixtures/mesh_pair.ts";

const TTL_SECONDS = Number(process.env.AS_MESH_ROTATION_TTL_SECONDS ?? 20);
const LOAD_SECONDS = Number(process.env.AS_MESH_ROTATION_LOAD_SECONDS ?? 60);
const RATE = 200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const pair = new MeshPair({ ttlSeconds: TTL_SECONDS });

before(async () => {
  await pair.start();
});

after(async () => {
  await pair.close();
});

test("two workloads talk over mTLS and the server side sees the caller's SPIFFE ID in x-forwarded-client-cert", async () => {
  const response = await get(pair.outboundUrl + "/orders");
  assert.equal(response.status, 200, response.body);
  const { xfcc } = JSON.parse(response.body) as { xfcc: string | null };
  assert.match(String(xfcc), new RegExp(`URI=${FRONTEND.replace(/[/.]/g, "\\$&")}`));
  const handshakes = [...(await pair.serverEnvoy.stats("ssl.handshake"))].reduce((sum, [, value]) => sum + value, 0);
  assert.ok(handshakes >= 1, "the inbound connection was TLS");
});

test("the client refuses a server whose SPIFFE ID is not the destination's", async () => {
  const response = await get(pair.outboundUrl + "/wrong-identity");
  assert.equal(response.status, 503);
  const stats = await pair.clientEnvoy.stats("impostor-check");
  const sanFailures = stats.get("cluster.impostor-check.ssl.fail_verify_san") ?? 0;
  assert.ok(sanFailures >= 1, `fail_verify_san = ${sanFailures}`);
});

test("the server refuses a plaintext client", async () => {
  const { port } = new URL(pair.serverEnvoy.url("inbound"));
  const reply = await new Promise<string>((resolve) => {
    const socket = connect(Number(port), "127.0.0.1", () => socket.write("GET / HTTP/1.1\r\nhost: checkout\r\n\r\n"));
    let data = "";
    socket.on("data", (chunk) => { data += chunk.toString("latin1"); });
    socket.on("close", () => resolve(data));
    socket.on("error", () => resolve(data));
    socket.setTimeout(3000, () => socket.destroy());
  });
  assert.ok(!reply.includes("HTTP/1.1 200"), `plaintext got an answer: ${reply.slice(0, 80)}`);
});

test(`rotates certificates on both sides under ${RATE} req/s for ${LOAD_SECONDS} s with no failed request`, { timeout: (LOAD_SECONDS + 60) * 1000 }, async (t) => {
  const sides: Array<[WorkloadAgent, EnvoyInstance]> = [[pair.checkoutAgent, pair.serverEnvoy], [pair.frontendAgent, pair.clientEnvoy]];
  const issued = new Map<WorkloadAgent, string[]>(sides.map(([agent]) => [agent, [agent.current()!.serialNumber]]));
  const stops = sides.map(([agent]) => agent.onRotate((certificate) => issued.get(agent)!.push(certificate.serialNumber)));
  const seenInEnvoy = new Map<EnvoyInstance, Set<string>>(sides.map(([, envoy]) => [envoy, new Set()]));
  let polling = true;
  const poller = (async () => {
    while (polling) {
      for (const [envoy, seen] of seenInEnvoy) for (const serial of (await envoyCerts(envoy)).leafSerials) seen.add(serial);
      await sleep(500);
    }
  })();
  const result = await fixedRateLoad(pair.outboundUrl + "/load", RATE, LOAD_SECONDS);
  polling = false;
  await poller;
  for (const stop of stops) stop();

  t.diagnostic(`${result.total} requests in ${result.seconds.toFixed(1)} s, ${result.failures.length} failed; rotations: ` +
    sides.map(([agent]) => `${agent.current()?.spiffeId} ${issued.get(agent)!.length - 1}`).join(", "));
  assert.deepEqual(result.failures.slice(0, 5), [], `${result.failures.length} of ${result.total} requests failed`);
  assert.ok(result.total / result.seconds >= RATE * 0.95, `achieved ${(result.total / result.seconds).toFixed(0)} req/s`);
  const minRotations = Math.floor(LOAD_SECONDS / (TTL_SECONDS * 0.55)) - 1;
  for (const [agent, envoy] of sides) {
    const serials = issued.get(agent)!;
    assert.ok(serials.length - 1 >= minRotations, `${agent.current()?.spiffeId} rotated ${serials.length - 1} times, expected ≥ ${minRotations}`);
    // Every certificate the agent served long enough to be polled shows up in Envoy's /certs.
    const seen = seenInEnvoy.get(envoy)!;
    for (const serial of serials.slice(0, -1)) assert.ok(seen.has(serial.replace(/^0+/, "")), `Envoy never showed serial ${serial}`);
  }
});
