// Incremental (delta) xDS: the proxy subscribes and unsubscribes by name (or to everything with "*", or with an
// empty first request for CDS and LDS), tells a new stream which versions it already has
// (initial_resource_versions), and the server sends only resources whose version differs from what the proxy has,
// plus removals of resources the proxy has that are gone. A name the proxy never received is never "removed"
// (go-control-plane #488). Within one push, updates of every type go first (in push order) and removals last,
// so routes stop naming a cluster before the cluster disappears.
import { create, toBinary } from "@bufbuild/protobuf";
import { DeltaDiscoveryResponseSchema, ResourceSchema, type DeltaDiscoveryRequest } from "../api/gen/envoy/service/discovery/v3/discovery_pb.ts";
import { PUSH_ORDER, REMOVAL_ORDER, WILDCARD_TYPES, type PackedResource } from "../cache/index.ts";
import { TypeUrl } from "../api/index.ts";
import type { EncodedResponse } from "./services.ts";
import { sharedNonce, XdsStream, type SharedResponse } from "./stream.ts";
import { encodeStringFields } from "./wire.ts";

/** One resource as an encoded `resources` entry of a DeltaDiscoveryResponse; built once per snapshot resource. */
const deltaEntries = new WeakMap<PackedResource, Uint8Array>();

function encodedEntry(resource: PackedResource): Uint8Array {
  let entry = deltaEntries.get(resource);
  if (!entry) {
    const message = create(ResourceSchema, { name: resource.name, version: resource.version, resource: resource.any });
    entry = toBinary(DeltaDiscoveryResponseSchema, create(DeltaDiscoveryResponseSchema, { resources: [message] }));
    deltaEntries.set(resource, entry);
  }
  return entry;
}

/**
 * Responses carrying one resource, shared by every stream that sends that resource with the same type version
 * (a push that changes one route table sends it alone to every proxy); the newest version per resource is kept.
 */
const sharedResponses = new WeakMap<Uint8Array, { version: string; response: SharedResponse }>();

function sharedResponse(typeUrl: string, version: string, entry: Uint8Array): SharedResponse {
  const known = sharedResponses.get(entry);
  if (known?.version === version) return known.response;
  const nonce = sharedNonce();
  const header = encodeStringFields([[1, version], [4, typeUrl], [5, nonce]]);
  const response = { nonce, encoded: Buffer.concat([header, entry]), resourcesAt: header.length };
  sharedResponses.set(entry, { version, response });
  return response;
}

interface DeltaTypeState {
  subscribed: Set<string>;
  wildcard: boolean;
  /** name → version the proxy has or was sent (a NACKed version stays here so it is not resent unchanged). */
  sent: Map<string, string>;
  /** The type version the last update pass compared `sent` against. */
  diffedVersion?: string;
  /**
   * A type version the proxy is known to be up to date with (its updates and removals were all sent); a snapshot
   * with the same type version needs no pass over hundreds of names. Forgotten on every request of the type.
   */
  upToDate?: string;
}


export class DeltaStream extends XdsStream<DeltaDiscoveryRequest, EncodedResponse> {
  private readonly types = new Map<string, DeltaTypeState>();
  /** Types whose removals are due after this pass's updates. */
  private readonly removalsDue = new Set<string>();

