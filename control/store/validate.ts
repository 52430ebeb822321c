// Validation of a store's whole content: read problems (YAML syntax, unreadable files) count as errors, so a file
// that fails to parse rejects the change instead of silently dropping its resources from the mesh.
import { validateMesh, type MeshOptions, type ValidationResult } from "../config/index.ts";
import type { ConfigStore } from "./types.ts";

export function validateStore(store: ConfigStore, options: Partial<MeshOptions> = {}): ValidationResult {
  const result = validateMesh(store.documents(), options);
  const readErrors = store.errors();
  if (readErrors.length === 0) return result;
  return { mesh: null, errors: [...readErrors, ...result.errors], warnings: result.warnings };
}
