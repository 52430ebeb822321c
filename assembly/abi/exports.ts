// The functions Envoy calls. Each one finds the context by id and hands the call to its typed callback.
// A filter's entry file re-exports this module: `export * from "../../assembly/abi/exports";`.
import * as host from "./hostcalls";
import { FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus } from "./types";
import {
  createContextFor, deliverHttpCallResponse, findContext, findRootContext, findStreamContext, forgetContext,
} from "../context";
import { HttpCallResponse } from "../http_call";
import { forgetCachedHeaders } from "../headers";
import { forgetCallbackTime } from "../time";
// Compiled in so asconfig.json can route `abort` to it (see abort.ts).
import "./abort";

export function proxy_abi_version_0_2_1(): void {}

/** Every callback starts here: values cached during an earlier callback (headers, the clock) are stale now. */
@inline function entered(): void {
  forgetCachedHeaders();
  forgetCallbackTime();
}

/** The host allocates the memory of returned values here (both names are in use by hosts). */
export function proxy_on_memory_allocate(size: usize): usize {
  return host.allocateForHost(size);
}

export function malloc(size: usize): usize {
  return host.allocateForHost(size);
}

export function proxy_on_context_create(contextId: u32, parentContextId: u32): void {
  entered();
  createContextFor(contextId, parentContextId);
}

export function proxy_on_vm_start(rootContextId: u32, vmConfigurationSize: u32): bool {
  entered();
  const root = findRootContext(rootContextId);
  return root ? root.onVmStart(vmConfigurationSize) : false;
}

export function proxy_on_configure(rootContextId: u32, pluginConfigurationSize: u32): bool {
  entered();
  const root = findRootContext(rootContextId);
  return root ? root.onConfigure(pluginConfigurationSize) : false;
}

export function proxy_on_tick(rootContextId: u32): void {
  entered();
  const root = findRootContext(rootContextId);
  if (root) root.onTick();
}

export function proxy_on_queue_ready(rootContextId: u32, queueId: u32): void {
  entered();
  const root = findRootContext(rootContextId);
  if (root) root.onQueueReady(queueId);
}

export function proxy_on_request_headers(contextId: u32, headerCount: u32, endOfStream: bool): FilterHeadersStatus {
  entered();
  const stream = findStreamContext(contextId);
  return stream ? stream.onRequestHeaders(headerCount, endOfStream) : FilterHeadersStatus.Continue;
}

export function proxy_on_request_body(contextId: u32, bodySize: u32, endOfStream: bool): FilterDataStatus {
  entered();
  const stream = findStreamContext(contextId);
  return stream ? stream.onRequestBody(bodySize, endOfStream) : FilterDataStatus.Continue;
}

export function proxy_on_request_trailers(contextId: u32, trailerCount: u32): FilterTrailersStatus {
  entered();
  const stream = findStreamContext(contextId);
  return stream ? stream.onRequestTrailers(trailerCount) : FilterTrailersStatus.Continue;
}

export function proxy_on_response_headers(contextId: u32, headerCount: u32, endOfStream: bool): FilterHeadersStatus {
  entered();
  const stream = findStreamContext(contextId);
  return stream ? stream.onResponseHeaders(headerCount, endOfStream) : FilterHeadersStatus.Continue;
}

export function proxy_on_response_body(contextId: u32, bodySize: u32, endOfStream: bool): FilterDataStatus {
  entered();
  const stream = findStreamContext(contextId);
  return stream ? stream.onResponseBody(bodySize, endOfStream) : FilterDataStatus.Continue;
}

export function proxy_on_response_trailers(contextId: u32, trailerCount: u32): FilterTrailersStatus {
  entered();
  const stream = findStreamContext(contextId);
  return stream ? stream.onResponseTrailers(trailerCount) : FilterTrailersStatus.Continue;
}

export function proxy_on_http_call_response(contextId: u32, token: u32, headerCount: u32, bodySize: u32, trailerCount: u32): void {
  entered();
  deliverHttpCallResponse(contextId, token, new HttpCallResponse(headerCount, bodySize, trailerCount));
}

export function proxy_on_log(contextId: u32): void {
  entered();
  const stream = findStreamContext(contextId);
  if (stream) stream.onLog();
}

export function proxy_on_done(contextId: u32): bool {
  entered();
  const context = findContext(contextId);
  return context ? context.onDone() : true;
}

export function proxy_on_delete(contextId: u32): void {
  entered();
  const context = findContext(contextId);
  if (context) context.onDelete();
  forgetContext(contextId);
}
