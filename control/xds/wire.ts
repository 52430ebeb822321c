// Hand-written protobuf encoding for the few string fields the xDS server and the simulated proxies write per
// message (a response's version, type and nonce; an ACK's names): the generated codec works by reflection and
// costs more than the bytes it writes when a thousand streams each send one small message.

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
