import { ecdsaP256Verify, ecdsaP384Verify, ecdsaP521Verify } from "../../assembly/lib/ecdsa";
import { JsonValue, parseJson, lastJsonError } from "../../assembly/lib/json";
import { readProjectFile } from "./helpers/files";
import { hexToBytes } from "./helpers/hex";

// ES256 / ES384 / ES512 (ECDSA P-256 + SHA-256, P-384 + SHA-384, P-521 + SHA-512, IEEE P1363 r || s signatures)
// against the whole Wycheproof ecdsa_secp256r1_sha256_p1363_test.json, ecdsa_secp384r1_sha384_p1363_test.json and
// ecdsa_secp521r1_sha512_p1363_test.json.
//
// How "acceptable" Wycheproof cases are decided: by the FIPS 186-5 verification equations alone, with no
// lenient modes. The verifier takes only fixed-length big-endian x, y and r || s (the JWK / JWS forms), has no
// alternative encodings to be lenient about, and never accepts anything the equations reject. So an acceptable
// case can only come out one way (whatever the arithmetic says), and the spec asserts the decisions are uniform:
// all acceptable cases accepted or all rejected. The pinned copies of both files (C2SP commit dac1dd47) contain no
// acceptable cases at all, which is asserted too, together with the exact totals, so a changed vector file is
// noticed rather than silently testing less.
//
// Wycheproof writes wx / wy as minimal two's-complement hex: a leading 00 byte when the top bit is set, and
// fewer bytes when the coordinate is small. They are normalised to the curve's fixed size before the call.

const DIR = "../shared/testvectors/wycheproof/";

function member(obj: JsonValue, key: string): JsonValue {
  const v = obj.get(key);
  if (v == null) throw new Error("Wycheproof file: missing member " + key);
  return v;
}

function flagsOf(test: JsonValue): string {
  const flags = member(test, "flags").asArray();
  const names = new Array<string>(flags.length);
  for (let i = 0; i < flags.length; i++) names[i] = flags[i].asString();
  return names.join(",");
}

/** Big-endian bytes at exactly `size` bytes: drops leading zero bytes, then left-pads with zeros. */
function fixedSize(hex: string, size: i32): Uint8Array {
  const raw = hexToBytes(hex);
  let start = 0;
  while (start < raw.length && raw.length - start > size && raw[start] == 0) start++;
  const digits = raw.length - start;
  if (digits > size) return raw; // cannot be a coordinate of this curve; the verifier must reject its length
  const out = new Uint8Array(size);
  for (let i = 0; i < digits; i++) out[size - digits + i] = raw[start + i];
  return out;
}

class Tally {
  total: i32 = 0;
  validTotal: i32 = 0;
  validAccepted: i32 = 0;
  invalidTotal: i32 = 0;
  invalidAccepted: i32 = 0;
  acceptableTotal: i32 = 0;
  acceptableAccepted: i32 = 0;
  failures: Array<string> = new Array<string>();
}

function runFile(file: string, curve: string, sha: string, size: i32): Tally {
  const doc = parseJson(readProjectFile(DIR + file));
  if (doc == null) throw new Error("JSON parse failed for " + file + ": " + lastJsonError());
  const root = doc;
  expect<string>(member(root, "algorithm").asString()).toBe("ECDSA");
  expect<string>(member(root, "schema").asString()).toBe("ecdsa_p1363_verify_schema_v1.json");

  const tally = new Tally();
  const groups = member(root, "testGroups").asArray();
  for (let g = 0; g < groups.length; g++) {
    const group = groups[g];
    const key = member(group, "publicKey");
    expect<string>(member(key, "curve").asString()).toBe(curve);
    expect<string>(member(group, "sha").asString()).toBe(sha);
    const x = fixedSize(member(key, "wx").asString(), size);
    const y = fixedSize(member(key, "wy").asString(), size);

    const tests = member(group, "tests").asArray();
    for (let t = 0; t < tests.length; t++) {
      const test = tests[t];
      const tcId = <i32>member(test, "tcId").asNumber();
      const msg = hexToBytes(member(test, "msg").asString());
      const sig = hexToBytes(member(test, "sig").asString());
      const result = member(test, "result").asString();
      const accepted = size == 32 ? ecdsaP256Verify(x, y, msg, sig) : size == 48 ? ecdsaP384Verify(x, y, msg, sig) : ecdsaP521Verify(x, y, msg, sig);
      tally.total++;
      let wrong = false;
      if (result == "valid") {
        tally.validTotal++;
        if (accepted) tally.validAccepted++;
        else wrong = true;
      } else if (result == "invalid") {
        tally.invalidTotal++;
        if (accepted) {
          tally.invalidAccepted++;
          wrong = true;
        }
      } else if (result == "acceptable") {
        tally.acceptableTotal++;
        if (accepted) tally.acceptableAccepted++;
      } else {
        throw new Error("unknown Wycheproof result " + result);
      }
      if (wrong) {
        const line =
          "tcId " + tcId.toString() + " (" + result + ", " + flagsOf(test) + ": " + member(test, "comment").asString() +
          ") was " + (accepted ? "accepted" : "rejected");
        tally.failures.push(line);
        log<string>(file + " " + line);
      }
    }
  }
  expect<i32>(tally.total).toBe(<i32>member(root, "numberOfTests").asNumber(), "tests iterated");
  return tally;
}

