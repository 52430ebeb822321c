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
import { encodeStringFields, FieldReader, type StringField } from "./wire.ts";

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
