// The demo mesh's guided tour: each step sends real requests (or a real PromQL query), prints the evidence and
// says ok or BAD. The same steps run against the local mesh and the Compose one; they only need URLs.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { RECORDED } from "./prometheus_config.ts";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { serviceHost, spiffeId } from "../../envoy/demo/topology.ts";
import { projectRoot } from "../tools.ts";
import { asMeshCommand } from "./control_source.ts";
import { gatewayGet, gatewayHandshake, type GatewayEndpoint } from "./gateway_client.ts";

const execFileAsync = promisify(execFile);

export interface TourTarget {
  /** The edge gateway's HTTPS server and the mesh root its certificate chains to. */
  gateway: GatewayEndpoint;
  issuerUrl: string;
  prometheusUrl: string;
  /** The control service's admin URL, for `as-mesh proxy-status`. */
  controlAdminUrl?: string;
  /** The mesh YAML folder the control service watches, for the live edit. */
  meshDir?: string;
}

/**
 * Reads and writes a file of the mesh YAML the control service watches (a folder here, or inside a container), or
 * that is applied to etcd once written.
 */
export interface MeshFiles {
  describe(file: string): string;
  read(file: string): string;
  write(file: string, text: string): void | Promise<void>;
}

/** The mesh YAML in a folder on this machine. */
export function meshFolder(dir: string): MeshFiles {
  return {
    describe: (file) => join(dir, file),
    read: (file) => readFileSync(join(dir, file), "utf8"),
    write: (file, text) => writeFileSync(join(dir, file), text),
  };
}

export interface StepResult { title: string; ok: boolean; evidence: string }

interface ChainAnswer { service?: string; version?: string; status?: number; chain?: Array<{ service: string; version?: string }> }

async function get(url: string, token?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const response = await fetch(url, {
    headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: await response.text() };
}

/** A request through the edge gateway, over HTTPS verified against the mesh root. */
function viaGateway(target: TourTarget, path: string, token?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return gatewayGet(target.gateway, path, { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) });
}

function parseChain(body: string): ChainAnswer {
  try {
    return JSON.parse(body) as ChainAnswer;
  } catch {
    return {};
  }
}

export async function mintToken(target: TourTarget, subject: string): Promise<string> {
  const response = await get(`${target.issuerUrl}/demo/token?sub=${encodeURIComponent(subject)}`);
  if (response.status !== 200) throw new Error(`the issuer answered ${response.status} for a token`);
  return response.body.trim();
}

