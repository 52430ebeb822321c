// State-of-the-world xDS: every response carries the full set of resources of its type that the proxy asked for
// (all of them for CDS and LDS, the named ones for EDS, RDS, SDS and ECDS). The response version is a hash of
// exactly what it carries, so an unchanged set is never resent, a rejected set is not resent until it changes, and
// a restarted control service computes the versions a reconnecting proxy already has and sends it nothing new.
// When a push removes clusters or listeners, CDS/LDS first go out still holding them, and the final state follows
// after the push's EDS, LDS and RDS, so no route names a cluster Envoy has already dropped (removals last).
import { create, toBinary } from "@bufbuild/protobuf";
import { DiscoveryResponseSchema, type DiscoveryRequest } from "../api/gen/envoy/service/discovery/v3/discovery_pb.ts";
import { PUSH_ORDER, REMOVAL_ORDER, versionOfSet, WILDCARD_TYPES, type PackedResource, type Selection } from "../cache/index.ts";
import { TypeUrl } from "../api/index.ts";
import type { EncodedResponse } from "./services.ts";
import { sharedNonce, XdsStream, type SharedResponse } from "./stream.ts";
import { encodeStringFields } from "./wire.ts";

/**
 * The response for a selection: version_info = 1, type_url = 4, nonce = 5, then the resources (field 2), encoded
 * once and shared by every stream sending the selection (selections are shared across groups by version).
 */
const sharedResponses = new WeakMap<Selection, SharedResponse>();

function sharedResponse(typeUrl: string, selection: Selection): SharedResponse {
  let shared = sharedResponses.get(selection);
  if (!shared) {
    const nonce = sharedNonce();
    const header = encodeStringFields([[1, selection.version], [4, typeUrl], [5, nonce]]);
    const resources = toBinary(DiscoveryResponseSchema, create(DiscoveryResponseSchema, { resources: selection.resources.map((resource) => resource.any) }));
    shared = { nonce, encoded: Buffer.concat([header, resources]), resourcesAt: header.length };
    sharedResponses.set(selection, shared);
  }
  return shared;
}

function sameNames(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const name of b) if (!a.has(name)) return false;
  return true;
}

interface SotwTypeState {
  names: Set<string>;
  wildcard: boolean;
  /** Version of the last response built for this type on this stream (sent, ACKed or NACKed). */
  lastVersion?: string;
  /** version_info of the proxy's first request on this stream: what it already has from an earlier stream. */
  clientVersion: string;
  /** The resources of the last response built (to keep removed ones until the push's updates are out). */
  lastResources?: readonly PackedResource[];
  /** The resources of the last response the proxy ACKed (or reported having). */
  acceptedResources?: readonly PackedResource[];
  /** Send the current version even if it was sent already (see respond: clusters warming after a CDS update). */
  resend?: boolean;
}


export class SotwStream extends XdsStream<DiscoveryRequest, EncodedResponse> {
  private readonly types = new Map<string, SotwTypeState>();
  /** Wildcard types sent with resources this push removes; their final state follows the push's updates. */
  private readonly removalsDue = new Set<string>();

  protected handleRequest(request: DiscoveryRequest, typeUrl: string): void {
    const tracker = this.tracker(typeUrl);
    let state = this.types.get(typeUrl);
    if (request.responseNonce !== "") {
      if (request.responseNonce !== tracker.nonce) {
        // A request answering an older response: a newer one is on its way to the proxy and it will answer that.
        this.logger.debug({ type: tracker.type, nonce: request.responseNonce, current: tracker.nonce ?? null }, "stale nonce; request ignored");
        return;
      }
      if (request.errorDetail) {
        this.recordNack(tracker, request.errorDetail.message);
        // The proxy kept what it had; a later make-before-break must not resend what it just rejected.
        if (state) state.lastResources = state.acceptedResources;
      } else {
        this.recordAck(tracker);
        if (state) state.acceptedResources = state.lastResources;
      }
    }
    let names = new Set(request.resourceNames);
    const wildcard = names.has("*") || (names.size === 0 && WILDCARD_TYPES.has(typeUrl));
    names.delete("*");
    // An ACK repeats the names: keeping the set object keeps what the snapshot cache worked out for it.
    if (state && sameNames(state.names, names)) names = state.names;
    if (!state) {
      state = { names, wildcard, clientVersion: request.responseNonce === "" ? request.versionInfo : "" };
      this.types.set(typeUrl, state);
    } else {
      state.names = names;
      state.wildcard = wildcard;
    }
    this.dirty.add(typeUrl);
  }

