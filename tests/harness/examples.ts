// The example Envoy configs in envoy/*.yaml, made runnable on a test machine with only what that needs changed:
// listener and admin on loopback ephemeral ports, the upstream ports the test's servers got, and the built
// modules' absolute paths. Every edit must apply, so a test notices when the example changes under it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../../scripts/tools.ts";
import { buildArtifact } from "./artifacts.ts";

/** `upstreamPorts` maps a port written in the example to the port of the test's server. */
export function exampleConfigForTest(file: string, upstreamPorts: Record<number, number>): string {
  let yaml = readFileSync(join(projectRoot, "envoy", file), "utf8");
  const edits: Array<[string, string]> = [
    ["address: 0.0.0.0, port_value: 10000", "address: 127.0.0.1, port_value: 0"],
    ["port_value: 9901", "port_value: 0"],
    ...Object.entries(upstreamPorts).map(([from, to]): [string, string] => [`port_value: ${from}`, `port_value: ${to}`]),
  ];
  for (const [from, to] of edits) {
    assert.ok(yaml.includes(from), `envoy/${file} no longer contains "${from}"`);
    yaml = yaml.replace(from, to);
  }
  const modules = /filename: build\/([a-z0-9-]+)\.wasm/g;
  assert.match(yaml, modules, `envoy/${file} loads no build/*.wasm module`);
  return yaml.replace(modules, (_, name: string) => `filename: ${buildArtifact(name)}`);
}
