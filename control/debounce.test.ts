import { test } from "node:test";
import assert from "node:assert/strict";
import { Debouncer } from "./debounce.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("a burst of changes becomes one push after the quiet period", async () => {
  let pushes = 0;
  const debouncer = new Debouncer(async () => { pushes++; }, { quietMs: 40, maxMs: 1000 });
  for (let i = 0; i < 5; i++) { debouncer.trigger(); await sleep(10); }
  assert.equal(pushes, 0);
  await sleep(80);
  assert.equal(pushes, 1);
});

test("a steady trickle of changes still pushes by the maximum delay", async () => {
  let pushes = 0;
  const debouncer = new Debouncer(async () => { pushes++; }, { quietMs: 50, maxMs: 120 });
  const started = Date.now();
  while (Date.now() - started < 200) { debouncer.trigger(); await sleep(20); }
  assert.ok(pushes >= 1, `pushed ${pushes} times during 200 ms of changes every 20 ms`);
  debouncer.cancel();
});

test("a change during a push causes exactly one more push", async () => {
  let pushes = 0;
  let release: () => void = () => {};
  const debouncer = new Debouncer(async () => {
    pushes++;
    if (pushes === 1) await new Promise<void>((resolve) => { release = resolve; });
  }, { quietMs: 10, maxMs: 100 });
  debouncer.trigger();
  await sleep(30);
  debouncer.trigger();
  debouncer.trigger();
  release();
  await sleep(50);
  assert.equal(pushes, 2);
});