  protected nextResponse(): EncodedResponse | undefined {
    const entry = this.entry;
    if (!entry) return undefined;
    for (const typeUrl of PUSH_ORDER) {
      if (!this.dirty.has(typeUrl)) continue;
      this.dirty.delete(typeUrl);
      const state = this.types.get(typeUrl);
      if (!state) continue;
      const names = state.wildcard ? null : state.names;
      if (!state.resend && entry.snapshot.selectionVersion(typeUrl, names) === state.lastVersion) continue;
      const selection = entry.snapshot.select(typeUrl, names);
      state.resend = false;
      const tracker = this.tracker(typeUrl);
      if (state.lastVersion === undefined && selection.version === state.clientVersion) {
        // Reconnected proxy that already has exactly this: nothing to send.
        state.lastVersion = selection.version;
        state.lastResources = selection.resources;
        state.acceptedResources = selection.resources;
        tracker.inSync(selection.version);
        continue;
      }
      if (!state.wildcard && selection.resources.length === 0 && state.lastVersion === undefined) continue;
      if (state.wildcard && state.lastResources) {
        // Make before break: keep what this push removes until the listeners and routes that may still name it
        // have been replaced; the removal follows once every update of the push is out.
        const current = new Set(selection.resources.map((resource) => resource.name));
        const leaving = state.lastResources.filter((resource) => !current.has(resource.name));
        if (leaving.length > 0) {
          this.removalsDue.add(typeUrl);
          const resources = [...selection.resources, ...leaving];
          const body = toBinary(DiscoveryResponseSchema, create(DiscoveryResponseSchema, { resources: resources.map((resource) => resource.any) }));
          return this.respond(typeUrl, state, versionOfSet(resources), resources, body);
        }
      }
      return this.respond(typeUrl, state, selection.version, selection.resources, sharedResponse(typeUrl, selection));
    }
    for (const typeUrl of REMOVAL_ORDER) {
      if (!this.removalsDue.delete(typeUrl)) continue;
      const state = this.types.get(typeUrl);
      if (!state) continue;
      const selection = entry.snapshot.select(typeUrl, state.wildcard ? null : state.names);
      if (selection.version === state.lastVersion) continue;
      return this.respond(typeUrl, state, selection.version, selection.resources, sharedResponse(typeUrl, selection));
    }
    return undefined;
  }

  /** `content`: the encoded resources (field 2) of a response built for this stream alone, or a shared response. */
  private respond(typeUrl: string, state: SotwTypeState, version: string, resources: readonly PackedResource[], content: Uint8Array | SharedResponse): EncodedResponse {
    const tracker = this.tracker(typeUrl);
    const clustersUpdated = typeUrl === TypeUrl.cluster && state.lastVersion !== undefined;
    state.lastVersion = version;
    state.lastResources = resources;
    const endpoints = this.types.get(TypeUrl.endpoint);
    if (clustersUpdated && endpoints) {
      // An updated EDS cluster warms until it gets its ClusterLoadAssignment again, even an unchanged one; without
      // this resend it would warm until its initial fetch timeout (15 s) while the old cluster keeps serving.
      endpoints.resend = true;
      this.dirty.add(TypeUrl.endpoint);
    }
    const shared = content instanceof Uint8Array ? undefined : this.usableShared(tracker, content);
    const body = content instanceof Uint8Array ? content : content.encoded.subarray(content.resourcesAt);
    const nonce = shared?.nonce ?? this.newNonce();
    tracker.sent(version, nonce, this.entry!.setAt);
    this.observeSize(typeUrl, body.byteLength);
    this.logger.debug({ type: tracker.type, version, nonce, count: resources.length }, "sending");
    if (shared) return { typeUrl, encoded: shared.encoded };
    // version_info = 1, type_url = 4, nonce = 5; the resources (field 2) follow.
    const header = encodeStringFields([[1, version], [4, typeUrl], [5, nonce]]);
    return { typeUrl, encoded: Buffer.concat([header, body]) };
  }
}