/** Instant PromQL query → samples (labels and value). */
export async function promQuery(prometheusUrl: string, promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await response.json()) as { status: string; error?: string; data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  if (body.status !== "success") throw new Error(`PromQL ${promql}: ${body.error ?? response.status}`);
  return body.data?.result ?? [];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until the mesh is up as a user would see it: the issuer mints tokens and Prometheus reports every scrape
 * target (each Envoy's admin, so each Envoy is running) healthy.
 */
export async function waitForMesh(target: TourTarget, expectedTargets: number, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      await mintToken(target, "readiness");
      const response = await fetch(`${target.prometheusUrl}/api/v1/targets`, { signal: AbortSignal.timeout(5000) });
      const body = (await response.json()) as { data: { activeTargets: Array<{ health: string; scrapeUrl: string; lastError: string }> } };
      const targets = body.data.activeTargets;
      const down = targets.filter((t) => t.health !== "up");
      if (targets.length >= expectedTargets && down.length === 0) return;
      last = `${targets.length - down.length}/${expectedTargets} scrape targets up` +
        (down.length ? ` (down: ${down.map((t) => `${t.scrapeUrl} ${t.lastError}`).join("; ")})` : "");
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(500);
  }
  throw new Error(`the mesh was not up after ${timeoutMs} ms: ${last}`);
}

export type Step = (target: TourTarget, token: string) => Promise<StepResult>;

/** The first request with a valid token answers 200 with the whole call chain. */
export const firstRequest: Step = async (target, token) => {
  const response = await viaGateway(target, "/rides", token);
  const answer = parseChain(response.body);
  const chain = (answer.chain ?? []).map((hop) => `${hop.service}${hop.version ? ` ${hop.version}` : ""}`).join(" → ");
  const ok = response.status === 200 && /^ride v\d → driver v1 → payment v1$/.test(chain);
  return { title: "GET /rides through the gateway with a token", ok, evidence: `${response.status}, call chain: ${chain || response.body.slice(0, 200)}` };
};

/** The request the runner sent the moment the gateway reported ready (a fresh mesh: JWKS not fetched yet). */
export function firstRequestAtReady(answer: { status: number; body: string; afterReadyMs: number }): Step {
  return async () => {
    const parsed = parseChain(answer.body);
    const chain = (parsed.chain ?? []).map((hop) => `${hop.service}${hop.version ? ` ${hop.version}` : ""}`).join(" → ");
    const ok = answer.status === 200 && /^ride v\d → driver v1 → payment v1$/.test(chain);
    return {
      title: "the very first GET /rides, sent when the gateway reported ready",
      ok, evidence: `${answer.status} after ${answer.afterReadyMs} ms, call chain: ${chain || answer.body.trim().slice(0, 200)}`,
    };
  };
}

/**
 * The edge's certificate: the control service had the mesh CA issue it for the Gateway server's host and sent it
 * over SDS. The handshake verifies for the edge's name against the mesh root alone, and not against the system's
 * roots (no public CA vouches for it).
 */
export const edgeTls: Step = async (target) => {
  const root = readFileSync(target.gateway.rootFile, "utf8");
  const withRoot = await gatewayHandshake(target.gateway, root);
  const withoutRoot = await gatewayHandshake(target.gateway);
  const host = new URL(target.gateway.url).hostname;
  const ok = withRoot.verified && withRoot.subjectAltName === `DNS:${host}` && !withoutRoot.verified;
  return {
    title: `TLS handshake with the gateway for ${host} (certificate edge-cert from the mesh CA, over SDS)`,
    ok,
    evidence: `${withRoot.protocol}, subject alt name ${withRoot.subjectAltName || "(none)"}, issuer ${withRoot.issuer}, valid to ${withRoot.validTo}\n` +
      `       verified against the mesh root ${target.gateway.rootFile}: ${withRoot.verified ? "yes" : `no (${withRoot.error})`}; ` +
      `against the system's roots: ${withoutRoot.verified ? "yes" : `no (${withoutRoot.error})`}`,
  };
};

/**
 * No token: RequestAuthentication lets it through (Istio's semantics) and the edge-require-jwt AuthorizationPolicy
 * (requestPrincipals: ["*"]) refuses it, with Istio's answer: 403 RBAC: access denied.
 */
export const noToken: Step = async (target) => {
  const response = await viaGateway(target, "/rides");
  const ok = response.status === 403 && /RBAC: access denied/.test(response.body);
  return { title: "GET /rides without a token (edge-require-jwt)", ok, evidence: `${response.status} ${response.body.trim().slice(0, 80)}` };
};

/** A token whose signature does not verify: jwt-auth (RequestAuthentication edge-jwt) answers 401. */
export const forgedToken: Step = async (target, token) => {
  const [header, payload] = token.split(".");
  const forged = `${header}.${payload}.${"A".repeat(86)}`;
  const response = await viaGateway(target, "/rides", forged);
  return { title: "GET /rides with a forged token (edge-jwt)", ok: response.status === 401, evidence: `${response.status} ${response.body.trim().slice(0, 80)}` };
};

export const rateLimited: Step = async (target) => {
  const token = await mintToken(target, `booker-${Date.now()}`);
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) statuses.push((await viaGateway(target, "/book", token)).status);
  const ok = statuses.slice(0, 5).every((s) => s === 200) && statuses.slice(5).every((s) => s === 429);
  return { title: "8 × GET /book as one user (5 per 10 s)", ok, evidence: statuses.join(" ") };
};

/** Counts which ride version answered over n requests; `expectV2Share` bounds the accepted share of v2. */
export function canarySplit(n: number, expectV2Share: [number, number]): Step {
  return async (target, token) => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const response = await viaGateway(target, "/rides", token);
      const version = response.status === 200 ? parseChain(response.body).version ?? "?" : String(response.status);
      counts[version] = (counts[version] ?? 0) + 1;
    }
    const share = (counts.v2 ?? 0) / n;
    const ok = (counts.v1 ?? 0) + (counts.v2 ?? 0) === n && share >= expectV2Share[0] && share <= expectV2Share[1];
    return {
      title: `${n} × GET /rides: ride v2's share in [${expectV2Share.join(", ")}]`,
      ok, evidence: Object.entries(counts).map(([version, count]) => `${version}=${count}`).join(" ") + ` (v2 ${(share * 100).toFixed(1)} %)`,
    };
  };
}

