// Mesh configuration: the Istio-shaped kinds, their parsing and validation, and the validated MeshConfig that
// translation reads.
export * from "./schema.ts";
export {
  checkDuration, checkRegex, checkPort, checkHost, checkWildcardHost, durationMs, durationToProtoJson,
  parseDurationNs, isIP, isIPv4, isIPv6,
} from "./checks.ts";
export {
  DEFAULT_MESH_OPTIONS, buildMesh, gatewayKey, hostMatches, selectorMatches,
  type MeshConfig, type MeshOptions, type MeshService, type ServiceEndpoint, type WorkloadRef, type PolicyKind,
} from "./mesh.ts";
export { parseYaml, formatIssue, formatFieldPath, type Issue, type SourcedDocument, type FieldPath } from "./parse.ts";
export { validateMesh, type ValidationResult } from "./validate.ts";
export { validatePaths, readConfigPaths, listConfigFiles, CONFIG_FILE, type LoadedFiles } from "./files.ts";
