// The control service: mesh config from a store → validation (a rejected change keeps the running config) →
// translation per proxy group → versioned snapshots → ADS streams. Proxies that would get identical resources
// share one group and one snapshot, so memory grows with distinct configs, not with proxies. Pushes are debounced
// like istiod's and run with bounded concurrency.
import pino, { type Logger } from "pino";
import { Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { Issue, MeshConfig } from "./config/index.ts";
import { validateStore, type ConfigStore } from "./store/index.ts";
import {
  parseNodeMetadata, partWarnings, proxyGroupKey, resourcesByTypeUrl, translateProxyParts, workloadInstanceOf,
  type ProxyInfo, type TranslateContext, type WorkloadInstance,
} from "./translate/index.ts";
import { Snapshot, SnapshotCache, sharedLayer } from "./cache/index.ts";
import { XdsServer, type ConnectedProxy } from "./xds/index.ts";
import type { GatewayCredentials } from "./credentials.ts";
import { Debouncer, ISTIO_DEBOUNCE, type DebounceOptions } from "./debounce.ts";
import { startAdminServer, type AdminServer } from "./admin/server.ts";
import { wasmModulePath, type WasmModule } from "./admin/wasm_modules.ts";
import { proxyCertificate, type CertificateRecords, type ProxyCertificate } from "./ca/workload_status.ts";
import { trustDomainOf } from "./translate/index.ts";
import { LocalRegistry, type WorkloadRegistry } from "./registry/index.ts";

export interface ControlServiceOptions {
  store: ConfigStore;
  /** "host:port" for gRPC (port 0: any). */
  xdsAddress: string;
  /** "host:port" for the admin HTTP server (port 0: any). */
  adminAddress: string;
  wasmModules: Map<string, WasmModule>;
  /** Address Envoys use to reach the admin port for .wasm downloads, when it differs from the bind address. */
  advertisedAdminHost?: string;
  debounce?: DebounceOptions;
  pushConcurrency?: number;
  /**
   * How long an auto-registered workload stays an endpoint after its sidecar's stream ends (Istio's
   * PILOT_WORKLOAD_ENTRY_GRACE_PERIOD, 10 s): a sidecar that reconnects — to this replica after a restart, or to
   * another — keeps its place without a push that removes and re-adds it.
   */
  registrationGraceMs?: number;
  /**
   * After a start, how long proxies wait for their first config while sidecars re-register (default 5 s). Without
   * it a restarted control service would send clients endpoint sets missing every workload not yet reconnected.
   */
  startupGraceMs?: number;
  /** The mesh's SPIFFE trust domain (default cluster.local); a proxy's node metadata TRUST_DOMAIN overrides it. */
  trustDomain?: string;
  /** Issuance records of the CA in this process: /debug/syncz shows each proxy's latest certificate. */
  certificates?: CertificateRecords;
  /** Where auto-registered workloads are published (default: this process only; EtcdRegistry: every replica). */
  registry?: WorkloadRegistry;
  /** TLS certificates for Gateway servers' credentialName (an operator folder, else issued by the mesh CA). */
  gatewayCredentials?: GatewayCredentials;
  logger?: Logger;
}

/** What the running config is, and why the last change was or was not accepted (served at /debug/configz). */
export interface ConfigStatus {
  acceptedAt: string | null;
  resources: number;
  warnings: Issue[];
  rejected: { at: string; errors: Issue[] } | null;
}

function splitHostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(":");
  if (at <= 0) throw new Error(`"${address}" is not host:port`);
  const port = Number(address.slice(at + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`"${address}" has no valid port`);
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ""), port };
}

export class ControlService {
  readonly registry = new Registry();
  readonly logger: Logger;
  private readonly cache = new SnapshotCache();
  private xds!: XdsServer;
  private admin!: AdminServer;
  private mesh: MeshConfig | null = null;
  private configStatus: ConfigStatus = { acceptedAt: null, resources: 0, warnings: [], rejected: null };
  /** One representative proxy per group: every member gets the same resources. */
  private readonly groups = new Map<string, { proxy: ProxyInfo; members: Set<number> }>();
  /** Auto-registered workloads by node id, with the streams that keep them and a pending removal. */
  private readonly registered = new Map<string, { instance: WorkloadInstance; streams: Set<number>; removal?: NodeJS.Timeout }>();
  private startupGraceOver: Promise<void> = Promise.resolve();
  private startupGraceEnded = false;
  private readonly pushes: Debouncer;
  private readonly workloads: WorkloadRegistry;
  private unsubscribe: (() => void) | null = null;
  private credentialTimer: NodeJS.Timeout | undefined;
  /** The context of the last push (what every group's snapshot was translated with). */
  private pushContext: TranslateContext | null = null;
  /** The group of each stream, so a disconnect finds it without scanning every group. */
  private readonly groupOfStream = new Map<number, string>();
  /** The proxy of each stream, for its identity in /debug/syncz. */
  private readonly proxyOfStream = new Map<number, ProxyInfo>();
  xdsPort = 0;

