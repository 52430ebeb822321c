// A versioned, internally consistent set of Envoy resources for one group of proxies. Every resource is encoded
// and packed into a google.protobuf.Any once, here; every stream serving the group shares those Any messages, so
// memory grows with the number of distinct configurations, not with the number of proxies (go-control-plane's
// one-snapshot-per-node layout is what cost its users gigabytes).
import { createHash } from "node:crypto";
import { create, fromJson, toBinary, type JsonValue } from "@bufbuild/protobuf";
import { AnySchema, type Any } from "@bufbuild/protobuf/wkt";
import { messageType, registry, TypeUrl, type ResourceTypeUrl } from "../api/index.ts";
import { findReferences } from "./references.ts";

/** Types in the order a push sends them: secrets and extension configs before the listeners and clusters that use them, then CDS → EDS → LDS → RDS. */
export const PUSH_ORDER: readonly ResourceTypeUrl[] = [
  TypeUrl.secret,
  TypeUrl.extensionConfig,
  TypeUrl.cluster,
  TypeUrl.endpoint,
  TypeUrl.listener,
  TypeUrl.route,
];

/** The order removals go out in, after a push's updates: listeners and routes before the clusters they name,
 * clusters before their endpoints, filter configs and secrets last, once nothing that uses them is left. */
export const REMOVAL_ORDER: readonly ResourceTypeUrl[] = [
  TypeUrl.listener,
  TypeUrl.route,
  TypeUrl.cluster,
  TypeUrl.endpoint,
  TypeUrl.extensionConfig,
  TypeUrl.secret,
];

/** Types whose SotW subscription with no names means "everything" (Envoy's CDS and LDS). */
export const WILDCARD_TYPES: ReadonlySet<string> = new Set<string>([TypeUrl.cluster, TypeUrl.listener]);

const SHORT_NAMES: Record<ResourceTypeUrl, string> = {
  [TypeUrl.secret]: "sds",
  [TypeUrl.extensionConfig]: "ecds",
  [TypeUrl.cluster]: "cds",
  [TypeUrl.endpoint]: "eds",
  [TypeUrl.listener]: "lds",
  [TypeUrl.route]: "rds",
};

/** "cds", "eds", … for a type URL (the `type` label istiod's metrics use); the URL itself when unknown. */
export function shortTypeName(typeUrl: string): string {
  return SHORT_NAMES[typeUrl as ResourceTypeUrl] ?? typeUrl;
}

export function isResourceTypeUrl(typeUrl: string): typeUrl is ResourceTypeUrl {
  return typeUrl in SHORT_NAMES;
}

/** One resource ready to send: the shared Any, its content version and its encoded size. */
export interface PackedResource {
  readonly name: string;
  /** Short hash of the encoded bytes: equal bytes, equal version, across restarts of the control service. */
  readonly version: string;
  readonly any: Any;
  readonly size: number;
}

/** The resources of one type a SotW stream asks for, with their version and (once needed) their encoding. */
export interface Selection {
  readonly resources: readonly PackedResource[];
  /** versionOfSet(resources): what a SotW response carrying exactly these resources is versioned as. */
  readonly version: string;
  /** Encoded bytes, shared by every stream sending this selection (filled in by the stream layer). */
  encoded?: Uint8Array;
}

export type SnapshotResources = Partial<Record<ResourceTypeUrl, Map<string, object>>>;

/** Short, stable hash used for resource and type versions. */
export function shortHash(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("base64url").slice(0, 16);
}

/** The version of a set of resources: a hash over their names and versions, independent of insertion order. */
export function versionOfSet(resources: Iterable<{ name: string; version: string }>): string {
  const parts = [...resources].map((resource) => `${resource.name}\u0000${resource.version}`).sort();
  return parts.length === 0 ? "empty" : shortHash(parts.join("\u0001"));
}

