// Where auto-registered workloads live. The control service decides when a sidecar's workload is an endpoint (its
// stream is up, or was within the grace period); a registry makes that decision visible to whoever translates:
// LocalRegistry to this process only, EtcdRegistry (./etcd.ts) to every replica sharing an etcd.
import type { WorkloadInstance } from "../translate/index.ts";

export interface WorkloadRegistry {
  /** Starts reading registrations; `onChange` runs whenever the set of instances changes. */
  start(onChange: () => void): Promise<void>;
  /** Stops; registrations this process published are left to lapse, so another replica can take them over. */
  stop(): Promise<void>;
  /** Publishes (or updates) a workload this process serves, by its node id. */
  publish(id: string, instance: WorkloadInstance): void;
  /** Withdraws a workload this process published (its grace period ended). */
  withdraw(id: string): void;
  /** Every registered workload, from every replica, in a stable order. */
  instances(): WorkloadInstance[];
}

/** Registrations held in this process: the single-replica default. */
export class LocalRegistry implements WorkloadRegistry {
  private readonly registered = new Map<string, WorkloadInstance>();
  /** instances(), kept until the next change: translation asks once per proxy group. */
  private sorted: WorkloadInstance[] | null = null;
  private onChange: () => void = () => {};

  async start(onChange: () => void): Promise<void> {
    this.onChange = onChange;
  }

  async stop(): Promise<void> {}

  publish(id: string, instance: WorkloadInstance): void {
    this.registered.set(id, instance);
    this.sorted = null;
    this.onChange();
  }

  withdraw(id: string): void {
    if (!this.registered.delete(id)) return;
    this.sorted = null;
    this.onChange();
  }

  instances(): WorkloadInstance[] {
    this.sorted ??= [...this.registered.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, instance]) => instance);
    return this.sorted;
  }
}
