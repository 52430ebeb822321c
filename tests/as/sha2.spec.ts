import {
  sha256, sha384, sha512, Sha256, Sha384, Sha512, Sha512Core, HashAlg, hashWith, hashLength, hashBlockSize,
} from "../../assembly/lib/sha2";
import { bytesToHex, hexToBytes } from "./helpers/hex";

// Example messages from FIPS 180-4 / the NIST "Examples with intermediate values" documents.
const ABC = "abc";
const M448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
const M896 =
  "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

function ascii(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

function millionA(): Uint8Array {
  const m = new Uint8Array(1000000);
  m.fill(0x61);
  return m;
}

// Bytes 0..n-1 of a fixed pattern, so lengths around every padding boundary can be hashed.
function pattern(n: i32): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = <u8>((i * 31 + 7) & 255);
  return b;
}

function hashHex(alg: HashAlg, data: Uint8Array): string {
  return bytesToHex(hashWith(alg, data));
}

// Hashes `data` fed in three update() calls split at i and j, using a streaming hasher of `alg`.
function splitDigest(alg: HashAlg, data: Uint8Array, i: i32, j: i32): Uint8Array {
  if (alg == HashAlg.SHA256) {
    const h = new Sha256();
    h.update(data.subarray(0, i));
    h.update(data.subarray(i, j));
    h.update(data.subarray(j));
    return h.digest();
  }
  const h: Sha512Core = alg == HashAlg.SHA384 ? <Sha512Core>new Sha384() : <Sha512Core>new Sha512();
  h.update(data.subarray(0, i));
  h.update(data.subarray(i, j));
  h.update(data.subarray(j));
  return h.digest();
}

function sameBytes(a: Uint8Array, b: Uint8Array): bool {
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] != b[i]) return false;
  return true;
}

// Counts (i, j) split points of `data` whose streamed digest differs from the one-shot digest.
function countSplitMismatches(alg: HashAlg, data: Uint8Array, step: i32): i32 {
  const want = hashWith(alg, data);
  let bad = 0;
  for (let i = 0; i <= data.length; i += step) {
    for (let j = i; j <= data.length; j += step) {
      if (!sameBytes(splitDigest(alg, data, i, j), want)) {
        if (bad == 0) log("first split mismatch at i=" + i.toString() + " j=" + j.toString());
        bad++;
      }
    }
  }
  return bad;
}

// Digest of the concatenated digests of pattern(0) .. pattern(300): covers every length around the 55/56/64
// (SHA-256) and 111/112/128 (SHA-512) padding boundaries in one value. Expected values computed independently.
function chainHex(alg: HashAlg): string {
  const all = new Uint8Array(301 * hashLength(alg));
  for (let n = 0; n <= 300; n++) all.set(hashWith(alg, pattern(n)), n * hashLength(alg));
  return hashHex(alg, all);
}

