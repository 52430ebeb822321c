// A lean wire codec for simulated proxies. A thousand simulated proxies on one machine spend most of their CPU in
// generic protobuf decoding of every response and encoding of every ACK, CPU the control service they are
// measuring then lacks. A real proxy runs elsewhere. A simulated one needs only a response's version, nonce, type
// and its resources as bytes. It decodes a resource only to follow dependencies (CDS → EDS, LDS → RDS). So
// responses are read field by field with the resources left as views into the message, and plain ACKs are
// written by hand. Anything else (a first request with a node, a NACK) still goes through the generated codec.
import { toBinary } from "@bufbuild/protobuf";
import {
  DeltaDiscoveryRequestSchema, DiscoveryRequestSchema,
  type DeltaDiscoveryRequest, type DeltaDiscoveryResponse, type DiscoveryRequest, type DiscoveryResponse,
} from "../api/gen/envoy/service/discovery/v3/discovery_pb.ts";
import { encodeStringFields, type StringField } from "./wire.ts";

/** Reads one protobuf message's fields in order; lengths and tags fit in 32 bits in everything read here. */
class FieldReader {
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

/** google.protobuf.Any: type_url = 1, value = 2. */
function decodeAny(bytes: Uint8Array): { typeUrl: string; value: Uint8Array } {
  const reader = new FieldReader(bytes);
  const any: { typeUrl: string; value: Uint8Array } = { typeUrl: "", value: new Uint8Array(0) };
  for (let tag = reader.next(); tag; tag = reader.next()) {
    if (tag.field === 1 && tag.wireType === 2) any.typeUrl = reader.string();
    else if (tag.field === 2 && tag.wireType === 2) any.value = reader.bytesField();
    else reader.skip(tag.wireType);
  }
  return any;
}

/**
 * A DiscoveryResponse with what a simulated proxy reads: version_info = 1, resources = 2, type_url = 4, nonce = 5.
 * Only those fields are set: the object stands in for the generated message in the fleet's hands only.
 */
export function decodeDiscoveryResponse(bytes: Uint8Array): DiscoveryResponse {
  const reader = new FieldReader(bytes);
  const response = { versionInfo: "", resources: [] as Array<{ typeUrl: string; value: Uint8Array }>, typeUrl: "", nonce: "" };
  for (let tag = reader.next(); tag; tag = reader.next()) {
    if (tag.wireType !== 2) reader.skip(tag.wireType);
    else if (tag.field === 1) response.versionInfo = reader.string();
    else if (tag.field === 2) response.resources.push(decodeAny(reader.bytesField()));
    else if (tag.field === 4) response.typeUrl = reader.string();
    else if (tag.field === 5) response.nonce = reader.string();
    else reader.skip(tag.wireType);
  }
  return response as unknown as DiscoveryResponse;
}

/** envoy.service.discovery.v3.Resource: version = 1, resource = 2, name = 3. */
function decodeResource(bytes: Uint8Array): { name: string; version: string; resource?: { typeUrl: string; value: Uint8Array } } {
  const reader = new FieldReader(bytes);
  const resource: { name: string; version: string; resource?: { typeUrl: string; value: Uint8Array } } = { name: "", version: "" };
  for (let tag = reader.next(); tag; tag = reader.next()) {
    if (tag.wireType !== 2) reader.skip(tag.wireType);
    else if (tag.field === 1) resource.version = reader.string();
    else if (tag.field === 2) resource.resource = decodeAny(reader.bytesField());
    else if (tag.field === 3) resource.name = reader.string();
    else reader.skip(tag.wireType);
  }
  return resource;
}

/** A DeltaDiscoveryResponse: system_version_info = 1, resources = 2, type_url = 4, nonce = 5, removed_resources = 6. */
export function decodeDeltaDiscoveryResponse(bytes: Uint8Array): DeltaDiscoveryResponse {
  const reader = new FieldReader(bytes);
  const response = {
    systemVersionInfo: "", resources: [] as ReturnType<typeof decodeResource>[], typeUrl: "", nonce: "", removedResources: [] as string[],
  };
  for (let tag = reader.next(); tag; tag = reader.next()) {
    if (tag.wireType !== 2) reader.skip(tag.wireType);
    else if (tag.field === 1) response.systemVersionInfo = reader.string();
    else if (tag.field === 2) response.resources.push(decodeResource(reader.bytesField()));
    else if (tag.field === 4) response.typeUrl = reader.string();
    else if (tag.field === 5) response.nonce = reader.string();
    else if (tag.field === 6) response.removedResources.push(reader.string());
    else reader.skip(tag.wireType);
  }
  return response as unknown as DeltaDiscoveryResponse;
}

/** A SotW request: hand-written for plain requests and ACKs (version_info = 1, resource_names = 3, type_url = 4, response_nonce = 5). */
export function encodeDiscoveryRequest(request: DiscoveryRequest): Buffer {
  if (request.node || request.errorDetail) return Buffer.from(toBinary(DiscoveryRequestSchema, request));
  return encodeStringFields([
    [1, request.versionInfo], ...request.resourceNames.map((name) => [3, name, true] as StringField),
    [4, request.typeUrl], [5, request.responseNonce],
  ]);
}

/** A delta request: hand-written for subscriptions and ACKs (type_url = 2, subscribe = 3, unsubscribe = 4, response_nonce = 6). */
export function encodeDeltaDiscoveryRequest(request: DeltaDiscoveryRequest): Buffer {
  if (request.node || request.errorDetail || Object.keys(request.initialResourceVersions).length > 0) {
    return Buffer.from(toBinary(DeltaDiscoveryRequestSchema, request));
  }
  return encodeStringFields([
    [2, request.typeUrl], ...request.resourceNamesSubscribe.map((name) => [3, name, true] as StringField),
    ...request.resourceNamesUnsubscribe.map((name) => [4, name, true] as StringField), [6, request.responseNonce],
  ]);
}
