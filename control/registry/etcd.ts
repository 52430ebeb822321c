// Auto-registered workloads in etcd, so every control replica knows every endpoint. Each registration is a key
// `<prefix><node id>` holding the workload instance as JSON, attached to a lease the publishing replica keeps alive.
// The endpoint disappears when the lease lapses — its replica withdrew it after the grace period, or died and stopped
// renewing — not when some replica restarts. A sidecar that moves to another replica is published again under that
// replica's lease; the key then belongs to the new lease, so the old replica's withdrawal (a lease revoke) leaves it.
import type { Etcd3, Lease } from "etcd3";
import pino, { type Logger } from "pino";
import type { WorkloadInstance } from "../translate/index.ts";
import type { WorkloadRegistry } from "./index.ts";

export const DEFAULT_REGISTRY_PREFIX = "/as-mesh/registry/";

export interface EtcdRegistryOptions {
  client: Etcd3;
  prefix?: string;
  /** Lease TTL in seconds: how long an endpoint outlives a replica that stops renewing it (default 10, Istio's grace). */
  ttlSeconds?: number;
  logger?: Logger;
}

export class EtcdRegistry implements WorkloadRegistry {
  private readonly client: Etcd3;
  private readonly prefix: string;
  private readonly ttlSeconds: number;
  private readonly logger: Logger;
  private readonly seen = new Map<string, WorkloadInstance>();
  /** This replica's registrations: the lease and the value it keeps alive. */
  private readonly own = new Map<string, { lease: Lease; value: string }>();
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
    const listed = await this.client.getAll().prefix(this.prefix).exec();
    for (const kv of listed.kvs) this.remember(kv.key.toString(), kv.value.toString());
    const watcher = await this.client.watch().prefix(this.prefix).startRevision(String(Number(listed.header.revision) + 1)).create();
    this.watcher = watcher;
    watcher.on("put", (kv) => { if (this.remember(kv.key.toString(), kv.value.toString())) this.onChange(); });
    watcher.on("delete", (kv) => { if (this.seen.delete(kv.key.toString().slice(this.prefix.length))) this.onChange(); });
    watcher.on("error", (error) => {
      // Cancelled (compaction after a long outage): read everything again.
      this.logger.warn({ err: error.message }, "registry watch cancelled; listing again");
      if (!this.stopped) void this.restart();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.watcher?.cancel().catch(() => {});
    // Stop renewing without revoking: sidecars reconnecting to another replica keep their endpoints meanwhile.
    for (const { lease } of this.own.values()) lease.release();
    this.own.clear();
  }

  publish(id: string, instance: WorkloadInstance): void {
    const value = JSON.stringify(instance);
    const existing = this.own.get(id);
    if (existing?.value === value) return;
    const lease = existing?.lease ?? this.newLease(id);
    this.own.set(id, { lease, value });
    // Seen locally at once, so this replica serves its own sidecar's endpoint without waiting for the watch.
    if (this.remember(`${this.prefix}${id}`, value)) this.onChange();
    lease.put(this.key(id)).value(value).exec().catch((error: Error) =>
      this.logger.error({ id, err: error.message }, "cannot publish registration to etcd; retried when the lease is renewed"));
  }

  withdraw(id: string): void {
    const existing = this.own.get(id);
    if (!existing) return;
    this.own.delete(id);
    existing.lease.revoke().catch((error: Error) =>
      this.logger.warn({ id, err: error.message }, "cannot revoke registration lease; it lapses on its own"));
  }

  instances(): WorkloadInstance[] {
    return [...this.seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, instance]) => instance);
  }

  private key(id: string): string {
    return `${this.prefix}${id}`;
  }

  private newLease(id: string): Lease {
    const lease = this.client.lease(this.ttlSeconds);
    lease.on("lost", (error) => {
      // etcd was unreachable for longer than the TTL: the key is gone; publish again under a new lease.
      const entry = this.own.get(id);
      if (this.stopped || entry?.lease !== lease) return;
      this.logger.warn({ id, err: error.message }, "registration lease lost; publishing again");
      this.own.delete(id);
      const instance = JSON.parse(entry.value) as WorkloadInstance;
      setTimeout(() => { if (!this.stopped && !this.own.has(id)) this.publish(id, instance); }, 1000).unref();
    });
    return lease;
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
    return true;
  }

  private async restart(): Promise<void> {
    await this.watcher?.cancel().catch(() => {});
    this.seen.clear();
    try {
      await this.start(this.onChange);
      this.onChange();
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, "registry list failed; retrying");
      setTimeout(() => void this.restart(), 1000).unref();
    }
  }
}
