// The messages of istio.v1.auth.IstioCertificateService (security/proto/istioca.proto), encoded by hand with
// @bufbuild/protobuf's wire writer/reader so the CA speaks the same bytes as istiod and istio-agent without a
// generated file for two messages:
//   message IstioCertificateRequest  { string csr = 1; int64 validity_duration = 3; google.protobuf.Struct metadata = 4; }
//   message IstioCertificateResponse { repeated string cert_chain = 1; }
// `metadata` (istiod reads an impersonated identity from it, for its own trusted callers only) is skipped: this CA
// grants the identity of the credential and nothing else.
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

export const CREATE_CERTIFICATE_PATH = "/istio.v1.auth.IstioCertificateService/CreateCertificate";

export interface IstioCertificateRequest {
  csr: string;
  /** Requested lifetime in seconds; 0 asks for the CA's default. */
  validityDuration: number;
}

export interface IstioCertificateResponse {
  /** Leaf first, then intermediates, the root last. */
  certChain: string[];
}

export function encodeRequest(request: IstioCertificateRequest): Buffer {
  const writer = new BinaryWriter();
  if (request.csr) writer.tag(1, WireType.LengthDelimited).string(request.csr);
  if (request.validityDuration) writer.tag(3, WireType.Varint).int64(request.validityDuration);
  return Buffer.from(writer.finish());
}

export function decodeRequest(bytes: Uint8Array): IstioCertificateRequest {
  const reader = new BinaryReader(bytes);
  const request: IstioCertificateRequest = { csr: "", validityDuration: 0 };
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) request.csr = reader.string();
    else if (field === 3 && wireType === WireType.Varint) request.validityDuration = Number(reader.int64());
    else reader.skip(wireType, field);
  }
  return request;
}

export function encodeResponse(response: IstioCertificateResponse): Buffer {
  const writer = new BinaryWriter();
  for (const pem of response.certChain) writer.tag(1, WireType.LengthDelimited).string(pem);
  return Buffer.from(writer.finish());
}

export function decodeResponse(bytes: Uint8Array): IstioCertificateResponse {
  const reader = new BinaryReader(bytes);
  const response: IstioCertificateResponse = { certChain: [] };
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) response.certChain.push(reader.string());
    else reader.skip(wireType, field);
  }
  return response;
}
