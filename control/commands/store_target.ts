// Which store a kubectl-like verb (apply, get, delete) works on: the etcd the control service reads (--etcd) or its
// folder (--config). Shared by those commands, with their output helpers.
import { resolve } from "node:path";
import { FolderStore, type ConfigStore } from "../store/index.ts";

export interface StoreTargetOptions {
  etcd?: string;
  config?: string;
  /** Key prefix in etcd (default /as-mesh/config/). */
  etcdPrefix?: string;
  /** Deadline of each etcd request in ms (default 5000): without a quorum, the verb fails after it. */
  requestTimeoutMs?: number;
}

export interface CommandIO {
  out(text: string): void;
  err(text: string): void;
}

export const processIO: CommandIO = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Opens and syncs the store the options name; the caller stops it. */
export async function openTargetStore(options: StoreTargetOptions): Promise<ConfigStore> {
  if (options.etcd && options.config) throw new Error("give either --etcd or --config, not both");
  if (options.etcd) {
    const { EtcdStore, parseEndpoints } = await import("../store/etcd.ts");
    const store = new EtcdStore({ endpoints: parseEndpoints(options.etcd), prefix: options.etcdPrefix, requestTimeoutMs: options.requestTimeoutMs });
    try {
      await store.start();
    } catch (error) {
      await store.stop().catch(() => {});
      throw error;
    }
    return store;
  }
  if (options.config) {
    const store = new FolderStore(resolve(options.config), { resyncIntervalMs: 0 });
    await store.start();
    return store;
  }
  throw new Error("name the store the control service uses: --etcd <endpoints> or --config <dir>");
}

const KIND_NAMES = [
  "ServiceEntry", "WorkloadEntry", "VirtualService", "DestinationRule", "Gateway", "RequestAuthentication",
  "PeerAuthentication", "AuthorizationPolicy", "WasmPlugin", "Telemetry",
];
const SHORT_NAMES: Record<string, string> = {
  se: "ServiceEntry", we: "WorkloadEntry", vs: "VirtualService", dr: "DestinationRule", gw: "Gateway",
  ra: "RequestAuthentication", pa: "PeerAuthentication", ap: "AuthorizationPolicy", wp: "WasmPlugin",
};

/** "vs", "virtualservice", "VirtualServices" → "VirtualService", as kubectl resolves kinds. */
export function resolveKind(value: string): string {
  const lower = value.toLowerCase();
  if (SHORT_NAMES[lower]) return SHORT_NAMES[lower];
  const found = KIND_NAMES.find((kind) => kind.toLowerCase() === lower || `${kind.toLowerCase()}s` === lower
    || (kind.endsWith("y") && `${kind.toLowerCase().slice(0, -1)}ies` === lower));
  if (!found) throw new Error(`unknown kind "${value}"; one of ${KIND_NAMES.join(", ")} (or ${Object.keys(SHORT_NAMES).join(", ")})`);
  return found;
}
