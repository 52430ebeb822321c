import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FolderStore, RevisionCompactedError, RevisionConflictError, validateStore, type ConfigEvent } from "./index.ts";

const serviceEntry = (name: string, port = 80) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${name}
spec:
  hosts: [${name}]
  ports: [{number: ${port}, name: http, protocol: HTTP}]
  resolution: STATIC
`;

async function withFolder(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "as-mesh-store-"));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Replaces a file the way editors save: write elsewhere, rename over. */
async function saveAtomically(file: string, text: string): Promise<void> {
  await writeFile(`${file}.swp`, text);
  await rename(`${file}.swp`, file);
}

const names = (store: FolderStore) => store.list().map((resource) => resource.name).sort();

test("reads *.yaml and *.yml recursively, in a stable order, with file:line sources", async () => {
  await withFolder(async (dir) => {
    await mkdir(join(dir, "team", "nested"), { recursive: true });
    await writeFile(join(dir, "b.yaml"), serviceEntry("bravo"));
    await writeFile(join(dir, "a.yml"), `${serviceEntry("alpha")}---\n${serviceEntry("alpha2")}`);
    await writeFile(join(dir, "team", "nested", "c.yaml"), serviceEntry("charlie"));
    await writeFile(join(dir, "notes.txt"), "not config");
    await mkdir(join(dir, ".git"));
    await writeFile(join(dir, ".git", "x.yaml"), serviceEntry("hidden"));
    const store = new FolderStore(dir, { resyncIntervalMs: 0 });
    assert.equal(store.hasSynced(), false);
    await store.start();
    try {
      assert.equal(store.hasSynced(), true);
      assert.deepEqual(store.documents().map((document) => document.source), ["a.yml:1", "a.yml:10", "b.yaml:1", "team/nested/c.yaml:1"]);
      assert.deepEqual(names(store), ["alpha", "alpha2", "bravo", "charlie"]);
      assert.deepEqual(store.errors(), []);
      assert.equal(store.get("ServiceEntry", "default", "bravo")?.source, "b.yaml:1");
    } finally {
      await store.stop();
    }
  });
});

test("an editor's atomic save becomes one change with a new revision and a modified event", async () => {
  await withFolder(async (dir) => {
    const file = join(dir, "svc.yaml");
    await writeFile(file, serviceEntry("ride", 80));
    const store = new FolderStore(dir, { resyncIntervalMs: 0, debounceMs: 30 });
    await store.start();
    try {
      const before = store.revision();
      let changes = 0;
      const events: ConfigEvent[] = [];
      store.onChange(() => changes++);
      store.watch((batch) => events.push(...batch));
      await saveAtomically(file, serviceEntry("ride", 8080));
      await waitFor(() => changes > 0, "the change");
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.equal(changes, 1, "one notification for one save");
      assert.equal(store.revision(), before + 1);
      assert.deepEqual(events.map((event) => [event.type, event.resource.name]), [["modified", "ride"]]);
      const spec = store.get("ServiceEntry", "default", "ride")?.document["spec"] as { ports: { number: number }[] };
      assert.equal(spec.ports[0]!.number, 8080);
    } finally {
      await store.stop();
    }
  });
});

test("every one of several saves of the same file is seen by the watch, not only the first", async () => {
  await withFolder(async (dir) => {
    await mkdir(join(dir, "ns"));
    const nested = join(dir, "ns", "svc.yaml");
    const file = join(dir, "svc.yaml");
    await writeFile(nested, serviceEntry("payment", 80));
    await writeFile(file, serviceEntry("ride", 80));
    for (let index = 0; index < 100; index++) await writeFile(join(dir, `other-${index}.yaml`), serviceEntry(`other-${index}`));
    // No periodic rescan: only the folder watch can see these saves.
    const store = new FolderStore(dir, { resyncIntervalMs: 0, debounceMs: 20 });
    await store.start();
    try {
      for (const port of [81, 82, 83, 84]) {
        await saveAtomically(file, serviceEntry("ride", port));
        await waitFor(() => {
          const spec = store.get("ServiceEntry", "default", "ride")?.document["spec"] as { ports: { number: number }[] } | undefined;
          return spec?.ports[0]?.number === port;
        }, `save ${port} to be seen`, 2000);
        await saveAtomically(nested, serviceEntry("payment", port));
        await waitFor(() => {
          const spec = store.get("ServiceEntry", "default", "payment")?.document["spec"] as { ports: { number: number }[] } | undefined;
          return spec?.ports[0]?.number === port;
        }, `save ${port} of the nested file to be seen`, 2000);
      }
    } finally {
      await store.stop();
    }
  });
});

test("files added and removed produce added and deleted events", async () => {
  await withFolder(async (dir) => {
    await writeFile(join(dir, "one.yaml"), serviceEntry("one"));
    const store = new FolderStore(dir, { resyncIntervalMs: 0, debounceMs: 20 });
    await store.start();
    try {
      const events: ConfigEvent[] = [];
      store.watch((batch) => events.push(...batch));
      await mkdir(join(dir, "sub"));
      await writeFile(join(dir, "sub", "two.yaml"), serviceEntry("two"));
      await waitFor(() => names(store).includes("two"), "the new file");
      await rm(join(dir, "one.yaml"));
      await waitFor(() => !names(store).includes("one"), "the removal");
      assert.deepEqual(events.map((event) => [event.type, event.resource.name]), [["added", "two"], ["deleted", "one"]]);
    } finally {
      await store.stop();
    }
  });
});

test("a YAML syntax error is reported with its line, not thrown, and clears when fixed", async () => {
  await withFolder(async (dir) => {
    await writeFile(join(dir, "good.yaml"), serviceEntry("good"));
    await writeFile(join(dir, "bad.yaml"), "kind: VirtualService\nmetadata:\n  name: x\n spec: [\n");
    const store = new FolderStore(dir, { resyncIntervalMs: 0, debounceMs: 20 });
    await store.start();
    try {
      assert.equal(store.errors().length > 0, true);
      assert.match(store.errors()[0]!.source ?? "", /^bad\.yaml:\d+$/);
      assert.match(store.errors()[0]!.message, /YAML syntax error/);
      assert.deepEqual(names(store), ["good"], "the readable file is still listed");
      await saveAtomically(join(dir, "bad.yaml"), serviceEntry("fixed"));
      await waitFor(() => store.errors().length === 0, "the fix");
      assert.deepEqual(names(store), ["fixed", "good"]);
    } finally {
      await store.stop();
    }
  });
});

test("a missing folder is an error until it appears, then its files load", async () => {
  await withFolder(async (parent) => {
    const dir = join(parent, "mesh");
    const store = new FolderStore(dir, { resyncIntervalMs: 50 });
    await store.start();
    try {
      assert.equal(store.hasSynced(), true);
      assert.match(store.errors()[0]!.message, /cannot read config folder: no such directory/);
      await mkdir(dir);
      await writeFile(join(dir, "svc.yaml"), serviceEntry("late"));
      await waitFor(() => names(store).includes("late"), "the folder to appear");
      assert.deepEqual(store.errors(), []);
    } finally {
      await store.stop();
    }
  });
});

test("watch resumes from a revision and refuses history it no longer keeps", async () => {
  await withFolder(async (dir) => {
    const store = new FolderStore(dir, { resyncIntervalMs: 0, historyLimit: 2 });
    await store.start();
    try {
      const first = await store.create({ apiVersion: "networking.istio.io/v1", kind: "ServiceEntry", metadata: { name: "a" }, spec: { hosts: ["a"] } });
      await store.create({ apiVersion: "networking.istio.io/v1", kind: "ServiceEntry", metadata: { name: "b" }, spec: { hosts: ["b"] } });
      const replayed = await new Promise<ConfigEvent[]>((resolve) => { const stop = store.watch((events) => { stop(); resolve(events); }, { fromRevision: first }); });
      assert.deepEqual(replayed.map((event) => [event.type, event.resource.name]), [["added", "b"]]);
      await store.create({ apiVersion: "networking.istio.io/v1", kind: "ServiceEntry", metadata: { name: "c" }, spec: { hosts: ["c"] } });
      assert.throws(() => store.watch(() => {}, { fromRevision: first - 1 }), RevisionCompactedError);
    } finally {
      await store.stop();
    }
  });
});

test("writes check revisions and never rewrite a multi-document file", async () => {
  await withFolder(async (dir) => {
    await writeFile(join(dir, "shared.yaml"), `${serviceEntry("x")}---\n${serviceEntry("y")}`);
    const store = new FolderStore(dir, { resyncIntervalMs: 0 });
    await store.start();
    try {
      const document = { apiVersion: "networking.istio.io/v1", kind: "ServiceEntry", metadata: { name: "ride", namespace: "prod" }, spec: { hosts: ["ride"] } };
      const created = await store.create(document);
      assert.equal(store.get("ServiceEntry", "prod", "ride")?.revision, created);
      assert.equal(store.get("ServiceEntry", "prod", "ride")?.source, "prod/serviceentry-ride.yaml:1");
      await assert.rejects(store.create(document), /already exists/);
      const updated = await store.update({ ...document, spec: { hosts: ["ride", "ride.example.com"] } }, created);
      assert.ok(updated > created);
      await assert.rejects(store.update(document, created), RevisionConflictError);
      await assert.rejects(store.update({ ...serviceEntryDocument("x") }), /together with other documents/);
      await store.delete({ kind: "ServiceEntry", namespace: "prod", name: "ride" }, updated);
      assert.equal(store.get("ServiceEntry", "prod", "ride"), undefined);
      await assert.rejects(store.delete({ kind: "ServiceEntry", namespace: "prod", name: "ride" }), /does not exist/);
    } finally {
      await store.stop();
    }
  });
});

function serviceEntryDocument(name: string): Record<string, unknown> {
  return { apiVersion: "networking.istio.io/v1", kind: "ServiceEntry", metadata: { name }, spec: { hosts: [name] } };
}

test("validateStore refuses the whole config while any file fails to parse", async () => {
  await withFolder(async (dir) => {
    await writeFile(join(dir, "good.yaml"), serviceEntry("good"));
    await writeFile(join(dir, "broken.yaml"), "kind: [unclosed\n");
    const store = new FolderStore(dir, { resyncIntervalMs: 0, debounceMs: 20 });
    await store.start();
    try {
      const rejected = validateStore(store);
      assert.equal(rejected.mesh, null, "the readable file alone is not adopted");
      assert.match(rejected.errors[0]!.source ?? "", /^broken\.yaml:\d+$/);
      await rm(join(dir, "broken.yaml"));
      await waitFor(() => store.errors().length === 0, "the broken file to go");
      const accepted = validateStore(store);
      assert.deepEqual(accepted.errors, []);
      assert.equal(accepted.mesh?.list("ServiceEntry").length, 1);
    } finally {
      await store.stop();
    }
  });
});
