import { parseJson, parseJsonString, lastJsonError, JsonValue, JsonKind } from "../../assembly/lib/json";
import { readProjectFile } from "./helpers/files";
import { hexToBytes } from "./helpers/hex";

function parse(s: string): JsonValue | null {
  return parseJsonString(s);
}

// Parses `s` expecting failure; returns the error message, or "(accepted)" so the failing input shows up.
function errorOf(s: string, maxDepth: i32 = 64): string {
  const v = parseJsonString(s, maxDepth);
  if (v !== null) return "(accepted)";
  return lastJsonError();
}

// Same for raw bytes given in hex (for invalid UTF-8).
function errorOfBytes(hex: string): string {
  const v = parseJson(hexToBytes(hex));
  if (v !== null) return "(accepted)";
  return lastJsonError();
}

function numberBits(s: string): string {
  const v = parse(s);
  if (v === null) return "(rejected: " + lastJsonError() + ")";
  if (!v.isNumber()) return "(not a number)";
  return reinterpret<u64>(v.asNumber()).toString(16);
}

// as-pect's toContain is for arrays; this checks a substring and shows the actual text when it is missing.
function expectContains(actual: string, fragment: string): void {
  if (!actual.includes(fragment)) log("\"" + actual + "\" does not contain \"" + fragment + "\"");
  expect(actual.includes(fragment)).toBe(true);
}

function repeat(s: string, n: i32): string {
  return s.repeat(n);
}

// Documents RFC 8259 rejects, each paired with a fragment its error message must contain.
const INVALID: string[][] = [
  ["", "unexpected end of input"],
  ["   ", "unexpected end of input"],
  ["[1,]", "at byte 3"],
  ["[1,2,,3]", "expected a value"],
  ["{\"a\":1,}", "expected a string member name"],
  ["{,}", "expected a string member name"],
  ["[,1]", "unexpected ','"],
  ["01", "leading zero"],
  ["-01", "leading zero"],
  ["00", "leading zero"],
  ["1.", "expected a digit after '.'"],
  [".5", "unexpected '.'"],
  ["+1", "unexpected '+'"],
  ["-", "expected a digit"],
  ["1e", "expected a digit in number exponent"],
  ["1e+", "expected a digit in number exponent"],
  ["0x10", "unexpected 'x'"],
  ["1.5.3", "unexpected '.'"],
  ["NaN", "unexpected 'N'"],
  ["Infinity", "unexpected 'I'"],
  ["-Infinity", "expected a digit"],
  ["'a'", "unexpected '''"],
  ["{'a':1}", "expected a string member name"],
  ["{a:1}", "expected a string member name"],
  ["[1] // c", "unexpected '/'"],
  ["/* c */ 1", "unexpected '/'"],
  ["[1 2]", "expected ',' or ']'"],
  ["{\"a\" 1}", "expected ':'"],
  ["{\"a\":1 \"b\":2}", "expected ',' or '}'"],
  ["[1", "unterminated array"],
  ["{\"a\":1", "unterminated object"],
  ["{\"a\"", "expected ':'"],
  ["{", "unterminated object"],
  ["[", "unexpected end of input"],
  ["]", "unexpected ']'"],
  ["\"abc", "unterminated string"],
  ["\"a\tb\"", "control character byte 0x09"],
  ["\"a\nb\"", "control character"],
  ["\"\\x\"", "invalid escape \\x"],
  ["\"\\'\"", "invalid escape"],
  ["\"\\u12\"", "invalid \\u escape"],
  ["\"\\u12G4\"", "invalid \\u escape"],
  ["\"\\ud800\"", "lone high surrogate"],
  ["\"\\ud800x\"", "lone high surrogate"],
  ["\"\\ud800\\u0041\"", "lone high surrogate"],
  ["\"\\ud800\\ud800\"", "lone high surrogate"],
  ["\"\\udc00\"", "lone low surrogate"],
  ["\"\\udfff\\ud800\"", "lone low surrogate"],
  ["tru", "unexpected 't'"],
  ["truex", "after the JSON value"],
  ["nul", "unexpected 'n'"],
  ["True", "unexpected 'T'"],
  ["1 2", "unexpected '2' after the JSON value"],
  ["{} {}", "after the JSON value"],
  ["[]]", "unexpected ']' after the JSON value"],
  ["\u00a01", "unexpected byte 0xc2"],
  ["\f1", "unexpected byte 0x0c"],
];

