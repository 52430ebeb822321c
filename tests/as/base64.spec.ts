import {
  base64UrlDecode, base64UrlDecodeBytes, base64UrlEncode, base64Decode, base64Encode,
} from "../../assembly/lib/base64";
import { bytesToHex } from "./helpers/hex";

function ascii(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

function asText(b: Uint8Array | null): string {
  if (b === null) return "(null)";
  return String.UTF8.decode(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

function allBytes(): Uint8Array {
  const b = new Uint8Array(256);
  for (let i = 0; i < 256; i++) b[i] = <u8>i;
  return b;
}

// Bytes of a simple generator, so round trips cover every length and many byte values.
function pseudoRandom(n: i32, seed: u32): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = x * 1103515245 + 12345;
    b[i] = <u8>(x >>> 16);
  }
  return b;
}

// Inputs a strict decoder must refuse; each labelled for the failure log.
function countAccepted(inputs: string[], url: bool): i32 {
  let accepted = 0;
  for (let i = 0; i < inputs.length; i++) {
    const r = url ? base64UrlDecode(inputs[i]) : base64Decode(inputs[i]);
    if (r !== null) {
      log((url ? "base64url" : "base64") + " accepted `" + inputs[i] + "` as " + bytesToHex(r));
      accepted++;
    }
  }
  return accepted;
}

const RFC4648: string[][] = [
  // input, base64, base64url (RFC 4648 §10, padding removed for base64url)
  ["", "", ""],
  ["f", "Zg==", "Zg"],
  ["fo", "Zm8=", "Zm8"],
  ["foo", "Zm9v", "Zm9v"],
  ["foob", "Zm9vYg==", "Zm9vYg"],
  ["fooba", "Zm9vYmE=", "Zm9vYmE"],
  ["foobar", "Zm9vYmFy", "Zm9vYmFy"],
];

const ALL_STD =
  "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJT" +
  "VFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaan" +
  "qKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7" +
  "/P3+/w==";
const ALL_URL =
  "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0-P0BBQkNERUZHSElKS0xNTk9QUVJT" +
  "VFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn-AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaan" +
  "qKmqq6ytrq-wsbKztLW2t7i5uru8vb6_wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t_g4eLj5OXm5-jp6uvs7e7v8PHy8_T19vf4-fr7" +
  "_P3-_w";

describe("base64 RFC 4648 vectors", () => {
  it("encodes and decodes the §10 test vectors in both alphabets", () => {
    for (let i = 0; i < RFC4648.length; i++) {
      const v = RFC4648[i];
      expect(base64Encode(ascii(v[0]))).toBe(v[1]);
      expect(base64UrlEncode(ascii(v[0]))).toBe(v[2]);
      expect(asText(base64Decode(v[1]))).toBe(v[0]);
      expect(asText(base64UrlDecode(v[2]))).toBe(v[0]);
    }
  });

  it("maps all 256 byte values (both alphabets differ only in 62/63 and padding)", () => {
    expect(base64Encode(allBytes())).toBe(ALL_STD);
    expect(base64UrlEncode(allBytes())).toBe(ALL_URL);
    expect(bytesToHex(base64Decode(ALL_STD)!)).toBe(bytesToHex(allBytes()));
    expect(bytesToHex(base64UrlDecode(ALL_URL)!)).toBe(bytesToHex(allBytes()));
  });

  it("round-trips every length from 0 to 200", () => {
    let bad = 0;
    for (let n = 0; n <= 200; n++) {
      const data = pseudoRandom(n, <u32>n * 7919);
      const url = base64UrlEncode(data);
      const std = base64Encode(data);
      const want = bytesToHex(data);
      const backUrl = base64UrlDecode(url);
      const backStd = base64Decode(std);
      let ok = url == std.replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "") && std.length % 4 == 0;
      if (backUrl === null || bytesToHex(backUrl) != want) ok = false;
      if (backStd === null || bytesToHex(backStd) != want) ok = false;
      if (!ok) {
        log("round trip failed at length " + n.toString());
        bad++;
      }
    }
    expect(bad).toBe(0);
  });
});

