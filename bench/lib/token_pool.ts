// The tokens k6 sends in JWT runs: a small hot set every phase reuses (cache-warm after the warm-up) and a pool of
// cold tokens, each sent once (cache-cold), so a configurable share of requests pays for a full verification.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { mintToken, type JwtAlg, type JwtFixture } from "./jwt_fixture.ts";

export const HOT_TOKENS = 16;

export interface TokenPool {
  /** JSON array of the hot tokens: small, every k6 VU keeps its own copy. */
  hotFile: string;
  /** JSON array of the cold tokens: large, shared by the VUs through one k6 SharedArray. */
  coldFile: string;
  hot: number;
  cold: number;
}

/** Subjects cycle through `users` values, so the chain's rate limit (keyed on `sub`) sees a bounded key set. */
export async function writeTokenPool(
  fixture: JwtFixture, alg: JwtAlg, coldCount: number, users: number, dir: string,
): Promise<TokenPool> {
  const mint = (index: number, kind: string) =>
    mintToken(fixture, { alg, subject: `user-${index % users}`, expiresIn: 24 * 3600, claims: { jti: `${kind}-${index}` } });
  const hot: string[] = [];
  for (let i = 0; i < HOT_TOKENS; i++) hot.push(await mint(i, "hot"));
  const cold: string[] = [];
  // Signing is CPU-bound; a few at a time keeps the event loop responsive without changing the cost.
  for (let i = 0; i < coldCount; i += 64) {
    const batch = [];
    for (let j = i; j < Math.min(i + 64, coldCount); j++) batch.push(mint(j, "cold"));
    cold.push(...(await Promise.all(batch)));
  }
  const hotFile = join(dir, `tokens-${alg.toLowerCase()}-hot.json`);
  const coldFile = join(dir, `tokens-${alg.toLowerCase()}-cold.json`);
  writeFileSync(hotFile, JSON.stringify(hot));
  writeFileSync(coldFile, JSON.stringify(cold));
  return { hotFile, coldFile, hot: hot.length, cold: cold.length };
}
