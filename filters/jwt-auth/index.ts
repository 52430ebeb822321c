// jwt-auth: JWT authentication with the decisions, responses and configuration words of Envoy's jwt_authn filter.
// See README.md for the configuration and how it maps to jwt_authn.
export * from "../../assembly/abi/exports";
import {
  BaseContext, Context, FilterHeadersStatus, HeaderName, HttpCallResponse, RootContext, currentTimeMilliseconds,
  currentTimeNanoseconds, currentTimeSeconds, headers, logError, logInfo, logWarn, makeHeaders, registerRootContext,
} from "../../assembly";
import { FilterConfig, lastConfigError, parseConfig } from "./config";
import { ProviderState } from "./provider_state";
import { MAX_JWKS_BYTES, RemoteJwks } from "./remote_jwks";
import { JwtMetrics } from "./metrics";
import { PATH, RequestView, findQueryParam, pathWithoutParam } from "./extract";
import { findRule } from "./rules";
import { RouteSettings, readRouteSettings } from "./route_settings";
import { Requirement } from "./config";
import { Authenticator } from "./authenticate";
import { Action, ActionKind } from "./actions";
import { DenyReason, Status, denyReasonOf, statusHttpCode, statusMessage } from "./status";

/**
 * How often the root context checks whether a remote JWKS is due and whether a paused request waited long enough
 * (only when a provider has a remote JWKS).
 */
const TICK_MS: u32 = 100;
/**
 * Requests one provider may hold paused, per worker, while its JWKS is fetched for the first time; beyond it a
 * request is answered at once (401 "Jwks remote fetch is failed"), so a flood cannot grow memory without bound.
 */
export const MAX_WAITING_PER_PROVIDER: i32 = 256;

/** What one pass over a request decided. */
enum Decision { Continue, Answered, Paused }

export class JwtAuthRoot extends RootContext {
  config: FilterConfig | null = null;
  providers: Array<ProviderState> = new Array<ProviderState>();
  remotes: Array<RemoteJwks> = new Array<RemoteJwks>();
  /** Callout token → index in `remotes`. */
  pendingFetches: Map<u32, i32> = new Map<u32, i32>();
  /** Requests paused until their provider's JWKS arrives (or their wait runs out). */
  waiting: Array<JwtAuthStream> = new Array<JwtAuthStream>();
  metrics: JwtMetrics | null = null;
  authenticator: Authenticator | null = null;

  onConfigure(size: u32): bool {
    const config = parseConfig(Uint8Array.wrap(this.getPluginConfiguration()));
    if (config === null) {
      logError("jwt-auth: " + lastConfigError());
      return false;
    }
    this.config = config;
    const metrics = new JwtMetrics(config.statPrefix);
    this.metrics = metrics;
    // The cache's bucket hash is seeded per VM, so bucket placement cannot be predicted from outside.
    const seed = currentTimeNanoseconds() ^ (<u64>this.id << 32);
    this.providers = new Array<ProviderState>();
    this.remotes = new Array<RemoteJwks>();
    this.pendingFetches.clear();
    for (let i = 0; i < config.providers.length; i++) {
      const provider = config.providers[i];
      const state = new ProviderState(provider, seed + <u64>i);
      this.providers.push(state);
      if (provider.remote !== null) {
        state.remoteIndex = this.remotes.length;
        this.remotes.push(new RemoteJwks(state, provider.remote!));
      }
    }
    this.authenticator = new Authenticator(config, this.providers, metrics, currentTimeSeconds);
    if (this.remotes.length > 0) {
      this.setTickPeriod(TICK_MS);
      this.refreshRemoteJwks();
    }
    logInfo("jwt-auth: configured " + config.providers.length.toString() + " provider(s), " + config.rules.length.toString() + " rule(s)");
    return true;
  }

  onTick(): void {
    this.refreshRemoteJwks();
    if (this.waiting.length > 0) this.expireWaits(currentTimeMilliseconds());
  }