function checkAcceptableUniform(tally: Tally): void {
  // All acceptable cases decided the same way (see the file comment): none accepted, or all of them.
  const uniform = tally.acceptableAccepted == 0 || tally.acceptableAccepted == tally.acceptableTotal;
  expect<bool>(uniform).toBe(true, "acceptable cases decided inconsistently");
}

describe("Wycheproof ecdsa_secp256r1_sha256_p1363_test.json (ES256)", () => {
  it("accepts all 173 valid signatures and none of the 89 invalid ones", () => {
    const tally = runFile("ecdsa_secp256r1_sha256_p1363_test.json", "secp256r1", "SHA-256", 32);
    expect<string>(tally.failures.join("\n")).toBe("", "failing tcIds");
    expect<i32>(tally.validTotal).toBe(173);
    expect<i32>(tally.validAccepted).toBe(173);
    expect<i32>(tally.invalidTotal).toBe(89);
    expect<i32>(tally.invalidAccepted).toBe(0);
    expect<i32>(tally.acceptableTotal).toBe(0);
    checkAcceptableUniform(tally);
  });
});

describe("Wycheproof ecdsa_secp384r1_sha384_p1363_test.json (ES384)", () => {
  it("accepts all 193 valid signatures and none of the 87 invalid ones", () => {
    const tally = runFile("ecdsa_secp384r1_sha384_p1363_test.json", "secp384r1", "SHA-384", 48);
    expect<string>(tally.failures.join("\n")).toBe("", "failing tcIds");
    expect<i32>(tally.validTotal).toBe(193);
    expect<i32>(tally.validAccepted).toBe(193);
    expect<i32>(tally.invalidTotal).toBe(87);
    expect<i32>(tally.invalidAccepted).toBe(0);
    expect<i32>(tally.acceptableTotal).toBe(0);
    checkAcceptableUniform(tally);
  });
});

describe("Wycheproof ecdsa_secp521r1_sha512_p1363_test.json (ES512)", () => {
  it("accepts all 231 valid signatures and none of the 87 invalid ones", () => {
    const tally = runFile("ecdsa_secp521r1_sha512_p1363_test.json", "secp521r1", "SHA-512", 66);
    expect<string>(tally.failures.join("\n")).toBe("", "failing tcIds");
    expect<i32>(tally.validTotal).toBe(231);
    expect<i32>(tally.validAccepted).toBe(231);
    expect<i32>(tally.invalidTotal).toBe(87);
    expect<i32>(tally.invalidAccepted).toBe(0);
    expect<i32>(tally.acceptableTotal).toBe(0);
    checkAcceptableUniform(tally);
  });
});

// Direct checks of the API contract around one known-good ES256 and ES384 signature (Wycheproof tcId 1 of each
// file: key, message "123400", signature).
const ES256_X = "2927b10512bae3eddcfe467828128bad2903269919f7086069c8c4df6c732838";
const ES256_Y = "c7787964eaac00e5921fb1498a60f4606766b3d9685001558d1a974e7341513e";
const ES256_SIG =
  "2ba3a8be6b94d5ec80a6d9d1190a436effe50d85a1eee859b8cc6af9bd5c2e184cd60b855d442f5b3c7b11eb6c4e0ae7525fe710fab9aa7c77a67f79e6fadd76";
