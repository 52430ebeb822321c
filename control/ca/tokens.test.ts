import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { formatTokenFile, generateToken, hashToken, parseTokenFile, TokenAuthority } from "./tokens.ts";

const identity = { namespace: "shop", serviceAccount: "checkout" };

test("grants the identity of a listed token until it expires", () => {
  let now = Date.parse("2026-01-01T00:00:00Z");
  const { token, entry } = generateToken(identity, new Date("2026-01-02T00:00:00Z"));
  const authority = new TokenAuthority([entry], () => now);
  assert.deepEqual(authority.check(token), { ok: true, identity });
  assert.deepEqual(authority.check(token + "x"), { ok: false, reason: "unknown token" });
  now = Date.parse("2026-01-02T00:00:01Z");
  assert.deepEqual(authority.check(token), { ok: false, reason: "expired token" });
});

test("stores only the SHA-256 of each token in the file", () => {
  const { token, entry } = generateToken(identity);
  const text = formatTokenFile([entry]);
  assert.ok(!text.includes(token));
  assert.ok(text.includes(hashToken(token)));
  assert.deepEqual(parseTokenFile(text, "tokens.yaml"), [entry]);
});

test("reports every problem in a token file with its path", () => {
  const text = "tokens:\n  - sha256: nothex\n    namespace: Shop/x\n    serviceAccount: ok\n    expiresAt: tomorrow\n";
  assert.throws(() => parseTokenFile(text, "tokens.yaml"), (error: Error) => {
    assert.match(error.message, /tokens\.yaml: tokens\.0\.sha256: must be the lower-case hex SHA-256/);
    assert.match(error.message, /tokens\.0\.namespace: must be a Kubernetes name/);
    assert.match(error.message, /tokens\.0\.expiresAt/);
    return true;
  });
  assert.throws(() => parseTokenFile("tokens: [", "bad.yaml"), /bad\.yaml: not YAML/);
});

test("reloads a changed token file and keeps the old tokens when the new file is invalid", async () => {
  const dir = mkdtempSync(join(tmpdir(), "as-mesh-tokens-"));
  const path = join(dir, "tokens.yaml");
  const first = generateToken(identity);
  const second = generateToken({ namespace: "shop", serviceAccount: "payments" });
  writeFileSync(path, formatTokenFile([first.entry]));
  const authority = TokenAuthority.fromFile(path);
  const waitFor = async (condition: () => boolean) => {
    for (let i = 0; i < 60 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(condition());
  };
  try {
    authority.watchFile(path, pino({ level: "silent" }), 50);
    writeFileSync(path, formatTokenFile([first.entry, second.entry]));
    await waitFor(() => authority.check(second.token).ok);
    writeFileSync(path, "tokens: [ broken");
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.ok(authority.check(first.token).ok && authority.check(second.token).ok);
    assert.equal(readFileSync(path, "utf8"), "tokens: [ broken");
  } finally {
    authority.unwatch();
    rmSync(dir, { recursive: true, force: true });
  }
});
