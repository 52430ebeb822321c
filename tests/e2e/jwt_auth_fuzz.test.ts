// Hostile input against jwt-auth in real Envoy: a few thousand random and mutated tokens (bit flips, cut and
// spliced segments, random JOSE headers and claims of every JSON type, validly signed or not, odd encodings,
// header junk, query parameters). Every answer must be a decision (200 from the upstream, 401 or 403 from the
// filter), and Envoy's wasm stats must show no VM created, reloaded or lost along the way.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { bootstrap, httpListener, staticCluster, wasmFilter } from "../../envoy/bootstrap.ts";
import { startEnvoy, withEnvoyLog, type EnvoyInstance } from "../harness/envoy.ts";
import { startUpstream, type Upstream } from "../harness/upstream.ts";
import { buildArtifact } from "../harness/artifacts.ts";
import { type SigningKey, base64url, generateSigningKey, jwksOf, nowSeconds, signRaw, signToken } from "../harness/tokens.ts";
import { seededRandom } from "../harness/random.ts";

const wasmPath = buildArtifact("jwt-auth");
const ISSUER = "https://issuer.example";
const REQUESTS = 3000;
const PARALLEL = 8;
const SEED = Number(process.env.JWT_FUZZ_SEED ?? 20240611);

/** Seeded, so a failing run can be repeated with JWT_FUZZ_SEED. */
function randomSource(seed: number) {
  const next = seededRandom(seed);
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)];
  return { next, int, pick };
}

type Random = ReturnType<typeof randomSource>;

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const NOISE = B64URL + ".=+/ *%\t\"\\{}";

function randomString(r: Random, alphabet: string, max: number): string {
  let out = "";
  for (let i = r.int(max + 1); i > 0; i--) out += alphabet[r.int(alphabet.length)];
  return out;
}

function randomJsonValue(r: Random, depth: number): unknown {
  switch (r.int(depth > 3 ? 6 : 8)) {
    case 0: return null;
    case 1: return r.next() < 0.5;
    case 2: return r.pick([0, -1, 1.5, 1e300, -1e-300, 2 ** 53 + 1, 2 ** 64, nowSeconds(), nowSeconds() + 3600, 0.1]);
    case 3: return randomString(r, B64URL + " éß中\u00ff", 20);
    case 4: return r.pick(["", ISSUER, "https://evil.example", "api", "\u0000", "a\nb", "x".repeat(500)]);
    case 5: return r.int(1_000_000);
    case 6: return Array.from({ length: r.int(4) }, () => randomJsonValue(r, depth + 1));
    default: {
      const object: Record<string, unknown> = {};
      for (let i = r.int(4); i > 0; i--) object[r.pick(["a", "b", "sub", "iss", "nested", "é"])] = randomJsonValue(r, depth + 1);
      return object;
    }
  }
}

/** A header or payload text: usually JSON with the registered names, sometimes broken or repeating a member. */
function randomJsonText(r: Random, names: string[]): string {
  const members: string[] = [];
  for (const name of names) {
    if (r.next() < 0.7) members.push(`${JSON.stringify(name)}:${JSON.stringify(randomJsonValue(r, 0)) ?? "null"}`);
  }
  if (r.next() < 0.1) members.push(members[0] ?? '"alg":"HS256"'); // a repeated member
  let text = `{${members.join(",")}}`;
  const damage = r.int(12);
  if (damage === 0) text = text.slice(0, r.int(text.length));
  else if (damage === 1) text += r.pick([",", "}", " x", "\u0000"]);
  else if (damage === 2) text = `[${text}]`;
  else if (damage === 3) text = `${"[".repeat(120)}${"]".repeat(120)}`;
  return text;
}

function mutate(r: Random, token: string): string {
  const chars = token.split("");
  for (let edits = 1 + r.int(3); edits > 0; edits--) {
    const at = r.int(chars.length + 1);
    switch (r.int(6)) {
      case 0: chars[at] = NOISE[r.int(NOISE.length)]; break;
      case 1: chars.splice(at, 1); break;
      case 2: chars.splice(at, 0, NOISE[r.int(NOISE.length)]); break;
      case 3: chars.length = at; break;
      case 4: chars.splice(at, 0, ...randomString(r, B64URL, 40)); break;
      default: {
        const parts = chars.join("").split(".");
        const i = r.int(parts.length), j = r.int(parts.length);
        [parts[i], parts[j]] = [parts[j], parts[i]];
        return parts.join(".");
      }
    }
  }
  return chars.join("");
}

interface Attempt {
  path: string;
  headers: Record<string, string>;
}

