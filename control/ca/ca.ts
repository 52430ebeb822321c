// The mesh CA: holds the signing key (a generated self-signed root, or an operator's root/intermediate) and turns
// a CSR plus an identity that a credential granted into an X.509 SVID. The identity written into the certificate
// comes only from the caller; the CSR contributes its public key and nothing else (subject, SANs and extensions
// in it are ignored), so a workload cannot ask for somebody else's name.
import { createPrivateKey, createPublicKey, randomBytes, X509Certificate as NodeCertificate, type KeyObject } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { subtle, x509 } from "./x509.ts";
import { assertTrustDomain, spiffeId, type WorkloadIdentity } from "./identity.ts";

/** Why a request was refused or failed; the value is the `error` label of citadel_server_csr_sign_error_count. */
export type CaErrorReason =
  | "csr_too_large"
  | "csr_parse_error"
  | "csr_signature_invalid"
  | "unsupported_key_type"
  | "invalid_ttl"
  | "invalid_identity"
  | "unauthenticated"
  | "rate_limited"
  | "signing_error";

export class CaError extends Error {
  constructor(readonly reason: CaErrorReason, message: string) {
    super(message);
    this.name = "CaError";
  }
}

export interface MeshCaOptions {
  /** The SPIFFE trust domain, e.g. "cluster.local". */
  trustDomain: string;
  /** Lifetime of a workload certificate when the request does not ask for one (istiod: 24 h). */
  workloadTtlSeconds?: number;
  /** Longest lifetime a request may ask for (istiod: 90 days). */
  maxWorkloadTtlSeconds?: number;
  /** CSRs larger than this are refused before parsing. */
  maxCsrBytes?: number;
  /** Further trusted roots published in the trust bundle next to the CA's own, e.g. the old root during a rollover. */
  extraTrustedRootsPem?: string[];
}

export interface RootOptions {
  trustDomain: string;
  /** Default 10 years. */
  ttlSeconds?: number;
  /** "ECDSA" (P-256, default) or "RSA" (2048). */
  keyType?: "ECDSA" | "RSA";
}

export interface SignedCertificate {
  /** PEM certificates: the leaf, then intermediates, the root last (IstioCertificateResponse.cert_chain). */
  certChain: string[];
  /** Lower-case hex, as Envoy's /certs reports it. */
  serialNumber: string;
  spiffeId: string;
  notBefore: Date;
  notAfter: Date;
}

const DAY = 86_400;
const DEFAULT_WORKLOAD_TTL = DAY;
const DEFAULT_MAX_WORKLOAD_TTL = 90 * DAY;
const DEFAULT_ROOT_TTL = 3650 * DAY;
/** A PEM CSR for a P-256 or RSA-2048 key with a modest subject is under 2 KiB; 16 KiB leaves room, 1 MB does not. */
const DEFAULT_MAX_CSR_BYTES = 16 * 1024;
/** Certificates start a little in the past so a peer whose clock is slightly behind still accepts them. */
const MAX_BACKDATE_SECONDS = 60;

const ECDSA_P256 = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const RSA_2048 = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) } as const;

export const CA_KEY_FILE = "ca-key.pem";
export const CA_CERT_CHAIN_FILE = "ca-cert-chain.pem";

/** Splits concatenated PEM certificates into separate PEM strings, in order. */
export function splitPemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((block) => block + "\n") ?? [];
}

/**
 * The certificates of a PEM trust bundle file; throws when the file holds anything else (besides # comments), so a
 * half-written or garbled file is refused instead of being read as "no roots".
 */
