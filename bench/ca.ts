// `npx tsx bench/ca.ts`: how fast the mesh CA turns a CSR into a signed chain. Two measurements:
//   sign  MeshCa.sign in process (CSR checks + signing, no network), one at a time;
//   rpc   CreateCertificate over gRPC + TLS with a bootstrap token, as the agent calls it, at 1 and N in flight.
// CSRs (ECDSA P-256, like the agent's) are generated before timing starts. The CA server runs in this process on
// loopback; the client's work is inside the measured latency, so the numbers are an upper bound for the CA itself.
import { parseArgs } from "node:util";
import { loadavg, cpus } from "node:os";
import { pino } from "pino";
import { createKeyAndCsr, MeshCa } from "../control/ca/ca.ts";
import { CaClient } from "../control/ca/client.ts";
import { CaServer } from "../control/ca/server.ts";
import { generateToken, TokenAuthority } from "../control/ca/tokens.ts";

interface Summary {
  phase: string;
  requests: number;
  concurrency: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summarize(phase: string, concurrency: number, latencies: number[], seconds: number): Summary {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    phase, requests: sorted.length, concurrency, seconds,
    perSecond: sorted.length / seconds,
    p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted[sorted.length - 1],
  };
}

async function timed(count: number, concurrency: number, one: (index: number) => Promise<unknown>): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < count) {
      const index = next++;
      const t0 = performance.now();
      await one(index);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requests: { type: "string", default: "2000" },
      concurrency: { type: "string", default: "8" },
      warmup: { type: "string", default: "200" },
      json: { type: "boolean", default: false },
    },
  });
  const requests = Number(values.requests);
  const concurrency = Number(values.concurrency);
  const warmup = Number(values.warmup);
  if (!(requests > 0 && concurrency > 0 && warmup >= 0)) throw new Error("--requests, --concurrency and --warmup need positive numbers");

  const root = await MeshCa.generateRoot({ trustDomain: "cluster.local" });
  const ca = await MeshCa.fromPem({ keyPem: root.keyPem, certChainPem: root.certPem }, { trustDomain: "cluster.local" });
  const identity = { namespace: "bench", serviceAccount: "load" };
  const { token, entry } = generateToken(identity);
  const server = new CaServer({
    ca,
    tokens: new TokenAuthority([entry]),
    logger: pino({ level: "silent" }),
    // The benchmark measures signing, not the limiter.
    rateLimits: { global: { burst: 1e9, perSecond: 1e9 }, perIdentity: { burst: 1e9, perSecond: 1e9 } },
  });
  const port = await server.listen("127.0.0.1:0");
  const client = new CaClient({ address: `127.0.0.1:${port}`, caCertificatesPem: server.trustBundlePem }, { token });
  const csrs = await Promise.all(Array.from({ length: 64 }, async () => (await createKeyAndCsr()).csrPem));
  const csr = (index: number) => csrs[index % csrs.length];
  const results: Summary[] = [];
  try {
    await timed(warmup, concurrency, (i) => client.createCertificate({ csr: csr(i), validityDuration: 3600 }));
    const sign = await timed(requests, 1, (i) => ca.sign(csr(i), identity, 3600));
    results.push(summarize("sign (in process)", 1, sign.latencies, sign.seconds));
    const serial = await timed(requests, 1, (i) => client.createCertificate({ csr: csr(i), validityDuration: 3600 }));
    results.push(summarize("CreateCertificate (gRPC+TLS)", 1, serial.latencies, serial.seconds));
    const parallel = await timed(requests, concurrency, (i) => client.createCertificate({ csr: csr(i), validityDuration: 3600 }));
    results.push(summarize("CreateCertificate (gRPC+TLS)", concurrency, parallel.latencies, parallel.seconds));
  } finally {
    client.close();
    await server.close();
  }
  if (values.json) {
    process.stdout.write(JSON.stringify({ cpus: cpus().length, loadavg: loadavg(), results }, null, 2) + "\n");
    return;
  }
  const ms = (value: number) => value.toFixed(2);
  const lines = [
    `mesh CA issuance, ECDSA P-256 CA and CSRs, ${requests} requests per phase (${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")})`,
    "",
    "| phase | in flight | req/s | p50 ms | p90 ms | p99 ms | max ms |",
    "|---|---|---|---|---|---|---|",
    ...results.map((r) => `| ${r.phase} | ${r.concurrency} | ${r.perSecond.toFixed(0)} | ${ms(r.p50)} | ${ms(r.p90)} | ${ms(r.p99)} | ${ms(r.max)} |`),
  ];
  process.stdout.write(lines.join("\n") + "\n");
  const p99 = Math.max(...results.filter((r) => r.concurrency === 1).map((r) => r.p99));
  if (p99 >= 50) {
    process.stderr.write(`p99 ${ms(p99)} ms is above the 50 ms target\n`);
    process.exitCode = 2;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`error: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