  protected handleRequest(request: DeltaDiscoveryRequest, typeUrl: string): void {
    const tracker = this.tracker(typeUrl);
    let state = this.types.get(typeUrl);
    if (!state) {
      state = { subscribed: new Set(), wildcard: false, sent: new Map() };
      this.types.set(typeUrl, state);
      for (const [name, version] of Object.entries(request.initialResourceVersions)) state.sent.set(name, version);
      if (request.resourceNamesSubscribe.length === 0 && WILDCARD_TYPES.has(typeUrl)) state.wildcard = true;
    }
    if (request.responseNonce !== "") {
      if (request.responseNonce !== tracker.nonce) {
        this.logger.debug({ type: tracker.type, nonce: request.responseNonce, current: tracker.nonce ?? null }, "stale nonce; ACK/NACK ignored, subscription changes applied");
      } else if (request.errorDetail) {
        this.recordNack(tracker, request.errorDetail.message);
      } else {
        this.recordAck(tracker);
      }
    }
    for (const name of request.resourceNamesSubscribe) {
      if (name === "*") state.wildcard = true;
      else state.subscribed.add(name);
    }
    for (const name of request.resourceNamesUnsubscribe) {
      if (name === "*") {
        state.wildcard = false;
        for (const sentName of [...state.sent.keys()]) if (!state.subscribed.has(sentName)) state.sent.delete(sentName);
      } else {
        state.subscribed.delete(name);
        // The proxy dropped it; if it subscribes again it must get it again.
        if (!state.wildcard) state.sent.delete(name);
      }
    }
    state.upToDate = undefined;
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
      const typeVersion = entry.snapshot.typeVersion(typeUrl);
      if (state.upToDate === typeVersion) continue;
      state.diffedVersion = typeVersion;
      this.removalsDue.add(typeUrl);
      const available = entry.snapshot.resources(typeUrl);
      const names = state.wildcard ? available.keys() : state.subscribed.values();
      const resources: Uint8Array[] = [];
      let bytes = 0;
      const endpoints = typeUrl === TypeUrl.cluster ? this.types.get(TypeUrl.endpoint) : undefined;
      for (const name of names) {
        const resource = available.get(name);
        if (!resource || state.sent.get(name) === resource.version) continue;
        if (endpoints && state.sent.has(name)) {
          // An updated EDS cluster warms until it gets its ClusterLoadAssignment again, even an unchanged one
          // (named like the cluster here); without the resend it would wait for its initial fetch timeout.
          endpoints.sent.delete(name);
          endpoints.upToDate = undefined;
          this.dirty.add(TypeUrl.endpoint);
        }
        state.sent.set(name, resource.version);
        const entry = encodedEntry(resource);
        bytes += entry.byteLength;
        resources.push(entry);
      }
      if (resources.length === 0) continue;
      this.observeSize(typeUrl, bytes);
      return this.respond(typeUrl, resources, []);
    }
    for (const typeUrl of REMOVAL_ORDER) {
      if (!this.removalsDue.has(typeUrl)) continue;
      this.removalsDue.delete(typeUrl);
      const state = this.types.get(typeUrl);
      if (!state) continue;
      const available = entry.snapshot.resources(typeUrl);
      const removedResources = [...state.sent.keys()].filter((name) => !available.has(name));
      // Both passes ran against this type version: until a request or another version, there is nothing to do.
      if (state.diffedVersion === entry.snapshot.typeVersion(typeUrl)) state.upToDate = state.diffedVersion;
      if (removedResources.length === 0) {
        const tracker = this.tracker(typeUrl);
        // Everything the proxy asked for it already had (e.g. a reconnect with initial_resource_versions).
        if (!tracker.everSent && state.sent.size > 0) tracker.inSync(entry.snapshot.typeVersion(typeUrl));
        continue;
      }
      for (const name of removedResources) state.sent.delete(name);
      return this.respond(typeUrl, [], removedResources);
    }
    return undefined;
  }

  private respond(typeUrl: string, resources: Uint8Array[], removedResources: string[]): EncodedResponse {
    const entry = this.entry!;
    const tracker = this.tracker(typeUrl);
    const version = entry.snapshot.typeVersion(typeUrl);
    const shared = resources.length === 1 && removedResources.length === 0
      ? this.usableShared(tracker, sharedResponse(typeUrl, version, resources[0]!))
      : undefined;
    const nonce = shared?.nonce ?? this.newNonce();
    tracker.sent(version, nonce, entry.setAt);
    this.logger.debug({ type: tracker.type, version, nonce, count: resources.length, removed: removedResources.length }, "sending");
    if (shared) return { typeUrl, encoded: shared.encoded };
    // system_version_info = 1, type_url = 4, nonce = 5, removed_resources = 6; the resources (field 2) follow.
    const header = encodeStringFields([[1, version], [4, typeUrl], [5, nonce], ...removedResources.map((name) => [6, name, true] as const)]);
    return { typeUrl, encoded: Buffer.concat([header, ...resources]) };
  }
}