/**
 * Packed resources by the JSON object they were packed from. Translation hands proxies of different groups the very
 * same (read-only) objects for what they share — the outbound clusters, endpoints and route tables — so each is
 * encoded and hashed once, not once per group, and every group's snapshot holds the same bytes. Weak, so a resource
 * no snapshot holds any more goes with its JSON.
 */
const packedByJson = new WeakMap<object, { typeUrl: ResourceTypeUrl; packed: PackedResource }>();

/**
 * Packed resources by content, for the resources translation builds afresh for each proxy although many proxies get
 * the same (outbound listeners, filter configs): serializing the JSON and hashing it costs a fraction of a protobuf
 * encode. Held weakly: an entry lives while some snapshot holds the resource.
 */
const packedByContent = new Map<string, WeakRef<PackedResource>>();
const forgetPacked = new FinalizationRegistry<string>((key) => {
  if (packedByContent.get(key)?.deref() === undefined) packedByContent.delete(key);
});

/**
 * SotW selections by type and version, across snapshots: groups that differ only in a few resources (a sidecar's
 * inbound listener and cluster) still ask for the same outbound endpoints and routes, and a selection's version is a
 * hash of its names and resource versions, so equal versions are equal responses — encoded once for all groups.
 */
const sharedSelections = new Map<string, WeakRef<Selection>>();
const forgetSelection = new FinalizationRegistry<string>((key) => {
  if (sharedSelections.get(key)?.deref() === undefined) sharedSelections.delete(key);
});

function sharedSelection(typeUrl: string, candidate: Selection): Selection {
  const key = `${typeUrl}\u0002${candidate.version}`;
  const existing = sharedSelections.get(key)?.deref();
  if (existing) return existing;
  sharedSelections.set(key, new WeakRef(candidate));
  forgetSelection.register(candidate, key);
  return candidate;
}

export class Snapshot {
  private readonly packed = new Map<ResourceTypeUrl, Map<string, PackedResource>>();
  private readonly typeVersions = new Map<ResourceTypeUrl, string>();
  private readonly packErrors: string[] = [];
  /** Selections computed so far, by type and names: proxies of a group ask for the same names, so one is built per group. */
  private readonly selections = new Map<string, Selection>();
  private readonly json: SnapshotResources;
  /** A version for the whole snapshot (hash of every type version). */
  readonly version: string;

  constructor(resources: SnapshotResources) {
    this.json = resources;
    for (const [typeUrl, byName] of Object.entries(resources) as [string, Map<string, object> | undefined][]) {
      if (!byName) continue;
      if (!isResourceTypeUrl(typeUrl)) {
        this.packErrors.push(`${typeUrl}: not a resource type this server serves`);
        continue;
      }
      const packed = new Map<string, PackedResource>();
      for (const [name, json] of byName) {
        const resource = this.pack(typeUrl, name, json);
        if (resource) packed.set(name, resource);
      }
      this.packed.set(typeUrl, packed);
      this.typeVersions.set(typeUrl, versionOfSet(packed.values()));
    }
    this.version = shortHash(PUSH_ORDER.map((typeUrl) => this.typeVersion(typeUrl)).join("/"));
  }

