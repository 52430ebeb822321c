import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from "./proto.ts";

test("encodes IstioCertificateRequest with istioca.proto's field numbers", () => {
  // csr = 1 (length-delimited "ab"), validity_duration = 3 (varint 86400)
  assert.deepEqual([...encodeRequest({ csr: "ab", validityDuration: 86_400 })], [0x0a, 0x02, 0x61, 0x62, 0x18, 0x80, 0xa3, 0x05]);
});

test("decodes a request and skips the metadata Struct istio-agent may send", () => {
  const metadata = [0x22, 0x04, 0x0a, 0x02, 0x6b, 0x31]; // field 4, an opaque Struct body
  const bytes = Uint8Array.from([...encodeRequest({ csr: "pem", validityDuration: 60 }), ...metadata]);
  assert.deepEqual(decodeRequest(bytes), { csr: "pem", validityDuration: 60 });
});

test("round-trips the repeated cert_chain of a response in order", () => {
  const chain = ["leaf", "intermediate", "root"];
  assert.deepEqual(decodeResponse(encodeResponse({ certChain: chain })).certChain, chain);
});

test("throws on truncated bytes instead of returning a partial request", () => {
  assert.throws(() => decodeRequest(Uint8Array.from([0x0a, 0x10, 0x61])));
});
