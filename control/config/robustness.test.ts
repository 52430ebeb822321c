// Bad input gets a clear error, never a crash: the design-document examples, mutated at random (a seeded generator,
// so a failure replays), must always come back as issues with paths, never as an exception.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readConfigPaths, validateMesh, type SourcedDocument } from "./index.ts";
import { seededRandom } from "../../tests/harness/random.ts";

const EXAMPLES = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../../shared/mesh-examples");


const ODD_VALUES: unknown[] = [null, 0, -1, 1e309, "", "3x", "*", " ", "ü", true, [], {}, [null], { "": 1 }, "__proto__", 65536, 0.00001];

function mutate(value: unknown, next: () => number, depth = 0): unknown {
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
  if (next() < (depth > 0 ? 0.15 : 0.01)) return pick(ODD_VALUES);
  if (Array.isArray(value)) return value.map((item) => mutate(item, next, depth + 1));
  if (typeof value === "object" && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (next() < 0.05) continue;
      const name = next() < 0.03 ? pick(["__proto__", "constructor", "hasOwnProperty", "toString", `${key}x`]) : key;
      // As YAML parsers do, "__proto__" becomes an own property, not the prototype.
      Object.defineProperty(copy, name, { value: mutate(item, next, depth + 1), enumerable: true, writable: true, configurable: true });
    }
    return copy;
  }
  return value;
}

test("randomly broken resources always yield issues with paths, never an exception", { skip: !existsSync(EXAMPLES) && "examples not present" }, async () => {
  const { documents } = await readConfigPaths([EXAMPLES], EXAMPLES);
  const next = seededRandom(20261201);
  let rejected = 0;
  for (let round = 0; round < 300; round++) {
    const mutated: SourcedDocument[] = documents.map((document) => ({ source: document.source, document: mutate(document.document, next) }));
    let result: ReturnType<typeof validateMesh> | undefined;
    try { result = validateMesh(mutated); } catch (error) { assert.fail(`round ${round}: ${(error as Error).stack}`); }
    for (const issue of [...result!.errors, ...result!.warnings]) {
      assert.equal(typeof issue.path, "string");
      assert.ok(issue.message.length > 0);
    }
    assert.equal(result!.mesh === null, result!.errors.length > 0, "mesh is null exactly when there are errors");
    if (result!.mesh === null) rejected++;
  }
  assert.ok(rejected > 200, `most mutations are caught (${rejected}/300)`);
});
