// Hand-written protobuf encoding and decoding for the few fields the xDS server and the simulated proxies write and
// read per message (a response's version, type and nonce; an ACK's names): the generated codec works by reflection
// and costs more than the bytes it handles when thousands of streams each send one small message per push.

/** One string field: [field number, value, repeated]. A singular empty string is left out, as proto3 does. */
export type StringField = readonly [number, string, boolean?];

/** The fields, in order, as one protobuf message. */
export function encodeStringFields(fields: readonly StringField[]): Buffer {
  const parts: Buffer[] = [];
  for (const [field, value, repeated] of fields) {
    if (value === "" && !repeated) continue;
    const text = Buffer.from(value, "utf8");
    parts.push(Buffer.from(varintBytes((field << 3) | 2)), Buffer.from(varintBytes(text.length)), text);
  }
  return Buffer.concat(parts);
}

function varintBytes(value: number): number[] {
  const out: number[] = [];
  let rest = value >>> 0;
  while (rest > 0x7f) {
    out.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  out.push(rest);
  return out;
}

/** Reads one protobuf message's fields in order; lengths and tags fit in 32 bits in everything read here. */
export class FieldReader {
  private position = 0;

  constructor(private readonly bytes: Uint8Array) {}

  /** The next field's number and wire type, or undefined at the end. */
  next(): { field: number; wireType: number } | undefined {
    if (this.position >= this.bytes.length) return undefined;
    const tag = this.varint();
    return { field: tag >>> 3, wireType: tag & 7 };
  }

  varint(): number {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      if (this.position >= this.bytes.length) throw new Error("truncated varint");
      const byte = this.bytes[this.position++]!;
      // Past 32 bits only the low bits matter here (bools, enums); keep reading to the end of the varint.
      if (shift < 32) value |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value >>> 0;
    }
  }

  /** A length-delimited field's bytes, as a view into the message. */
  bytesField(): Uint8Array {
    const length = this.varint();
    const end = this.position + length;
    if (end > this.bytes.length) throw new Error("truncated field");
    const view = this.bytes.subarray(this.position, end);
    this.position = end;
    return view;
  }

  string(): string {
    const view = this.bytesField();
    return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString("utf8");
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.position += 8;
    else if (wireType === 2) this.bytesField();
    else if (wireType === 5) this.position += 4;
    else throw new Error(`unsupported wire type ${wireType}`);
  }
}
