// A versioned, internally consistent set of Envoy resources for one group of proxies. Every resource is encoded
// and packed into a google.protobuf.Any once, here; every stream serving the group shares those Any messages, so
// memory grows with the number of distinct configurations, not with the number of proxies (go-control-plane's
// one-snapshot-per-node layout is what cost its users gigabytes).
import { hash } from "node:crypto";
import { create, fromJson, toBinary, type JsonValue } from "@bufbuild/protobuf";
import { AnySchema, type Any } from "@bufbuild/protobuf/wkt";
import { messageType, registry, TypeUrl, type ResourceTypeUrl } from "../api/index.ts";
import { findReferences, type Reference } from "./references.ts";

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

/** The resources of one type a SotW stream asks for, with their version. */
export interface Selection {
  readonly resources: readonly PackedResource[];
  /** versionOfSet(resources): what a SotW response carrying exactly these resources is versioned as. */
  readonly version: string;
}

export type SnapshotResources = Partial<Record<ResourceTypeUrl, Map<string, object>>>;

/** Short, stable hash used for resource and type versions. */
export function shortHash(data: Uint8Array | string): string {
  return hash("sha256", data, "base64url").slice(0, 16);
}

/** Each resource's name and version hashed once, as eight 32-bit words (see versionOfSet). */
const setTerms = new WeakMap<{ name: string; version: string }, Uint32Array>();

function setTerm(resource: { name: string; version: string }): Uint32Array {
  let term = setTerms.get(resource);
  if (!term) {
    const digest = hash("sha256", `${resource.name}\u0000${resource.version}`, "buffer");
    term = new Uint32Array(8);
    for (let word = 0; word < 8; word++) term[word] = digest.readUInt32LE(word * 4);
    setTerms.set(resource, term);
  }
  return term;
}

/**
 * The version of a set of resources (names are unique within a set), independent of order: the per-word sum of
 * each resource's hashed name and version, hashed with the count. Summing instead of sorting and hashing the whole
 * list makes a snapshot's type versions cost one addition per resource, since a resource's term is computed once
 * and groups share most of their resources.
 */
export function versionOfSet(resources: Iterable<{ name: string; version: string }>): string {
  const sum = new Uint32Array(9);
  for (const resource of resources) addTerm(sum, resource, 1);
  return versionOfSum(sum);
}

/** Adds (sign 1) or takes away (sign -1) a resource's term from a set's sum: eight words, then the count. */
function addTerm(sum: Uint32Array, resource: { name: string; version: string }, sign: 1 | -1): void {
  const term = setTerm(resource);
  for (let word = 0; word < 8; word++) sum[word] = (sign === 1 ? sum[word]! + term[word]! : sum[word]! - term[word]!) >>> 0;
  sum[8] = (sum[8]! + sign) >>> 0;
}

/**
 * A set's version from its sum: the first 96 bits in hex. The sum's words are already sums of SHA-256 words, as
 * evenly spread as a hash of them would be, so hashing them again (once per type per group snapshot on every push)
 * would buy nothing. Read word by word: touching a small typed array's `.buffer` makes V8 move it off its heap,
 * which cost more than the rest of a snapshot.
 */
function versionOfSum(sum: Uint32Array): string {
  return sum[8] === 0 ? "empty" : hexWord(sum[0]!) + hexWord(sum[1]!) + hexWord(sum[2]!);
}

/** "00" … "ff": a word in hex as four look-ups, which costs a fraction of Number#toString(16) and padStart. */
const HEX_BYTES = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