describe("SHA-256", () => {
  it("matches the FIPS 180-4 examples", () => {
    expect(bytesToHex(sha256(new Uint8Array(0)))).toBe(
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(bytesToHex(sha256(ascii(ABC)))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(bytesToHex(sha256(ascii(M448)))).toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    expect(bytesToHex(sha256(ascii(M896)))).toBe("cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  });
  it("hashes a million 'a'", () => {
    expect(bytesToHex(sha256(millionA()))).toBe("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  });
  it("is right for every length 0..300", () => {
    expect(chainHex(HashAlg.SHA256)).toBe("78f25692e2f4dd74482ac3dcf4f505a7c278fa279588b764b99a497144bcd49c");
  });
  it("gives the same digest for any split into three update() calls", () => {
    expect(countSplitMismatches(HashAlg.SHA256, ascii(M896), 1)).toBe(0);
    expect(countSplitMismatches(HashAlg.SHA256, pattern(300), 7)).toBe(0);
  });
  it("streams a million 'a' in odd-sized chunks via updateRange", () => {
    const m = millionA();
    const h = new Sha256();
    let pos = 0;
    let chunk = 1;
    while (pos < m.length) {
      const end = min(pos + chunk, m.length);
      h.updateRange(m, pos, end);
      pos = end;
      chunk = (chunk * 7 + 3) % 997; // 1, 10, 73, ... mixes tiny and multi-block pieces
    }
    expect(bytesToHex(h.digest())).toBe("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  });
  it("resets after digest() and on reset()", () => {
    const h = new Sha256();
    h.update(ascii("something else"));
    h.digest();
    h.update(ascii(ABC));
    expect(bytesToHex(h.digest())).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    h.update(ascii("partial"));
    h.reset();
    h.update(ascii(ABC));
    expect(bytesToHex(h.digest())).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
  it("writes into a caller buffer with digestInto", () => {
    const h = new Sha256();
    h.update(ascii(ABC));
    const out = new Uint8Array(40);
    h.digestInto(out, 8);
    expect(bytesToHex(out.subarray(8))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(out[7]).toBe(0);
  });
});

describe("SHA-384", () => {
  it("matches the FIPS 180-4 examples", () => {
    expect(bytesToHex(sha384(new Uint8Array(0)))).toBe(
      "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b");
    expect(bytesToHex(sha384(ascii(ABC)))).toBe(
      "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
    expect(bytesToHex(sha384(ascii(M448)))).toBe(
      "3391fdddfc8dc7393707a65b1b4709397cf8b1d162af05abfe8f450de5f36bc6b0455a8520bc4e6f5fe95b1fe3c8452b");
    expect(bytesToHex(sha384(ascii(M896)))).toBe(
      "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039");
  });
  it("hashes a million 'a'", () => {
    expect(bytesToHex(sha384(millionA()))).toBe(
      "9d0e1809716474cb086e834e310a4a1ced149e9c00f248527972cec5704c2a5b07b8b3dc38ecc4ebae97ddd87f3d8985");
  });
  it("is right for every length 0..300", () => {
    expect(chainHex(HashAlg.SHA384)).toBe(
      "ee5687497e0097f58b34f928dabee44e7963886c5b13a2ff1709df57be7bb56b2144b2519cf293aefe6ead490dfea857");
  });
  it("gives the same digest for any split into three update() calls", () => {
    expect(countSplitMismatches(HashAlg.SHA384, ascii(M896), 1)).toBe(0);
    expect(countSplitMismatches(HashAlg.SHA384, pattern(300), 7)).toBe(0);
  });
});

describe("SHA-512", () => {
  it("matches the FIPS 180-4 examples", () => {
    expect(bytesToHex(sha512(new Uint8Array(0)))).toBe(
      "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce" +
      "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
    expect(bytesToHex(sha512(ascii(ABC)))).toBe(
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" +
      "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    expect(bytesToHex(sha512(ascii(M448)))).toBe(
      "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335" +
      "96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445");
    expect(bytesToHex(sha512(ascii(M896)))).toBe(
      "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018" +
      "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909");
  });
  it("hashes a million 'a'", () => {
    expect(bytesToHex(sha512(millionA()))).toBe(
      "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb" +
      "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b");
  });
  it("is right for every length 0..300", () => {
    expect(chainHex(HashAlg.SHA512)).toBe(
      "4d453e114ab3806337606be8f53c6e5956d81a16bf152b21ad7a38b1933cdec9" +
      "126d3cc7237f765ab8d7e3609dacd7cf18dd69798caa1ab8832b7951d0507a8b");
  });
  it("gives the same digest for any split into three update() calls", () => {
    expect(countSplitMismatches(HashAlg.SHA512, ascii(M896), 1)).toBe(0);
    expect(countSplitMismatches(HashAlg.SHA512, pattern(300), 7)).toBe(0);
  });
  it("resets after digest()", () => {
    const h = new Sha512();
    h.update(pattern(200));
    h.digest();
    h.update(ascii(ABC));
    expect(bytesToHex(h.digest())).toBe(
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" +
      "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  });
});

describe("HashAlg helpers", () => {
  it("report digest and block lengths", () => {
    expect(hashLength(HashAlg.SHA256)).toBe(32);
    expect(hashLength(HashAlg.SHA384)).toBe(48);
    expect(hashLength(HashAlg.SHA512)).toBe(64);
    expect(hashBlockSize(HashAlg.SHA256)).toBe(64);
    expect(hashBlockSize(HashAlg.SHA384)).toBe(128);
    expect(hashBlockSize(HashAlg.SHA512)).toBe(128);
  });
  it("dispatch to the right function", () => {
    expect(hashHex(HashAlg.SHA256, ascii(ABC))).toBe(bytesToHex(sha256(ascii(ABC))));
    expect(hashHex(HashAlg.SHA384, ascii(ABC))).toBe(bytesToHex(sha384(ascii(ABC))));
    expect(hashHex(HashAlg.SHA512, ascii(ABC))).toBe(bytesToHex(sha512(ascii(ABC))));
  });
  it("round-trips hex", () => {
    expect(bytesToHex(hexToBytes("00ff10Ab"))).toBe("00ff10ab");
    expect(hexToBytes("").length).toBe(0);
  });
});
