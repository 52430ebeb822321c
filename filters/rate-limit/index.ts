// rate-limit: token-bucket rate limiting whose buckets live in proxy-wasm shared data, so one limit holds for
// the whole Envoy however many worker threads (and so Wasm VMs) it runs. See README.md for the configuration.
export * from "../../assembly/abi/exports";
import {
  Context, Counter, FilterHeadersStatus, Gauge, RootContext, currentTimeMilliseconds, logInfo, logWarn,
  registerRootContext,
} from "../../assembly";
import { RateLimitConfig, Rule, parseConfig } from "./config";
import { RequestView, buildIdentity, ruleMatches } from "./keys";
import { LIMITED_BODY, RuleHeaders } from "./response";
import { BucketTable, Decision, Verdict } from "./table";

const TICK_MS: u32 = 1000;
/** Slots the idle sweep reads per tick and per worker, so a tick stays short however large the tables are. */
const SWEEP_SLOTS_PER_TICK: u32 = 4096;

/** Metrics of one rule: `ratelimit.<stat_prefix>.<rule>.<what>` (Envoy shows them as wasmcustom.<name>). */
class RuleStats {
  readonly allowed: Counter;
  readonly limited: Counter;
  readonly shadowLimited: Counter;
  readonly tableFull: Counter;
  readonly failed: Counter;
  readonly liveBuckets: Gauge;

  constructor(prefix: string) {
    this.allowed = new Counter(prefix + ".allowed");
    this.limited = new Counter(prefix + ".limited");
    this.shadowLimited = new Counter(prefix + ".shadow_limited");
    this.tableFull = new Counter(prefix + ".table_full");
    this.failed = new Counter(prefix + ".failed");
    this.liveBuckets = new Gauge(prefix + ".live_buckets");
  }
}

/** A rule with what it needs at request time. */
class ActiveRule {
  readonly table: BucketTable;
  readonly stats: RuleStats;
  readonly headers: RuleHeaders;
  /** Live buckets counted so far in the current sweep pass. */
  sweptLive: u32 = 0;

  constructor(readonly rule: Rule, statPrefix: string) {
    this.table = new BucketTable(rule, statPrefix);
    this.stats = new RuleStats("ratelimit." + statPrefix + "." + rule.name);
    this.headers = new RuleHeaders(rule);
  }
}

export class RateLimitRoot extends RootContext {
  config: RateLimitConfig = new RateLimitConfig();
  /** The rules in order, then the default rule when there is one. */
  active: Array<ActiveRule> = new Array<ActiveRule>();
  private sweepRule: i32 = 0;
  private sweepSlot: u32 = 0;

  onConfigure(size: u32): bool {
    const config = parseConfig(this.getPluginConfiguration(), reportProblem);
    if (config === null) return false;
    const active = new Array<ActiveRule>();
    for (let i = 0; i < config.rules.length; i++) active.push(new ActiveRule(config.rules[i], config.statPrefix));
    const fallback = config.defaultRule;
    if (fallback !== null) active.push(new ActiveRule(fallback, config.statPrefix));
    for (let i = 0; i < active.length; i++) active[i].table.createSlots();
    this.config = config;
    this.active = active;
    this.sweepRule = 0;
    this.sweepSlot = 0;
    this.setTickPeriod(TICK_MS);
    logInfo("rate-limit: configured " + active.length.toString() + " rule(s) under stat prefix " + config.statPrefix);
    return true;
  }

  /** The first rule that matches and can key this request, with the key; null when no rule applies. */
  select(request: RequestView, stream: RateLimitStream): ActiveRule | null {
    const active = this.active;
    for (let i = 0; i < active.length; i++) {
      const candidate = unchecked(active[i]);
      const match = candidate.rule.match;
      if (match !== null && !ruleMatches(match, request)) continue;
      const identity = buildIdentity(candidate.rule, request);
      if (identity === null) continue; // key header missing and the rule says skip_rule
      stream.identity = identity;
      return candidate;
    }
    return null;
  }

