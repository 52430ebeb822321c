// Auto-registered workloads in etcd, so every control replica knows every endpoint. Each registration is a key
// `<prefix><node id>` holding the workload instance as JSON, attached to the lease of the replica that serves the
// sidecar: one lease per replica (its session), renewed over one keep-alive stream however many sidecars it serves.
// An endpoint disappears when that lease lapses — its replica died and stopped renewing — or when its replica
// withdraws it after the grace period; never merely because some replica restarted. A sidecar that moves to another
// replica is published again under that replica's lease; the old replica's withdrawal deletes the key only while it
// is still attached to the old lease (a transaction comparing the key's lease), so the move is never undone.
import type { Etcd3, Lease } from "etcd3";
import pino, { type Logger } from "pino";
import type { WorkloadInstance } from "../translate/index.ts";
import type { WorkloadRegistry } from "./index.ts";

export const DEFAULT_REGISTRY_PREFIX = "/as-mesh/registry/";

export interface EtcdRegistryOptions {
  client: Etcd3;
  prefix?: string;
  /** Lease TTL in seconds: how long endpoints outlive a replica that stops renewing (default 10, Istio's grace). */
  ttlSeconds?: number;
  logger?: Logger;
}

export class EtcdRegistry implements WorkloadRegistry {
  private readonly client: Etcd3;
  private readonly prefix: string;
  private readonly ttlSeconds: number;
  private readonly logger: Logger;
  private readonly seen = new Map<string, WorkloadInstance>();
  /** instances(), kept until `seen` changes: translation asks once per proxy group. */
  private sorted: WorkloadInstance[] | null = null;
  /** This replica's registrations (node id → JSON), re-published under a new lease if the lease is lost. */
  private readonly own = new Map<string, string>();
  private session: { lease: Lease; id: Promise<string> } | undefined;
  private watcher: { cancel(): Promise<void> } | undefined;
  private onChange: () => void = () => {};
  private stopped = false;

  constructor(options: EtcdRegistryOptions) {
    this.client = options.client;
    this.prefix = options.prefix ?? DEFAULT_REGISTRY_PREFIX;
    this.ttlSeconds = Math.max(2, Math.ceil(options.ttlSeconds ?? 10));
    this.logger = options.logger ?? pino({ enabled: false });
  }

  async start(onChange: () => void): Promise<void> {
    this.onChange = onChange;
    this.stopped = false;
    this.session = this.newSession();
    await this.session.id;
    await this.listAndWatch();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.watcher?.cancel().catch(() => {});
    // Stop renewing without revoking: sidecars reconnecting to another replica keep their endpoints meanwhile.
    this.session?.lease.release();
    this.session = undefined;
    this.own.clear();
  }

  publish(id: string, instance: WorkloadInstance): void {
    const value = JSON.stringify(instance);
    if (this.own.get(id) === value) return;
    this.own.set(id, value);
    // Seen locally at once, so this replica serves its own sidecar's endpoint without waiting for the watch.
    if (this.remember(this.key(id), value)) this.onChange();
    this.put(id, value);
  }

  withdraw(id: string): void {
    if (!this.own.delete(id)) return;
    const session = this.session;
    if (!session) return;
    void session.id.then((leaseId) => this.client.if(this.key(id), "Lease", "==", leaseId).then(this.client.delete().key(this.key(id))).commit())
      .catch((error: Error) => this.logger.warn({ id, err: error.message }, "cannot withdraw registration; it lapses with this replica's lease"));
  }

  instances(): WorkloadInstance[] {
    this.sorted ??= [...this.seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, instance]) => instance);
    return this.sorted;
  }

  private key(id: string): string {
    return `${this.prefix}${id}`;
  }

  private put(id: string, value: string): void {
    const session = this.session;
    if (!session) return;
    session.lease.put(this.key(id)).value(value).exec().catch((error: Error) =>
      this.logger.error({ id, err: error.message }, "cannot publish registration to etcd; published again when the lease is renewed"));
  }

  private newSession(): { lease: Lease; id: Promise<string> } {
    const lease = this.client.lease(this.ttlSeconds);
    lease.on("lost", (error) => {
      // etcd was unreachable for longer than the TTL: the keys are gone. Publish them again under a new lease.
      if (this.stopped || this.session?.lease !== lease) return;
      this.logger.warn({ err: error.message, registrations: this.own.size }, "registration lease lost; publishing again");
      setTimeout(() => {
        if (this.stopped || this.session?.lease !== lease) return;
        this.session = this.newSession();
        for (const [id, value] of this.own) this.put(id, value);
      }, 1000).unref();
    });
    const id = lease.grant();
    id.catch(() => {}); // start() reports a failed grant; later renewals report through "lost"
    return { lease, id };
  }

  private async listAndWatch(): Promise<void> {
    const listed = await this.client.getAll().prefix(this.prefix).exec();
    const keys = new Set(listed.kvs.map((kv) => kv.key.toString().slice(this.prefix.length)));
    let changed = false;
    for (const id of [...this.seen.keys()]) if (!keys.has(id) && !this.own.has(id)) changed = this.seen.delete(id) || changed;
    this.sorted = null;
    for (const kv of listed.kvs) changed = this.remember(kv.key.toString(), kv.value.toString()) || changed;
    if (changed) this.onChange();
    const watcher = await this.client.watch().prefix(this.prefix).startRevision(String(Number(listed.header.revision) + 1)).create();
    this.watcher = watcher;
    watcher.on("put", (kv) => { if (this.remember(kv.key.toString(), kv.value.toString())) this.onChange(); });
    watcher.on("delete", (kv) => {
      const id = kv.key.toString().slice(this.prefix.length);
      // A sidecar this replica serves stays, whatever another replica's lease did.
      if (this.own.has(id)) { this.put(id, this.own.get(id)!); return; }
      if (this.seen.delete(id)) { this.sorted = null; this.onChange(); }
    });
    watcher.on("error", (error) => {
      // Cancelled (its revision compacted after a long outage): read everything again.
      if (this.stopped || this.watcher !== watcher) return;
      this.logger.warn({ err: error.message }, "registry watch cancelled; listing again");
      this.watcher = undefined;
      this.relist();
    });
  }

  private relist(): void {
    if (this.stopped) return;
    this.listAndWatch().catch((error: Error) => {
      this.logger.warn({ err: error.message }, "registry list failed; retrying");
      setTimeout(() => this.relist(), 1000).unref();
    });
  }

  /** Records a registration; returns whether it changed what this replica sees. */
  private remember(key: string, value: string): boolean {
    const id = key.slice(this.prefix.length);
    let instance: WorkloadInstance;
    try {
      instance = JSON.parse(value) as WorkloadInstance;
    } catch {
      this.logger.warn({ key }, "ignoring a registration that is not JSON");
      return false;
    }
    const previous = this.seen.get(id);
    if (previous && JSON.stringify(previous) === value) return false;
    this.seen.set(id, instance);
    this.sorted = null;
    return true;
  }
}
