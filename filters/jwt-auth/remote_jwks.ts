// Keeps a provider's remote JWKS current: fetched when the filter starts, fetched again before cache_duration
// runs out, retried every failed_refetch_duration after a failure. A failed or unusable fetch never replaces
// keys that worked: the last good set stays in use (and is retried) until a good one arrives. Until the first
// good fetch the provider has no keys: requests that need it wait for the fetch, for a bounded time (index.ts),
// and are refused with 401 when it fails (fail closed).
//
// A cluster Envoy has not initialized yet (just after start-up) refuses the call at once; then the first fetch is
// retried every 100 ms, backing off, for a few seconds (see notReady), instead of every failed_refetch_duration.
//
// Every Envoy worker runs its own VM, so each would fetch on its own. To spare the JWKS server, a fetched
// document is also put in shared data (keyed by cluster, authority and path) with its fetch time; a VM whose
// copy is due first looks there and adopts a fresher copy instead of fetching.
import { SharedData, logWarn, logInfo, WasmResult } from "../../assembly";
import { RemoteJwksConfig } from "./config";
import { loadJwks } from "./jwks";
import { ProviderState } from "./provider_state";

/** Largest JWKS document accepted (real ones are a few KiB). */
export const MAX_JWKS_BYTES: i32 = 1 << 20;

/** Retries of a first fetch the cluster refused at once, before failed_refetch_duration applies: 10 each at 100, 200, 400 ms. */
const NOT_READY_RETRIES: i32 = 30;
const NOT_READY_FIRST_DELAY_MS: u64 = 100;

export class RemoteJwks {
  inFlight: bool = false;
  /** Quick retries made so far because the cluster was not ready. */
  notReadyRetries: i32 = 0;
  /** When the next fetch (or look at shared data) is due; 0 = now. */
  nextFetchAtMs: u64 = 0;
  /** Fetch time of the document in use (0: none yet). */
  fetchedAtMs: u64 = 0;
  private documentInUse: Uint8Array | null = null;
  readonly sharedKey: string;

  constructor(public readonly state: ProviderState, public readonly remote: RemoteJwksConfig) {
    this.sharedKey = "jwt_auth.jwks " + remote.cluster + " " + remote.authority + remote.path;
  }

  /** When a document fetched at `fetchedAtMs` should be refreshed: at nine tenths of cache_duration. */
  refreshAtMs(fetchedAtMs: u64): u64 {
    const lead = this.remote.cacheDurationMs / 10;
    return fetchedAtMs + this.remote.cacheDurationMs - lead;
  }

  /**
   * Adopts the shared copy when another VM fetched more recently than this one. Returns true when the copy in
   * use is fresh enough that no fetch is needed now.
   */
  adoptShared(nowMs: u64): bool {
    const entry = SharedData.get(this.sharedKey);
    if (entry !== null && entry.value.byteLength > 8) {
      const fetchedAt = load<u64>(changetype<usize>(entry.value));
      if (fetchedAt > this.fetchedAtMs) {
        const document = Uint8Array.wrap(entry.value, 8);
        if (this.install(document, fetchedAt, false)) this.nextFetchAtMs = this.refreshAtMs(fetchedAt);
      }
    }
    return this.fetchedAtMs > 0 && nowMs < this.refreshAtMs(this.fetchedAtMs);
  }

  /** A fetched document: true when it held usable keys (now in use), false when it was refused. */
  accept(body: Uint8Array, nowMs: u64): bool {
    if (!this.install(body, nowMs, true)) return false;
    const value = new Uint8Array(8 + body.length);
    store<u64>(value.dataStart, nowMs);
    value.set(body, 8);
    const result = SharedData.set(this.sharedKey, value.buffer, 0);
    if (result != WasmResult.Ok) logWarn("jwt-auth: providers." + this.state.config.name + ": could not share the fetched JWKS");
    this.nextFetchAtMs = this.refreshAtMs(nowMs);
    return true;
  }

  failed(nowMs: u64): void {
    this.nextFetchAtMs = nowMs + this.remote.failedRefetchMs;
  }

  /**
   * Envoy refused the call at once (its cluster is not initialized yet). Before the first good fetch this is
   * start-up: retried soon (100 ms, doubling every ten tries, never beyond failed_refetch_duration), logged once.
   * Returns false once those retries are used up or keys were fetched before: then it is an ordinary failure.
   */
  notReady(nowMs: u64): bool {
    if (this.fetchedAtMs > 0 || this.notReadyRetries >= NOT_READY_RETRIES) return false;
    if (this.notReadyRetries == 0) {
      logInfo("jwt-auth: providers." + this.state.config.name + ": cluster " + this.remote.cluster +
        " is not ready yet; retrying the JWKS fetch every 100 ms (backing off) while Envoy starts");
    }
    let delay = NOT_READY_FIRST_DELAY_MS << <u64>(this.notReadyRetries / 10);
    if (delay > this.remote.failedRefetchMs) delay = this.remote.failedRefetchMs;
    this.notReadyRetries++;
    this.nextFetchAtMs = nowMs + delay;
    return true;
  }

  private install(document: Uint8Array, fetchedAtMs: u64, fetchedHere: bool): bool {
    const name = this.state.config.name;
    const previous = this.documentInUse;
    if (previous !== null && previous.length == document.length &&
        memory.compare(previous.dataStart, document.dataStart, <usize>document.length) == 0) {
      this.fetchedAtMs = fetchedAtMs; // same keys: nothing to reload, and cached tokens stay valid
      return true;
    }
    const loaded = loadJwks(document);
    if (loaded.jwks === null) {
      logWarn("jwt-auth: providers." + name + ": remote JWKS refused (" + loaded.error + "); keeping the previous keys");
      return false;
    }
    if (loaded.rejected > 0) {
      logWarn("jwt-auth: providers." + name + ": remote JWKS " + loaded.error + " (" + loaded.rejected.toString() + " key(s) skipped)");
    }
    this.state.replaceJwks(loaded.jwks!);
    this.documentInUse = document.slice();
    this.fetchedAtMs = fetchedAtMs;
    logInfo("jwt-auth: providers." + name + ": " + (fetchedHere ? "fetched" : "adopted a shared copy of") + " JWKS with " +
      loaded.jwks!.keys.length.toString() + " key(s)");
    return true;
  }
}
