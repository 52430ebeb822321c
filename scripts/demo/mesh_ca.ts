// The demo mesh's CA material: the folder `as-mesh control --ca-dir` keeps its root in, and a bootstrap token per
// proxy (the CA's token file holds their hashes; each `as-mesh agent` reads its own token).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatTokenFile, generateToken, CA_CERT_CHAIN_FILE, type TokenEntry } from "../../control/ca/index.ts";

/** The name the agents expect in the CA endpoint's certificate (one of the CA's default names). */
export const CA_SERVER_NAME = "as-mesh-ca";

export interface CaFiles {
  caDir: string;
  tokenFile: string;
  /** The mesh root the agents trust the CA endpoint with; written by the CA when it starts. */
  rootFile: string;
  /** proxy name → file holding its bootstrap token. */
  workloadTokens: Map<string, string>;
}

/** Where the CA, its folder under `dir`, writes the mesh root (the chain of a generated root is the root alone). */
export function meshRootFile(dir: string): string {
  return join(dir, "ca", CA_CERT_CHAIN_FILE);
}

/** Writes a bootstrap token for every proxy (one identity each) and the CA's token file of their hashes. */
export function prepareCaFiles(dir: string, proxies: Array<{ name: string; namespace: string; serviceAccount: string }>): CaFiles {
  const caDir = join(dir, "ca");
  const tokensDir = join(dir, "tokens");
  mkdirSync(caDir, { recursive: true, mode: 0o700 });
  mkdirSync(tokensDir, { recursive: true, mode: 0o700 });
  const entries: TokenEntry[] = [];
  const workloadTokens = new Map<string, string>();
  for (const proxy of proxies) {
    const { token, entry } = generateToken({ namespace: proxy.namespace, serviceAccount: proxy.serviceAccount });
    const file = join(tokensDir, `${proxy.name}.token`);
    writeFileSync(file, token + "\n", { mode: 0o600 });
    entries.push(entry);
    workloadTokens.set(proxy.name, file);
  }
  const tokenFile = join(dir, "ca-tokens.yaml");
  writeFileSync(tokenFile, formatTokenFile(entries), { mode: 0o600 });
  return { caDir, tokenFile, rootFile: meshRootFile(dir), workloadTokens };
}
