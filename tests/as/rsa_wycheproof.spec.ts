import { HashAlg } from "../../assembly/lib/sha2";
import { JsonValue, lastJsonError, parseJson } from "../../assembly/lib/json";
import { rsaLastError, rsaPkcs1v15Verify, rsaPssVerify } from "../../assembly/lib/rsa";
import { readProjectFile } from "./helpers/files";
import { hexToBytes } from "./helpers/hex";

// Runs whole Wycheproof RSA files (../shared/testvectors/wycheproof, see SOURCE.md there) through the verifiers.
//
// How `acceptable` tests are decided: the only ones in these files are flagged MissingNull (a DigestInfo whose
// AlgorithmIdentifier omits the NULL parameters). We REJECT them, always: RFC 8017 §9.2 defines the encoding
// with the NULL, RS256/384/512 (RFC 7518 §3.3) use that encoding, and rsa.ts compares the whole encoded message
// against the single DER form instead of parsing ASN.1 — accepting a second form would mean a second code
// path with nothing to gain. Each file's test asserts that no acceptable test was accepted.

/** Counts of one file's outcomes; `failures` names every test that went the wrong way. */
class Outcome {
  total: i32 = 0;
  declared: i32 = -1; // numberOfTests from the file header
  validAccepted: i32 = 0;
  validRejected: i32 = 0;
  invalidAccepted: i32 = 0;
  invalidRejected: i32 = 0;
  acceptableAccepted: i32 = 0;
  acceptableRejected: i32 = 0;
  failures: Array<string> = new Array<string>();
  /** Comments of invalid tests that were accepted, for the salt-recovery run. */
  acceptedInvalidComments: Array<string> = new Array<string>();
}

function str(v: JsonValue | null, what: string): string {
  if (v == null || !v.isString()) throw new Error("vector field missing or not a string: " + what);
  return v.asString();
}

function num(v: JsonValue | null, what: string): i32 {
  if (v == null || !v.isNumber()) throw new Error("vector field missing or not a number: " + what);
  return <i32>v.asNumber();
}

function hashAlgOf(name: string): HashAlg {
  if (name == "SHA-256") return HashAlg.SHA256;
  if (name == "SHA-384") return HashAlg.SHA384;
  if (name == "SHA-512") return HashAlg.SHA512;
  throw new Error("unexpected hash in vectors: " + name);
}

function loadFile(name: string): JsonValue {
  const doc = parseJson(readProjectFile("../shared/testvectors/wycheproof/" + name));
  if (doc == null) throw new Error("cannot parse " + name + ": " + lastJsonError());
  return doc;
}

/**
 * Verifies every test of a parsed file. pss: use RSASSA-PSS with the group's sLen, or with -1 (recover the salt
 * length) when recoverSalt is set; otherwise RSASSA-PKCS1-v1_5.
 */
function runFile(doc: JsonValue, pss: bool, recoverSalt: bool): Outcome {
  const out = new Outcome();
  out.declared = num(doc.get("numberOfTests"), "numberOfTests");
  const groups = doc.get("testGroups")!.asArray();
  for (let g = 0; g < groups.length; g++) {
    const group = groups[g];
    const key = group.get("publicKey")!;
    const n = hexToBytes(str(key.get("modulus"), "publicKey.modulus"));
    const e = hexToBytes(str(key.get("publicExponent"), "publicKey.publicExponent"));
    const alg = hashAlgOf(str(group.get("sha"), "sha"));
    let saltLength = -1;
    if (pss) {
      // rsaPssVerify always uses MGF1 with the message hash; a group declaring anything else would not apply.
      expect(str(group.get("mgf"), "mgf")).toBe("MGF1");
      expect(str(group.get("mgfSha"), "mgfSha")).toBe(str(group.get("sha"), "sha"));
      if (!recoverSalt) saltLength = num(group.get("sLen"), "sLen");
    }
    const tests = group.get("tests")!.asArray();
    for (let t = 0; t < tests.length; t++) {
      const test = tests[t];
      const tcId = num(test.get("tcId"), "tcId");
      const msg = hexToBytes(str(test.get("msg"), "msg"));
      const sig = hexToBytes(str(test.get("sig"), "sig"));
      const result = str(test.get("result"), "result");
      const comment = str(test.get("comment"), "comment");
      const ok = pss
        ? rsaPssVerify(n, e, alg, msg, sig, saltLength)
        : rsaPkcs1v15Verify(n, e, alg, msg, sig);
      out.total++;
      const label = "tcId " + tcId.toString() + " (" + result + ", " + comment + ")";
      if (result == "valid") {
        if (ok) out.validAccepted++;
        else {
          out.validRejected++;
          out.failures.push(label + " rejected: " + rsaLastError());
        }
      } else if (result == "invalid") {
        if (ok) {
          out.invalidAccepted++;
          out.acceptedInvalidComments.push(comment);
          out.failures.push(label + " accepted");
        } else out.invalidRejected++;
      } else if (result == "acceptable") {
        if (ok) {
          out.acceptableAccepted++;
          out.failures.push(label + " accepted (policy: reject)");
        } else out.acceptableRejected++;
      } else {
        throw new Error("unknown result " + result + " in tcId " + tcId.toString());
      }
    }
  }
  return out;
}

