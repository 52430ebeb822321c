import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validatePaths } from "./index.ts";

const entry = (name: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec: {hosts: [${name}.example.com], ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}
`;

test("validatePaths takes files and folders (recursive *.yaml/*.yml) and checks them as one mesh", async () => {
  const dir = await mkdtemp(join(tmpdir(), "as-mesh-validate-"));
  try {
    await mkdir(join(dir, "mesh", "team"), { recursive: true });
    await writeFile(join(dir, "mesh", "a.yaml"), entry("a"));
    await writeFile(join(dir, "mesh", "team", "b.yml"), entry("b"));
    await writeFile(join(dir, "mesh", "readme.md"), "# not config");
    await writeFile(join(dir, "extra.yaml"), entry("a")); // the same resource twice across files
    const result = await validatePaths([join(dir, "mesh"), join(dir, "extra.yaml"), join(dir, "missing")]);
    assert.equal(result.count, 3);
    assert.deepEqual(result.errors.map((error) => error.message.replace(dir, "DIR")).sort(), [
      `cannot read: no such file or directory`,
      `duplicate ServiceEntry "a" in namespace "default" (also defined at DIR/mesh/a.yaml:1)`,
    ].sort());
    const clean = await validatePaths([join(dir, "mesh")]);
    assert.deepEqual(clean, { errors: [], warnings: [], count: 2 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