describe("base64url strictness", () => {
  it("rejects padding, the standard alphabet, whitespace and other characters", () => {
    const bad: string[] = [
      "Zg==", "Zg=", "Zm8=", "Zm9vYg==", "=", "==", // padding
      "+/8", "Zm9v+A", "Zm9v/A", // standard alphabet
      " Zm9v", "Zm9v ", "Zm 9v", "Zm9v\n", "Zm9v\r\n", "\tZm9v", // whitespace
      "Zm9v.", "Zm9v!", "Zm9v\u0000", "Zm\u00e9v", "Zm9\u0100", "Zm9\u0141", "Zm9\uff21", // others, incl. >0xff
    ];
    expect(countAccepted(bad, true)).toBe(0);
  });

  it("rejects a length of 1 mod 4", () => {
    expect(countAccepted(["Z", "Zm9vY", "Zm9vYmFyZ", "A", "AAAAA"], true)).toBe(0);
  });

  it("rejects non-zero unused trailing bits", () => {
    // "Zg" is canonical for "f"; Zh..Zv differ only in the 4 unused bits. Same for "Zm8" vs "Zm9" etc.
    expect(countAccepted(["Zh", "Zi", "Zp", "Zv", "Zm9", "Zm-", "Zm_", "AB", "AAB", "AAAAAB"], true)).toBe(0);
    expect(base64UrlDecode("Zg")).not.toBeNull();
    expect(base64UrlDecode("Zm8")).not.toBeNull();
    expect(base64UrlDecode("AA")).not.toBeNull();
    expect(base64UrlDecode("AAA")).not.toBeNull();
  });

  it("decodes the empty string to no bytes", () => {
    expect(base64UrlDecode("")!.length).toBe(0);
    expect(base64Decode("")!.length).toBe(0);
  });
});

describe("base64 (standard) strictness", () => {
  it("requires padding to a multiple of four", () => {
    expect(countAccepted(["Zg", "Zg=", "Zm8", "Zm9vYg", "Zm9vYg=", "Zg===", "Zm9vYmE"], false)).toBe(0);
  });

  it("accepts '=' only as the last one or two characters", () => {
    expect(countAccepted(["====", "Z===", "Zg==Zg==", "Zm=v", "=Zm9", "Zm9v====", "Zg=a"], false)).toBe(0);
  });

  it("rejects the url alphabet, whitespace and non-zero unused bits", () => {
    expect(countAccepted(["-_8=", "Zm9v-A==", "Zm9v_A==", "Zm9v\n", " Zg==", "Zh==", "Zm9=", "Zm\u00e9v"], false))
      .toBe(0);
  });
});

describe("base64UrlDecodeBytes", () => {
  it("decodes a segment of a compact JWS in place", () => {
    const token = ascii("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig");
    const dot1 = token.indexOf(0x2e);
    const dot2 = token.indexOf(0x2e, dot1 + 1);
    expect(dot1).toBe(20);
    expect(dot2).toBe(48);
    expect(asText(base64UrlDecodeBytes(token, 0, dot1))).toBe("{\"alg\":\"HS256\"}");
    expect(asText(base64UrlDecodeBytes(token, dot1 + 1, dot2))).toBe("{\"sub\":\"1234567890\"}");
    expect(base64UrlDecodeBytes(token, 0, dot2)).toBeNull(); // the '.' is not base64url
    expect(base64UrlDecodeBytes(token, 5, 5)!.length).toBe(0);
  });

  it("applies the same strictness as the string decoder", () => {
    const bad: string[] = ["Zg==", "Zh", "Z", "Zm9v+A", "Zm 9v", "Zm\u00e9v"];
    let accepted = 0;
    for (let i = 0; i < bad.length; i++) {
      const b = ascii(bad[i]);
      if (base64UrlDecodeBytes(b, 0, b.length) !== null) {
        log("accepted `" + bad[i] + "`");
        accepted++;
      }
    }
    expect(accepted).toBe(0);
  });

  it("returns null for a range outside the input", () => {
    const b = ascii("Zm9v");
    expect(base64UrlDecodeBytes(b, -1, 4)).toBeNull();
    expect(base64UrlDecodeBytes(b, 0, 5)).toBeNull();
    expect(base64UrlDecodeBytes(b, 3, 2)).toBeNull();
    expect(asText(base64UrlDecodeBytes(b, 0, 4))).toBe("foo");
  });
});
