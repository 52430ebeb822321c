// State-of-the-world xDS: every response carries the full set of resources of its type that the proxy asked for
// (all of them for CDS and LDS, the named ones for EDS, RDS, SDS and ECDS). The response version is a hash of
// exactly what it carries, so an unchanged set is never resent, a rejected set is not resent until it changes, and
// a restarted control service computes the versions a reconnecting proxy already has and sends it nothing new.
import { create } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import { DiscoveryResponseSchema, type DiscoveryRequest, type DiscoveryResponse } from "../api/gen/envoy/service/discovery/v3/discovery_pb.ts";
import { PUSH_ORDER, versionOfSet, WILDCARD_TYPES, type PackedResource } from "../cache/index.ts";
import { XdsStream } from "./stream.ts";

interface SotwTypeState {
  names: Set<string>;
  wildcard: boolean;
  /** Version of the last response built for this type on this stream (sent, ACKed or NACKed). */
  lastVersion?: string;
  /** version_info of the proxy's first request on this stream: what it already has from an earlier stream. */
  clientVersion: string;
}

export class SotwStream extends XdsStream<DiscoveryRequest, DiscoveryResponse> {
  private readonly types = new Map<string, SotwTypeState>();

  protected handleRequest(request: DiscoveryRequest, typeUrl: string): void {
    const tracker = this.tracker(typeUrl);
    let state = this.types.get(typeUrl);
    if (request.responseNonce !== "") {
      if (request.responseNonce !== tracker.nonce) {
        // A request answering an older response: a newer one is on its way to the proxy and it will answer that.
        this.logger.debug({ type: tracker.type, nonce: request.responseNonce, current: tracker.nonce ?? null }, "stale nonce; request ignored");
        return;
      }
      if (request.errorDetail) this.recordNack(tracker, request.errorDetail.message);
      else this.recordAck(typeUrl, tracker);
    }
    const names = new Set(request.resourceNames);
    const wildcard = names.has("*") || (names.size === 0 && WILDCARD_TYPES.has(typeUrl));
    names.delete("*");
    if (!state) {
      state = { names, wildcard, clientVersion: request.responseNonce === "" ? request.versionInfo : "" };
      this.types.set(typeUrl, state);
    } else {
      state.names = names;
      state.wildcard = wildcard;
    }
    this.dirty.add(typeUrl);
  }

  protected nextResponse(): DiscoveryResponse | undefined {
    const entry = this.entry;
    if (!entry) return undefined;
    for (const typeUrl of PUSH_ORDER) {
      if (!this.dirty.has(typeUrl)) continue;
      this.dirty.delete(typeUrl);
      const state = this.types.get(typeUrl);
      if (!state) continue;
      const available = entry.snapshot.resources(typeUrl);
      const selected: PackedResource[] = [];
      if (state.wildcard) selected.push(...available.values());
      else {
        for (const name of state.names) {
          const resource = available.get(name);
          if (resource) selected.push(resource);
        }
      }
      const version = versionOfSet(selected);
      if (version === state.lastVersion) continue;
      const tracker = this.tracker(typeUrl);
      if (state.lastVersion === undefined && version === state.clientVersion) {
        // Reconnected proxy that already has exactly this: nothing to send.
        state.lastVersion = version;
        tracker.inSync(version);
        continue;
      }
      if (!state.wildcard && selected.length === 0 && state.lastVersion === undefined) continue;
      state.lastVersion = version;
      const nonce = this.newNonce();
      tracker.sent(version, nonce, entry.setAt);
      let bytes = 0;
      const resources: Any[] = selected.map((resource) => {
        bytes += resource.size;
        return resource.any;
      });
      this.observeSize(typeUrl, bytes);
      this.logger.debug({ type: tracker.type, version, nonce, count: resources.length }, "sending");
      return create(DiscoveryResponseSchema, { versionInfo: version, resources, typeUrl, nonce });
    }
    return undefined;
  }
}