  private pack(typeUrl: ResourceTypeUrl, name: string, json: object): PackedResource | undefined {
    const declaredName = (json as { name?: unknown }).name;
    // A Cluster/Listener/... carries its own name; a mismatch would make Envoy and this server disagree about it.
    if (typeof declaredName === "string" && declaredName !== name) {
      this.packErrors.push(`${shortTypeName(typeUrl)} ${name}: resource is named ${JSON.stringify(declaredName)}`);
      return undefined;
    }
    const clusterName = (json as { clusterName?: unknown }).clusterName;
    if (typeUrl === TypeUrl.endpoint && typeof clusterName === "string" && clusterName !== name) {
      this.packErrors.push(`eds ${name}: clusterName is ${JSON.stringify(clusterName)}`);
      return undefined;
    }
    const known = packedByJson.get(json);
    if (known && known.typeUrl === typeUrl && known.packed.name === name) return known.packed;
    let contentKey: string;
    try {
      contentKey = createHash("sha256").update(typeUrl).update("\u0000").update(name).update("\u0000").update(JSON.stringify(json)).digest("base64");
    } catch (error) {
      this.packErrors.push(`${shortTypeName(typeUrl)} ${name}: ${(error as Error).message}`);
      return undefined;
    }
    const same = packedByContent.get(contentKey)?.deref();
    if (same) {
      packedByJson.set(json, { typeUrl, packed: same });
      return same;
    }
    try {
      const desc = messageType(typeUrl);
      const value = toBinary(desc, fromJson(desc, json as JsonValue, { registry }));
      const any = create(AnySchema, { typeUrl, value });
      const packed: PackedResource = { name, version: shortHash(value), any, size: value.byteLength };
      packedByJson.set(json, { typeUrl, packed });
      packedByContent.set(contentKey, new WeakRef(packed));
      forgetPacked.register(packed, contentKey);
      return packed;
    } catch (error) {
      this.packErrors.push(`${shortTypeName(typeUrl)} ${name}: ${(error as Error).message}`);
      return undefined;
    }
  }

  /** The packed resources of one type (empty when the snapshot has none). */
  resources(typeUrl: string): ReadonlyMap<string, PackedResource> {
    return this.packed.get(typeUrl as ResourceTypeUrl) ?? EMPTY;
  }

  /** The proto3 JSON the snapshot was built from (for debugging endpoints and config dumps). */
  resourceJson(typeUrl: ResourceTypeUrl): ReadonlyMap<string, object> {
    return this.json[typeUrl] ?? new Map();
  }

  /**
   * The resources of a type a SotW stream sends: all of them (`names` null, a wildcard subscription) or those
   * named that exist. Memoized per snapshot, so a thousand proxies asking for the same names cost one hash.
   */
  select(typeUrl: string, names: ReadonlySet<string> | null): Selection {
    const sortedNames = names === null ? null : [...names].sort();
    const key = `${typeUrl}\u0002${sortedNames === null ? "*" : sortedNames.join("\u0000")}`;
    let selection = this.selections.get(key);
    if (!selection) {
      const available = this.resources(typeUrl);
      const resources: PackedResource[] = [];
      if (sortedNames === null) resources.push(...available.values());
      else {
        for (const name of sortedNames) {
          const resource = available.get(name);
          if (resource) resources.push(resource);
        }
      }
      selection = sharedSelection(typeUrl, { resources, version: sortedNames === null ? this.typeVersion(typeUrl) : versionOfSet(resources) });
      this.selections.set(key, selection);
    }
    return selection;
  }

  /** Hash over every resource of the type. */
  typeVersion(typeUrl: string): string {
    return this.typeVersions.get(typeUrl as ResourceTypeUrl) ?? "empty";
  }

  /** Total encoded bytes per type. */
  sizes(): Map<ResourceTypeUrl, number> {
    const result = new Map<ResourceTypeUrl, number>();
    for (const [typeUrl, byName] of this.packed) {
      let total = 0;
      for (const resource of byName.values()) total += resource.size;
      result.set(typeUrl, total);
    }
    return result;
  }

  /**
   * Why this snapshot must not be pushed: resources that do not encode, and references to resources this server
   * would serve over ADS but the snapshot lacks (EDS names of EDS clusters, RDS names of HTTP connection managers,
   * ECDS names of `configDiscovery` filters, SDS names whose `sdsConfig` is ADS). Empty when consistent.
   */
  consistencyErrors(): string[] {
    const errors = [...this.packErrors];
    for (const reference of findReferences(this.json)) {
      if (!this.resources(reference.typeUrl).has(reference.name)) {
        errors.push(`${reference.from} references ${shortTypeName(reference.typeUrl)} ${JSON.stringify(reference.name)}, which the snapshot does not contain`);
      }
    }
    return errors;
  }
}

const EMPTY: ReadonlyMap<string, PackedResource> = new Map();