export function parsePemBundle(text: string): string[] {
  const pems = splitPemCertificates(text);
  const leftover = pems.reduce((rest, pem) => rest.replace(pem.trim(), ""), text).replace(/^#.*$/gm, "").trim();
  if (leftover) throw new Error("the file holds text that is not a PEM certificate");
  for (const pem of pems) new NodeCertificate(pem); // throws on a block that does not parse
  return pems;
}

/** Random positive 128-bit serial number in lower-case hex (RFC 5280 allows up to 20 octets). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  // Clear the sign bit and keep the first octet non-zero so the DER INTEGER is exactly 16 octets and positive.
  bytes[0] = (bytes[0] & 0x7f) || 0x01;
  return bytes.toString("hex");
}

function signingAlgorithmOf(key: KeyObject): Algorithm {
  return key.asymmetricKeyType === "ec" ? { name: "ECDSA", hash: "SHA-256" } as Algorithm : { name: "RSASSA-PKCS1-v1_5" };
}

/** Describes a public key as "ECDSA P-256", "RSA 2048", … and says whether workload certificates may use it. */
export function describeKey(key: KeyObject): { description: string; allowed: boolean } {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "ec") {
    const names: Record<string, string> = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" };
    const curve = names[details.namedCurve ?? ""] ?? details.namedCurve ?? "unknown curve";
    return { description: `ECDSA ${curve}`, allowed: curve === "P-256" };
  }
  if (key.asymmetricKeyType === "rsa") {
    return { description: `RSA ${details.modulusLength ?? "?"}`, allowed: details.modulusLength === 2048 };
  }
  return { description: key.asymmetricKeyType ?? "unknown key type", allowed: false };
}

async function importSigningKey(pem: string): Promise<{ key: CryptoKey; algorithm: Algorithm; publicKey: KeyObject }> {
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(pem);
  } catch (error) {
    throw new Error(`the CA key is not a PEM private key: ${(error as Error).message}`);
  }
  const publicKey = createPublicKey(keyObject);
  const pkcs8 = keyObject.export({ format: "der", type: "pkcs8" });
  let importAlgorithm: RsaHashedImportParams | EcKeyImportParams;
  if (keyObject.asymmetricKeyType === "ec" && keyObject.asymmetricKeyDetails?.namedCurve === "prime256v1") {
    importAlgorithm = { name: "ECDSA", namedCurve: "P-256" };
  } else if (keyObject.asymmetricKeyType === "rsa") {
    importAlgorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  } else {
    throw new Error(`the CA key is ${describeKey(publicKey).description}; use ECDSA P-256 or RSA`);
  }
  // Not extractable: once imported, the key can sign but cannot be read back out of WebCrypto.
  const key = await subtle.importKey("pkcs8", pkcs8, importAlgorithm, false, ["sign"]);
  return { key, algorithm: signingAlgorithmOf(keyObject), publicKey };
}

export class MeshCa {
  readonly trustDomain: string;
  readonly workloadTtlSeconds: number;
  readonly maxWorkloadTtlSeconds: number;
  readonly maxCsrBytes: number;
  private extraRoots: string[];

  private constructor(
    private readonly signingKey: CryptoKey,
    private readonly signingAlgorithm: Algorithm,
    /** The signing certificate first, the root last (one element when the CA signs with its root). */
    private readonly chain: x509.X509Certificate[],
    private readonly authorityKeyId: x509.AuthorityKeyIdentifierExtension,
    options: MeshCaOptions,
  ) {
    this.trustDomain = options.trustDomain;
    this.workloadTtlSeconds = options.workloadTtlSeconds ?? DEFAULT_WORKLOAD_TTL;
    this.maxWorkloadTtlSeconds = options.maxWorkloadTtlSeconds ?? Math.max(DEFAULT_MAX_WORKLOAD_TTL, this.workloadTtlSeconds);
    this.maxCsrBytes = options.maxCsrBytes ?? DEFAULT_MAX_CSR_BYTES;
    this.extraRoots = [...(options.extraTrustedRootsPem ?? [])];
  }