const MSG = "313233343030";

describe("ecdsaP256Verify contract", () => {
  it("accepts the reference signature and rejects any change to key, message or signature", () => {
    const x = hexToBytes(ES256_X), y = hexToBytes(ES256_Y), msg = hexToBytes(MSG), sig = hexToBytes(ES256_SIG);
    expect<bool>(ecdsaP256Verify(x, y, msg, sig)).toBe(true);
    for (let i = 0; i < 64; i += 7) {
      const bad = hexToBytes(ES256_SIG);
      bad[i] ^= 0x01;
      expect<bool>(ecdsaP256Verify(x, y, msg, bad)).toBe(false, "signature byte " + i.toString());
    }
    const badMsg = hexToBytes(MSG);
    badMsg[0] ^= 0x80;
    expect<bool>(ecdsaP256Verify(x, y, badMsg, sig)).toBe(false);
    const badY = hexToBytes(ES256_Y);
    badY[31] ^= 0x02; // no longer on the curve
    expect<bool>(ecdsaP256Verify(x, badY, msg, sig)).toBe(false);
  });

  it("requires exact lengths: 32-byte coordinates and a 64-byte r || s", () => {
    const x = hexToBytes(ES256_X), y = hexToBytes(ES256_Y), msg = hexToBytes(MSG), sig = hexToBytes(ES256_SIG);
    expect<bool>(ecdsaP256Verify(hexToBytes("00" + ES256_X), y, msg, sig)).toBe(false);
    expect<bool>(ecdsaP256Verify(x, y.subarray(1), msg, sig)).toBe(false);
    expect<bool>(ecdsaP256Verify(x, y, msg, sig.subarray(0, 63))).toBe(false);
    expect<bool>(ecdsaP256Verify(x, y, msg, hexToBytes(ES256_SIG + "00"))).toBe(false);
    expect<bool>(ecdsaP256Verify(x, y, msg, new Uint8Array(0))).toBe(false);
    // the same key and signature in a P-384 call have the wrong sizes
    expect<bool>(ecdsaP384Verify(x, y, msg, sig)).toBe(false);
  });

  it("rejects r or s of 0 or n, and keys at (0, 0) or with a coordinate >= p", () => {
    const x = hexToBytes(ES256_X), y = hexToBytes(ES256_Y), msg = hexToBytes(MSG);
    const n = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    const p = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";
    const r = ES256_SIG.substring(0, 64), s = ES256_SIG.substring(64);
    const zero = "0000000000000000000000000000000000000000000000000000000000000000";
    expect<bool>(ecdsaP256Verify(x, y, msg, hexToBytes(zero + s))).toBe(false);
    expect<bool>(ecdsaP256Verify(x, y, msg, hexToBytes(r + zero))).toBe(false);
    expect<bool>(ecdsaP256Verify(x, y, msg, hexToBytes(n + s))).toBe(false);
    expect<bool>(ecdsaP256Verify(x, y, msg, hexToBytes(r + n))).toBe(false);
    const sig = hexToBytes(ES256_SIG);
    expect<bool>(ecdsaP256Verify(hexToBytes(zero), hexToBytes(zero), msg, sig)).toBe(false);
    expect<bool>(ecdsaP256Verify(hexToBytes(p), y, msg, sig)).toBe(false);
    expect<bool>(ecdsaP256Verify(x, hexToBytes(p), msg, sig)).toBe(false);
  });

  it("rejects a coordinate given as y + p (same value mod p, but not canonical)", () => {
    // Wycheproof tcId 247: its key has a small y, so y + p still fits in 32 bytes.
    const x = hexToBytes("bcbb2914c79f045eaa6ecbbc612816b3be5d2d6796707d8125e9f851c18af015");
    const y = "000000001352bb4a0fa2ea4cceb9ab63dd684ade5a1127bcf300a698a7193bc2";
    const yPlusP = "ffffffff1352bb4b0fa2ea4cceb9ab63dd684adf5a1127bcf300a698a7193bc1";
    const msg = hexToBytes("4d657373616765");
    const sig = hexToBytes(
      "31230428405560dcb88fb5a646836aea9b23a23dd973dcbe8014c87b8b20eb070f9344d6e812ce166646747694a41b0aaf97374e19f3c5fb8bd7ae3d9bd0beff",
    );
    expect<bool>(ecdsaP256Verify(x, hexToBytes(y), msg, sig)).toBe(true);
    expect<bool>(ecdsaP256Verify(x, hexToBytes(yPlusP), msg, sig)).toBe(false);
  });
});

