// Finds the xDS resources that other resources name and that Envoy will ask this server for over ADS, so a snapshot
// that would leave a cluster warming forever or a listener without its route or filter config is never pushed.
import { TypeUrl, type ResourceTypeUrl } from "../api/index.ts";
import type { SnapshotResources } from "./snapshot.ts";

export interface Reference {
  typeUrl: ResourceTypeUrl;
  name: string;
  /** The resource holding the reference, e.g. `lds ingress`. */
  from: string;
}

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);

/** A config source this server answers: ADS (the only one a mesh proxy uses to reach the control service). */
const isAds = (source: unknown): boolean => isObject(source) && source.ads !== undefined;

export function findReferences(resources: SnapshotResources): Reference[] {
  const references: Reference[] = [];
  for (const [name, cluster] of resources[TypeUrl.cluster] ?? []) {
    const known = endpointReferenceByJson.get(cluster);
    if (known?.from === `cds ${name}`) {
      if (known.reference) references.push(known.reference);
      continue;
    }
    const json = cluster as JsonObject;
    const eds = json.edsClusterConfig;
    let reference: Reference | null = null;
    if (json.type === "EDS" && isObject(eds) && isAds(eds.edsConfig)) {
      const serviceName = typeof eds.serviceName === "string" && eds.serviceName !== "" ? eds.serviceName : name;
      reference = { typeUrl: TypeUrl.endpoint, name: serviceName, from: `cds ${name}` };
      references.push(reference);
    }
    endpointReferenceByJson.set(cluster, { from: `cds ${name}`, reference });
  }
  const short: [ResourceTypeUrl, string][] = [
    [TypeUrl.cluster, "cds"], [TypeUrl.listener, "lds"], [TypeUrl.route, "rds"],
    [TypeUrl.extensionConfig, "ecds"], [TypeUrl.secret, "sds"],
  ];
  for (const [typeUrl, label] of short) {
    for (const [name, json] of resources[typeUrl] ?? []) references.push(...referencesOf(json, `${label} ${name}`));
  }
  return references;
}

/** The EDS name a cluster references (or none), by its JSON object, as referencesByJson below. */
const endpointReferenceByJson = new WeakMap<object, { from: string; reference: Reference | null }>();

/** What one resource references, by its JSON object: groups share their outbound resources, so each is walked once. */
const referencesByJson = new WeakMap<object, { from: string; references: Reference[] }>();

function referencesOf(json: object, from: string): Reference[] {
  const known = referencesByJson.get(json);
  if (known?.from === from) return known.references;
  const references: Reference[] = [];
  walk(json, from, references);
  referencesByJson.set(json, { from, references });
  return references;
}

function walk(value: unknown, from: string, references: Reference[]): void {
  if (Array.isArray(value)) {
    for (const item of value) walk(item, from, references);
    return;
  }
  if (!isObject(value)) return;
  const rds = value.rds;
  if (isObject(rds) && typeof rds.routeConfigName === "string" && isAds(rds.configSource)) {
    references.push({ typeUrl: TypeUrl.route, name: rds.routeConfigName, from });
  }
  const discovery = value.configDiscovery;
  if (isObject(discovery) && typeof value.name === "string" && isAds(discovery.configSource)) {
    references.push({ typeUrl: TypeUrl.extensionConfig, name: value.name, from });
  }
  const certificates = value.tlsCertificateSdsSecretConfigs;
  if (Array.isArray(certificates)) {
    for (const config of certificates) addSecret(config, from, references);
  }
  addSecret(value.validationContextSdsSecretConfig, from, references);
  for (const child of Object.values(value)) walk(child, from, references);
}

function addSecret(config: unknown, from: string, references: Reference[]): void {
  if (isObject(config) && typeof config.name === "string" && isAds(config.sdsConfig)) {
    references.push({ typeUrl: TypeUrl.secret, name: config.name, from });
  }
}