  /** Generates a self-signed root CA: a fresh key and certificate in PEM (write the key 0600, never log it). */
  static async generateRoot(options: RootOptions): Promise<{ keyPem: string; certPem: string }> {
    assertTrustDomain(options.trustDomain);
    const algorithm = options.keyType === "RSA" ? RSA_2048 : ECDSA_P256;
    const keys = await subtle.generateKey(algorithm, true, ["sign", "verify"]) as CryptoKeyPair;
    const now = Date.now();
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: [{ O: [options.trustDomain] }, { CN: ["as-mesh root CA"] }],
      notBefore: new Date(now - MAX_BACKDATE_SECONDS * 1000),
      notAfter: new Date(now + (options.ttlSeconds ?? DEFAULT_ROOT_TTL) * 1000),
      keys,
      signingAlgorithm: algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const pkcs8 = await subtle.exportKey("pkcs8", keys.privateKey);
    const keyPem = x509.PemConverter.encode(pkcs8, "PRIVATE KEY");
    return { keyPem, certPem: certificate.toString("pem") + "\n" };
  }

  /**
   * A CA from an operator's PEM key and certificate chain: the certificate of that key first, then any
   * intermediates, the root last. Refuses a key that does not match, a non-CA certificate, or a broken chain.
   */
  static async fromPem(material: { keyPem: string; certChainPem: string }, options: MeshCaOptions): Promise<MeshCa> {
    assertTrustDomain(options.trustDomain);
    const pems = splitPemCertificates(material.certChainPem);
    if (pems.length === 0) throw new Error("the CA certificate chain holds no PEM certificate");
    const { key, algorithm, publicKey } = await importSigningKey(material.keyPem);
    const nodeChain = pems.map((pem, index) => {
      try {
        return new NodeCertificate(pem);
      } catch (error) {
        throw new Error(`CA chain certificate ${index} does not parse: ${(error as Error).message}`);
      }
    });
    const signing = nodeChain[0];
    const spki = (k: KeyObject) => k.export({ format: "der", type: "spki" });
    if (!spki(signing.publicKey).equals(spki(publicKey))) {
      throw new Error("the CA key does not belong to the first certificate of the chain");
    }
    if (!signing.ca) throw new Error(`the CA certificate (${signing.subject}) is not a CA certificate (basicConstraints CA:false)`);
    for (let i = 0; i < nodeChain.length; i++) {
      const issuer = nodeChain[i + 1] ?? nodeChain[i];
      if (!nodeChain[i].checkIssued(issuer) || !nodeChain[i].verify(issuer.publicKey)) {
        throw new Error(i + 1 < nodeChain.length
          ? `CA chain certificate ${i} is not signed by certificate ${i + 1}`
          : `the last certificate of the CA chain is not a self-signed root`);
      }
    }
    if (new Date(signing.validTo).getTime() <= Date.now()) throw new Error(`the CA certificate expired at ${signing.validTo}`);
    const chain = pems.map((pem) => new x509.X509Certificate(pem));
    const ski = chain[0].getExtension(x509.SubjectKeyIdentifierExtension);
    const authorityKeyId = ski
      ? new x509.AuthorityKeyIdentifierExtension(ski.keyId)
      : await x509.AuthorityKeyIdentifierExtension.create(chain[0].publicKey);
    return new MeshCa(key, algorithm, chain, authorityKeyId, options);
  }

  /**
   * The CA kept in `dir`: loads ca-key.pem + ca-cert-chain.pem when present, otherwise generates a self-signed
   * root and writes them (the key 0600, the folder 0700).
   */
  static async loadOrCreate(dir: string, options: MeshCaOptions & { rootTtlSeconds?: number }): Promise<MeshCa> {
    const keyPath = join(dir, CA_KEY_FILE);
    const chainPath = join(dir, CA_CERT_CHAIN_FILE);
    if (!existsSync(keyPath)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const root = await MeshCa.generateRoot({ trustDomain: options.trustDomain, ttlSeconds: options.rootTtlSeconds });
      writeFileSync(keyPath, root.keyPem, { mode: 0o600, flag: "wx" });
      chmodSync(keyPath, 0o600);
      writeFileSync(chainPath, root.certPem, { mode: 0o644 });
    }
    return MeshCa.fromPem({ keyPem: readFileSync(keyPath, "utf8"), certChainPem: readFileSync(chainPath, "utf8") }, options);
  }

