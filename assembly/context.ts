// Contexts: the typed objects Envoy's callbacks are delivered to. A filter subclasses RootContext (one per plugin
// configuration per VM: configuration, timers, callouts, shared state) and Context (one per HTTP stream), overriding
// only the callbacks it needs; every callback has a pass-through default.
import * as host from "./abi/hostcalls";
import { BufferType, FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, StreamType, WasmResult } from "./abi/types";
import { HeaderPair, Headers } from "./abi/pairs";
import { HttpCallResponse } from "./http_call";
import { PreparedHeaders, forgetCachedHeaders } from "./headers";

export class BaseContext {
  constructor(public readonly id: u32) {}

  /** Called once per context when Envoy is done with it; return false to finish later with `done()`. */
  onDone(): bool { return true; }
  onDelete(): void {}

  /** A callout response with no callback registered for its token (calls dispatched through the raw ABI). */
  onHttpCallResponse(token: u32, response: HttpCallResponse): void {}

  /**
   * Makes this context the one host calls act on, from a callback Envoy delivered to another context (a callout
   * response or a tick on the root), e.g. to answer or resume a stream that paused. Header values cached in this
   * callback belonged to the previous context, so they are forgotten. False when Envoy no longer knows the context.
   */
  makeEffective(): bool {
    forgetCachedHeaders();
    return host.setEffectiveContext(this.id) == WasmResult.Ok;
  }
}

export type HttpCallCallback = (origin: BaseContext, token: u32, response: HttpCallResponse) => void;

class PendingCall {
  constructor(public origin: BaseContext, public callback: HttpCallCallback) {}
}

const pendingCalls = new Map<u32, PendingCall>();

/**
 * Called by the ABI layer for proxy_on_http_call_response. Envoy delivers every response to the root context, so
 * the context that dispatched the call is made the effective one before its callback runs: a local response or
 * `continueRequest` in the callback then acts on that stream.
 */
export function deliverHttpCallResponse(contextId: u32, token: u32, response: HttpCallResponse): void {
  if (!pendingCalls.has(token)) {
    const context = findContext(contextId);
    if (context) context.onHttpCallResponse(token, response);
    return;
  }
  const pending = pendingCalls.get(token);
  pendingCalls.delete(token);
  if (pending.origin.id != contextId) host.setEffectiveContext(pending.origin.id);
  pending.callback(pending.origin, token, response);
}

/** Drops the callbacks of a context Envoy deleted (e.g. the client went away while a callout was in flight). */
function dropPendingCallsOf(contextId: u32): void {
  const tokens = pendingCalls.keys();
  for (let i = 0; i < tokens.length; i++) {
    if (pendingCalls.get(tokens[i]).origin.id == contextId) pendingCalls.delete(tokens[i]);
  }
}

/**
 * Sends an HTTP request to an Envoy cluster. `headers` must carry :method, :path and :authority.
 * Returns the token (the callback receives it too), or 0 when Envoy refused the call (e.g. unknown cluster).
 * The callback runs later on the same worker with the context that dispatched the call; AssemblyScript functions
 * cannot capture locals, so state travels through that context.
 */
export function dispatchHttpCall(
  origin: BaseContext, cluster: string, headers: Headers, body: ArrayBuffer | null,
  timeoutMilliseconds: u32, callback: HttpCallCallback,
): u32 {
  const dispatch = host.httpCall(cluster, headers, body ? body : new ArrayBuffer(0), [], timeoutMilliseconds);
  if (dispatch.result != WasmResult.Ok) return 0;
  pendingCalls.set(dispatch.token, new PendingCall(origin, callback));
  return dispatch.token;
}

export class RootContext extends BaseContext {
  /**
   * Set when this root is a stage of a combined root (see filters/as-mesh): its configuration is the combined
   * root's section for it rather than the host's plugin configuration, and its tick period is only recorded for
   * the combined root to schedule.
   */
  embeddedConfiguration: ArrayBuffer | null = null;
  /** The tick period this root asked for (0: none). */
  tickPeriodMilliseconds: u32 = 0;

