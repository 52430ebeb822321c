// The combined `chain` root: metrics → jwt-auth → rate-limit in one stream context with one configuration. Each
// stage is the single filter's own root and stream context, configured from its section, so the chain makes the
// same decisions as the three filters in a row; what it saves is Envoy's per-filter work (one filter context per
// request instead of three, one VM entry per callback instead of one per filter) and, through the SDK's request
// header cache, reading a header a second time.
import { Context, FilterHeadersStatus, RootContext, currentTimeMilliseconds, logError, logInfo } from "../../assembly";
import { MetricsRoot } from "../metrics/index";
import { JwtAuthRoot } from "../jwt-auth/index";
import { RateLimitRoot } from "../rate-limit/index";
import { lastChainConfigProblem, parseChainConfig } from "./config";

/** A stage's root with its tick schedule: the chain's single tick is the shortest period any stage asked for. */
class Stage {
  nextTickAtMs: u64 = 0;
  constructor(readonly root: RootContext) {}
}

export class ChainRoot extends RootContext {
  metrics: RootContext | null = null;
  jwtAuth: RootContext | null = null;
  rateLimit: RootContext | null = null;
  private stages: Array<Stage> = new Array<Stage>();

  onConfigure(size: u32): bool {
    const sections = parseChainConfig(this.getPluginConfiguration());
    if (sections === null) {
      logError("chain: " + lastChainConfigProblem());
      return false;
    }
    const stages = new Array<Stage>();
    let metrics: RootContext | null = null;
    let jwtAuth: RootContext | null = null;
    let rateLimit: RootContext | null = null;
    if (sections.metrics !== null) {
      metrics = new MetricsRoot(this.id);
      if (!this.configureStage(metrics, sections.metrics!, "metrics", stages)) return false;
    }
    if (sections.jwtAuth !== null) {
      jwtAuth = new JwtAuthRoot(this.id);
      if (!this.configureStage(jwtAuth, sections.jwtAuth!, "jwt_auth", stages)) return false;
    }
    if (sections.rateLimit !== null) {
      rateLimit = new RateLimitRoot(this.id);
      if (!this.configureStage(rateLimit, sections.rateLimit!, "rate_limit", stages)) return false;
    }
    this.metrics = metrics;
    this.jwtAuth = jwtAuth;
    this.rateLimit = rateLimit;
    this.stages = stages;
    let period: u32 = 0;
    for (let i = 0; i < stages.length; i++) {
      const asked = stages[i].root.tickPeriodMilliseconds;
      if (asked > 0 && (period == 0 || asked < period)) period = asked;
    }
    if (period > 0) this.setTickPeriod(period);
    logInfo("chain: configured " + stages.length.toString() + " stage(s)");
    return true;
  }

  private configureStage(root: RootContext, section: ArrayBuffer, name: string, stages: Array<Stage>): bool {
    root.embeddedConfiguration = section;
    if (!root.onConfigure(<u32>section.byteLength)) {
      logError("chain: the " + name + " section was refused (the line above says why)");
      return false;
    }
    if (root.tickPeriodMilliseconds > 0) stages.push(new Stage(root));
    return true;
  }

  /** Runs each stage's onTick when its own period has passed. */
  onTick(): void {
    const now = currentTimeMilliseconds();
    const stages = this.stages;
    for (let i = 0; i < stages.length; i++) {
      const stage = unchecked(stages[i]);
      if (now < stage.nextTickAtMs) continue;
      // Due again one period from now, less a little so a tick that arrives slightly early still counts.
      stage.nextTickAtMs = now + <u64>stage.root.tickPeriodMilliseconds - 5;
      stage.root.onTick();
    }
  }

  createContext(contextId: u32): Context {
    const streams = new Array<Context>();
    const metrics = this.metrics;
    const jwtAuth = this.jwtAuth;
    const rateLimit = this.rateLimit;
    if (metrics !== null) streams.push(metrics.createContext(contextId));
    if (jwtAuth !== null) streams.push(jwtAuth.createContext(contextId));
    if (rateLimit !== null) streams.push(rateLimit.createContext(contextId));
    return new ChainStream(contextId, this, streams);
  }
}

/**
 * One request through the stages, called in the order Envoy would call three filters: requests front to back,
 * responses back to front. It forwards the callbacks the three filters implement (the SDK exports a callback only
 * when some context overrides it, so a stage that starts using another callback needs it forwarded here too).
 */
class ChainStream extends Context {
  private requestHeaderCount: u32 = 0;
  private requestEndOfStream: bool = false;

  constructor(id: u32, root: RootContext, private readonly stages: Array<Context>) {
    super(id, root);
    for (let i = 0; i < stages.length; i++) stages[i].outer = this;
  }

  /**
   * A stage that answers the request itself (a 401, a 429) ends the chain, as it would in Envoy; one that pauses
   * it (jwt-auth waiting for its JWKS) stops the chain until it resumes through resumeAfterStage.
   */
  onRequestHeaders(headerCount: u32, endOfStream: bool): FilterHeadersStatus {
    this.requestHeaderCount = headerCount;
    this.requestEndOfStream = endOfStream;
    return this.runRequestStages(0);
  }

  private runRequestStages(from: i32): FilterHeadersStatus {
    const stages = this.stages;
    for (let i = from, n = stages.length; i < n; i++) {
      const status = unchecked(stages[i]).onRequestHeaders(this.requestHeaderCount, this.requestEndOfStream);
      if (status != FilterHeadersStatus.Continue) return status;
    }
    return FilterHeadersStatus.Continue;
  }

  /** A paused stage let the request go on: the stages after it run now, as Envoy would run the next filters. */
  resumeAfterStage(stage: Context): void {
    const index = this.stages.indexOf(stage);
    if (index < 0) return;
    if (this.runRequestStages(index + 1) == FilterHeadersStatus.Continue) this.continueRequest();
  }

  /** Envoy ended the stream: a stage that paused it must forget it (proxy_on_delete is always exported). */
  onDelete(): void {
    const stages = this.stages;
    for (let i = 0, n = stages.length; i < n; i++) unchecked(stages[i]).onDelete();
  }

  onResponseHeaders(headerCount: u32, endOfStream: bool): FilterHeadersStatus {
    const stages = this.stages;
    for (let i = stages.length - 1; i >= 0; i--) {
      const status = unchecked(stages[i]).onResponseHeaders(headerCount, endOfStream);
      if (status != FilterHeadersStatus.Continue) return status;
    }
    return FilterHeadersStatus.Continue;
  }

  onLog(): void {
    const stages = this.stages;
    for (let i = 0, n = stages.length; i < n; i++) unchecked(stages[i]).onLog();
  }
}
