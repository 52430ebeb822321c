import { hmac, hmacVerify, constantTimeEqual } from "../../assembly/lib/hmac";
import { HashAlg } from "../../assembly/lib/sha2";
import { parseJson, lastJsonError } from "../../assembly/lib/json";
import { readProjectFile } from "./helpers/files";
import { bytesToHex, hexToBytes } from "./helpers/hex";

// Outcome of running one Wycheproof MAC file.
class MacRun {
  total: i32 = 0;
  declared: i32 = -1; // numberOfTests from the file
  valid: i32 = 0;
  validAccepted: i32 = 0;
  invalid: i32 = 0;
  invalidAccepted: i32 = 0;
  acceptable: i32 = 0;
  failures: string[] = []; // tcIds decided against their expected result
}

// Wycheproof tags may be truncated: `tagSize` (bits) says how many leading bytes of the full HMAC the test
// carries. A tag is accepted iff it has exactly tagSize/8 bytes and equals that prefix of our full tag.
// These files have no `acceptable` tests; if one appeared it would be decided by the same rule (the tag either
// is or is not the correct prefix) and counted separately, and the assertions below would flag the change.
function runMacFile(file: string, alg: HashAlg): MacRun {
  const run = new MacRun();
  const doc = parseJson(readProjectFile("../shared/testvectors/wycheproof/" + file));
  if (doc === null) {
    run.failures.push("unparseable file: " + lastJsonError());
    return run;
  }
  run.declared = <i32>doc.get("numberOfTests")!.asNumber();
  const groups = doc.get("testGroups")!.asArray();
  for (let g = 0; g < groups.length; g++) {
    const group = groups[g];
    const tagBytes = <i32>group.get("tagSize")!.asNumber() / 8;
    const tests = group.get("tests")!.asArray();
    for (let t = 0; t < tests.length; t++) {
      const test = tests[t];
      const tcId = <i32>test.get("tcId")!.asNumber();
      const key = hexToBytes(test.get("key")!.asString());
      const msg = hexToBytes(test.get("msg")!.asString());
      const tag = hexToBytes(test.get("tag")!.asString());
      const result = test.get("result")!.asString();
      const full = hmac(alg, key, msg);
      const accepted = tag.length == tagBytes && tagBytes <= full.length &&
        constantTimeEqual(full.subarray(0, tagBytes), tag);
      run.total++;
      if (result == "valid") {
        run.valid++;
        if (accepted) run.validAccepted++;
        else run.failures.push("tcId " + tcId.toString() + " (valid) rejected");
      } else if (result == "invalid") {
        run.invalid++;
        if (accepted) {
          run.invalidAccepted++;
          run.failures.push("tcId " + tcId.toString() + " (invalid) accepted");
        }
      } else {
        run.acceptable++;
      }
    }
  }
  return run;
}

function check(file: string, alg: HashAlg): void {
  const run = runMacFile(file, alg);
  for (let i = 0; i < run.failures.length; i++) log(file + ": " + run.failures[i]);
  expect(run.failures.length).toBe(0);
  expect(run.total).toBe(run.declared); // the whole file was iterated
  expect(run.total).toBe(174);
  expect(run.valid).toBe(66);
  expect(run.validAccepted).toBe(66); // all 66 valid accepted
  expect(run.invalid).toBe(108);
  expect(run.invalidAccepted).toBe(0); // 0 of 108 invalid accepted
  expect(run.acceptable).toBe(0);
}

describe("HMAC against Wycheproof", () => {
  it("hmac_sha256_test.json: 66/66 valid accepted, 0/108 invalid accepted", () => {
    check("hmac_sha256_test.json", HashAlg.SHA256);
  });
  it("hmac_sha384_test.json: 66/66 valid accepted, 0/108 invalid accepted", () => {
    check("hmac_sha384_test.json", HashAlg.SHA384);
  });
  it("hmac_sha512_test.json: 66/66 valid accepted, 0/108 invalid accepted", () => {
    check("hmac_sha512_test.json", HashAlg.SHA512);
  });
});