  /** Called once per VM; `vmConfigurationSize` bytes of VM configuration are readable. */
  onVmStart(vmConfigurationSize: u32): bool { return true; }
  /** Called for each (re)configuration; return false to make Envoy reject the plugin configuration. */
  onConfigure(pluginConfigurationSize: u32): bool { return true; }
  onTick(): void {}
  onQueueReady(queueId: u32): void {}

  /** Creates the per-stream context; the default passes every stream through untouched. */
  createContext(contextId: u32): Context {
    return new Context(contextId, this);
  }

  getPluginConfiguration(): ArrayBuffer {
    const embedded = this.embeddedConfiguration;
    if (embedded !== null) return embedded;
    return host.getBufferBytes(BufferType.PluginConfiguration, 0, u32.MAX_VALUE);
  }

  getVmConfiguration(): ArrayBuffer {
    return host.getBufferBytes(BufferType.VmConfiguration, 0, u32.MAX_VALUE);
  }

  /** Starts (or with 0 stops) the periodic onTick callback of this root context. */
  setTickPeriod(milliseconds: u32): bool {
    this.tickPeriodMilliseconds = milliseconds;
    if (this.embeddedConfiguration !== null) return true;
    return host.setTickPeriodMilliseconds(milliseconds) == WasmResult.Ok;
  }

  httpCall(cluster: string, headers: Headers, body: ArrayBuffer | null, timeoutMilliseconds: u32, callback: HttpCallCallback): u32 {
    return dispatchHttpCall(this, cluster, headers, body, timeoutMilliseconds, callback);
  }
}

export class Context extends BaseContext {
  constructor(id: u32, public readonly root: RootContext) {
    super(id);
  }

  onRequestHeaders(headerCount: u32, endOfStream: bool): FilterHeadersStatus { return FilterHeadersStatus.Continue; }
  onRequestBody(bodySize: u32, endOfStream: bool): FilterDataStatus { return FilterDataStatus.Continue; }
  onRequestTrailers(trailerCount: u32): FilterTrailersStatus { return FilterTrailersStatus.Continue; }
  onResponseHeaders(headerCount: u32, endOfStream: bool): FilterHeadersStatus { return FilterHeadersStatus.Continue; }
  onResponseBody(bodySize: u32, endOfStream: bool): FilterDataStatus { return FilterDataStatus.Continue; }
  onResponseTrailers(trailerCount: u32): FilterTrailersStatus { return FilterTrailersStatus.Continue; }
  /** Called after the stream completed (access-log time): request and response properties are final. */
  onLog(): void {}

  /**
   * Answers the request from the filter: Envoy stops the filter chain and sends this response downstream.
   * Return FilterHeadersStatus.StopIteration from the callback that calls it.
   */
  sendLocalResponse(statusCode: u32, body: string, headers: Headers = [], details: string = "", grpcStatus: i32 = -1): bool {
    return host.sendLocalResponse(statusCode, details, String.UTF8.encode(body), headers, grpcStatus) == WasmResult.Ok;
  }

  /** sendLocalResponse with a body and headers prepared once (see PreparedHeaders), for answers sent often. */
  sendPreparedLocalResponse(statusCode: u32, body: ArrayBuffer, headers: PreparedHeaders, details: string = "", grpcStatus: i32 = -1): bool {
    return host.sendLocalResponseSerialized(statusCode, details, body, headers.serialized, grpcStatus) == WasmResult.Ok;
  }

  /**
   * Set when this context is a stage of a combined stream context (filters/as-mesh): a paused request resumes
   * through it, so the stages after this one still see the request.
   */
  outer: Context | null = null;

  /**
   * Continues a request this context paused in onRequestHeaders, from a later callback (call makeEffective
   * first). As a stage of a combined context, the outer context runs the later stages before continuing.
   */
  resumeRequest(): void {
    const outer = this.outer;
    if (outer !== null) outer.resumeAfterStage(this);
    else this.continueRequest();
  }

