// `npm run soak`: certificate rotation under load for minutes, with the CA down for a while and a root rollover,
// on two real Envoys (frontend → checkout over mTLS, certificates only over SDS). Not part of `npm test`.
//
// Timeline (defaults; all in seconds, see --help):
//   0 ............ fixed-rate load starts (200 req/s), certificates live 60 s and renew at half-life
//   60 ........... the CA stops; agents keep serving their certificate and retry with backoff
//   120 .......... the CA is back; agents renew
//   150 .......... rollover: both agents' trust bundle files get old + new root; once both Envoys trust both,
//                  the CA switches to the new root; once both workloads hold new-root certificates, the old
//                  root leaves the bundles
//   300 .......... load stops
// The run fails (exit 2) if any request failed while both workloads held an unexpired certificate, if Envoy's
// /certs missed a certificate the agent served, or if the rollover did not complete. Requests that failed because a
// certificate expired during the outage are counted apart (a CA outage longer than the remaining lifetime).
import { parseArgs } from "node:util";
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { projectRoot } from "../scripts/tools.ts";
import { MeshCa } from "../control/ca/ca.ts";
import type { WorkloadAgent } from "../control/agent/agent.ts";
import { envoyCerts, fixedRateLoad, MeshPair, TRUST_DOMAIN } from "../control/agent/fixtures/mesh_pair.ts";

const USAGE = `npm run soak -- [--ttl 60] [--duration 300] [--rate 200] [--outage-start 60] [--outage 60] [--rollover-at 150]`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Issued {
  serial: string;
  at: number;
  notAfter: number;
  root: string;
}