  constructor(private readonly options: ControlServiceOptions) {
    this.logger = options.logger ?? pino({ name: "as-mesh-control" });
    this.pushes = new Debouncer(() => this.pushAll(), options.debounce ?? ISTIO_DEBOUNCE);
    this.workloads = options.registry ?? new LocalRegistry();
    collectDefaultMetrics({ register: this.registry });
    const status = () => this.configStatus;
    new Gauge({
      name: "as_mesh_config_resources",
      help: "Mesh config resources in the running (last accepted) configuration.",
      registers: [this.registry],
      collect() { this.set(status().resources); },
    });
    new Gauge({
      name: "as_mesh_config_rejected",
      help: "1 while the store holds a config change that was rejected (the previous config keeps running).",
      registers: [this.registry],
      collect() { this.set(status().rejected ? 1 : 0); },
    });
  }

  get adminUrl(): string {
    return this.admin.url;
  }

  async start(): Promise<void> {
    const { store } = this.options;
    let endGrace: () => void = () => {};
    this.startupGraceOver = new Promise((resolve) => { endGrace = resolve; });
    void this.startupGraceOver.then(() => { this.startupGraceEnded = true; });
    await store.start();
    await this.workloads.start(() => this.pushes.trigger());
    this.reloadConfig();
    await this.refreshCredentials();
    this.unsubscribe = store.onChange(() => {
      if (this.reloadConfig()) void this.refreshCredentials().finally(() => this.pushes.trigger());
    });
    // Renew gateway certificates issued by the CA well before they expire.
    this.credentialTimer = setInterval(() => void this.refreshCredentials(), 10 * 60_000);
    this.credentialTimer.unref();

    this.xds = new XdsServer({
      cache: this.cache,
      registry: this.registry,
      logger: this.logger.child({ component: "xds" }),
      groupOf: (proxy) => this.join(proxy),
      onDisconnect: (proxy) => this.leave(proxy),
    });
    const xds = splitHostPort(this.options.xdsAddress);
    this.xdsPort = await this.xds.listen(`${xds.host}:${xds.port}`);
    // The grace runs from when proxies can reach us; Envoys retry at most 4 s apart (see envoy/builders).
    setTimeout(endGrace, this.options.startupGraceMs ?? 5000).unref();

    const admin = splitHostPort(this.options.adminAddress);
    this.admin = await startAdminServer({
      registry: this.registry,
      ready: () => this.readiness(),
      syncStatus: () => this.syncStatus(),
      configStatus: () => this.configStatus,
      modules: () => this.options.wasmModules,
    }, admin.host, admin.port);
    this.logger.info({ xds: `${xds.host}:${this.xdsPort}`, admin: this.admin.url }, "control service listening");
  }

  /** Loads or issues the certificates the running config's Gateways name; returns whether any changed. */
  async refreshCredentials(): Promise<boolean> {
    const credentials = this.options.gatewayCredentials;
    if (!credentials || !this.mesh) return false;
    const changed = await credentials.refresh(this.mesh);
    if (changed && this.startupGraceEnded) this.pushes.trigger();
    return changed;
  }

  async stop(): Promise<void> {
    clearInterval(this.credentialTimer);
    this.pushes.cancel();
    for (const entry of this.registered.values()) clearTimeout(entry.removal);
    this.unsubscribe?.();
    await this.xds?.close();
    await this.admin?.close();
    await this.workloads.stop();
    await this.options.store.stop();
  }

  private readiness(): { ready: boolean; reason?: string } {
    if (!this.options.store.hasSynced()) return { ready: false, reason: "config store has not synced" };
    if (!this.mesh) return { ready: false, reason: "no valid mesh config loaded" };
    if (!this.startupGraceEnded) return { ready: false, reason: "waiting for sidecars to re-register" };
    return { ready: true };
  }

  /** Validates the store's documents; adopts them only when valid. Returns whether the running config changed. */
  private reloadConfig(): boolean {
    const documents = this.options.store.documents();
    const { mesh, errors, warnings } = validateStore(this.options.store);
    const now = new Date().toISOString();
    if (!mesh) {
      this.configStatus = { ...this.configStatus, rejected: { at: now, errors } };
      this.logger.error({ errors: errors.map((issue) => `${issue.path}: ${issue.message}`) },
        "mesh config rejected; the running config stays");
      return false;
    }
    for (const warning of warnings) this.logger.warn({ path: warning.path }, warning.message);
    this.mesh = mesh;
    this.configStatus = { acceptedAt: now, resources: documents.length, warnings, rejected: null };
    this.logger.info({ resources: documents.length, warnings: warnings.length }, "mesh config accepted");
    return true;
  }

  private context(): TranslateContext {
    const host = this.options.advertisedAdminHost ?? splitHostPort(this.options.adminAddress).host;
    const wasmModules: TranslateContext["wasmModules"] = {};
    for (const module of this.options.wasmModules.values()) {
      wasmModules[module.name] = { url: `http://${host}:${this.admin.port}${wasmModulePath(module.name)}`, sha256: module.sha256 };
    }
    return {
      registeredWorkloads: this.workloads.instances(), wasmModules, trustDomain: this.options.trustDomain,
      credentials: this.options.gatewayCredentials?.current(),
    };
  }

