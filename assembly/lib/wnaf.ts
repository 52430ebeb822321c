// Signed-digit (width-w NAF) recoding of scalars, for the interleaved double-scalar loops of ec.ts and
// p256_montgomery.ts. Scalars there are public (ECDSA verification), so the recoding may branch on their bits.

/**
 * Recodes the scalar k < 2^(32 * limbs) (little-endian u32 limbs at k) into 32 * limbs + 1 signed digits (i8 at
 * `digits`): every non-zero digit is odd with |d| < 2^(w-1), any two non-zero digits are at least w positions apart,
 * and k = sum d_i 2^i. Returns the number of significant digits. Scanning bit by bit with a carry: a position whose
 * bit equals the carry gives digit 0; otherwise the next w bits plus the carry form an odd value taken as a signed
 * digit, and when that digit is negative a carry of one moves past the window.
 */
export function recodeWnaf(digits: usize, k: usize, limbs: i32, w: i32): i32 {
  const total = 32 * limbs + 1;
  const full: u32 = 1 << w;
  const mask: u32 = full - 1;
  memory.fill(digits, 0, <usize>total);
  let pos = 0, carry: u32 = 0, length = 0;
  while (pos < total) {
    const limb = pos >>> 5;
    const bit = limb < limbs ? (load<u32>(k + (<usize>limb << 2)) >>> (pos & 31)) & 1 : 0;
    if (bit == carry) {
      pos++;
      continue;
    }
    // w bits from pos (they may straddle two limbs; bits above the number read as zero)
    let window: u64 = limb < limbs ? <u64>load<u32>(k + (<usize>limb << 2)) : 0;
    if (limb + 1 < limbs) window |= <u64>load<u32>(k + (<usize>(limb + 1) << 2)) << 32;
    let value = (<u32>(window >>> (<u64>(pos & 31)))) & mask;
    value += carry; // odd, at most 2^w - 1
    let digit = <i32>value;
    carry = 0;
    if (value > full >>> 1) {
      digit -= <i32>full;
      carry = 1;
    }
    store<i8>(digits + <usize>pos, <i8>digit);
    length = pos + 1;
    pos += w;
  }
  return length;
}
