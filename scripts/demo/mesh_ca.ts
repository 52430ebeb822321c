// The demo mesh's CA: istiod's issuance API (control/ca) as its own process, with a bootstrap token per workload
// the runner hands to that workload's `as-mesh agent`. The runner uses it while `as-mesh control` does not run
// the CA itself.
//   node --import tsx scripts/demo/mesh_ca.ts <ca-dir> <host:port> <token-file> <trust-domain>
// prints {"listening": <port>} once the issuance API listens.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { pino } from "pino";
import { formatTokenFile, generateToken, startCaService, CA_CERT_CHAIN_FILE, CA_LOG_REDACT, type TokenEntry } from "../../control/ca/index.ts";

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
  return { caDir, tokenFile, rootFile: join(caDir, CA_CERT_CHAIN_FILE), workloadTokens };
}

async function main(argv: string[]): Promise<void> {
  const [caDir, address, tokenFile, trustDomain] = argv;
  if (!caDir || !address || !tokenFile || !trustDomain) throw new Error("usage: mesh_ca.ts <ca-dir> <host:port> <token-file> <trust-domain>");
  const logger = pino({ name: "as-mesh-ca", level: "info", redact: CA_LOG_REDACT });
  const service = await startCaService({ trustDomain, caDir, tokenFile, address, logger });
  process.stdout.write(JSON.stringify({ listening: service.port }) + "\n");
  const stop = () => void service.close().finally(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`mesh CA: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
