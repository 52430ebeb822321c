// `as-mesh apply|get|delete` against a real etcd and against a config folder: diffs, --dry-run, refusal of an
// invalid mesh with nothing written, and a conflict between two applies planned from the same revision.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEtcdCluster, type EtcdCluster } from "../../scripts/etcd.ts";
import { projectRoot } from "../../scripts/tools.ts";
import { runApply, executePlan } from "../../control/commands/apply.ts";
import { runDelete } from "../../control/commands/delete.ts";
import { runGet } from "../../control/commands/get.ts";
import type { CommandIO } from "../../control/commands/store_target.ts";
import { EtcdStore } from "../../control/store/etcd.ts";
import { planApply } from "../../control/store/index.ts";
import { parseYaml } from "../../control/config/index.ts";

const service = (name: string, port = 80) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec:
  hosts: [${name}]
  ports: [{number: ${port}, name: http, protocol: HTTP}]
  resolution: STATIC
`;
const route = (name: string, timeout: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}}
spec:
  hosts: [${name}]
  http:
  - route: [{destination: {host: ${name}}}]
    timeout: ${timeout}
`;

function captured(): CommandIO & { stdout: string; stderr: string } {
  const io = { stdout: "", stderr: "", out: (text: string) => { io.stdout += text; }, err: (text: string) => { io.stderr += text; } };
  return io;
}