function hexWord(word: number): string {
  return HEX_BYTES[word >>> 24]! + HEX_BYTES[(word >>> 16) & 0xff]! + HEX_BYTES[(word >>> 8) & 0xff]! + HEX_BYTES[word & 0xff]!;
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

/** Packs one resource, or records why it cannot be packed in `errors`. */
function pack(typeUrl: ResourceTypeUrl, name: string, json: object, errors: string[]): PackedResource | undefined {
  const declaredName = (json as { name?: unknown }).name;
  // A Cluster/Listener/... carries its own name; a mismatch would make Envoy and this server disagree about it.
  if (typeof declaredName === "string" && declaredName !== name) {
    errors.push(`${shortTypeName(typeUrl)} ${name}: resource is named ${JSON.stringify(declaredName)}`);
    return undefined;
  }
  const clusterName = (json as { clusterName?: unknown }).clusterName;
  if (typeUrl === TypeUrl.endpoint && typeof clusterName === "string" && clusterName !== name) {
    errors.push(`eds ${name}: clusterName is ${JSON.stringify(clusterName)}`);
    return undefined;
  }
  const known = packedByJson.get(json);
  if (known && known.typeUrl === typeUrl && known.packed.name === name) return known.packed;
  let contentKey: string;
  try {
    // One-shot hashing: for the many small resources of a push, creating a Hash object costs more than hashing.
    contentKey = hash("sha256", `${typeUrl}\u0000${name}\u0000${JSON.stringify(json)}`, "base64");
  } catch (error) {
    errors.push(`${shortTypeName(typeUrl)} ${name}: ${(error as Error).message}`);
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
    errors.push(`${shortTypeName(typeUrl)} ${name}: ${(error as Error).message}`);
    return undefined;
  }
}

/**
 * Resources packed together, with each type's sum (versionOfSet before the final hash) and the references they
 * make that they do not satisfy themselves. A snapshot is its group's own resources over shared layers.
 */
export class ResourceLayer {
  readonly packed = new Map<ResourceTypeUrl, Map<string, PackedResource>>();
  readonly sums = new Map<ResourceTypeUrl, Uint32Array>();
  readonly packErrors: string[] = [];
  /** References to resources the layer does not hold: whatever holds the layer must supply them. */
  readonly openReferences: Reference[];
  private readonly versions = new Map<ResourceTypeUrl, string>();

  constructor(readonly json: SnapshotResources) {
    for (const [typeUrl, byName] of Object.entries(json) as [string, Map<string, object> | undefined][]) {
      if (!byName) continue;
      if (!isResourceTypeUrl(typeUrl)) {
        this.packErrors.push(`${typeUrl}: not a resource type this server serves`);
        continue;
      }
      const packed = new Map<string, PackedResource>();
      const sum = new Uint32Array(9);
      for (const [name, resource] of byName) {
        const result = pack(typeUrl, name, resource, this.packErrors);
        if (result) {
          packed.set(name, result);
          addTerm(sum, result, 1);
        }
      }
      this.packed.set(typeUrl, packed);
      this.sums.set(typeUrl, sum);
    }
    this.openReferences = findReferences(json).filter((reference) => !this.packed.get(reference.typeUrl)?.has(reference.name));
  }

  /** versionOfSet of the layer's resources of a type, computed once. */
  version(typeUrl: ResourceTypeUrl): string {
    let version = this.versions.get(typeUrl);
    if (version === undefined) {
      const sum = this.sums.get(typeUrl);
      this.versions.set(typeUrl, version = sum ? versionOfSum(sum) : "empty");
    }
    return version;
  }
}

/** The layer of a group that has no resources of its own. */
const EMPTY_LAYER = new ResourceLayer({});

/**
 * Layers by the object translation shares among groups (the outbound clusters of a namespace, the outbound
 * listeners and routes of a deployment): packed, summed and searched for references once, however many groups
 * hold them. A snapshot over them copies their maps (one native copy per type) and adds its own few resources.
 */
const sharedLayers = new WeakMap<object, ResourceLayer>();

export function sharedLayer(key: object, resources: () => SnapshotResources): ResourceLayer {
  let layer = sharedLayers.get(key);
  if (!layer) sharedLayers.set(key, layer = new ResourceLayer(resources()));
  return layer;
}

/**
 * The resources of one type over several layers, later layers winning, without copying them into one map: most
 * of a group's resources are its shared layers', and a copy per group per push was most of the garbage a push made.
 */
class LayeredResources implements ReadonlyMap<string, PackedResource> {
  private counted: number | undefined;

  constructor(private readonly layers: readonly ReadonlyMap<string, PackedResource>[]) {}

  /** Counted when first asked (a pass over every layer), not for every snapshot built. */
  get size(): number {
    if (this.counted === undefined) {
      let size = 0;
      this.layers.forEach((layer, index) => {
        for (const name of layer.keys()) if (!this.overridden(name, index)) size++;
      });
      this.counted = size;
    }
    return this.counted;
  }

  /** Whether a layer after `index` holds `name`. */
  private overridden(name: string, index: number): boolean {
    for (let later = index + 1; later < this.layers.length; later++) if (this.layers[later]!.has(name)) return true;
    return false;
  }

  get(name: string): PackedResource | undefined {
    for (let index = this.layers.length - 1; index >= 0; index--) {
      const resource = this.layers[index]!.get(name);
      if (resource) return resource;
    }
    return undefined;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  *entries(): MapIterator<[string, PackedResource]> {
    for (let index = 0; index < this.layers.length; index++) {
      for (const entry of this.layers[index]!) if (!this.overridden(entry[0], index)) yield entry;
    }
  }

  *keys(): MapIterator<string> {
    for (const [name] of this.entries()) yield name;
  }

  *values(): MapIterator<PackedResource> {
    for (const [, resource] of this.entries()) yield resource;
  }

  forEach(callback: (value: PackedResource, key: string, map: ReadonlyMap<string, PackedResource>) => void): void {
    for (const [name, resource] of this.entries()) callback(resource, name, this);
  }

  [Symbol.iterator](): MapIterator<[string, PackedResource]> {
    return this.entries();
  }
}

export class Snapshot {
  private readonly packed = new Map<ResourceTypeUrl, ReadonlyMap<string, PackedResource>>();
  private readonly typeVersions = new Map<ResourceTypeUrl, string>();
  /** Selections computed so far, by type and names: proxies of a group ask for the same names, so one is built per group. */
  private readonly selections = new Map<string, Selection>();
  private readonly layers: readonly ResourceLayer[];
  private mergedJson: SnapshotResources | undefined;
  private wholeVersion: string | undefined;

  /**
   * The group's resources over `shared` layers (first the lowest): where names collide, a later layer's resource
   * and then the group's own win, as when the maps are merged in that order. Built for every group on every push,
   * so a type held by one layer takes that layer's map and version as they are.
   */
  constructor(resources: SnapshotResources, shared: readonly ResourceLayer[] = []) {
    const own = Object.keys(resources).length === 0 ? EMPTY_LAYER : new ResourceLayer(resources);
    this.layers = [...shared, own];
    for (const typeUrl of PUSH_ORDER) {
      // The type's non-empty maps, lowest first; `named` when some layer has the type at all.
      let named = false;
      let first: ResourceLayer | undefined;
      let maps: ReadonlyMap<string, PackedResource>[] | undefined;
      for (const layer of this.layers) {
        const packed = layer.packed.get(typeUrl);
        if (!packed) continue;
        named = true;
        if (packed.size === 0) continue;
        if (!first) first = layer;
        else (maps ??= [first.packed.get(typeUrl)!]).push(packed);
      }
      if (!named) continue;
      if (!first) {
        this.packed.set(typeUrl, EMPTY);
        this.typeVersions.set(typeUrl, "empty");
      } else if (!maps) {
        this.packed.set(typeUrl, first.packed.get(typeUrl)!);
        this.typeVersions.set(typeUrl, first.version(typeUrl));
      } else {
        // The sum of the merged set: each later map's resources in, what they replace out.
        const sum = first.sums.get(typeUrl)!.slice();
        for (let index = 1; index < maps.length; index++) {
          for (const [name, resource] of maps[index]!) {
            let replaced: PackedResource | undefined;
            for (let below = index - 1; below >= 0 && !replaced; below--) replaced = maps[below]!.get(name);
            if (replaced === resource) continue;
            if (replaced) addTerm(sum, replaced, -1);
            addTerm(sum, resource, 1);
          }
        }
        this.packed.set(typeUrl, new LayeredResources(maps));
        this.typeVersions.set(typeUrl, versionOfSum(sum));
      }
    }
  }

  /** A version for the whole snapshot (hash of every type version), for logs and status: computed when asked. */
  get version(): string {
    this.wholeVersion ??= shortHash(PUSH_ORDER.map((typeUrl) => this.typeVersion(typeUrl)).join("/"));
    return this.wholeVersion;
  }

  /** The packed resources of one type (empty when the snapshot has none). */
  resources(typeUrl: string): ReadonlyMap<string, PackedResource> {
    return this.packed.get(typeUrl as ResourceTypeUrl) ?? EMPTY;
  }

  /** The proto3 JSON the snapshot was built from (for debugging endpoints and config dumps). */
  resourceJson(typeUrl: ResourceTypeUrl): ReadonlyMap<string, object> {
    if (this.layers.length === 1) return this.layers[0]!.json[typeUrl] ?? new Map();
    this.mergedJson ??= {};
    let merged = this.mergedJson[typeUrl];
    if (!merged) {
      merged = new Map();
      for (const layer of this.layers) for (const [name, json] of layer.json[typeUrl] ?? []) merged.set(name, json);
      this.mergedJson[typeUrl] = merged;
    }
    return merged;
  }

  /**
   * The resources of a type a SotW stream sends: all of them (`names` null, a wildcard subscription) or those
   * named that exist. Memoized per snapshot, so a thousand proxies asking for the same names cost one hash.
   */
  select(typeUrl: string, names: ReadonlySet<string> | null): Selection {
    const key = `${typeUrl}\u0002${names === null ? "*" : namesKey(names)}`;
    let selection = this.selections.get(key);
    if (!selection) {
      const available = this.resources(typeUrl);
      const everything = this.selectsEverything(typeUrl, names);
      const resources: PackedResource[] = [];
      if (everything || names === null) resources.push(...available.values());
      else {
        for (const name of [...names].sort()) {
          const resource = available.get(name);
          if (resource) resources.push(resource);
        }
      }
      selection = sharedSelection(typeUrl, { resources, version: everything ? this.typeVersion(typeUrl) : versionOfSet(resources) });
      this.selections.set(key, selection);
    }
    return selection;
  }

  /**
   * The version select() would give, without building the selection when it is the whole type: a stream compares it
   * with what it last sent and, for a type the push did not change, needs no more.
   */
  selectionVersion(typeUrl: string, names: ReadonlySet<string> | null): string {
    return this.selectsEverything(typeUrl, names) ? this.typeVersion(typeUrl) : this.select(typeUrl, names).version;
  }

  /** Whether `names` (null: a wildcard) is every resource of the type; Envoy usually subscribes to every EDS name. */
  private selectsEverything(typeUrl: string, names: ReadonlySet<string> | null): boolean {
    if (names === null) return true;
    const available = this.resources(typeUrl);
    if (available.size === 0) return names.size === 0;
    // The groups' EDS resources are one shared layer's map, and proxies subscribe to the same names: the answer
    // for a map and a list of names holds for every stream asking, instead of a lookup per name per stream per push.
    let answers = coverage.get(available);
    if (!answers) coverage.set(available, answers = new Map());
    const key = namesKey(names);
    let everything = answers.get(key);
    if (everything === undefined) {
      everything = names.size === available.size;
      if (everything) for (const name of names) if (!available.has(name)) { everything = false; break; }
      answers.set(key, everything);
    }
    return everything;
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
    const errors = this.layers.some((layer) => layer.packErrors.length > 0) ? this.layers.flatMap((layer) => layer.packErrors) : [];
    for (const layer of this.layers) {
      for (const reference of layer.openReferences) {
        if (!this.resources(reference.typeUrl).has(reference.name)) {
          errors.push(`${reference.from} references ${shortTypeName(reference.typeUrl)} ${JSON.stringify(reference.name)}, which the snapshot does not contain`);
        }
      }
    }
    return errors;
  }
}

const EMPTY: ReadonlyMap<string, PackedResource> = new Map();

/** Whether a subscription's names (by namesKey) are all of a type's resources, per resource map. */
const coverage = new WeakMap<ReadonlyMap<string, PackedResource>, Map<string, boolean>>();

/**
 * The sorted names of a subscription as one string, by the set object: a stream keeps the set its last request
 * made (and never changes it), so a push asks this once per stream, not once per snapshot, for an EDS
 * subscription of hundreds of names.
 */
const namesKeys = new WeakMap<ReadonlySet<string>, string>();

function namesKey(names: ReadonlySet<string>): string {
  let key = namesKeys.get(names);
  if (key === undefined) namesKeys.set(names, key = [...names].sort().join("\u0000"));
  return key;
}
