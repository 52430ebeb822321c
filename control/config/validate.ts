// Documents → a validated MeshConfig, or every error at once. Three passes, like Istio's admission check followed by
// `istioctl analyze`: (1) envelope (apiVersion, kind, metadata), (2) the kind's schema and rules (errors reject the
// whole change), (3) references between resources (unknown hosts, subsets, gateways) as warnings, because the
// target may be added later and until then its routes answer 503.
import { z } from "zod";
import { checkNamespace, checkResourceName } from "./checks.ts";
import { DEFAULT_MESH_OPTIONS, buildMesh, gatewayKey, type MeshConfig, type MeshOptions } from "./mesh.ts";
import { formatFieldPath, type FieldPath, type Issue, type SourcedDocument } from "./parse.ts";
import { RULES, isHttpProtocol, isTlsProtocol, normalizeSpec } from "./rules.ts";
import { KINDS, KIND_NAMES, Metadata, type AnyResource, type Destination, type Kind } from "./schema.ts";
import { UNKNOWN_FIELD_HINTS } from "./hints.ts";
import { analyzeUnsupported } from "./unsupported.ts";

export interface ValidationResult {
  /** Null exactly when there are errors: an invalid change is rejected as a whole. */
  mesh: MeshConfig | null;
  errors: Issue[];
  warnings: Issue[];
}

export function validateMesh(documents: readonly SourcedDocument[], options: Partial<MeshOptions> = {}): ValidationResult {
  const meshOptions: MeshOptions = { ...DEFAULT_MESH_OPTIONS, ...options };
  const errors: Issue[] = [];
  const warnings: Issue[] = [];
  const resources: AnyResource[] = [];
  const seen = new Map<string, AnyResource>();
  const origins = new Map<AnyResource, SourcedDocument>();

  const optionsKey = JSON.stringify(meshOptions);
  for (const document of expandLists(documents)) {
    const resource = validatedDocument(document, meshOptions, optionsKey, errors, warnings);
    if (!resource) continue;
    const key = `${resource.kind}/${resource.metadata.namespace}/${resource.metadata.name}`;
    const previous = seen.get(key);
    if (previous) {
      errors.push({
        path: resourcePath(resource.kind, resource.metadata.name, resource.metadata.namespace, meshOptions),
        message: `duplicate ${resource.kind} "${resource.metadata.name}" in namespace "${resource.metadata.namespace}" (also defined at ${previous.source})`,
        source: resource.source,
      });
      continue;
    }
    seen.set(key, resource);
    origins.set(resource, document);
    resources.push(resource);
  }

  if (errors.length > 0) return { mesh: null, errors, warnings };
  const mesh = buildMesh(resources, meshOptions);
  warnings.push(...analyzeReferences(mesh, (resource, path) => origins.get(resource)?.locate?.(["spec", ...path]) ?? resource.source));
  return { mesh, errors, warnings };
}

/**
 * Each document's own validation, by the document object: the stores hand back the same objects for files and keys
 * that did not change, so a change validates only what changed, as istiod validates a resource when it is written
 * (the whole-mesh checks — duplicates, references — still run over everything). Resources are never modified
 * after validation, so meshes may share them.
 */
const validatedDocuments = new WeakMap<SourcedDocument, { optionsKey: string; resource: AnyResource | undefined; errors: Issue[]; warnings: Issue[] }>();

function validatedDocument(document: SourcedDocument, options: MeshOptions, optionsKey: string, errors: Issue[], warnings: Issue[]): AnyResource | undefined {
  let known = validatedDocuments.get(document);
  if (known?.optionsKey !== optionsKey) {
    const own = { errors: [] as Issue[], warnings: [] as Issue[] };
    const resource = validateDocument(document, options, own.errors, own.warnings);
    known = { optionsKey, resource, ...own };
    validatedDocuments.set(document, known);
  }
  errors.push(...known.errors);
  warnings.push(...known.warnings);
  return known.resource;
}