  /**
   * Pauses `stream` until the JWKS of `remoteIndex` is fetched or `untilMs` passes. False when the provider
   * already holds MAX_WAITING_PER_PROVIDER paused requests: the caller answers at once.
   */
  wait(stream: JwtAuthStream, remoteIndex: i32, untilMs: u64): bool {
    const waiting = this.waiting;
    let count = 0;
    for (let i = 0, n = waiting.length; i < n; i++) if (unchecked(waiting[i]).waitingFor == remoteIndex) count++;
    if (count >= MAX_WAITING_PER_PROVIDER) return false;
    stream.waitingFor = remoteIndex;
    stream.waitUntilMs = untilMs;
    waiting.push(stream);
    return true;
  }

  /** A paused stream that ended (client reset) is never resumed. */
  stopWaiting(stream: JwtAuthStream): void {
    const index = this.waiting.indexOf(stream);
    if (index >= 0) this.waiting.splice(index, 1);
    stream.waitingFor = -1;
  }

  /** Requests that waited their full bound get the answer they would have had without waiting. */
  private expireWaits(nowMs: u64): void {
    const due = new Array<JwtAuthStream>();
    const kept = new Array<JwtAuthStream>();
    const waiting = this.waiting;
    for (let i = 0, n = waiting.length; i < n; i++) {
      const stream = unchecked(waiting[i]);
      if (nowMs >= stream.waitUntilMs) due.push(stream);
      else kept.push(stream);
    }
    if (due.length == 0) return;
    this.waiting = kept;
    for (let i = 0; i < due.length; i++) due[i].resume(false);
    this.makeEffective();
  }

  /**
   * A fetch of `remoteIndex` completed: its paused requests are decided again. After a good fetch one may pause
   * again for another provider (within its bound); after a failed one each gets jwt_authn's answer to a failed fetch.
   */
  private resumeWaiting(remoteIndex: i32, fetched: bool): void {
    const resumed = new Array<JwtAuthStream>();
    const kept = new Array<JwtAuthStream>();
    const waiting = this.waiting;
    for (let i = 0, n = waiting.length; i < n; i++) {
      const stream = unchecked(waiting[i]);
      if (stream.waitingFor == remoteIndex) resumed.push(stream);
      else kept.push(stream);
    }
    if (resumed.length == 0) return;
    this.waiting = kept;
    for (let i = 0; i < resumed.length; i++) resumed[i].resume(fetched);
    this.makeEffective();
  }

  /** Starts a fetch for every remote JWKS that is due and not better served by a fresher shared copy. */
  refreshRemoteJwks(): void {
    const now = currentTimeMilliseconds();
    for (let i = 0; i < this.remotes.length; i++) {
      const remote = this.remotes[i];
      if (remote.inFlight || now < remote.nextFetchAtMs) continue;
      if (remote.adoptShared(now)) continue;
      const spec = remote.remote;
      const token = this.httpCall(spec.cluster, makeHeaders([
        [":method", "GET"], [":path", spec.path], [":authority", spec.authority], ["accept", "application/json"],
      ]), null, spec.timeoutMs, onJwksResponse);
      if (token == 0) {
        if (remote.notReady(now)) continue;
        this.metrics!.jwksFetchFailed.increment();
        logWarn("jwt-auth: providers." + remote.state.config.name + ": cannot call cluster " + spec.cluster + " for the JWKS");
        remote.failed(now);
        continue;
      }
      remote.inFlight = true;
      this.pendingFetches.set(token, i);
    }
  }

  onJwksResponse(token: u32, response: HttpCallResponse): void {
    if (!this.pendingFetches.has(token)) return;
    const remoteIndex = this.pendingFetches.get(token);
    const remote = this.remotes[remoteIndex];
    this.pendingFetches.delete(token);
    remote.inFlight = false;
    const now = currentTimeMilliseconds();
    const where = "jwt-auth: providers." + remote.state.config.name + ": JWKS fetch from " + remote.remote.cluster + remote.remote.path;
    let problem = "";
    if (!response.received) problem = "got no response (connection failure or timeout)";
    else if (response.status != 200) problem = "answered HTTP " + response.status.toString();
    else if (response.bodySize > <u32>MAX_JWKS_BYTES) problem = "returned more than " + MAX_JWKS_BYTES.toString() + " bytes";
    else if (!remote.accept(Uint8Array.wrap(response.body()), now)) problem = "returned no usable keys";
    if (problem.length > 0) {
      this.metrics!.jwksFetchFailed.increment();
      logWarn(where + " failed: " + problem);
      remote.failed(now);
      this.resumeWaiting(remoteIndex, false);
      return;
    }
    this.metrics!.jwksFetchSuccess.increment();
    this.resumeWaiting(remoteIndex, true);
  }