  /** The root certificate this CA chains to. */
  get rootCertPem(): string {
    return this.chain[this.chain.length - 1].toString("pem") + "\n";
  }

  /** The certificate this CA signs with (the root itself, or an intermediate). */
  get signingCertPem(): string {
    return this.chain[0].toString("pem") + "\n";
  }

  /** When the CA's own signing certificate stops being valid (no workload certificate outlives it). */
  get signingCertNotAfter(): Date {
    return this.chain[0].notAfter;
  }

  get rootNotAfter(): Date {
    return this.chain[this.chain.length - 1].notAfter;
  }

  /** The roots a workload should trust: this CA's root, then extra roots (e.g. the previous one during a rollover). */
  trustBundle(): string[] {
    const seen = new Set<string>();
    const bundle: string[] = [];
    for (const pem of [this.rootCertPem, ...this.extraRoots]) {
      const normalized = pem.trim() + "\n";
      if (!seen.has(normalized)) {
        seen.add(normalized);
        bundle.push(normalized);
      }
    }
    return bundle;
  }

  setExtraTrustedRoots(pems: string[]): void {
    this.extraRoots = [...pems];
  }

  /**
   * Checks a PEM CSR and returns its public key: size cap, PEM + PKCS#10 parsing, the CSR's own signature (proof of
   * possession of the key), and the key type (ECDSA P-256 or RSA 2048). Throws CaError naming the problem.
   */
  async checkCsr(csrPem: string): Promise<x509.PublicKey> {
    if (Buffer.byteLength(csrPem, "utf8") > this.maxCsrBytes) {
      throw new CaError("csr_too_large", `CSR is ${Buffer.byteLength(csrPem, "utf8")} bytes; the limit is ${this.maxCsrBytes}`);
    }
    if (!/-----BEGIN (NEW )?CERTIFICATE REQUEST-----/.test(csrPem)) {
      throw new CaError("csr_parse_error", "the csr field holds no PEM CERTIFICATE REQUEST block");
    }
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem.replace(/NEW CERTIFICATE REQUEST/g, "CERTIFICATE REQUEST"));
    } catch (error) {
      throw new CaError("csr_parse_error", `CSR does not parse as PKCS#10: ${(error as Error).message}`);
    }
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: "der", type: "spki" });
    } catch (error) {
      throw new CaError("unsupported_key_type", `CSR public key is not usable: ${(error as Error).message}`);
    }
    const { description, allowed } = describeKey(publicKey);
    if (!allowed) throw new CaError("unsupported_key_type", `CSR key is ${description}; workload keys must be ECDSA P-256 or RSA 2048`);
    let valid = false;
    try {
      valid = await csr.verify();
    } catch {
      valid = false;
    }
    if (!valid) throw new CaError("csr_signature_invalid", "CSR signature does not verify with its own public key");
    return csr.publicKey;
  }

  /**
   * Signs an X.509 SVID for `identity` (granted by the caller's credential) over the CSR's public key.
   * `ttlSeconds` 0/undefined means the default TTL; more than the maximum is refused.
   */
  async sign(csrPem: string, identity: WorkloadIdentity, ttlSeconds?: number): Promise<SignedCertificate> {
    const publicKey = await this.checkCsr(csrPem);
    let uri: string;
    try {
      uri = spiffeId(this.trustDomain, identity);
    } catch (error) {
      throw new CaError("invalid_identity", (error as Error).message);
    }
    const ttl = ttlSeconds && ttlSeconds > 0 ? ttlSeconds : this.workloadTtlSeconds;
    if (!Number.isFinite(ttl) || ttl > this.maxWorkloadTtlSeconds) {
      throw new CaError("invalid_ttl", `requested lifetime ${ttl}s exceeds the maximum ${this.maxWorkloadTtlSeconds}s`);
    }
    const now = Date.now();
    const notBefore = new Date(now - Math.min(MAX_BACKDATE_SECONDS, Math.floor(ttl / 10)) * 1000);
    // No workload certificate outlives the certificate that signs it.
    const notAfter = new Date(Math.min(now + ttl * 1000, this.signingCertNotAfter.getTime()));
    if (notAfter.getTime() <= now) throw new CaError("signing_error", "the CA certificate has expired");
    const serialNumber = randomSerial();
    let leaf: x509.X509Certificate;
    try {
      leaf = await x509.X509CertificateGenerator.create({
        serialNumber,
        // Istio leaves the subject empty; the identity lives in the (then critical) URI SAN.
        subject: "",
        issuer: this.chain[0].subjectName,
        notBefore,
        notAfter,
        publicKey,
        signingKey: this.signingKey,
        signingAlgorithm: this.signingAlgorithm,
        extensions: [
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
          new x509.BasicConstraintsExtension(false, undefined, true),
          await x509.SubjectKeyIdentifierExtension.create(publicKey),
          this.authorityKeyId,
          new x509.SubjectAlternativeNameExtension([{ type: "url", value: uri }], true),
        ],
      });
    } catch (error) {
      throw new CaError("signing_error", `signing failed: ${(error as Error).message}`);
    }
    return {
      certChain: [leaf.toString("pem") + "\n", ...this.chain.map((certificate) => certificate.toString("pem") + "\n")],
      serialNumber,
      spiffeId: uri,
      notBefore,
      notAfter,
    };
  }

  /**
   * A TLS server certificate for the CA's own issuance endpoint (DNS and IP SANs), with a key generated here.
   */
  async issueServingCertificate(names: { dns?: string[]; ips?: string[] }, ttlSeconds = 365 * DAY): Promise<{ keyPem: string; certChainPem: string; notAfter: Date }> {
    const keys = await subtle.generateKey(ECDSA_P256, true, ["sign", "verify"]) as CryptoKeyPair;
    const now = Date.now();
    const notAfter = new Date(Math.min(now + ttlSeconds * 1000, this.signingCertNotAfter.getTime()));
    const dns = names.dns ?? [];
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: [{ O: [this.trustDomain] }, { CN: [dns[0] ?? "as-mesh-ca"] }],
      issuer: this.chain[0].subjectName,
      notBefore: new Date(now - MAX_BACKDATE_SECONDS * 1000),
      notAfter,
      publicKey: keys.publicKey,
      signingKey: this.signingKey,
      signingAlgorithm: this.signingAlgorithm,
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.BasicConstraintsExtension(false, undefined, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        this.authorityKeyId,
        new x509.SubjectAlternativeNameExtension([
          ...dns.map((value) => ({ type: "dns" as const, value })),
          ...(names.ips ?? []).map((value) => ({ type: "ip" as const, value })),
        ]),
      ],
    });
    const keyPem = x509.PemConverter.encode(await subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY");
    const certChainPem = [certificate.toString("pem"), ...this.chain.slice(0, -1).map((c) => c.toString("pem"))].join("\n") + "\n";
    return { keyPem, certChainPem, notAfter };
  }
}

/** Generates a workload key pair and a CSR for it; the subject and SANs are informative only (the CA ignores them). */
export async function createKeyAndCsr(options: { keyType?: "ECDSA" | "RSA"; subjectHint?: string } = {}): Promise<{ keyPem: string; csrPem: string }> {
  const algorithm = options.keyType === "RSA" ? RSA_2048 : ECDSA_P256;
  const keys = await subtle.generateKey(algorithm, true, ["sign", "verify"]) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: options.subjectHint ? [{ O: [options.subjectHint] }] : "",
    keys,
    signingAlgorithm: algorithm,
  });
  const keyPem = x509.PemConverter.encode(await subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY");
  return { keyPem, csrPem: csr.toString("pem") + "\n" };
}