/**
 * `kubectl get … -o yaml` writes `kind: List` with the resources under `items`; each item is validated as a document
 * of its own, located inside the list.
 */
function expandLists(documents: readonly SourcedDocument[]): SourcedDocument[] {
  const expanded: SourcedDocument[] = [];
  for (const document of documents) {
    const raw = document.document;
    if (!isRecord(raw) || typeof raw["kind"] !== "string" || !raw["kind"].endsWith("List") || !Array.isArray(raw["items"])) {
      expanded.push(document);
      continue;
    }
    raw["items"].forEach((item, index) => {
      const locate = (path: FieldPath) => document.locate?.(["items", index, ...path]);
      expanded.push({ source: locate([]) ?? document.source, document: item, locate });
    });
  }
  return expanded;
}

function resourcePath(kind: string, name: string | undefined, namespace: string | undefined, options: MeshOptions): string {
  const shownName = name ?? "<unnamed>";
  return namespace && namespace !== options.defaultNamespace ? `${kind}/${namespace}/${shownName}` : `${kind}/${shownName}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function validateDocument(document: SourcedDocument, options: MeshOptions, errors: Issue[], warnings: Issue[]): AnyResource | undefined {
  const raw = document.document;
  const at = (path: FieldPath) => document.locate?.(path) ?? document.source;
  if (!isRecord(raw)) {
    errors.push({ path: "(document)", message: `expected a resource (a mapping with apiVersion, kind, metadata and spec), got ${describe(raw)}`, source: document.source });
    return undefined;
  }
  const kindValue = raw["kind"];
  const metadataValue = isRecord(raw["metadata"]) ? raw["metadata"] : undefined;
  const name = typeof metadataValue?.["name"] === "string" ? metadataValue["name"] : undefined;
  const namespaceValue = typeof metadataValue?.["namespace"] === "string" ? metadataValue["namespace"] : undefined;
  const label = resourcePath(typeof kindValue === "string" ? kindValue : "<no kind>", name, namespaceValue, options);
  const errorCount = errors.length;
  const issue = (path: FieldPath, message: string): Issue => {
    const shown = displayPath(path);
    return { path: shown.length ? `${label}/${formatFieldPath(shown)}` : label, message, source: at(path) };
  };
  const error = (path: FieldPath, message: string) => errors.push(issue(path, message));
  const warn = (path: FieldPath, message: string) => warnings.push(issue(path, message));

  if (typeof kindValue !== "string") {
    error(["kind"], "kind is required (e.g. kind: VirtualService)");
    return undefined;
  }
  if (!Object.hasOwn(KINDS, kindValue)) {
    error(["kind"], `unsupported kind ${JSON.stringify(kindValue)} (supported: ${KIND_NAMES.join(", ")})`);
    return undefined;
  }
  const kind = kindValue as Kind;
  const definition = KINDS[kind];
  const apiVersion = raw["apiVersion"];
  if (typeof apiVersion !== "string") error(["apiVersion"], `apiVersion is required (e.g. apiVersion: ${definition.versions[0]})`);
  else if (!(definition.versions as readonly string[]).includes(apiVersion)) {
    error(["apiVersion"], `${kind} is not served as ${JSON.stringify(apiVersion)} (use one of ${definition.versions.join(", ")})`);
  }
  for (const key of Object.keys(raw)) {
    if (!["apiVersion", "kind", "metadata", "spec", "status"].includes(key)) error([key], `unknown field ${JSON.stringify(key)} (a resource has apiVersion, kind, metadata and spec)`);
  }

  const metadata = Metadata.safeParse(raw["metadata"]);
  if (!metadata.success) reportZodIssues(metadata.error.issues, ["metadata"], Metadata, error);
  else {
    const nameProblem = checkResourceName(metadata.data.name);
    if (nameProblem) error(["metadata", "name"], nameProblem);
    if (metadata.data.namespace !== undefined) {
      const namespaceProblem = checkNamespace(metadata.data.namespace);
      if (namespaceProblem) error(["metadata", "namespace"], namespaceProblem);
    }
  }

  const specValue = raw["spec"] ?? (kind === "AuthorizationPolicy" || kind === "PeerAuthentication" ? {} : undefined);
  if (specValue === undefined) {
    error(["spec"], "spec is required");
    return undefined;
  }
  // Rules run on the parsed spec even when the schema reported unknown fields or bad values, so one pass shows
  // every error; they are skipped only when a type error leaves no typed object to check.
  const context = { name: name ?? "", namespace: namespaceValue ?? options.defaultNamespace };
  const ruleErrors: { path: FieldPath; message: string }[] = [];
  const reporter = {
    error: (path: FieldPath, message: string) => { ruleErrors.push({ path: ["spec", ...path], message }); },
    warn: (path: FieldPath, message: string) => warn(["spec", ...path], message),
  };
  const rule = RULES[kind] as (spec: unknown, report: typeof reporter, ctx: typeof context) => void;
  const checked = (definition.spec as z.ZodTypeAny).superRefine((spec) => rule(spec, reporter, context));
  const spec = checked.safeParse(specValue);
  if (!spec.success) reportZodIssues(spec.error.issues, ["spec"], definition.spec as z.ZodTypeAny, error);
  // An object with unknown fields is judged on its known ones; a rule error about that object as a whole ("must
  // have at least one field") would only restate the unknown-field error, so it is left out.
  const withUnknownFields = new Set((spec.success ? [] : spec.error.issues)
    .filter((issue) => issue.code === z.ZodIssueCode.unrecognized_keys)
    .map((issue) => formatFieldPath(issue.path)));
  for (const ruleError of ruleErrors) {
    if (!withUnknownFields.has(formatFieldPath(ruleError.path.slice(1)))) error(ruleError.path, ruleError.message);
  }

  if (errors.length > errorCount || !spec.success || !metadata.success) return undefined;
  normalizeSpec(kind, spec.data);
  return {
    kind,
    apiVersion: apiVersion as string,
    metadata: {
      name: metadata.data.name,
      namespace: metadata.data.namespace ?? options.defaultNamespace,
      labels: metadata.data.labels ?? {},
      annotations: metadata.data.annotations ?? {},
    },
    spec: spec.data,
    source: document.source,
  } as AnyResource;
}

// Issue paths are written without the `spec.` prefix: `VirtualService/ride/http[0].timeout` is what operators
// search for, and the metadata fields keep theirs.
function displayPath(path: FieldPath): FieldPath {
  return path[0] === "spec" ? path.slice(1) : path;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === "object") return "a mapping";
  return `${typeof value} ${String(value)}`;
}

const TYPE_WORDS: Record<string, string> = { object: "a mapping", array: "a list", string: "a string", number: "a number", boolean: "true or false", integer: "an integer" };

function reportZodIssues(issues: readonly z.ZodIssue[], prefix: FieldPath, schema: z.ZodTypeAny, error: (path: FieldPath, message: string) => void): void {
  for (const issue of issues) {
    const fullPath = [...prefix, ...issue.path];
    const report = error;
    switch (issue.code) {
      case z.ZodIssueCode.unrecognized_keys: {
        const allowed = allowedKeys(schema, issue.path);
        for (const key of issue.keys) {
          const parent = String([...issue.path].reverse().find((part) => typeof part === "string") ?? prefix[prefix.length - 1] ?? "");
          const hintFor = (name: string) => (Object.hasOwn(UNKNOWN_FIELD_HINTS, name) ? UNKNOWN_FIELD_HINTS[name] : undefined);
          const hint = hintFor(`${parent}.${key}`) ?? hintFor(key) ?? suggestion(key, allowed);
          report([...fullPath, key], `unknown field ${JSON.stringify(key)}${hint ? `: ${hint}` : ""}`);
        }
        break;
      }
      case z.ZodIssueCode.invalid_type: {
        const field = String(fullPath[fullPath.length - 1] ?? "value");
        if (issue.received === "undefined") report(fullPath, `${field} is required`);
        else if (issue.expected === "integer") report(fullPath, `expected an integer, got ${issue.received}`);
        else report(fullPath, `expected ${TYPE_WORDS[issue.expected] ?? issue.expected}, got ${TYPE_WORDS[issue.received] ?? issue.received}`);
        break;
      }
      case z.ZodIssueCode.invalid_enum_value:
        report(fullPath, `${JSON.stringify(issue.received)} is not one of ${issue.options.join(", ")}`);
        break;
      case z.ZodIssueCode.invalid_union:
        report(fullPath, `unexpected value`);
        break;
      default:
        report(fullPath, issue.message);
    }
  }
}

/** The field names an object schema accepts at `path`, to suggest the one that was meant. */
function allowedKeys(schema: z.ZodTypeAny, path: FieldPath): string[] {
  let current: z.ZodTypeAny | undefined = schema;
  const unwrap = (type: z.ZodTypeAny | undefined): z.ZodTypeAny | undefined => {
    let value = type;
    for (let depth = 0; value && depth < 10; depth++) {
      if (value instanceof z.ZodOptional || value instanceof z.ZodNullable) value = value.unwrap();
      else if (value instanceof z.ZodEffects) value = value.innerType();
      else if (value instanceof z.ZodDefault) value = value.removeDefault();
      else break;
    }
    return value;
  };
  for (const part of path) {
    current = unwrap(current);
    if (current instanceof z.ZodObject) current = (current.shape as Record<string, z.ZodTypeAny>)[String(part)];
    else if (current instanceof z.ZodArray) current = current.element;
    else if (current instanceof z.ZodRecord) current = current.valueSchema;
    else return [];
  }
  current = unwrap(current);
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

function suggestion(key: string, allowed: readonly string[]): string | undefined {
  const camel = key.replace(/[_-]([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
  const exact = allowed.find((name) => name.toLowerCase() === camel.toLowerCase());
  const close = exact ?? allowed.find((name) => editDistance(name.toLowerCase(), key.toLowerCase()) <= 2);
  if (close) return `did you mean "${close}"?`;
  return allowed.length > 0 ? `expected one of ${allowed.join(", ")}` : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const saved = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = saved;
    }
  }
  return row[b.length]!;
}

// ---------------------------------------------------------------------------------------------------------------
// References between resources (istioctl analyze's IST0101 and friends): warnings, never errors.

function analyzeReferences(mesh: MeshConfig, locate: (resource: AnyResource, path: FieldPath) => string): Issue[] {
  const warnings: Issue[] = [];
  const options = mesh.options;
  // One warning per resource and message: five routes to the same missing host are one problem.
  const reported = new Set<string>();
  const warn = (resource: AnyResource, path: FieldPath, message: string) => {
    const path_ = `${resourcePath(resource.kind, resource.metadata.name, resource.metadata.namespace, options)}${path.length ? `/${formatFieldPath(path)}` : ""}`;
    const key = `${resource.kind}/${resource.metadata.namespace}/${resource.metadata.name}\n${message}`;
    if (reported.has(key)) return;
    reported.add(key);
    warnings.push({ path: path_, message, source: locate(resource, path) });
  };

  const checkDestination = (resource: AnyResource, destination: Destination, path: FieldPath) => {
    const namespace = resource.metadata.namespace;
    const service = mesh.serviceByHost(destination.host, namespace);
    if (!service) {
      warn(resource, [...path, "host"], `referenced host not found: ${JSON.stringify(destination.host)} (no ServiceEntry has it; its routes answer 503 until one does)`);
      return;
    }
    if (destination.subset !== undefined && !mesh.subset(destination.host, destination.subset, namespace)) {
      warn(resource, [...path, "subset"], `referenced host+subset in destinationrule not found: "${destination.host}+${destination.subset}" (its routes answer 503 until a DestinationRule defines it)`);
    }
    const ports = service.ports;
    if (destination.port?.number !== undefined && ports.length > 0 && !ports.some((port) => port.number === destination.port?.number)) {
      warn(resource, [...path, "port", "number"], `port ${destination.port.number} is not a port of ${service.host} (ports: ${ports.map((port) => port.number).join(", ")})`);
    }
    if (destination.port === undefined && ports.length > 1) {
      warn(resource, path, `${service.host} has more than one port; the destination must name one (port: {number: ${ports[0]!.number}})`);
    }
  };

  const meshHosts = new Map<string, AnyResource>();
  for (const vs of mesh.list("VirtualService")) {
    const spec = vs.spec;
    spec.http?.forEach((route, index) => {
      route.route?.forEach((destination, destinationIndex) => checkDestination(vs, destination.destination, ["http", index, "route", destinationIndex, "destination"]));
      if (route.mirror) checkDestination(vs, route.mirror, ["http", index, "mirror"]);
      route.mirrors?.forEach((mirror, mirrorIndex) => checkDestination(vs, mirror.destination, ["http", index, "mirrors", mirrorIndex, "destination"]));
    });
    spec.tcp?.forEach((route, index) => route.route?.forEach((destination, destinationIndex) => checkDestination(vs, destination.destination, ["tcp", index, "route", destinationIndex, "destination"])));
    spec.tls?.forEach((route, index) => route.route?.forEach((destination, destinationIndex) => checkDestination(vs, destination.destination, ["tls", index, "route", destinationIndex, "destination"])));
    spec.gateways?.forEach((reference, index) => {
      if (reference === "mesh") return;
      const key = gatewayKey(reference, vs.metadata.namespace);
      const [namespace, name] = key.split("/") as [string, string];
      if (!mesh.get("Gateway", namespace, name)) warn(vs, ["gateways", index], `referenced gateway not found: ${JSON.stringify(key)}`);
    });
    const boundToMesh = !spec.gateways?.length || spec.gateways.includes("mesh");
    if (boundToMesh) {
      for (const host of spec.hosts ?? []) {
        const fqdn = mesh.resolveHost(host, vs.metadata.namespace);
        const other = meshHosts.get(fqdn);
        if (other) warn(vs, ["hosts"], `the VirtualServices ${other.metadata.namespace}/${other.metadata.name} and ${vs.metadata.namespace}/${vs.metadata.name} both define host ${fqdn} for the mesh; only one of them applies`);
        else meshHosts.set(fqdn, vs);
      }
    }
  }

  const ruleHosts = new Map<string, AnyResource>();
  for (const dr of mesh.list("DestinationRule")) {
    if (dr.spec.workloadSelector) continue;
    const key = `${dr.metadata.namespace}/${mesh.resolveHost(dr.spec.host, dr.metadata.namespace)}`;
    const other = ruleHosts.get(key);
    if (other) warn(dr, ["host"], `DestinationRules ${other.metadata.name} and ${dr.metadata.name} in namespace ${dr.metadata.namespace} both apply to ${dr.spec.host}; as in Istio, they are merged and the first one's fields win`);
    else ruleHosts.set(key, dr);
  }

  analyzeUnsupported(mesh, warn);

  for (const se of mesh.list("ServiceEntry")) {
    if ((se.spec.addresses?.length ?? 0) > 0) continue;
    se.spec.ports?.forEach((port, index) => {
      if (!isHttpProtocol(port.protocol) && !isTlsProtocol(port.protocol) && (port.protocol === undefined || port.protocol.toUpperCase() === "TCP")) {
        warn(se, ["ports", index], "addresses are required for ports serving TCP (or unset) protocol when IP autoallocation is not enabled");
      }
    });
  }
  return warnings;
}
