// The RSA public key of a PEM X.509 certificate: what jwt_authn reads from a "JWKS" that is a map of kid to
// certificate ({"<kid>": "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"}, the form Google's
// v1 certs endpoint serves). Only the path to subjectPublicKeyInfo is walked (RFC 5280 §4.1); nothing about the
// certificate is trusted or checked beyond its shape: jwt_authn does not check validity dates or chains either,
// the configuration is what vouches for the key.
import { base64Decode } from "../../assembly/lib/base64";

export const CERT_PREFIX = "-----BEGIN CERTIFICATE-----\n";
export const CERT_SUFFIX = "\n-----END CERTIFICATE-----\n";

/** rsaEncryption, 1.2.840.113549.1.1.1, as DER content bytes. */
const RSA_ENCRYPTION: StaticArray<u8> = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/** A DER element: its tag and the content range [start, end). */
class Element {
  tag: u8 = 0;
  start: i32 = 0;
  end: i32 = 0;
}

/** Reads the element at `at` (which must end by `limit`) into `out`; false when it is not well-formed DER. */
function readElement(der: Uint8Array, at: i32, limit: i32, out: Element): bool {
  if (at + 2 > limit) return false;
  out.tag = der[at];
  let length = <i32>der[at + 1];
  let start = at + 2;
  if (length >= 0x80) {
    const count = length & 0x7f;
    if (count == 0 || count > 3 || start + count > limit) return false; // indefinite, or over 16 MB
    length = 0;
    for (let i = 0; i < count; i++) length = (length << 8) | <i32>der[start + i];
    start += count;
  }
  if (start + length > limit) return false;
  out.start = start;
  out.end = start + length;
  return true;
}

/** A DER INTEGER's magnitude without its sign byte; null for a negative or empty integer. */
function positiveInteger(der: Uint8Array, element: Element): Uint8Array | null {
  if (element.tag != 0x02 || element.end == element.start || (der[element.start] & 0x80) != 0) return null;
  let start = element.start;
  while (start < element.end - 1 && der[start] == 0) start++;
  return der.slice(start, element.end);
}

export class RsaPublicKey {
  constructor(public n: Uint8Array, public e: Uint8Array) {}
}

let x509Error = "";

/** Why the last rsaKeyOfCertificate returned null. */
export function lastX509Error(): string {
  return x509Error;
}

function fail(message: string): RsaPublicKey | null {
  x509Error = message;
  return null;
}

/** The RSA key (n, e) of a PEM certificate (CERT_PREFIX, base64 lines, CERT_SUFFIX); null with lastX509Error(). */
export function rsaKeyOfCertificate(pem: string): RsaPublicKey | null {
  x509Error = "";
  if (!pem.startsWith(CERT_PREFIX) || !pem.endsWith(CERT_SUFFIX)) return fail("is not a PEM certificate");
  const body = pem.substring(CERT_PREFIX.length, pem.length - CERT_SUFFIX.length).replaceAll("\r", "").replaceAll("\n", "");
  const der = base64Decode(body);
  if (der === null) return fail("is not valid base64 between the PEM lines");

  const certificate = new Element(), tbs = new Element(), field = new Element();
  if (!readElement(der, 0, der.length, certificate) || certificate.tag != 0x30 || certificate.end != der.length) {
    return fail("is not a DER certificate");
  }
  if (!readElement(der, certificate.start, certificate.end, tbs) || tbs.tag != 0x30) return fail("has no tbsCertificate");
  // version [0] (optional), serialNumber, signature, issuer, validity, subject, then subjectPublicKeyInfo.
  let at = tbs.start;
  if (!readElement(der, at, tbs.end, field)) return fail("has a malformed tbsCertificate");
  if (field.tag == 0xa0) at = field.end;
  for (let i = 0; i < 5; i++) {
    if (!readElement(der, at, tbs.end, field)) return fail("has a malformed tbsCertificate");
    at = field.end;
  }
  const spki = new Element();
  if (!readElement(der, at, tbs.end, spki) || spki.tag != 0x30) return fail("has no subjectPublicKeyInfo");
  const algorithm = new Element(), oid = new Element();
  if (!readElement(der, spki.start, spki.end, algorithm) || algorithm.tag != 0x30) return fail("has no key algorithm");
  if (!readElement(der, algorithm.start, algorithm.end, oid) || oid.tag != 0x06) return fail("has no key algorithm");
  let isRsa = oid.end - oid.start == RSA_ENCRYPTION.length;
  for (let i = 0; isRsa && i < RSA_ENCRYPTION.length; i++) isRsa = der[oid.start + i] == RSA_ENCRYPTION[i];
  // jwt_authn takes only RSA keys from certificates.
  if (!isRsa) return fail("does not hold an RSA public key");
  const bits = new Element();
  if (!readElement(der, algorithm.end, spki.end, bits) || bits.tag != 0x03 || bits.end - bits.start < 2 || der[bits.start] != 0) {
    return fail("has a malformed public key");
  }
  const sequence = new Element(), modulus = new Element(), exponent = new Element();
  if (!readElement(der, bits.start + 1, bits.end, sequence) || sequence.tag != 0x30 || sequence.end != bits.end) return fail("has a malformed RSA key");
  if (!readElement(der, sequence.start, sequence.end, modulus)) return fail("has a malformed RSA key");
  if (!readElement(der, modulus.end, sequence.end, exponent) || exponent.end != sequence.end) return fail("has a malformed RSA key");
  const n = positiveInteger(der, modulus);
  const e = positiveInteger(der, exponent);
  if (n === null || e === null) return fail("has a malformed RSA key");
  return new RsaPublicKey(n, e);
}
