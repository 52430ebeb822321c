import { limbsCompare, limbsFromHex, limbsToBytes } from "../../assembly/lib/ec";
import { p256Add, p256Mul, p256Sqr, p256Sub } from "../../assembly/lib/p256";
import {
  ELEMENT_BYTES, fieldAdd, fieldFromLimbs, fieldIsZero, fieldMul, fieldMulSmall, fieldSqr, fieldSub, fieldToLimbs,
  p256FieldSetUp,
} from "../../assembly/lib/p256_montgomery";
import { bytesToHex } from "./helpers/hex";

// The 29-bit-digit Montgomery field of P-256 checked against p256.ts (whose own known answers are in
// ec_field.spec.ts): every operation, on canonical inputs, on "loose" inputs (the same residues plus p or 2p, which
// the representation allows), on long chains of mixed operations, and the zero test on every form of zero.

const P256_P = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";

function ptr<T>(a: StaticArray<T>): usize {
  return changetype<usize>(a);
}

function limbs(hex: string): StaticArray<u32> {
  const out = new StaticArray<u32>(8);
  limbsFromHex(ptr(out), hex, 8);
  return out;
}

function hexOf(a: StaticArray<u32>): string {
  const out = new Uint8Array(32);
  limbsToBytes(out, 0, ptr(a), 8);
  return bytesToHex(out);
}

function element(): StaticArray<u32> {
  return new StaticArray<u32>(<i32>ELEMENT_BYTES / 4);
}

/** The canonical u32-limb value of a field element. */
function plainOf(a: StaticArray<u32>): string {
  const out = new StaticArray<u32>(8);
  fieldToLimbs(ptr(out), ptr(a));
  return hexOf(out);
}

/** Digits of k * p (k = 1 or 2) added to the element's digits: the same residue in another (loose) form. */
function plusMultipleOfP(a: StaticArray<u32>, k: u32): StaticArray<u32> {
  // p in 29-bit digits, low to high
  const pDigits: u32[] = [0x1fffffff, 0x1fffffff, 0x1fffffff, 0x000001ff, 0, 0, 0x00040000, 0x1fe00000, 0x00ffffff];
  const out = element();
  let carry: u64 = 0;
  for (let i = 0; i < 9; i++) {
    carry += <u64>a[i] + <u64>k * <u64>pDigits[i];
    out[i] = i < 8 ? <u32>(carry & 0x1fffffff) : <u32>carry;
    carry >>= 29;
  }
  return out;
}

/** Whether the digits are within the representation's loose range (see p256_montgomery.ts). */
function isLoose(a: StaticArray<u32>): bool {
  for (let i = 0; i < 8; i++) {
    const d = <i32>a[i];
    if (d < -(1 << 22) || d >= (1 << 29) + (1 << 25)) return false;
  }
  return <i32>a[8] >= 0 && <i32>a[8] < (1 << 25);
}

let rngState: u64 = 0x243f6a8885a308d3;
function nextU32(): u32 {
  rngState ^= rngState >> 12;
  rngState ^= rngState << 25;
  rngState ^= rngState >> 27;
  return <u32>((rngState * 0x2545f4914f6cdd1d) >> 32);
}

/** A pseudo-random value below p in u32 limbs; a third of them biased towards all-ones limbs. */
function randomBelowP(): StaticArray<u32> {
  const p = limbs(P256_P);
  const out = new StaticArray<u32>(8);
  const heavy = nextU32() % 3 == 0;
  for (let i = 0; i < 8; i++) {
    let v = nextU32();
    if (heavy && (v & 3) != 0) v = 0xffffffff;
    out[i] = v;
  }
  while (limbsCompare(ptr(out), ptr(p), 8) >= 0) out[7] = out[7] >>> 1;
  return out;
}

const EDGES: string[] = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0000000000000000000000000000000000000000000000000000000000000001",
  "0000000000000000000000000000000000000000000000000000000000000002",
  "ffffffff00000001000000000000000000000000fffffffffffffffffffffffe",
  "ffffffff00000001000000000000000000000000fffffffffffffffffffffffd",
  "8000000000000000000000000000000000000000000000000000000000000000",
  "7fffffff800000008000000000000000000000007fffffffffffffffffffffff",
  "00000000ffffffffffffffffffffffffffffffff000000000000000000000001",
  "ffffffff00000000ffffffffffffffffffffffffffffffffffffffffffffffff",
  "0000000000000000000000000000000000000001000000000000000000000000",
  "1fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];

function operands(count: i32): Array<StaticArray<u32>> {
  const list = new Array<StaticArray<u32>>();
  for (let i = 0; i < EDGES.length; i++) list.push(limbs(EDGES[i]));
  while (list.length < count) list.push(randomBelowP());
  return list;
}