/**
 * Success rate per service from the recording rule. A rate needs two scrapes that saw the counter move, so the
 * step keeps sending a request a second until every service has a finite value (or 30 s pass).
 */
export const successRateQuery: Step = async (target, token) => {
  const deadline = Date.now() + 30_000;
  const services = ["ride", "driver", "payment"];
  let samples: Awaited<ReturnType<typeof promQuery>> = [];
  const finite = () => new Set(samples.filter((s) => Number.isFinite(Number(s.value[1]))).map((s) => s.metric.destination_service_name));
  while (Date.now() < deadline) {
    await viaGateway(target, "/rides", token);
    samples = await promQuery(target.prometheusUrl, RECORDED.successRate);
    if (services.every((service) => finite().has(service))) break;
    await sleep(1000);
  }
  const shown = samples.map((s) => `${s.metric.destination_service_name}=${Number(s.value[1]).toFixed(3)}`).sort().join(" ");
  return { title: `PromQL ${RECORDED.successRate} (success rate per service)`, ok: services.every((service) => finite().has(service)), evidence: shown || "no samples" };
};

export async function runSteps(target: TourTarget, steps: Step[], write: (line: string) => void): Promise<boolean> {
  const token = await mintToken(target, "alice");
  let allOk = true;
  for (const step of steps) {
    let result: StepResult;
    try {
      result = await step(target, token);
    } catch (error) {
      result = { title: step.name || "step", ok: false, evidence: error instanceof Error ? error.message : String(error) };
    }
    write(`  ${result.ok ? "ok " : "BAD"}  ${result.title}\n       ${result.evidence}\n`);
    allOk &&= result.ok;
  }
  return allOk;
}

// ---- steps that need the control service: mTLS, RBAC, faults and live edits ----

/** ride calls payment directly: payment's sidecar lets only driver in, so RBAC answers 403 (passed on by ride). */
export const rbacDenied: Step = async (target, token) => {
  const response = await viaGateway(target, `/call/${serviceHost("payment")}`, token);
  const answer = parseChain(response.body) as ChainAnswer & { answer?: { text?: string } };
  const ok = response.status === 403 && /RBAC: access denied/.test(answer.answer?.text ?? "");
  return { title: "ride → payment directly (only driver may call payment)", ok, evidence: `${response.status} ${answer.answer?.text ?? response.body.slice(0, 120)}` };
};

/** The driver VirtualService aborts requests carrying x-demo-fault: abort with 503 (ride passes the header on). */
export const faultInjected: Step = async (target, token) => {
  const statuses: number[] = [];
  let evidence = "";
  for (let i = 0; i < 5; i++) {
    const response = await viaGateway(target, "/rides", token, { "x-demo-fault": "abort" });
    statuses.push(response.status);
    const chain = parseChain(response.body).chain ?? [];
    evidence = chain.map((hop) => `${hop.service}${"status" in hop ? ` (${String((hop as { status: unknown }).status)})` : ""}`).join(" → ");
  }
  const clean = await viaGateway(target, "/rides", token);
  const ok = statuses.every((s) => s === 503) && clean.status === 200;
  return { title: "5 × GET /rides with x-demo-fault: abort (fault rule on driver)", ok, evidence: `${statuses.join(" ")}; chain ${evidence}; without the header ${clean.status}` };
};

/** mTLS identities as the destination saw them: driver's inbound metrics name ride's SPIFFE ID as the source. */
export const mtlsIdentityInMetrics: Step = async (target, token) => {
  const query = `sum by (source_principal, destination_service_name) (istio_requests_total{reporter="destination",destination_service_name=~"driver|payment"})`;
  const expected = new Map([["driver", spiffeId("ride")], ["payment", spiffeId("driver")]]);
  const deadline = Date.now() + 20_000;
  let samples: Awaited<ReturnType<typeof promQuery>> = [];
  const matches = () => [...expected].every(([service, principal]) =>
    samples.some((s) => s.metric.destination_service_name === service && s.metric.source_principal === principal));
  while (Date.now() < deadline) {
    await viaGateway(target, "/rides", token);
    samples = await promQuery(target.prometheusUrl, query);
    if (matches()) break;
    await sleep(1000);
  }
  const shown = samples.map((s) => `${s.metric.destination_service_name} ← ${s.metric.source_principal || "(none)"}`).join(", ");
  return { title: "source_principal in driver's and payment's metrics (mTLS identity)", ok: matches(), evidence: shown || "no samples" };
};