// Invalid UTF-8 inside strings, as hex bytes of the whole document (22 = quote).
const BAD_UTF8: string[] = [
  "2280 22", // stray continuation byte
  "22c0af22", // overlong '/'
  "22c1bf22", // overlong
  "22e08080 22", // overlong 3-byte
  "22e09f bf22", // overlong 3-byte (U+07FF)
  "22eda08022", // encoded surrogate U+D800
  "22edbfbf22", // encoded surrogate U+DFFF
  "22f0808080 22", // overlong 4-byte
  "22f08fbfbf22", // overlong 4-byte (U+FFFF)
  "22f4908080 22", // U+110000
  "22f5808080 22", // lead byte beyond U+10FFFF
  "22ff22", // never valid
  "22e282 22", // truncated 3-byte
  "22e2 22", // truncated
  "22c3", // truncated at end of input
  "22f09f98 22", // truncated 4-byte
];

describe("parseJson: valid documents", () => {
  it("parses scalars at the top level", () => {
    expect(parse("null")!.isNull()).toBe(true);
    expect(parse("true")!.asBool()).toBe(true);
    expect(parse("false")!.isBool()).toBe(true);
    expect(parse("false")!.asBool()).toBe(false);
    expect(parse("0")!.asNumber()).toBe(0);
    expect(parse(" -12.5e1 ")!.asNumber()).toBe(-125);
    expect(parse("\"x\"")!.asString()).toBe("x");
    expect(parse("\"\"")!.asString()).toBe("");
  });

  it("parses nested structures and keeps member order", () => {
    const v = parse("{\"a\": [1, {\"b\": [true, null, \"s\"]}, []], \"c\": {}, \"d\": -0.5}")!;
    expect(v.kind).toBe(JsonKind.Object);
    expect(v.keys().join(",")).toBe("a,c,d");
    const a = v.get("a")!.asArray();
    expect(a.length).toBe(3);
    expect(a[0].asNumber()).toBe(1);
    const b = a[1].get("b")!.asArray();
    expect(b[0].asBool()).toBe(true);
    expect(b[1].isNull()).toBe(true);
    expect(b[2].asString()).toBe("s");
    expect(a[2].asArray().length).toBe(0);
    expect(v.get("c")!.isObject()).toBe(true);
    expect(v.get("c")!.keys().length).toBe(0);
    expect(v.get("d")!.asNumber()).toBe(-0.5);
    expect(v.get("missing")).toBeNull();
    expect(v.values().length).toBe(3);
  });

  it("accepts all four whitespace characters anywhere between tokens", () => {
    const v = parse(" \t\r\n{ \t\r\n\"k\" \t\r\n: \t\r\n[ \t\r\n1 \t\r\n, \t\r\n2 \t\r\n] \t\r\n} \t\r\n")!;
    expect(v.get("k")!.asArray().length).toBe(2);
  });

  it("decodes every escape", () => {
    expect(parse("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"")!.asString()).toBe("\" \\ / \b \f \n \r \t");
    expect(parse("\"\\u0041\\u00e9\\u20AC\\u0000\"")!.asString()).toBe("A\u00e9\u20ac\u0000");
  });

  it("decodes surrogate-pair escapes and raw UTF-8 of every length", () => {
    const v = parse("[\"\\ud83d\\ude00\", \"\\uD834\\uDD1E\", \"\u00e9\u20ac\ud83d\ude00\", \"a\u07ffb\uffffc\udbff\udfff\"]")!;
    const a = v.asArray();
    expect(a[0].asString()).toBe("\ud83d\ude00");
    expect(a[0].asString().length).toBe(2);
    expect(a[1].asString()).toBe("\ud834\udd1e");
    expect(a[2].asString()).toBe("\u00e9\u20ac\ud83d\ude00");
    expect(a[3].asString()).toBe("a\u07ffb\uffffc\udbff\udfff");
  });

  it("mixes escapes and raw UTF-8 in one string", () => {
    expect(parse("\"\u00e9\\n\\u00e9x\u20ac\\\"\"")!.asString()).toBe("\u00e9\n\u00e9x\u20ac\"");
  });

  it("parses raw bytes with valid multi-byte UTF-8 boundaries", () => {
    // U+0080, U+07FF, U+0800, U+FFFD, U+10000, U+10FFFF
    const v = parseJson(hexToBytes("22c280dfbfe0a080efbfbdf0908080f48fbfbf22"));
    expect(v).not.toBeNull();
    expect(v!.asString()).toBe("\u0080\u07ff\u0800\ufffd\ud800\udc00\udbff\udfff");
  });

  it("parses numbers with exponents and keeps integers exact up to 2^53", () => {
    expect(parse("1e3")!.asNumber()).toBe(1000);
    expect(parse("1E+3")!.asNumber()).toBe(1000);
    expect(parse("1e-3")!.asNumber()).toBe(0.001);
    expect(parse("-0.5e-2")!.asNumber()).toBe(-0.005);
    expect(parse("0e10")!.asNumber()).toBe(0);
    expect(parse("1700000000")!.asNumber()).toBe(1700000000);
    expect(parse("9007199254740991")!.asNumber()).toBe(9007199254740991);
    expect(parse("-9007199254740991")!.asNumber()).toBe(-9007199254740991);
    expect(parse("1700000000")!.isInteger()).toBe(true);
    expect(parse("1.0")!.isInteger()).toBe(true);
    expect(parse("1.5e1")!.isInteger()).toBe(true);
    expect(parse("1.5")!.isInteger()).toBe(false);
    expect(parse("1e400")!.isInteger()).toBe(false);
    expect(parse("\"1\"")!.isInteger()).toBe(false);
  });

  it("keeps the sign of zero", () => {
    expect(1 / parse("-0")!.asNumber()).toBe(-Infinity);
    expect(1 / parse("0")!.asNumber()).toBe(Infinity);
  });

  it("rounds every number exactly like JSON.parse (bit patterns)", () => {
    // Expected bits computed with JavaScript's JSON.parse. Covers the fast path, more than 19 digits, ties to
    // even, subnormals, the overflow boundary and digit strings longer than the 800 kept digits.
    const cases: string[][] = [
      ["0.1", "3fb999999999999a"],
      ["0.000001", "3eb0c6f7a0b5ed8d"],
      ["1.5e-30", "39be6c71fe61a3ef"],
      ["1e23", "44b52d02c7e14af6"],
      ["18446744073709551615", "43f0000000000000"],
      ["123456789012345678901234567890", "45f8ee90ff6c373e"],
      ["3.141592653589793238462643383279", "400921fb54442d18"],
      ["9007199254740993", "4340000000000000"], // tie, rounds down to even
      ["9007199254740995", "4340000000000002"], // tie, rounds up to even
      ["72057594037927945", "4370000000000001"],
      ["6.48204399043182979746837e53", "4b1b11fdca79519e"],
      ["7.544062432009263146287576e55", "4b889d184e9f7385"],
      ["3.42005488518e43", "48f889a6142d0e62"],
      ["2.2250738585072011e-308", "fffffffffffff"], // largest subnormal
      ["3.2485e-309", "255ff03a9497f"],
      ["4.9406564584124654e-324", "1"],
      ["2.4703282292062328e-324", "1"], // just above half the smallest subnormal
      ["2.4703282292062327e-324", "0"], // just below
      ["1.7976931348623158079e308", "7fefffffffffffff"],
      ["1.797693134862315807937289714053e308", "7fefffffffffffff"],
      ["1.7976931348623159e308", "7ff0000000000000"], // past the halfway point to 2^1024
      ["1E400", "7ff0000000000000"],
      ["-1e400", "fff0000000000000"],
      ["1e-400", "0"],
      ["-0.0e5", "8000000000000000"],
    ];
    let bad = 0;
    for (let i = 0; i < cases.length; i++) {
      const got = numberBits(cases[i][0]);
      if (got != cases[i][1]) {
        log("number " + cases[i][0] + ": got " + got + ", want " + cases[i][1]);
        bad++;
      }
    }
    expect(bad).toBe(0);
  });

  it("rounds very long digit strings exactly", () => {
    // 2^53 + 1 followed by zeros: a tie only if nothing non-zero follows past the 800 kept digits.
    expect(numberBits("9007199254740993" + repeat("0", 800) + "e-800")).toBe("4340000000000000");
    expect(numberBits("9007199254740993" + repeat("0", 800) + "1e-801")).toBe("4340000000000001");
    expect(numberBits("0." + repeat("0", 5000) + "1e5001")).toBe("3ff0000000000000");
    // Exactly half the smallest subnormal, 2^-1075 = 5^1075 · 10^-1075: ties to even, i.e. to 0.
    const half =
      "2470328229206232720882843964341106861825299013071623822127928412503377536351043759326499181808179961" +
      "8989828234772285886546332835517796989819938739800539093906315035659515570226392290858392449105184435" +
      "9318028499365361525003193704576782492193656236698636584807570015857692699037063119282795585513329278" +
      "3433840935197801553124659726357957462276646527282722005637400648549997709659947045402082816622623785" +
      "7393450736339007967761930577506740176324673600968951340535537458516661134223766678604162159680461914" +
      "4672918403005300575308490487653917113865916462395249126236538818796362393732804238910186723484976682" +
      "3508986338858792562830275599565752445550725518931369083625477918694866799496832404970582102851318545" +
      "1396213837722826145437693412532098591327667236328125";
    expect(numberBits(half + "e-1075")).toBe("0");
    expect(numberBits(half + "1e-1076")).toBe("1"); // a hair above: rounds up
  });

  it("keeps duplicate member names, returns the last from get() and reports them", () => {
    const v = parse("{\"a\":1,\"b\":2,\"a\":3}")!;
    expect(v.get("a")!.asNumber()).toBe(3);
    expect(v.hasDuplicateKeys()).toBe(true);
    expect(v.keys().length).toBe(3);
    expect(parse("{\"a\":1,\"b\":2}")!.hasDuplicateKeys()).toBe(false);
    expect(parse("[1,1]")!.hasDuplicateKeys()).toBe(false);
  });

  it("looks up members of large objects through the index, last duplicate winning", () => {
    let doc = "{";
    for (let i = 0; i < 40; i++) doc += (i > 0 ? "," : "") + "\"k" + i.toString() + "\":" + i.toString();
    const unique = parse(doc + "}")!;
    expect(unique.hasDuplicateKeys()).toBe(false);
    let misses = 0;
    for (let i = 0; i < 40; i++) if (unique.get("k" + i.toString())!.asNumber() != <f64>i) misses++;
    expect(misses).toBe(0);
    expect(unique.get("k40")).toBeNull();
    const dup = parse(doc + ",\"k7\":\"last\"}")!;
    expect(dup.get("k7")!.asString()).toBe("last");
    expect(dup.hasDuplicateKeys()).toBe(true);
  });

  it("compares member names exactly (escaped and raw forms are the same name)", () => {
    const v = parse("{\"\\u0061lg\":\"x\",\"k\u00e9y\":1}")!;
    expect(v.get("alg")!.asString()).toBe("x");
    expect(v.get("k\u00e9y")!.asNumber()).toBe(1);
    expect(v.get("ALG")).toBeNull();
  });

  it("returns neutral values from accessors of the wrong kind", () => {
    const s = parse("\"x\"")!;
    expect(s.asBool()).toBe(false);
    expect(isNaN(s.asNumber())).toBe(true);
    expect(s.asArray().length).toBe(0);
    expect(s.get("x")).toBeNull();
    expect(s.keys().length).toBe(0);
    expect(parse("1")!.asString()).toBe("");
  });

  it("clears the error message after a success", () => {
    expect(parse("[")).toBeNull();
    expect(lastJsonError()).not.toBe("");
    expect(parse("[]")).not.toBeNull();
    expect(lastJsonError()).toBe("");
  });
});

describe("parseJson: rejects what RFC 8259 rejects", () => {
  it("rejects malformed documents with a message and byte offset", () => {
    let bad = 0;
    for (let i = 0; i < INVALID.length; i++) {
      const err = errorOf(INVALID[i][0]);
      if (!err.includes(INVALID[i][1]) || !err.includes(" at byte ")) {
        log("input " + JSON_quote(INVALID[i][0]) + ": got \"" + err + "\", want it to contain \"" + INVALID[i][1] + "\"");
        bad++;
      }
    }
    expect(bad).toBe(0);
  });

  it("reports the offset of the offending byte", () => {
    expect(errorOf("[1,]")).toBe("unexpected ']', expected a value at byte 3");
    expect(errorOf("{\"a\":01}")).toBe("leading zero in number at byte 6");
    expect(errorOf("[\"ok\", \"\\q\"]")).toBe("invalid escape \\q at byte 8");
    expect(errorOf("[1] x")).toBe("unexpected 'x' after the JSON value at byte 4");
  });

  it("rejects invalid UTF-8 in strings", () => {
    let bad = 0;
    for (let i = 0; i < BAD_UTF8.length; i++) {
      const err = errorOfBytes(BAD_UTF8[i].replaceAll(" ", ""));
      if (!err.includes("invalid UTF-8") && !err.includes("unterminated string")) {
        log("bytes " + BAD_UTF8[i] + ": got \"" + err + "\"");
        bad++;
      }
    }
    expect(bad).toBe(0);
    expect(errorOfBytes("22eda08022")).toBe("invalid UTF-8 in string at byte 1");
  });

  it("rejects lone surrogates in a string argument (they cannot be UTF-8 encoded)", () => {
    expectContains(errorOf("\"\ud800\""), "invalid UTF-8");
  });

  it("rejects a byte order mark and non-ASCII outside strings", () => {
    expect(errorOfBytes("efbbbf7b7d")).toBe("byte order mark is not allowed at byte 0");
    expectContains(errorOfBytes("5bc2a05d"), "unexpected byte 0xc2");
  });

  it("rejects a NUL byte anywhere", () => {
    expectContains(errorOfBytes("2261002222"), "control character byte 0x00");
    expectContains(errorOfBytes("5b315d00"), "after the JSON value");
  });
});

describe("parseJson: depth limit", () => {
  it("counts every array and object, empty ones included", () => {
    expect(parseJsonString("[[[1]]]", 3)).not.toBeNull();
    expect(errorOf("[[[[1]]]]", 3)).toBe("nesting deeper than 3 levels at byte 3");
    expect(parseJsonString("{\"a\":{\"b\":{}}}", 3)).not.toBeNull();
    expectContains(errorOf("{\"a\":{\"b\":{\"c\":[]}}}", 3), "nesting deeper than 3 levels");
    expect(parseJsonString("1", 0)).not.toBeNull();
    expectContains(errorOf("[]", 0), "nesting deeper than 0 levels");
  });

  it("allows exactly 64 levels by default", () => {
    expect(parse(repeat("[", 64) + repeat("]", 64))).not.toBeNull();
    expectContains(errorOf(repeat("[", 65) + repeat("]", 65)), "nesting deeper than 64 levels");
  });

  it("handles very deep documents without recursion", () => {
    const v = parseJsonString(repeat("[", 100000) + "7" + repeat("]", 100000), 200000);
    expect(v === null).toBe(false); // (not passed to expect: as-pect would reflect all 100000 levels)
    let x = v!;
    let depth = 0;
    while (x.isArray()) {
      x = x.asArray()[0];
      depth++;
    }
    expect(depth).toBe(100000);
    expect(x.asNumber()).toBe(7);
  });
});

// Every Wycheproof file is a large real-world document: parse each and check its declared test count.
const VECTOR_FILES: string[] = [
  "ecdsa_secp256r1_sha256_p1363_test.json",
  "ecdsa_secp384r1_sha384_p1363_test.json",
  "ed25519_test.json",
  "hmac_sha256_test.json",
  "hmac_sha384_test.json",
  "hmac_sha512_test.json",
  "rsa_pss_2048_sha256_mgf1_32_test.json",
  "rsa_signature_2048_sha256_test.json",
  "rsa_signature_3072_sha384_test.json",
  "rsa_signature_4096_sha512_test.json",
];

describe("parseJson: real documents", () => {
  it("parses every Wycheproof vector file and finds numberOfTests tests in it", () => {
    let bad = 0;
    for (let f = 0; f < VECTOR_FILES.length; f++) {
      const doc = parseJson(readProjectFile("../shared/testvectors/wycheproof/" + VECTOR_FILES[f]));
      if (doc === null) {
        log(VECTOR_FILES[f] + ": " + lastJsonError());
        bad++;
        continue;
      }
      const groups = doc.get("testGroups")!.asArray();
      let count = 0;
      for (let g = 0; g < groups.length; g++) count += groups[g].get("tests")!.asArray().length;
      const declared = doc.get("numberOfTests")!;
      if (!declared.isInteger() || <i32>declared.asNumber() != count) {
        log(VECTOR_FILES[f] + ": counted " + count.toString() + " tests");
        bad++;
      }
    }
    expect(bad).toBe(0);
  });
});

// Shows control characters in failure logs.
function JSON_quote(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c < 0x20 || c > 0x7e ? "\\u" + c.toString(16).padStart(4, "0") : String.fromCharCode(c);
  }
  return "`" + out + "`";
}