  /** Frees idle buckets, a bounded number of slots per tick, and reports live buckets per rule. */
  onTick(): void {
    const active = this.active;
    if (active.length == 0) return;
    const nowMs = currentTimeMilliseconds();
    let budget = SWEEP_SLOTS_PER_TICK;
    // Each rule is visited at most once per tick, so a tick ends even when every table is tiny.
    for (let visited = 0; visited < active.length && budget > 0; visited++) {
      if (this.sweepRule >= active.length) this.sweepRule = 0;
      const current = unchecked(active[this.sweepRule]);
      const table = current.table;
      const remaining = table.slotCount - this.sweepSlot;
      const count = remaining < budget ? remaining : budget;
      current.sweptLive += table.sweep(this.sweepSlot, count, nowMs);
      budget -= count;
      this.sweepSlot += count;
      if (this.sweepSlot >= table.slotCount) {
        current.stats.liveBuckets.set(current.sweptLive);
        current.sweptLive = 0;
        this.sweepSlot = 0;
        this.sweepRule++;
      }
    }
  }

  createContext(contextId: u32): Context {
    return new RateLimitStream(contextId, this);
  }
}

function reportProblem(line: string): void {
  logWarn("rate-limit: " + line);
}

const NO_IDENTITY = new ArrayBuffer(0);
const requestView = new RequestView();

export class RateLimitStream extends Context {
  identity: ArrayBuffer = NO_IDENTITY;
  private applied: ActiveRule | null = null;
  private decision: Decision | null = null;
  private answeredLocally: bool = false;

  onRequestHeaders(headerCount: u32, endOfStream: bool): FilterHeadersStatus {
    const root = this.root as RateLimitRoot;
    requestView.reset();
    const active = root.select(requestView, this);
    if (active === null) return FilterHeadersStatus.Continue;
    const rule = active.rule;
    const decision = active.table.acquire(this.identity, currentTimeMilliseconds());
    if (decision.tableFull) active.stats.tableFull.increment();
    switch (decision.verdict) {
      case Verdict.Allowed:
        active.stats.allowed.increment();
        if (root.config.headersOnAllowed) this.remember(active, decision);
        return FilterHeadersStatus.Continue;
      case Verdict.Unmetered:
        active.stats.allowed.increment();
        return FilterHeadersStatus.Continue;
      case Verdict.Limited:
        if (rule.shadowMode) {
          active.stats.shadowLimited.increment();
          if (root.config.headersOnAllowed) this.remember(active, decision);
          return FilterHeadersStatus.Continue;
        }
        active.stats.limited.increment();
        this.answeredLocally = true;
        this.sendPreparedLocalResponse(429, LIMITED_BODY, active.headers.limitedResponse(decision), "local_rate_limited");
        return FilterHeadersStatus.StopIteration;
      default: // Verdict.Failed
        active.stats.failed.increment();
        if (!root.config.failureModeDeny) return FilterHeadersStatus.Continue;
        this.answeredLocally = true;
        this.sendLocalResponse(500, "rate_limiter_error", [], "rate_limiter_error");
        return FilterHeadersStatus.StopIteration;
    }
  }

  onResponseHeaders(headerCount: u32, endOfStream: bool): FilterHeadersStatus {
    // A local answer already carries its headers; Envoy may run it through this callback too.
    if (this.answeredLocally) return FilterHeadersStatus.Continue;
    const active = this.applied;
    const decision = this.decision;
    if (active === null || decision === null) return FilterHeadersStatus.Continue;
    active.headers.addToResponse(decision);
    return FilterHeadersStatus.Continue;
  }

  private remember(active: ActiveRule, decision: Decision): void {
    this.applied = active;
    this.decision = decision;
  }
}

registerRootContext((id: u32): RootContext => new RateLimitRoot(id), "rate-limit");