function ascii(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

function repeatHex(byteHex: string, n: i32): Uint8Array {
  return hexToBytes(byteHex.repeat(n));
}

// RFC 4231 test cases 1-7 (case 5 is checked truncated to 128 bits as in the RFC). Cases 6 and 7 use a
// 131-byte key, longer than every block size, so the key is hashed first for all three algorithms.
describe("HMAC RFC 4231", () => {
  it("case 1", () => {
    const key = repeatHex("0b", 20);
    const msg = ascii("Hi There");
    expect(bytesToHex(hmac(HashAlg.SHA256, key, msg))).toBe(
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    expect(bytesToHex(hmac(HashAlg.SHA384, key, msg))).toBe(
      "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6");
    expect(bytesToHex(hmac(HashAlg.SHA512, key, msg))).toBe(
      "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde" +
      "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");
  });
  it("case 2 (short key)", () => {
    const key = ascii("Jefe");
    const msg = ascii("what do ya want for nothing?");
    expect(bytesToHex(hmac(HashAlg.SHA256, key, msg))).toBe(
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    expect(bytesToHex(hmac(HashAlg.SHA384, key, msg))).toBe(
      "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649");
    expect(bytesToHex(hmac(HashAlg.SHA512, key, msg))).toBe(
      "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554" +
      "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
  });
  it("cases 3 and 4", () => {
    const key3 = repeatHex("aa", 20);
    const msg3 = repeatHex("dd", 50);
    expect(bytesToHex(hmac(HashAlg.SHA256, key3, msg3))).toBe(
      "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    const key4 = hexToBytes("0102030405060708090a0b0c0d0e0f10111213141516171819");
    const msg4 = repeatHex("cd", 50);
    expect(bytesToHex(hmac(HashAlg.SHA384, key4, msg4))).toBe(
      "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb");
    expect(bytesToHex(hmac(HashAlg.SHA512, key4, msg4))).toBe(
      "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db" +
      "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd");
  });
  it("case 5 (truncated to 128 bits)", () => {
    const key = repeatHex("0c", 20);
    const msg = ascii("Test With Truncation");
    expect(bytesToHex(hmac(HashAlg.SHA256, key, msg).subarray(0, 16))).toBe("a3b6167473100ee06e0c796c2955552b");
    expect(bytesToHex(hmac(HashAlg.SHA384, key, msg).subarray(0, 16))).toBe("3abf34c3503b2a23a46efc619baef897");
    expect(bytesToHex(hmac(HashAlg.SHA512, key, msg).subarray(0, 16))).toBe("415fad6271580a531d4179bc891d87a6");
  });
  it("cases 6 and 7 (131-byte key, hashed first)", () => {
    const key = repeatHex("aa", 131);
    const msg6 = ascii("Test Using Larger Than Block-Size Key - Hash Key First");
    const msg7 = ascii("This is a test using a larger than block-size key and a larger than block-size data. " +
      "The key needs to be hashed before being used by the HMAC algorithm.");
    expect(bytesToHex(hmac(HashAlg.SHA256, key, msg6))).toBe(
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    expect(bytesToHex(hmac(HashAlg.SHA384, key, msg6))).toBe(
      "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952");
    expect(bytesToHex(hmac(HashAlg.SHA512, key, msg6))).toBe(
      "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352" +
      "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598");
    expect(bytesToHex(hmac(HashAlg.SHA256, key, msg7))).toBe(
      "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
    expect(bytesToHex(hmac(HashAlg.SHA384, key, msg7))).toBe(
      "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e");
    expect(bytesToHex(hmac(HashAlg.SHA512, key, msg7))).toBe(
      "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944" +
      "b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58");
  });
});

describe("hmacVerify and constantTimeEqual", () => {
  it("accepts only the exact full tag", () => {
    const key = ascii("Jefe");
    const msg = ascii("what do ya want for nothing?");
    const tag = hexToBytes("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    expect(hmacVerify(HashAlg.SHA256, key, msg, tag)).toBe(true);
    expect(hmacVerify(HashAlg.SHA256, key, msg, tag.subarray(0, 16))).toBe(false); // truncated
    expect(hmacVerify(HashAlg.SHA384, key, msg, tag)).toBe(false); // other algorithm
    let flipsAccepted = 0;
    for (let i = 0; i < tag.length * 8; i++) {
      const t = tag.slice(0);
      const bit: i32 = 1 << (i & 7);
      t[i >> 3] = t[i >> 3] ^ <u8>bit;
      if (hmacVerify(HashAlg.SHA256, key, msg, t)) flipsAccepted++;
    }
    expect(flipsAccepted).toBe(0);
  });
  it("compares bytes and lengths", () => {
    expect(constantTimeEqual(hexToBytes(""), hexToBytes(""))).toBe(true);
    expect(constantTimeEqual(hexToBytes("0102"), hexToBytes("0102"))).toBe(true);
    expect(constantTimeEqual(hexToBytes("0102"), hexToBytes("0103"))).toBe(false);
    expect(constantTimeEqual(hexToBytes("8002"), hexToBytes("0002"))).toBe(false);
    expect(constantTimeEqual(hexToBytes("0102"), hexToBytes("010200"))).toBe(false);
  });
  it("gives the same tag for the same input across calls (scratch is reset)", () => {
    const key = repeatHex("aa", 131);
    const a = bytesToHex(hmac(HashAlg.SHA512, key, ascii("x")));
    hmac(HashAlg.SHA512, ascii("other"), ascii("y"));
    hmac(HashAlg.SHA256, key, ascii("z"));
    expect(bytesToHex(hmac(HashAlg.SHA512, key, ascii("x")))).toBe(a);
  });
});
