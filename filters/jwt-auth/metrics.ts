// The filter's counters, named like jwt_authn's stats under a configurable prefix (default "jwt_auth"); Envoy
// shows them as wasmcustom.<prefix>.<name>, summed over all worker VMs.
import { Counter } from "../../assembly";
import { DENY_REASON_COUNT, DenyReason, denyReasonName } from "./status";

export class JwtMetrics {
  readonly allowed: Counter;
  readonly denied: Counter;
  /** denied.<reason>, indexed by DenyReason. */
  readonly deniedBy: Array<Counter> = new Array<Counter>();
  readonly jwksFetchSuccess: Counter;
  readonly jwksFetchFailed: Counter;
  readonly cacheHit: Counter;
  readonly cacheMiss: Counter;

  constructor(prefix: string) {
    this.allowed = new Counter(prefix + ".allowed");
    this.denied = new Counter(prefix + ".denied");
    this.jwksFetchSuccess = new Counter(prefix + ".jwks_fetch_success");
    this.jwksFetchFailed = new Counter(prefix + ".jwks_fetch_failed");
    this.cacheHit = new Counter(prefix + ".jwt_cache_hit");
    this.cacheMiss = new Counter(prefix + ".jwt_cache_miss");
    for (let i = 0; i < DENY_REASON_COUNT; i++) this.deniedBy.push(new Counter(prefix + ".denied." + denyReasonName(<DenyReason>i)));
  }

  deny(reason: DenyReason): void {
    this.denied.increment();
    this.deniedBy[<i32>reason].increment();
  }
}