function report(name: string, o: Outcome): void {
  log(name + ": " + o.total.toString() + " tests; valid accepted " + o.validAccepted.toString() +
    ", valid rejected " + o.validRejected.toString() + ", invalid accepted " + o.invalidAccepted.toString() +
    ", acceptable accepted/rejected " + o.acceptableAccepted.toString() + "/" + o.acceptableRejected.toString());
  for (let i = 0; i < o.failures.length; i++) log("  " + o.failures[i]);
}

/** The standard pass criteria plus the exact counts, so a file that silently shrank cannot pass. */
function expectPasses(name: string, o: Outcome, valid: i32, invalid: i32, acceptable: i32): void {
  report(name, o);
  expect(o.total).toBe(o.declared, name + ": every declared test was run");
  expect(o.validRejected).toBe(0, name + ": valid tests rejected (see log for tcIds)");
  expect(o.invalidAccepted).toBe(0, name + ": invalid tests accepted (see log for tcIds)");
  // Acceptable tests (MissingNull) are all rejected, see the comment at the top of this file.
  expect(o.acceptableAccepted).toBe(0, name + ": acceptable tests accepted, policy is to reject them");
  expect(o.validAccepted).toBe(valid, name + ": valid tests accepted");
  expect(o.invalidRejected).toBe(invalid, name + ": invalid tests rejected");
  expect(o.acceptableRejected).toBe(acceptable, name + ": acceptable tests rejected");
}

describe("Wycheproof RSASSA-PKCS1-v1_5", () => {
  it("rsa_signature_2048_sha256_test.json (RS256): all 9 valid accepted, 249 invalid and 1 acceptable rejected", () => {
    const doc = loadFile("rsa_signature_2048_sha256_test.json");
    expectPasses("rsa_signature_2048_sha256", runFile(doc, false, false), 9, 249, 1);
  });

  it("rsa_signature_3072_sha384_test.json (RS384): all 7 valid accepted, 251 invalid and 1 acceptable rejected", () => {
    const doc = loadFile("rsa_signature_3072_sha384_test.json");
    expectPasses("rsa_signature_3072_sha384", runFile(doc, false, false), 7, 251, 1);
  });

  it("rsa_signature_4096_sha512_test.json (RS512): all 7 valid accepted, 251 invalid and 1 acceptable rejected", () => {
    const doc = loadFile("rsa_signature_4096_sha512_test.json");
    expectPasses("rsa_signature_4096_sha512", runFile(doc, false, false), 7, 251, 1);
  });
});

// Parsed once, shared by both PSS runs (closures cannot capture locals, so it lives at module level).
let pssDoc: JsonValue | null = null;
function pssFile(): JsonValue {
  if (pssDoc == null) pssDoc = loadFile("rsa_pss_2048_sha256_mgf1_32_test.json");
  return pssDoc!;
}

describe("Wycheproof RSASSA-PSS", () => {
  it("rsa_pss_2048_sha256_mgf1_32_test.json (PS256, sLen 32 from the group): 63 valid accepted, 45 invalid rejected", () => {
    const doc = pssFile();
    const group = doc.get("testGroups")!.asArray()[0];
    expect(num(group.get("sLen"), "sLen")).toBe(32);
    expectPasses("rsa_pss_2048_sha256_mgf1_32", runFile(doc, true, false), 63, 45, 0);
  });

  it("rsa_pss_2048_sha384_mgf1_48_test.json (PS384, sLen 48): 95 valid accepted, 46 invalid rejected", () => {
    const doc = loadFile("rsa_pss_2048_sha384_mgf1_48_test.json");
    expect(num(doc.get("testGroups")!.asArray()[0].get("sLen"), "sLen")).toBe(48);
    expectPasses("rsa_pss_2048_sha384_mgf1_48", runFile(doc, true, false), 95, 46, 0);
  });

  it("rsa_pss_4096_sha512_mgf1_64_test.json (PS512, sLen 64): 132 valid accepted, 47 invalid rejected", () => {
    const doc = loadFile("rsa_pss_4096_sha512_mgf1_64_test.json");
    expect(num(doc.get("testGroups")!.asArray()[0].get("sLen"), "sLen")).toBe(64);
    expectPasses("rsa_pss_4096_sha512_mgf1_64", runFile(doc, true, false), 132, 47, 0);
  });

  it("recovers the salt length when given -1: valid ones still pass, and only the six re-salted ones join them", () => {
    // With the salt length free, the invalid tests that are genuine signatures with another salt length
    // ("s_len changed to 0/1/20/31/33/222") verify; every other invalid test must still be rejected.
    const o = runFile(pssFile(), true, true);
    report("rsa_pss_2048_sha256_mgf1_32 with saltLength -1", o);
    expect(o.validAccepted).toBe(63);
    expect(o.validRejected).toBe(0);
    expect(o.invalidAccepted).toBe(6);
    for (let i = 0; i < o.acceptedInvalidComments.length; i++) {
      expect(o.acceptedInvalidComments[i].startsWith("s_len changed to ")).toBe(true, o.acceptedInvalidComments[i]);
    }
  });
});