  createContext(contextId: u32): Context {
    return new JwtAuthStream(contextId, this);
  }
}

function onJwksResponse(origin: BaseContext, token: u32, response: HttpCallResponse): void {
  (origin as JwtAuthRoot).onJwksResponse(token, response);
}

/** One view serves every request: wasm runs one callback at a time. */
const request = new RequestView();
const route = new RouteSettings();

export class JwtAuthStream extends Context {
  /** While paused: the index of the remote JWKS this request waits for, and until when; -1 when not paused. */
  waitingFor: i32 = -1;
  waitUntilMs: u64 = 0;
  /** When the wait began (0: never paused); a request that pauses again keeps its first bound. */
  private pausedAtMs: u64 = 0;

  onRequestHeaders(headerCount: u32, endOfStream: bool): FilterHeadersStatus {
    return this.decide(true) == Decision.Continue ? FilterHeadersStatus.Continue : FilterHeadersStatus.StopIteration;
  }

  /**
   * Decides the paused request again, from the root's callback (its fetch completed, or its wait ran out), and
   * lets it go on or answers it. With `mayWait` false it gets the answer it would have without waiting.
   */
  resume(mayWait: bool): void {
    this.waitingFor = -1;
    if (!this.makeEffective()) return; // Envoy has already ended the stream
    if (this.decide(mayWait) == Decision.Continue) this.resumeRequest();
  }

  onDelete(): void {
    if (this.waitingFor >= 0) (this.root as JwtAuthRoot).stopWaiting(this);
  }

  private decide(mayWait: bool): Decision {
    const root = this.root as JwtAuthRoot;
    const config = root.config;
    const metrics = root.metrics;
    const authenticator = root.authenticator;
    if (config === null || metrics === null || authenticator === null) return Decision.Continue; // Envoy refused the configuration
    // Headers this filter writes can only come from it: whatever the client sent under those names goes.
    const outputs = config.outputHeaders;
    for (let i = 0, n = outputs.length; i < n; i++) headers.request.removeName(unchecked(outputs[i]));

    request.reset();
    if (config.bypassCorsPreflight && isCorsPreflight(request)) {
      metrics.allowed.increment();
      return Decision.Continue;
    }
    // The route's own settings (jwt_authn's per-route requirement_name / disabled) take the place of the rules.
    readRouteSettings(route);
    let requirement: Requirement | null = null;
    if (route.present) {
      if (route.problem.length == 0 && route.disabled) {
        metrics.allowed.increment();
        return Decision.Continue;
      }
      if (route.problem.length == 0 && config.requirementMap.has(route.requirementName)) {
        requirement = config.requirementMap.get(route.requirementName);
      } else {
        if (route.problem.length > 0) logWarn("jwt-auth: " + route.problem);
        this.denyRoute(route.problem.length > 0 ? route.problem
          : "Wrong requirement_name: " + route.requirementName + ". It should be one of [" + config.requirementNames.join(",") + "]");
        metrics.deny(DenyReason.Malformed);
        return Decision.Answered;
      }
    } else {
      const rule = findRule(config.rules, request);
      if (rule !== null) requirement = rule.requirement;
    }
    if (requirement === null) {
      metrics.allowed.increment();
      return Decision.Continue;
    }
    authenticator.begin(request);
    const status = authenticator.evaluate(requirement);
    // jwt_authn makes a request wait for a JWKS it has not fetched yet; so does this filter, for a bounded time:
    // when that missing JWKS failed the request, or failed a token allow_missing_or_failed then let through.
    const awaiting = authenticator.awaitingJwks;
    if (mayWait && awaiting !== null && (status == Status.JwksFetchFail || (status == Status.Ok && authenticator.passedFailure)) &&
        this.pause(root, awaiting.remoteIndex)) {
      return Decision.Paused;
    }
    if (status == Status.Ok) {
      applyActions(authenticator.actions, request);
      metrics.allowed.increment();
      return Decision.Continue;
    }
    metrics.deny(denyReasonOf(status));
    this.deny(status, request);
    return Decision.Answered;
  }