describe("P-256 Montgomery field (29-bit digits)", () => {
  p256FieldSetUp();

  it("round-trips canonical values through Montgomery form", () => {
    const values = operands(200);
    const e = element();
    for (let i = 0; i < values.length; i++) {
      fieldFromLimbs(ptr(e), ptr(values[i]));
      expect(plainOf(e)).toBe(hexOf(values[i]), "value " + i.toString());
    }
  });

  it("matches p256.ts on products, squares, sums, differences and small multiples, canonical and loose inputs", () => {
    const values = operands(120);
    const expected = new StaticArray<u32>(8);
    const a = element(), b = element(), o = element();
    let failures = 0;
    for (let i = 0; i < values.length; i++) {
      for (let j = 0; j < values.length; j += 3) {
        const x = values[i], y = values[j];
        fieldFromLimbs(ptr(a), ptr(x));
        fieldFromLimbs(ptr(b), ptr(y));
        for (let form = 0; form < 3; form++) {
          // form 0: canonical; 1: a + p; 2: b + 2p when that stays below 2^257 (digit 8 below 2^25)
          let la = a, lb = b;
          if (form == 1) la = plusMultipleOfP(a, 1);
          if (form == 2) {
            lb = plusMultipleOfP(b, 2);
            if (lb[8] >= (1 << 25)) continue;
          }
          p256Mul(ptr(expected), ptr(x), ptr(y));
          fieldMul(ptr(o), ptr(la), ptr(lb));
          if (plainOf(o) != hexOf(expected)) failures++;
          p256Sqr(ptr(expected), ptr(x));
          fieldSqr(ptr(o), ptr(la));
          if (plainOf(o) != hexOf(expected)) failures++;
          p256Add(ptr(expected), ptr(x), ptr(y));
          fieldAdd(ptr(o), ptr(la), ptr(lb));
          if (plainOf(o) != hexOf(expected)) failures++;
          p256Sub(ptr(expected), ptr(x), ptr(y));
          fieldSub(ptr(o), ptr(la), ptr(lb));
          if (plainOf(o) != hexOf(expected)) failures++;
          if (!isLoose(o)) failures++; // the output must be loose again
          const k = 2 + <i32>(nextU32() % 7);
          memory.copy(ptr(expected), ptr(x), 32);
          for (let t = 1; t < k; t++) p256Add(ptr(expected), ptr(expected), ptr(x));
          fieldMulSmall(ptr(o), ptr(la), k);
          if (plainOf(o) != hexOf(expected)) failures++;
          if (!isLoose(o)) failures++;
        }
      }
    }
    expect(failures).toBe(0);
  });

  it("stays exact along 20000 chained operations", () => {
    // Four registers, each kept both ways; every step overwrites one with an operation on two (aliasing allowed).
    const plain = new Array<StaticArray<u32>>(), mont = new Array<StaticArray<u32>>();
    for (let i = 0; i < 4; i++) {
      const v = randomBelowP();
      const e = element();
      fieldFromLimbs(ptr(e), ptr(v));
      plain.push(v);
      mont.push(e);
    }
    let failures = 0;
    for (let step = 0; step < 20000; step++) {
      const r = nextU32();
      const o = <i32>(r & 3), x = <i32>((r >> 2) & 3), y = <i32>((r >> 4) & 3), op = (r >> 6) % 5;
      if (op == 0) { p256Mul(ptr(plain[o]), ptr(plain[x]), ptr(plain[y])); fieldMul(ptr(mont[o]), ptr(mont[x]), ptr(mont[y])); }
      if (op == 1) { p256Sqr(ptr(plain[o]), ptr(plain[x])); fieldSqr(ptr(mont[o]), ptr(mont[x])); }
      if (op == 2) { p256Add(ptr(plain[o]), ptr(plain[x]), ptr(plain[y])); fieldAdd(ptr(mont[o]), ptr(mont[x]), ptr(mont[y])); }
      if (op == 3) { p256Sub(ptr(plain[o]), ptr(plain[x]), ptr(plain[y])); fieldSub(ptr(mont[o]), ptr(mont[x]), ptr(mont[y])); }
      if (op == 4) {
        // k x as k - 1 additions on the reference side
        const k = 2 + (r >> 9) % 7;
        const start = new StaticArray<u32>(8);
        memory.copy(ptr(start), ptr(plain[x]), 32);
        memory.copy(ptr(plain[o]), ptr(start), 32);
        for (let i: u32 = 1; i < <u32>k; i++) p256Add(ptr(plain[o]), ptr(plain[o]), ptr(start));
        fieldMulSmall(ptr(mont[o]), ptr(mont[x]), <i64>k);
      }
      if (plainOf(mont[o]) != hexOf(plain[o])) failures++;
      if (!isLoose(mont[o])) failures++;
      // Now and then restart a register from a fresh value, so the chain also visits edge values.
      if ((r >> 10) % 64 == 0) {
        const v = (r >> 16) % 2 == 0 ? randomBelowP() : limbs(EDGES[(r >> 17) % <u32>EDGES.length]);
        plain[o] = v;
        fieldFromLimbs(ptr(mont[o]), ptr(v));
      }
    }
    expect(failures).toBe(0);
  });

  it("recognizes zero in every form and nothing else", () => {
    const zero = element();
    expect(fieldIsZero(ptr(zero))).toBe(true, "0");
    expect(fieldIsZero(ptr(plusMultipleOfP(zero, 1)))).toBe(true, "p");
    expect(fieldIsZero(ptr(plusMultipleOfP(zero, 2)))).toBe(true, "2p");
    const values = operands(300);
    const a = element(), d = element();
    for (let i = 0; i < values.length; i++) {
      fieldFromLimbs(ptr(a), ptr(values[i]));
      fieldSub(ptr(d), ptr(a), ptr(a));
      expect(fieldIsZero(ptr(d))).toBe(true, "a - a for value " + i.toString());
      const isZero = hexOf(values[i]) == EDGES[0];
      expect(fieldIsZero(ptr(a))).toBe(isZero, "value " + i.toString());
      expect(fieldIsZero(ptr(plusMultipleOfP(a, 1)))).toBe(isZero, "value + p " + i.toString());
    }
    // Non-zero values whose low digit looks like that of 0, p or 2p.
    const lowLike = element();
    lowLike[0] = 0x1fffffff;
    expect(fieldIsZero(ptr(lowLike))).toBe(false, "low digit of p alone");
    lowLike[0] = 0x1ffffffe;
    expect(fieldIsZero(ptr(lowLike))).toBe(false, "low digit of 2p alone");
    lowLike[0] = 0;
    lowLike[4] = 1;
    expect(fieldIsZero(ptr(lowLike))).toBe(false, "2^116");
  });
});
