// Intermediate CAs for control replicas: the mesh root signs one intermediate per replica, so each replica holds a
// signing key of its own and the root key stays wherever the operator keeps it (offline, or on one machine). Trust
// bundles carry only the root; workloads of every replica trust each other because their chains meet at it.
import { createPrivateKey, createPublicKey, randomBytes, X509Certificate as NodeCertificate, type KeyObject } from "node:crypto";
import { subtle, x509 } from "./x509.ts";
import { describeKey } from "./ca.ts";

const DAY = 86_400;
/** Istio's sample intermediates live two years; one year makes rotation a routine the operator actually practises. */
export const DEFAULT_INTERMEDIATE_TTL_SECONDS = 365 * DAY;
const BACKDATE_SECONDS = 60;

export interface IntermediateOptions {
  /** The root's key and self-signed certificate (PEM). */
  rootKeyPem: string;
  rootCertPem: string;
  /** Names the replica in the subject (CN "as-mesh intermediate CA <name>"), so an operator can tell them apart. */
  name?: string;
  /** Lifetime; capped at the root's expiry (an intermediate never outlives what signs it). */
  ttlSeconds?: number;
  /** "ECDSA" (P-256, default) or "RSA" (2048), like the root. */
  keyType?: "ECDSA" | "RSA";
}

export interface Intermediate {
  /** PKCS#8 PEM of the intermediate's key: goes to one replica only (write it 0600). */
  keyPem: string;
  certPem: string;
  /** The intermediate then the root: what `as-mesh control --ca-cert-chain` reads. */
  certChainPem: string;
  notAfter: Date;
}

function spki(key: KeyObject): Buffer {
  return key.export({ format: "der", type: "spki" });
}

/** Refuses a root that is not a usable self-signed CA, or a key that is not the root's. */
function checkRoot(rootKey: KeyObject, rootCertPem: string): NodeCertificate {
  let root: NodeCertificate;
  try {
    root = new NodeCertificate(rootCertPem);
  } catch (error) {
    throw new Error(`the root certificate does not parse: ${(error as Error).message}`);
  }
  if (!root.ca) throw new Error(`the root certificate (${root.subject}) is not a CA certificate`);
  if (!root.checkIssued(root) || !root.verify(root.publicKey)) throw new Error("the root certificate is not self-signed");
  if (!spki(createPublicKey(rootKey)).equals(spki(root.publicKey))) throw new Error("the root key does not belong to the root certificate");
  if (new Date(root.validTo).getTime() <= Date.now()) throw new Error(`the root certificate expired at ${root.validTo}`);
  return root;
}

function importAlgorithmOf(key: KeyObject): { importAs: RsaHashedImportParams | EcKeyImportParams; sign: Algorithm } {
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") {
    return { importAs: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } as Algorithm };
  }
  if (key.asymmetricKeyType === "rsa") return { importAs: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, sign: { name: "RSASSA-PKCS1-v1_5" } };
  throw new Error(`the root key is ${describeKey(createPublicKey(key)).description}; use ECDSA P-256 or RSA`);
}

/**
 * Mints an intermediate CA signed by the root: basicConstraints CA:true with pathLen 0 (it signs workloads, never
 * another CA), keyUsage keyCertSign + cRLSign + digitalSignature (critical), SKI, AKI = the root's key id.
 */
export async function createIntermediate(options: IntermediateOptions): Promise<Intermediate> {
  let rootKey: KeyObject;
  try {
    rootKey = createPrivateKey(options.rootKeyPem);
  } catch (error) {
    throw new Error(`the root key is not a PEM private key: ${(error as Error).message}`);
  }
  const rootNode = checkRoot(rootKey, options.rootCertPem);
  const { importAs, sign } = importAlgorithmOf(rootKey);
  const signingKey = await subtle.importKey("pkcs8", rootKey.export({ format: "der", type: "pkcs8" }), importAs, false, ["sign"]);
  const root = new x509.X509Certificate(options.rootCertPem);

  const ttl = options.ttlSeconds ?? DEFAULT_INTERMEDIATE_TTL_SECONDS;
  if (!Number.isFinite(ttl) || ttl <= 0) throw new Error(`the intermediate's lifetime must be positive, not ${ttl}s`);
  const now = Date.now();
  const notAfter = new Date(Math.min(now + ttl * 1000, new Date(rootNode.validTo).getTime()));
  const algorithm = options.keyType === "RSA"
    ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }
    : { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await subtle.generateKey(algorithm, true, ["sign", "verify"]) as CryptoKeyPair;
  const organization = root.subjectName.getField("O")[0];
  const serial = randomBytes(16);
  serial[0] = (serial[0] & 0x7f) || 0x01;
  const rootKeyId = root.getExtension(x509.SubjectKeyIdentifierExtension);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString("hex"),
    subject: [...(organization ? [{ O: [organization] }] : []), { CN: [`as-mesh intermediate CA${options.name ? ` ${options.name}` : ""}`] }],
    issuer: root.subjectName,
    notBefore: new Date(now - BACKDATE_SECONDS * 1000),
    notAfter,
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: sign,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      rootKeyId ? new x509.AuthorityKeyIdentifierExtension(rootKeyId.keyId) : await x509.AuthorityKeyIdentifierExtension.create(root.publicKey),
    ],
  });
  const keyPem = x509.PemConverter.encode(await subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY");
  const certPem = certificate.toString("pem") + "\n";
  return { keyPem, certPem, certChainPem: certPem + root.toString("pem") + "\n", notAfter };
}
