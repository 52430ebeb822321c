// `as-mesh ca root` and `as-mesh ca intermediate`: the operator's offline steps for running several control
// replicas. The root is made once and its key stays where the operator keeps it; each replica gets an intermediate
// (its own key + the chain intermediate → root) and runs `as-mesh control --ca-key --ca-cert-chain` with it.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { X509Certificate } from "node:crypto";
import { CA_CERT_CHAIN_FILE, CA_KEY_FILE, MeshCa } from "../ca/ca.ts";
import { createIntermediate } from "../ca/intermediate.ts";

export const ROOT_KEY_FILE = "root-key.pem";
export const ROOT_CERT_FILE = "root-cert.pem";
/** The intermediate alone (Istio's plugged-in CA calls it ca-cert.pem too); the chain is CA_CERT_CHAIN_FILE. */
export const INTERMEDIATE_CERT_FILE = "ca-cert.pem";

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "365d", "8760h", "1d12h", "90s" → seconds; undefined when it is not such a duration. */
export function parseTtlSeconds(text: string): number | undefined {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join("") !== text) return undefined;
  const seconds = parts.reduce((sum, part) => sum + Number(part[1]) * UNIT_SECONDS[part[2]!]!, 0);
  return seconds > 0 ? seconds : undefined;
}

function ttlOption(ttl: string | undefined): number | undefined {
  if (ttl === undefined) return undefined;
  const seconds = parseTtlSeconds(ttl);
  if (seconds === undefined) throw new Error(`--ttl ${JSON.stringify(ttl)} is not a duration (e.g. 365d, 8760h, 1h30m)`);
  return seconds;
}

/** Writes a private key that must not be readable by others, and never over an existing one. */
function writeKey(path: string, keyPem: string): void {
  try {
    writeFileSync(path, keyPem, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") {
      throw new Error(`${path} already exists; keys are never overwritten, choose another --out folder`);
    }
    throw error;
  }
  chmodSync(path, 0o600);
}

function prepareFolder(dir: string, keyFile: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (existsSync(join(dir, keyFile))) throw new Error(`${join(dir, keyFile)} already exists; keys are never overwritten, choose another --out folder`);
}

function describe(certPem: string): string {
  const certificate = new X509Certificate(certPem);
  return `${certificate.subject.replace(/\n/g, ", ")}, serial ${certificate.serialNumber.toLowerCase()}, valid until ${new Date(certificate.validTo).toISOString()}`;
}

export interface CaRootOptions {
  out: string;
  trustDomain: string;
  ttl?: string;
  keyType?: "ECDSA" | "RSA";
  /** Where the summary goes (stdout by default). */
  print?: (text: string) => void;
}

const toStdout = (text: string) => { process.stdout.write(text); };

/** Creates the mesh root: root-key.pem (0600, folder 0700) and root-cert.pem in `out`. */
export async function runCaRoot(options: CaRootOptions): Promise<number> {
  const ttlSeconds = ttlOption(options.ttl);
  prepareFolder(options.out, ROOT_KEY_FILE);
  const root = await MeshCa.generateRoot({ trustDomain: options.trustDomain, ttlSeconds, keyType: options.keyType });
  writeKey(join(options.out, ROOT_KEY_FILE), root.keyPem);
  writeFileSync(join(options.out, ROOT_CERT_FILE), root.certPem, { mode: 0o644 });
  (options.print ?? toStdout)(`root CA: ${describe(root.certPem)}\n`
    + `  ${join(options.out, ROOT_KEY_FILE)} (keep it offline; only "as-mesh ca intermediate" needs it)\n`
    + `  ${join(options.out, ROOT_CERT_FILE)} (the mesh trust anchor: give it to every agent as --ca-root)\n`);
  return 0;
}

export interface CaIntermediateOptions {
  rootDir: string;
  out: string;
  ttl?: string;
  name?: string;
  print?: (text: string) => void;
}

/**
 * Mints one replica's intermediate into `out`: ca-key.pem (0600), ca-cert.pem, ca-cert-chain.pem (intermediate,
 * root) and root-cert.pem. The folder also works as that replica's --ca-dir.
 */
export async function runCaIntermediate(options: CaIntermediateOptions): Promise<number> {
  const ttlSeconds = ttlOption(options.ttl);
  // The replica's folder is copied to the replica: it must never hold the root key.
  if (resolve(options.out) === resolve(options.rootDir)) throw new Error("--out must not be the --root-dir: the intermediate's folder goes to a replica, the root key must not");
  const read = (file: string) => {
    const path = join(options.rootDir, file);
    if (!existsSync(path)) throw new Error(`${path} does not exist; create the root with "as-mesh ca root --out ${options.rootDir}"`);
    return readFileSync(path, "utf8");
  };
  const rootKeyPem = read(ROOT_KEY_FILE);
  const rootCertPem = read(ROOT_CERT_FILE);
  const intermediate = await createIntermediate({ rootKeyPem, rootCertPem, ttlSeconds, name: options.name });
  prepareFolder(options.out, CA_KEY_FILE);
  writeKey(join(options.out, CA_KEY_FILE), intermediate.keyPem);
  writeFileSync(join(options.out, INTERMEDIATE_CERT_FILE), intermediate.certPem, { mode: 0o644 });
  writeFileSync(join(options.out, CA_CERT_CHAIN_FILE), intermediate.certChainPem, { mode: 0o644 });
  writeFileSync(join(options.out, ROOT_CERT_FILE), rootCertPem, { mode: 0o644 });
  const capped = ttlSeconds !== undefined && intermediate.notAfter.getTime() < Date.now() + ttlSeconds * 1000 - 120_000;
  (options.print ?? toStdout)(`intermediate CA: ${describe(intermediate.certPem)}${capped ? " (capped at the root's expiry)" : ""}\n`
    + `  run the replica with: as-mesh control --ca-key ${join(options.out, CA_KEY_FILE)} --ca-cert-chain ${join(options.out, CA_CERT_CHAIN_FILE)}\n`);
  return 0;
}