describe("as-mesh apply, get and delete", { timeout: 120_000 }, () => {
  let cluster: EtcdCluster;
  const dir = mkdtempSync(join(tmpdir(), "as-mesh-verbs-"));
  let etcd = "";
  before(async () => {
    cluster = await startEtcdCluster({ members: 1 });
    etcd = cluster.endpoints;
  });
  after(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("apply --dry-run prints the diff and writes nothing; apply writes it; get shows it with its revision", async () => {
    writeFileSync(join(dir, "ride.yaml"), `${service("ride")}---\n${route("ride", "2s")}`);
    const dry = captured();
    assert.equal(await runApply({ filename: [join(dir, "ride.yaml")], etcd, dryRun: true }, dry), 0, dry.stderr);
    assert.match(dry.stdout, /^ServiceEntry\/default\/ride created \(dry run\)$/m);
    assert.match(dry.stdout, /^\+\+\+ VirtualService\/default\/ride \(applied\)$/m);
    assert.match(dry.stdout, /^\+      timeout: 2s$/m);
    assert.match(dry.stdout, /dry run: nothing written/);
    const empty = captured();
    assert.equal(await runGet("all", undefined, { etcd, namespace: "default", output: "table" }, empty), 0);
    assert.equal(empty.stdout, "No resources found.\n");

    const applied = captured();
    assert.equal(await runApply({ filename: [join(dir, "ride.yaml")], etcd }, applied), 0, applied.stderr);
    const revision = Number(/committed 2 change\(s\) at revision (\d+)/.exec(applied.stdout)?.[1]);
    assert.ok(revision > 0, applied.stdout);
    const listed = captured();
    assert.equal(await runGet("virtualservices", undefined, { etcd, namespace: "default", output: "table" }, listed), 0);
    assert.match(listed.stdout, new RegExp(`^VirtualService\\s+default\\s+ride\\s+${revision}\\s+etcd:/as-mesh/config/VirtualService/default/ride$`, "m"));
    const yaml = captured();
    assert.equal(await runGet("vs", "ride", { etcd, namespace: "default", output: "yaml" }, yaml), 0);
    assert.match(yaml.stdout, /timeout: 2s/);
    const missing = captured();
    assert.equal(await runGet("vs", "nope", { etcd, namespace: "default", output: "json" }, missing), 1);
    assert.match(missing.stderr, /"nope" not found/);

    // A change: one resource configured with a unified diff, the other unchanged.
    writeFileSync(join(dir, "ride.yaml"), `${service("ride")}---\n${route("ride", "5s")}`);
    const changed = captured();
    assert.equal(await runApply({ filename: [dir], etcd, dryRun: true }, changed), 0, changed.stderr);
    assert.match(changed.stdout, /^ServiceEntry\/default\/ride unchanged \(dry run\)$/m);
    assert.match(changed.stdout, /^VirtualService\/default\/ride configured \(dry run\)$/m);
    assert.match(changed.stdout, new RegExp(`^--- VirtualService/default/ride \\(revision ${revision}\\)$`, "m"));
    assert.match(changed.stdout, /^-      timeout: 2s\n\+      timeout: 5s$/m);
  });

  it("an apply that makes the mesh invalid is refused with every error and nothing changes", async () => {
    writeFileSync(join(dir, "bad.yaml"), `${route("ride", "3x")}---\n${service("fare", 0)}`);
    const refused = captured();
    assert.equal(await runApply({ filename: [join(dir, "bad.yaml")], etcd }, refused), 1);
    assert.match(refused.stderr, /bad\.yaml:\d+: VirtualService\/ride\/http\[0\]\.timeout: .*duration/);
    assert.match(refused.stderr, /ServiceEntry\/fare\/ports\[0\]\.number/);
    assert.match(refused.stderr, /refused: \d+ error\(s\); nothing was written/);
    const yaml = captured();
    await runGet("vs", "ride", { etcd, namespace: "default", output: "yaml" }, yaml);
    assert.match(yaml.stdout, /timeout: 2s/);
    const fare = captured();
    assert.equal(await runGet("se", "fare", { etcd, namespace: "default", output: "yaml" }, fare), 1);
  });

  it("two applies planned from the same revision: one commits, the other reports a conflict", async () => {
    const [first, second] = [new EtcdStore({ endpoints: cluster.endpointList }), new EtcdStore({ endpoints: cluster.endpointList })];
    await Promise.all([first.start(), second.start()]);
    try {
      const plan = (store: EtcdStore, timeout: string) =>
        planApply(store, { apply: parseYaml(route("ride", timeout), "edit.yaml").documents });
      const ios = [captured(), captured()];
      const codes = await Promise.all([executePlan(first, plan(first, "7s"), false, ios[0]!), executePlan(second, plan(second, "8s"), false, ios[1]!)]);
      assert.deepEqual([...codes].sort(), [0, 1]);
      const loser = ios[codes.indexOf(1)]!;
      assert.match(loser.stderr, /conflict: VirtualService\/default\/ride is at revision \d+, not \d+; read it again and retry/);
      const yaml = captured();
      await runGet("vs", "ride", { etcd, namespace: "default", output: "yaml" }, yaml);
      assert.match(yaml.stdout, codes[0] === 0 ? /timeout: 7s/ : /timeout: 8s/);
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  });

  it("delete --dry-run shows the removal, delete -f removes what a file defines, a missing resource is an error unless --ignore-not-found", async () => {
    const dry = captured();
    assert.equal(await runDelete("vs", "ride", { etcd, namespace: "default", dryRun: true }, dry), 0, dry.stderr);
    assert.match(dry.stdout, /^VirtualService\/default\/ride deleted \(dry run\)$/m);
    assert.match(dry.stdout, /^\+\+\+ \/dev\/null$/m);
    const removed = captured();
    assert.equal(await runDelete(undefined, undefined, { etcd, namespace: "default", filename: [join(dir, "ride.yaml")] }, removed), 0, removed.stderr);
    assert.match(removed.stdout, /committed 2 change\(s\)/);
    const again = captured();
    assert.equal(await runDelete("vs", "ride", { etcd, namespace: "default" }, again), 1);
    assert.match(again.stderr, /VirtualService\/default\/ride: not found/);
    assert.equal(await runDelete("vs", "ride", { etcd, namespace: "default", ignoreNotFound: true }, captured()), 0);
  });

  it("works on a config folder too: apply writes one file per resource, delete removes it", async () => {
    const folder = mkdtempSync(join(tmpdir(), "as-mesh-verbs-folder-"));
    try {
      writeFileSync(join(dir, "one.yaml"), service("solo"));
      const applied = captured();
      assert.equal(await runApply({ filename: [join(dir, "one.yaml")], config: folder }, applied), 0, applied.stderr);
      assert.match(readFileSync(join(folder, "default", "serviceentry-solo.yaml"), "utf8"), /hosts:\n\s+- solo/);
      assert.equal(await runDelete("serviceentry", "solo", { config: folder, namespace: "default" }, captured()), 0);
      assert.equal(existsSync(join(folder, "default", "serviceentry-solo.yaml")), false);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it("the as-mesh command runs the verbs, with clear errors for a missing store or an unknown kind", () => {
    writeFileSync(join(dir, "cli.yaml"), service("cli"));
    const run = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", join(projectRoot, "control", "cli.ts"), ...args], { cwd: projectRoot, encoding: "utf8" });
    const dry = run("apply", "-f", join(dir, "cli.yaml"), "--etcd", etcd, "--dry-run");
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /ServiceEntry\/default\/cli created \(dry run\)/);
    const noStore = run("get", "se");
    assert.equal(noStore.status, 1);
    assert.match(noStore.stderr, /--etcd <endpoints> or --config <dir>/);
    const badKind = run("get", "pods", "--etcd", etcd);
    assert.equal(badKind.status, 1);
    assert.match(badKind.stderr, /unknown kind "pods"/);
  });
});