  /**
   * Joins the requests waiting for that JWKS, bounded by the fetch timeout (remote_jwks.http_uri.timeout, 5 s by
   * default) counted from when this request first paused.
   */
  private pause(root: JwtAuthRoot, remoteIndex: i32): bool {
    if (remoteIndex < 0) return false;
    const now = currentTimeMilliseconds();
    if (this.pausedAtMs == 0) this.pausedAtMs = now;
    const until = this.pausedAtMs + <u64>root.remotes[remoteIndex].remote.timeoutMs;
    return now < until && root.wait(this, remoteIndex, until);
  }

  /** jwt_authn's answer to a route whose per-route settings cannot be used: 403, the problem in the body. */
  private denyRoute(problem: string): void {
    const message = "Failed JWT authentication: " + problem;
    this.sendLocalResponse(403, message, makeHeaders([]), "jwt_authn_access_denied{" + withoutSpaces(problem) + "}");
  }

  /** jwt_authn's answer: the status text as body, and a WWW-Authenticate challenge naming the request URI. */
  private deny(status: Status, request: RequestView): void {
    const message = statusMessage(status);
    let challenge = "Bearer realm=\"" + originalUri(request) + "\"";
    if (status != Status.JwtMissed) challenge += ", error=\"invalid_token\"";
    this.sendLocalResponse(statusHttpCode(status), message, makeHeaders([["www-authenticate", challenge]]),
      "jwt_authn_access_denied{" + message.replaceAll(" ", "_") + "}");
  }
}

const METHOD = new HeaderName(":method");
const ORIGIN = new HeaderName("origin");
const REQUEST_METHOD = new HeaderName("access-control-request-method");
const FORWARDED_PROTO = new HeaderName("x-forwarded-proto");
const AUTHORITY = new HeaderName(":authority");
const ORIGINAL_PATH = new HeaderName("x-envoy-original-path");

function isCorsPreflight(request: RequestView): bool {
  const method = request.header(METHOD);
  if (method === null || method.length != 7 || String.UTF8.decode(method.slice().buffer) != "OPTIONS") return false;
  const origin = request.header(ORIGIN);
  const requested = request.header(REQUEST_METHOD);
  return origin !== null && origin.length > 0 && requested !== null && requested.length > 0;
}

/** Envoy's Utility::buildOriginalUri: scheme from x-forwarded-proto, host, and at most 256 bytes of the path. */
function originalUri(request: RequestView): string {
  const proto = request.header(FORWARDED_PROTO);
  const host = request.header(AUTHORITY);
  let path = request.header(ORIGINAL_PATH);
  if (path === null) path = request.path();
  if (path === null) return "";
  const shown = path.length > 256 ? path.subarray(0, 256) : path;
  return text(proto) + "://" + text(host) + text(shown);
}

/** Response code details may not contain white space or control bytes (the problem may quote a route's metadata). */
function withoutSpaces(problem: string): string {
  let out = "";
  for (let i = 0; i < problem.length; i++) {
    const c = problem.charCodeAt(i);
    out += c <= 0x20 || c == 0x7f ? "_" : String.fromCharCode(c);
  }
  return out;
}

function text(bytes: Uint8Array | null): string {
  return bytes === null ? "" : String.UTF8.decode(bytes.slice().buffer);
}

function applyActions(actions: Array<Action>, request: RequestView): void {
  for (let i = 0, n = actions.length; i < n; i++) {
    const action = unchecked(actions[i]);
    if (action.kind == ActionKind.AddHeader) {
      headers.request.addEncoded(action.name, action.value);
    } else if (action.kind == ActionKind.RemoveHeader) {
      headers.request.removeName(action.name);
    } else {
      const path = request.path();
      if (path === null) continue;
      const span = findQueryParam(path, Uint8Array.wrap(action.name.encoded));
      if (span === null) continue; // already removed (two providers read the same parameter)
      const rewritten = pathWithoutParam(path, span);
      headers.request.replace(PATH.name, rewritten);
      request.pathRewritten(Uint8Array.wrap(String.UTF8.encode(rewritten)));
    }
  }
}

registerRootContext((id: u32): RootContext => new JwtAuthRoot(id), "jwt-auth");