/**
 * Rewrites the ride canary's weights in the mesh YAML the control service watches (comments and layout kept), then
 * measures until the split follows (the push is live: no restart).
 */
export function canaryShift(mesh: string | MeshFiles, weights: [number, number], n: number, expectV2Share: [number, number]): Step {
  const files = typeof mesh === "string" ? meshFolder(mesh) : mesh;
  return async (target, token) => {
    const path = files.describe("traffic.yaml");
    const documents = parseAllDocuments(files.read("traffic.yaml"));
    const ride = documents.find((doc) => doc.getIn(["kind"]) === "VirtualService" && doc.getIn(["metadata", "name"]) === "ride");
    if (!ride) throw new Error(`${path} has no VirtualService ride`);
    ride.setIn(["spec", "http", 0, "route", 0, "weight"], weights[0]);
    ride.setIn(["spec", "http", 0, "route", 1, "weight"], weights[1]);
    await files.write("traffic.yaml", documents.map((doc) => doc.toString({ lineWidth: 0 })).join(""));
    // The control service notices the change (the file, or etcd's watch), debounces (100 ms) and pushes; give it a
    // moment, then measure.
    await sleep(3000);
    const measured = await canarySplit(n, expectV2Share)(target, token);
    return { ...measured, title: `canary edited to ${weights.join("/")} in ${path}, then ${measured.title}` };
  };
}

/**
 * `as-mesh proxy-status` against the control service: every proxy of the mesh connected and SYNCED. With several
 * replicas (`adminUrls`), each lists the proxies connected to it, so every proxy must be SYNCED in one of them.
 */
export function proxyStatus(expectedProxies: string[], adminUrls?: string[]): Step {
  return async (target) => {
    const admins = adminUrls ?? (target.controlAdminUrl ? [target.controlAdminUrl] : []);
    if (admins.length === 0) throw new Error("no control service admin URL for this mesh");
    const outputs: string[] = [];
    const rows: string[] = [];
    for (const admin of admins) {
      const command = asMeshCommand(["proxy-status", "--admin", admin]);
      const { stdout } = await execFileAsync(command.command, command.args, { cwd: projectRoot, timeout: 60_000 });
      outputs.push(stdout.trimEnd());
      // The sync table comes first; the workload certificates' table follows after a blank line.
      rows.push(...stdout.trim().split("\n\n")[0].split("\n").slice(1).filter((line) => line.trim() !== ""));
    }
    const synced = (name: string) => rows.some((row) => row.includes(`~${name}.`) && !/STALE|NOT SENT|ERROR/.test(row));
    const ok = expectedProxies.every(synced) && rows.length >= expectedProxies.length;
    return {
      title: admins.map((admin) => `as-mesh proxy-status --admin ${admin}`).join(" and "),
      ok, evidence: outputs.join("\n\n").split("\n").join("\n       "),
    };
  };
}

/**
 * Restarts the control service (its container) while a request goes through the gateway every 100 ms: the Envoys
 * keep their last configuration and certificates, reconnect (their xDS streams retry at most 4 s apart), and no
 * request fails meanwhile. Done once the restarted control sees `expectedProxies` connected again.
 */
export function controlRestart(restart: () => Promise<void>, expectedProxies: number): Step {
  return async (target, token) => {
    const statuses: Record<string, number> = {};
    let restarted = false;
    const restarting = restart().then(() => { restarted = true; });
    const started = Date.now();
    let connected = 0;
    const deadline = started + 60_000;
    while (Date.now() < deadline) {
      const status = String((await viaGateway(target, "/rides", token).catch(() => ({ status: 0 }))).status);
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (restarted && target.controlAdminUrl) {
        const syncz = await fetch(`${target.controlAdminUrl}/debug/syncz`, { signal: AbortSignal.timeout(2000) })
          .then(async (response) => (response.ok ? (await response.json()) as unknown[] : []), () => []);
        connected = syncz.length;
        if (connected >= expectedProxies) break;
      }
      await sleep(100);
    }
    await restarting;
    const ok = connected >= expectedProxies && Object.keys(statuses).every((status) => status === "200");
    return {
      title: "restart the control service under traffic (every request answered 200)",
      ok, evidence: `${Object.entries(statuses).map(([status, count]) => `${status}×${count}`).join(" ")} over ${Date.now() - started} ms; ` +
        `${connected} of ${expectedProxies} proxies reconnected`,
    };
  };
}
