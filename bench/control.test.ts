// The control-plane benchmark in small: proves that it runs end to end and produces its numbers. The figures
// themselves are not asserted against targets (a benchmark, not a timed test); `npm run bench -- control` is the run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { projectRoot } from "../scripts/tools.ts";
import { FLEET_ENGINES } from "./control/fleet_process.ts";
import { runControlBench } from "./control/run.ts";
import { renderControlReport } from "./control/report.ts";
import { parseControlOptions } from "./control.ts";
import { bucketDelta, histogramQuantile, parseSamples, total, buckets } from "./control/prometheus_text.ts";

for (const fleet of FLEET_ENGINES) {
  // The Go fleet is built on first use: allow for fetching its modules on a fresh machine.
  test(`a small control-plane benchmark converges every simulated proxy (${fleet} fleet) and a real Envoy on one change`, { timeout: fleet === "go" ? 300_000 : 90_000 }, async () => {
    const result = await runControlBench({ proxies: 50, services: 10, protocol: "mix", envoys: 1, changes: 1, streamsPerChannel: 25, quietMs: 500, fleet });
    const [change] = result.changes;
    assert.equal(change.updated, 50, "every simulated proxy received the change");
    assert.deepEqual(Object.keys(change.byProtocol).sort(), ["delta", "sotw"]);
    assert.equal(change.byProtocol.sotw.proxies + change.byProtocol.delta.proxies, 50);
    assert.deepEqual(change.pushesByType, { rds: 51 }, "one route push per proxy (50 simulated, 1 Envoy), nothing else");
    assert.equal(change.responses, 50);
    assert.equal(change.envoyConvergedMs.length, 1, "the real Envoy showed the new weights in /config_dump");
    assert.ok(change.convergenceMs.p50 > 0 && change.convergenceMs.p99 >= change.convergenceMs.p50);
    assert.ok(change.serverConvergenceMs.count >= 50, "the server's convergence histogram counted the ACKs");
    assert.ok(change.clientBytes > 0 && (change.serverBytesByType.rds ?? 0) >= change.clientBytes, "bytes counted on both sides");
    assert.ok(change.serverCpuMs > 0);
    assert.ok(result.memory.connectedRssBytes > 0 && result.memory.baselineRssBytes > 0);
    assert.match(renderControlReport(result, "test"), /config change → all ACKed/);
  });
}

test("the Go fleet reads responses as the generated codec does, split across buffers or cut short (go test)", { timeout: 300_000 }, () => {
  const result = spawnSync("go", ["test", "./..."], {
    cwd: join(projectRoot, "bench", "xdsfleet"), encoding: "utf8", env: { ...process.env, CGO_ENABLED: "0" }, maxBuffer: 16 * 1024 * 1024,
  });
  assert.equal(result.status, 0, `go test failed:\n${result.stdout}${result.stderr}`);
});

test("the control benchmark's options refuse what they cannot run", () => {
  assert.throws(() => parseControlOptions(["--protocol", "grpc"]), /--protocol must be sotw, delta or mix/);
  assert.throws(() => parseControlOptions(["--proxies", "many"]), /--proxies needs a whole number/);
  assert.throws(() => parseControlOptions(["--fleet", "rust"]), /--fleet must be go or node/);
  assert.equal(parseControlOptions([]).options.proxies, 1000);
});

test("histogram quantiles are read from the buckets that changed", () => {
  const before = parseSamples('x_bucket{le="0.1"} 2\nx_bucket{le="1"} 2\nx_bucket{le="+Inf"} 2\nx_count 2\n');
  const after = parseSamples('x_bucket{le="0.1"} 2\nx_bucket{le="1"} 12\nx_bucket{le="+Inf"} 12\nx_count 12\n');
  const delta = bucketDelta(buckets(after, "x"), buckets(before, "x"));
  assert.deepEqual(delta, [[0.1, 0], [1, 10], [Infinity, 10]]);
  assert.ok(Math.abs(histogramQuantile(delta, 0.5)! - 0.55) < 1e-9);
  assert.equal(histogramQuantile(buckets(parseSamples(""), "x"), 0.5), null);
  assert.equal(total(after, "x_count"), 12);
});
