// Key/value store shared by every VM of the same vm_id in one Envoy process (all worker threads), with a
// version (cas) per key: read {value, cas}, compute, write back with that cas; a concurrent writer in between
// makes the write fail with CasMismatch and the caller retries with a fresh read.
import * as host from "./abi/hostcalls";
import { WasmResult } from "./abi/types";

export { SharedDataEntry } from "./abi/hostcalls";

export namespace SharedData {
  /** The value and its version, or null when the key was never set. */
  export function get(key: string): host.SharedDataEntry | null {
    return host.getSharedData(key);
  }

  /** Ok, or CasMismatch when `cas` is non-zero and no longer the key's version. `cas` 0 writes unconditionally. */
  export function set(key: string, value: ArrayBuffer, cas: u32 = 0): WasmResult {
    return host.setSharedData(key, value, cas);
  }
}

/**
 * A shared-data key encoded once, for keys read and written on every request: `get` and `set` through it skip
 * encoding the key again.
 */
export class SharedDataKey {
  readonly encoded: ArrayBuffer;

  constructor(readonly key: string) {
    this.encoded = String.UTF8.encode(key);
  }

  get(): host.SharedDataEntry | null {
    return host.getSharedDataEncoded(this.encoded, this.key);
  }

  set(value: ArrayBuffer, cas: u32 = 0): WasmResult {
    return host.setSharedDataEncoded(this.encoded, value, cas, this.key);
  }
}

/** Shared queues: one VM enqueues, the VM that registered the queue is woken with onQueueReady. */
export namespace SharedQueue {
  /** Registers a queue owned by this VM's root context; u32.MAX_VALUE on failure. */
  export function register(name: string): u32 {
    return host.registerSharedQueue(name);
  }
  /** Finds a queue registered by a VM with `vmId`; u32.MAX_VALUE when there is none. */
  export function resolve(vmId: string, name: string): u32 {
    return host.resolveSharedQueue(vmId, name);
  }
  export function enqueue(queueId: u32, value: ArrayBuffer): bool {
    return host.enqueueSharedQueue(queueId, value) == WasmResult.Ok;
  }
  export function dequeue(queueId: u32): ArrayBuffer | null {
    return host.dequeueSharedQueue(queueId);
  }
}