describe("jwt-auth in real Envoy under hostile tokens", () => {
  let keys: SigningKey[];
  let valid: string[];
  let upstream: Upstream;
  let envoy: EnvoyInstance | undefined;

  before(async () => {
    keys = [
      await generateSigningKey("HS256"), await generateSigningKey("ES256"), await generateSigningKey("RS256"),
      await generateSigningKey("EdDSA"), await generateSigningKey("PS384"),
    ];
    valid = await Promise.all(keys.map((key) => signToken(key, { iss: ISSUER, aud: "api", sub: "alice", obj: { a: [1, "x"] } })));
    upstream = await startUpstream();
    const configuration = {
      providers: {
        example: {
          issuer: ISSUER,
          audiences: ["api"],
          local_jwks: { inline_string: jwksOf(keys) },
          forward_payload_header: "x-jwt-payload",
          claim_to_headers: [
            { header_name: "x-jwt-sub", claim_name: "sub" }, { header_name: "x-jwt-obj", claim_name: "obj" },
            { header_name: "x-jwt-nested", claim_name: "nested.a" },
          ],
        },
        anyone: { local_jwks: { inline_string: jwksOf(keys.slice(0, 2)) }, from_headers: [{ name: "x-token" }], from_params: ["token"] },
      },
      rules: [
        { match: { prefix: "/lenient" }, requires: { allow_missing_or_failed: {} } },
        { match: { prefix: "/" }, requires: { requires_any: { requirements: [{ provider_name: "example" }, { provider_name: "anyone" }] } } },
      ],
    };
    const config = bootstrap({
      listeners: [httpListener({
        name: "main",
        httpFilters: [wasmFilter({ name: "jwt-auth", wasmPath, configuration })],
        routes: [{ prefix: "/", action: { cluster: "echo" } }],
      })],
      clusters: [staticCluster("echo", "127.0.0.1", upstream.port)],
    });
    envoy = await startEnvoy({ config, concurrency: 2 });
  });

  after(async () => {
    await envoy?.stop();
    await upstream?.close();
  });

  function attempt(r: Random): Attempt {
    const path = r.pick(["/api", "/api/x", "/lenient/y"]);
    const signer = r.pick(keys);
    let token: string;
    switch (r.int(6)) {
      case 0: token = mutate(r, r.pick(valid)); break;
      case 1: token = signRaw(signer, randomJsonText(r, ["alg", "kid", "typ", "crit"]).replace(/"alg":[^,}]*/, `"alg":"${signer.alg}"`), randomJsonText(r, ["iss", "aud", "exp", "nbf", "iat", "sub", "jti", "obj", "nested"])); break;
      case 2: token = signRaw(signer, randomJsonText(r, ["alg", "kid"]), randomJsonText(r, ["iss", "sub", "exp"])); break;
      case 3: token = `${base64url(randomJsonText(r, ["alg"]))}.${base64url(randomJsonText(r, ["iss", "exp"]))}.${randomString(r, B64URL, 400)}`; break;
      case 4: token = Array.from({ length: r.int(5) }, () => randomString(r, B64URL, 60)).join("."); break;
      default: token = randomString(r, NOISE, 300); break;
    }
    switch (r.int(6)) {
      case 0: return { path: `${path}?token=${encodeURIComponent(token)}`, headers: {} };
      case 1: return { path, headers: { "x-token": token } };
      case 2: return { path, headers: { authorization: randomString(r, NOISE, 8) + token } };
      case 3: return { path: `${path}?access_token=${token.replace(/[^A-Za-z0-9._~-]/g, (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0"))}`, headers: { authorization: `Bearer ${r.pick(valid)}` } };
      default: return { path, headers: { authorization: `Bearer ${token}`, "x-jwt-sub": "spoofed" } };
    }
  }

  it(`answers ${REQUESTS} hostile requests with 200, 401 or 403 only, and no VM fails`, withEnvoyLog(() => envoy, async () => {
    const vmStats = async () => {
      const stats = await envoy!.stats("wasm");
      return {
        created: stats.get("wasm.envoy.wasm.runtime.v8.created"),
        active: stats.get("wasm.envoy.wasm.runtime.v8.active"),
        reloads: [...stats].filter(([name]) => /vm_reload/.test(name)).reduce((sum, [, value]) => sum + value, 0),
      };
    };
    const before = await vmStats();
    const r = randomSource(SEED);
    const attempts = Array.from({ length: REQUESTS }, () => attempt(r));
    const statuses = new Map<number, number>();
    const unexpected: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < attempts.length) {
        const item = attempts[next++];
        const response = await fetch(envoy!.url() + item.path, { headers: item.headers, signal: AbortSignal.timeout(30_000) });
        const body = await response.text();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (![200, 401, 403].includes(response.status)) {
          unexpected.push(`${response.status} ${body.slice(0, 80)} for ${JSON.stringify(item).slice(0, 300)}`);
        } else if (response.status === 200 && JSON.parse(body).headers["x-jwt-sub"] === "spoofed") {
          unexpected.push(`spoofed x-jwt-sub reached the upstream for ${JSON.stringify(item).slice(0, 300)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    process.stdout.write(`# seed ${SEED}: ${JSON.stringify(Object.fromEntries(statuses))}\n`);
    assert.deepEqual(unexpected.slice(0, 10), [], `${unexpected.length} unexpected answers`);
    assert.ok((statuses.get(200) ?? 0) > 0 && (statuses.get(401) ?? 0) > 0, "the corpus should reach both outcomes");
    assert.deepEqual(await vmStats(), before, "no wasm VM may be created, reloaded or lost");
    assert.doesNotMatch(envoy!.log, /wasm abort|Function: proxy_on_\w+ failed|Wasm VM failed/i);
  }));
});