// ES512 around Wycheproof tcId 1 of the P-521 file: 66-byte coordinates (the top byte holds one bit at most) and a
// 132-byte r || s, exactly.
const ES512_X =
  "5c6457ec088d532f482093965ae53ccd07e556ed59e2af945cd8c7a95c1c644f8a56a8a8a3cd77392ddd861e8a924dac99c69069093bd52a52fa6c56004a074508";
const ES512_Y =
  "7878d6d42e4b4dd1e9c0696cb3e19f63033c3db4e60d473259b3ebe079aaf0a986ee6177f8217a78c68b813f7e149a4e56fd9562c07fed3d895942d7d101cb83f6";
const ES512_SIG =
  "004e4223ee43e8cb89de3b1339ffc279e582f82c7ab0f71bbde43dbe374ac75ffbef29acdf8e70750b9a04f66fda48351de7bbfd515720b0ec5cd736f9b73bdf864501d74a2f6d95be8d4cb64f02d16d6b785a1246b4ebd206dc596818bb953253245f5a27a24a1aae1e218fdccd8cd7d4990b666d4bf4902b84fdad123f941fe906d948";

describe("ecdsaP521Verify contract", () => {
  it("accepts the reference signature and rejects a changed signature, message or key", () => {
    const x = fixedSize(ES512_X, 66), y = fixedSize(ES512_Y, 66), msg = hexToBytes(MSG), sig = hexToBytes(ES512_SIG);
    expect<bool>(ecdsaP521Verify(x, y, msg, sig)).toBe(true);
    for (let i = 1; i < 132; i += 13) {
      const bad = hexToBytes(ES512_SIG);
      bad[i] ^= 0x01;
      expect<bool>(ecdsaP521Verify(x, y, msg, bad)).toBe(false, "signature byte " + i.toString());
    }
    const badMsg = hexToBytes(MSG);
    badMsg[0] ^= 0x80;
    expect<bool>(ecdsaP521Verify(x, y, badMsg, sig)).toBe(false);
    const badY = fixedSize(ES512_Y, 66);
    badY[65] ^= 0x02; // no longer on the curve
    expect<bool>(ecdsaP521Verify(x, badY, msg, sig)).toBe(false);
  });

  it("requires exact lengths: 66-byte coordinates and a 132-byte r || s", () => {
    const x = fixedSize(ES512_X, 66), y = fixedSize(ES512_Y, 66), msg = hexToBytes(MSG), sig = hexToBytes(ES512_SIG);
    expect<bool>(ecdsaP521Verify(fixedSize(ES512_X, 68), y, msg, sig)).toBe(false);
    expect<bool>(ecdsaP521Verify(x, y.subarray(1), msg, sig)).toBe(false);
    expect<bool>(ecdsaP521Verify(x, y, msg, sig.subarray(0, 131))).toBe(false);
    expect<bool>(ecdsaP521Verify(x, y, msg, hexToBytes("00" + ES512_SIG.substring(0, 132) + "00" + ES512_SIG.substring(132)))).toBe(false);
    expect<bool>(ecdsaP521Verify(x, y, msg, new Uint8Array(0))).toBe(false);
  });

  it("rejects a coordinate of 2^521 - 1 (p itself) and r = 0", () => {
    const x = fixedSize(ES512_X, 66), y = fixedSize(ES512_Y, 66), msg = hexToBytes(MSG);
    const p = "01" + "ff".repeat(65);
    expect<bool>(ecdsaP521Verify(hexToBytes(p), y, msg, hexToBytes(ES512_SIG))).toBe(false);
    expect<bool>(ecdsaP521Verify(x, hexToBytes(p), msg, hexToBytes(ES512_SIG))).toBe(false);
    expect<bool>(ecdsaP521Verify(x, y, msg, hexToBytes("00".repeat(66) + ES512_SIG.substring(132)))).toBe(false);
  });
});