  /** Called on a combined context when one of its stages resumes a paused request; alone, it just continues. */
  resumeAfterStage(stage: Context): void {
    this.continueRequest();
  }

  /** Resumes a request that a callback paused (e.g. while waiting for a callout). */
  continueRequest(): bool {
    host.setEffectiveContext(this.id);
    return host.continueStream(StreamType.Request) == WasmResult.Ok;
  }

  continueResponse(): bool {
    host.setEffectiveContext(this.id);
    return host.continueStream(StreamType.Response) == WasmResult.Ok;
  }

  httpCall(cluster: string, headers: Headers, body: ArrayBuffer | null, timeoutMilliseconds: u32, callback: HttpCallCallback): u32 {
    return dispatchHttpCall(this, cluster, headers, body, timeoutMilliseconds, callback);
  }
}

// ---- registry ----

export type RootContextFactory = (contextId: u32) => RootContext;

class RootFactoryEntry {
  constructor(public name: string, public factory: RootContextFactory) {}
}

const rootFactories = new Array<RootFactoryEntry>();
const rootContexts = new Map<u32, RootContext>();
const streamContexts = new Map<u32, Context>();

/**
 * Registers how to build the root context of this module. With one registration it is used for every plugin. With
 * several, the plugin's `root_id` from the Envoy configuration chooses: the registration of that name, or else the
 * one whose name the root_id contains (`jwt-auth-remote`, `inbound-metrics`), so several plugins of one filter can
 * share a VM under distinct root_ids.
 */
export function registerRootContext(factory: RootContextFactory, name: string = ""): void {
  rootFactories.push(new RootFactoryEntry(name, factory));
}

function chooseRootFactory(): RootContextFactory | null {
  if (rootFactories.length == 0) return null;
  if (rootFactories.length == 1) return rootFactories[0].factory;
  const rootId = host.getProperty(["plugin_root_id"]);
  const name = rootId ? String.UTF8.decode(rootId) : "";
  for (let i = 0; i < rootFactories.length; i++) {
    if (rootFactories[i].name == name) return rootFactories[i].factory;
  }
  let found: RootContextFactory | null = null;
  for (let i = 0; i < rootFactories.length; i++) {
    const candidate = rootFactories[i];
    if (candidate.name.length == 0 || !name.includes(candidate.name)) continue;
    if (found !== null) {
      host.log(host.LogLevel.Error, "root_id " + name + " names more than one filter of this module");
      return null;
    }
    found = candidate.factory;
  }
  if (found === null) host.log(host.LogLevel.Error, "root_id \"" + name + "\" names no filter of this module");
  return found;
}

/** The root of a plugin whose root_id matches no registration: Envoy refuses its configuration. */
class UnmatchedRoot extends RootContext {
  onConfigure(pluginConfigurationSize: u32): bool { return false; }
}

/** Called by the ABI layer for proxy_on_context_create. */
export function createContextFor(contextId: u32, parentId: u32): void {
  if (parentId == 0) {
    const factory = chooseRootFactory();
    rootContexts.set(contextId, factory ? factory(contextId) : new UnmatchedRoot(contextId));
    return;
  }
  if (!rootContexts.has(parentId)) {
    host.log(host.LogLevel.Error, "context " + contextId.toString() + " created under unknown root " + parentId.toString());
    return;
  }
  streamContexts.set(contextId, rootContexts.get(parentId).createContext(contextId));
}

export function findRootContext(id: u32): RootContext | null {
  return rootContexts.has(id) ? rootContexts.get(id) : null;
}

export function findStreamContext(id: u32): Context | null {
  return streamContexts.has(id) ? streamContexts.get(id) : null;
}

export function findContext(id: u32): BaseContext | null {
  if (streamContexts.has(id)) return streamContexts.get(id);
  if (rootContexts.has(id)) return rootContexts.get(id);
  return null;
}

export function forgetContext(id: u32): void {
  if (pendingCalls.size > 0) dropPendingCallsOf(id);
  if (!streamContexts.delete(id)) rootContexts.delete(id);
}

export { HeaderPair, Headers };