  /** The xDS sync state of every stream, with the workload certificate its proxy's identity holds. */
  private syncStatus(): Array<ReturnType<XdsServer["status"]>[number] & { certificate?: ProxyCertificate }> {
    return this.xds.status().map((status) => {
      const proxy = this.proxyOfStream.get(status.streamId);
      if (!proxy) return status;
      const identity = { trustDomain: trustDomainOf(proxy, { trustDomain: this.options.trustDomain }), namespace: proxy.namespace, serviceAccount: proxy.serviceAccount };
      return { ...status, certificate: proxyCertificate(identity, this.options.certificates) };
    });
  }

  /** Places a newly connected proxy in its group, building the group's snapshot if it is new. */
  private async join(connected: ConnectedProxy): Promise<string> {
    const parsed = parseNodeMetadata({ id: connected.id, cluster: connected.cluster, metadata: connected.metadata });
    if (Array.isArray(parsed)) {
      throw new Error(`node ${connected.id}: ${parsed.map((issue) => `${issue.path}: ${issue.message}`).join("; ")}`);
    }
    if (!this.mesh) throw new Error("no valid mesh config loaded yet");
    const key = proxyGroupKey(this.mesh, parsed);
    let group = this.groups.get(key);
    if (!group) {
      group = { proxy: parsed, members: new Set() };
      this.groups.set(key, group);
    }
    group.members.add(connected.streamId);
    this.groupOfStream.set(connected.streamId, key);
    this.proxyOfStream.set(connected.streamId, parsed);
    if (connected.service === "ads" && parsed.type === "sidecar") this.register(connected, parsed);
    await this.startupGraceOver;
    // A new group starts from the last push's context, whose outbound part every group already shares; what changed
    // since (this sidecar's own registration included) has a push pending that brings it to every group at once.
    // (Before the first push, the first joiner's context serves the joiners after it: in a connect storm the debounced
    // push may wait its full 10 s, and a fresh context per joiner would rebuild the outbound set for each.)
    if (!this.cache.getSnapshot(key)) this.pushGroup(key, group.proxy, this.pushContext ??= this.context());
    return key;
  }

  /** Auto-registration: the sidecar's workload is an endpoint while its stream is up (and a grace period after). */
  private register(connected: ConnectedProxy, proxy: ProxyInfo): void {
    const instance = workloadInstanceOf(proxy);
    const existing = this.registered.get(connected.id);
    if (existing) {
      clearTimeout(existing.removal);
      existing.removal = undefined;
      existing.streams.add(connected.streamId);
      if (JSON.stringify(existing.instance) === JSON.stringify(instance)) return;
      existing.instance = instance;
    } else {
      this.registered.set(connected.id, { instance, streams: new Set([connected.streamId]) });
    }
    this.workloads.publish(connected.id, instance);
  }

  private leave(connected: ConnectedProxy): void {
    this.proxyOfStream.delete(connected.streamId);
    const key = this.groupOfStream.get(connected.streamId);
    this.groupOfStream.delete(connected.streamId);
    const group = key === undefined ? undefined : this.groups.get(key);
    if (key !== undefined && group?.members.delete(connected.streamId) && group.members.size === 0) {
      this.groups.delete(key);
      this.cache.clearSnapshot(key);
    }
    const registration = this.registered.get(connected.id);
    if (registration?.streams.delete(connected.streamId) && registration.streams.size === 0) {
      registration.removal = setTimeout(() => {
        this.registered.delete(connected.id);
        this.workloads.withdraw(connected.id);
      }, this.options.registrationGraceMs ?? 10_000);
      registration.removal.unref();
    }
  }

  private pushGroup(key: string, proxy: ProxyInfo, context = this.context()): void {
    if (!this.mesh) return;
    const parts = translateProxyParts(this.mesh, proxy, context);
    for (const warning of partWarnings(parts)) this.logger.debug({ group: key, path: warning.path }, warning.message);
    // Every part is a layer packed once per object: translation hands back the same objects while they stay valid.
    const layers = [...parts.shared, parts.own].map((part) => sharedLayer(part, () => resourcesByTypeUrl(part)));
    this.cache.setSnapshot(key, new Snapshot({}, layers));
  }

  /** Rebuilds every live group's snapshot; the cache sends only what changed. */
  private async pushAll(): Promise<void> {
    const limit = Math.max(1, this.options.pushConcurrency ?? 100);
    const entries = [...this.groups.entries()];
    // One context for the whole push: every group sees the same registered workloads, which translation then
    // compares once (by identity) instead of serializing the list again for each group.
    const context = this.pushContext = this.context();
    for (let i = 0; i < entries.length; i += limit) {
      for (const [key, group] of entries.slice(i, i + limit)) {
        try {
          this.pushGroup(key, group.proxy, context);
        } catch (error) {
          this.logger.error({ group: key, err: error }, "translation failed; the group keeps its last snapshot");
        }
      }
      // Let stream writes and ACKs run between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