function log(message: string, started: number): void {
  process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
}

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await sleep(250);
  }
  return false;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      ttl: { type: "string", default: "60" },
      duration: { type: "string", default: "300" },
      rate: { type: "string", default: "200" },
      "outage-start": { type: "string", default: "60" },
      outage: { type: "string", default: "60" },
      "rollover-at": { type: "string", default: "150" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const ttl = Number(values.ttl);
  const duration = Number(values.duration);
  const rate = Number(values.rate);
  const outageStart = Number(values["outage-start"]);
  const outage = Number(values.outage);
  const rolloverAt = Number(values["rollover-at"]);
  for (const [name, value] of Object.entries({ ttl, duration, rate, outageStart, outage, rolloverAt })) {
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} needs a non-negative number\n${USAGE}`);
  }

  const pair = new MeshPair({ ttlSeconds: ttl, logger: pino({ level: "silent" }) });
  const problems: string[] = [];
  const issued = new Map<string, Issued[]>();
  const seen = new Map<string, Set<string>>([["checkout", new Set()], ["frontend", new Set()]]);
  let started = Date.now();
  try {
    await pair.start();
    const oldRoot = pair.ca.rootCertPem;
    const sides: Array<[string, WorkloadAgent]> = [["checkout", pair.checkoutAgent], ["frontend", pair.frontendAgent]];
    for (const [name, agent] of sides) {
      const record = () => {
        const current = agent.current()!;
        issued.get(name)!.push({ serial: current.serialNumber, at: Date.now(), notAfter: current.notAfter.getTime(), root: current.certChain[current.certChain.length - 1] });
      };
      issued.set(name, []);
      record();
      agent.onRotate(record);
    }
    started = Date.now();
    let polling = true;
    const poller = (async () => {
      while (polling) {
        for (const [name, envoy] of [["checkout", pair.serverEnvoy], ["frontend", pair.clientEnvoy]] as const) {
          for (const serial of (await envoyCerts(envoy)).leafSerials) seen.get(name)!.add(serial);
        }
        await sleep(500);
      }
    })();
    const load = fixedRateLoad(pair.outboundUrl + "/soak", rate, duration);
    log(`load started: ${rate} req/s for ${duration} s, certificates live ${ttl} s`, started);

    const at = (seconds: number) => sleep(Math.max(0, started + seconds * 1000 - Date.now()));
    const scenario = (async () => {
      if (outage > 0 && outageStart < duration) {
        await at(outageStart);
        await pair.stopCa();
        log("CA stopped", started);
        await at(outageStart + outage);
        await pair.startCa(pair.ca);
        log(`CA back; failed renewal attempts meanwhile: checkout ${pair.checkoutAgent.status().failedAttempts}, frontend ${pair.frontendAgent.status().failedAttempts}`, started);
      }
      if (rolloverAt >= duration) return;
      await at(rolloverAt);
      const newRootMaterial = await MeshCa.generateRoot({ trustDomain: TRUST_DOMAIN });
      const newCa = await MeshCa.fromPem(
        { keyPem: newRootMaterial.keyPem, certChainPem: newRootMaterial.certPem },
        { trustDomain: TRUST_DOMAIN, extraTrustedRootsPem: [oldRoot] },
      );
      for (const name of ["checkout", "frontend"] as const) writeFileSync(pair.bundleFile(name), oldRoot + newCa.rootCertPem);
      const bothTrusted = await waitUntil(async () =>
        (await envoyCerts(pair.serverEnvoy)).caSerials.length === 2 && (await envoyCerts(pair.clientEnvoy)).caSerials.length === 2, 20_000);
      if (!bothTrusted) problems.push("rollover: Envoy did not get old + new root in ROOTCA within 20 s");
      log("rollover: both Envoys trust old + new root; switching the CA to the new root", started);
      await pair.startCa(newCa);
      const allNew = await waitUntil(() => sides.every(([, agent]) => agent.current()!.certChain.at(-1) === newCa.rootCertPem), (ttl + 30) * 1000);
      if (!allNew) problems.push("rollover: the workloads did not get new-root certificates within a lifetime");
      for (const name of ["checkout", "frontend"] as const) writeFileSync(pair.bundleFile(name), newCa.rootCertPem);
      const oldGone = await waitUntil(async () =>
        (await envoyCerts(pair.serverEnvoy)).caSerials.length === 1 && (await envoyCerts(pair.clientEnvoy)).caSerials.length === 1, 20_000);
      if (!oldGone) problems.push("rollover: the old root stayed in Envoy's ROOTCA");
      log("rollover: both workloads on new-root certificates; old root removed from ROOTCA", started);
    })();

    const result = await load;
    await scenario;
    polling = false;
    await poller;

    // A request failed "with valid certificates" if, when it failed, each workload's newest certificate was unexpired.
    const validAt = (time: number) => [...issued.values()].every((list) => {
      const current = [...list].reverse().find((entry) => entry.at <= time);
      return current !== undefined && current.notAfter > time;
    });
    // A new certificate reaches Envoy over SDS a moment after the agent has it, and a failure is recorded when its
    // response arrives: an expiry up to 2 s before the failure still explains it.
    const withValid = result.failures.filter((failure) => validAt(failure.at) && validAt(failure.at - 2000));
    const withExpired = result.failures.length - withValid.length;
    if (withValid.length > 0) problems.push(`${withValid.length} requests failed while both certificates were valid, e.g. ${withValid[0].message}`);
    for (const [name, list] of issued) {
      for (const entry of list.slice(0, -1)) {
        if (!seen.get(name)!.has(entry.serial.replace(/^0+/, ""))) problems.push(`${name}: Envoy's /certs never showed serial ${entry.serial}`);
      }
    }
    const summary = {
      startedAt: new Date(started).toISOString(),
      options: { ttl, duration, rate, outageStart, outage, rolloverAt },
      requests: result.total,
      seconds: Number(result.seconds.toFixed(1)),
      failed: result.failures.length,
      failedWithValidCertificates: withValid.length,
      failedWithAnExpiredCertificate: withExpired,
      failuresBySecond: result.failures.reduce<Record<string, number>>((counts, failure) => {
        const second = String(Math.floor((failure.at - started) / 1000));
        counts[second] = (counts[second] ?? 0) + 1;
        return counts;
      }, {}),
      rotations: Object.fromEntries([...issued].map(([name, list]) => [name, list.length - 1])),
      roots: Object.fromEntries([...issued].map(([name, list]) => [name, new Set(list.map((entry) => entry.root)).size])),
      problems,
    };
    const dir = join(projectRoot, "bench", "results");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `ca-soak-${summary.startedAt.replace(/[:.]/g, "-")}.json`);
    writeFileSync(file, JSON.stringify(summary, null, 2) + "\n");
    process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
    log(`wrote ${file}`, started);
    return problems.length === 0 ? 0 : 2;
  } finally {
    await pair.close();
  }
}

main().then((code) => process.exit(code), (error: unknown) => {
  process.stderr.write(`error: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
