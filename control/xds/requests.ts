// Decoding the requests proxies send: after the first request of a stream, nearly all of them are ACKs (a type,
// a version, a nonce and perhaps some names), one per response per proxy, and a push to thousands of proxies
// spent more CPU decoding them with the generated (reflective) codec than handling them. Those fields are read by
// hand; the node and a NACK's status, when present, go through the generated codec, and anything else this reader
// does not expect (resource locators, a malformed message) sends the whole request through it, so what the
// streams see is always what the generated codec would give them.
import { fromBinary } from "@bufbuild/protobuf";
import { NodeSchema } from "../api/gen/envoy/config/core/v3/base_pb.ts";
import { StatusSchema } from "../api/gen/google/rpc/status_pb.ts";
import {
  DeltaDiscoveryRequestSchema, DiscoveryRequestSchema,
  type DeltaDiscoveryRequest, type DiscoveryRequest,
} from "../api/gen/envoy/service/discovery/v3/discovery_pb.ts";
import { FieldReader } from "./wire.ts";

/** Thrown inside the readers to hand the message to the generated codec. */
class Unexpected extends Error {}

/** A length-delimited field's contents, or Unexpected when the field has another wire type. */
function lengthDelimited(reader: FieldReader, wireType: number): Uint8Array {
  if (wireType !== 2) throw new Unexpected();
  return reader.bytesField();
}

function text(reader: FieldReader, wireType: number): string {
  if (wireType !== 2) throw new Unexpected();
  return reader.string();
}

/** DiscoveryRequest: version_info = 1, node = 2, resource_names = 3, type_url = 4, response_nonce = 5, error_detail = 6. */
export function decodeDiscoveryRequest(bytes: Uint8Array): DiscoveryRequest {
  try {
    const reader = new FieldReader(bytes);
    const request: DiscoveryRequest = {
      $typeName: "envoy.service.discovery.v3.DiscoveryRequest",
      versionInfo: "", resourceNames: [], resourceLocators: [], typeUrl: "", responseNonce: "",
    };
    for (let tag = reader.next(); tag; tag = reader.next()) {
      switch (tag.field) {
        case 1: request.versionInfo = text(reader, tag.wireType); break;
        case 2: request.node = fromBinary(NodeSchema, lengthDelimited(reader, tag.wireType)); break;
        case 3: request.resourceNames.push(text(reader, tag.wireType)); break;
        case 4: request.typeUrl = text(reader, tag.wireType); break;
        case 5: request.responseNonce = text(reader, tag.wireType); break;
        case 6: request.errorDetail = fromBinary(StatusSchema, lengthDelimited(reader, tag.wireType)); break;
        default: throw new Unexpected();
      }
    }
    return request;
  } catch {
    return fromBinary(DiscoveryRequestSchema, bytes);
  }
}

/** initial_resource_versions' map entry: key = 1, value = 2. */
function mapEntry(bytes: Uint8Array): [string, string] {
  const reader = new FieldReader(bytes);
  let key = "";
  let value = "";
  for (let tag = reader.next(); tag; tag = reader.next()) {
    if (tag.field === 1) key = text(reader, tag.wireType);
    else if (tag.field === 2) value = text(reader, tag.wireType);
    else throw new Unexpected();
  }
  return [key, value];
}

/**
 * DeltaDiscoveryRequest: node = 1, type_url = 2, resource_names_subscribe = 3, resource_names_unsubscribe = 4,
 * initial_resource_versions = 5, response_nonce = 6, error_detail = 7.
 */
export function decodeDeltaDiscoveryRequest(bytes: Uint8Array): DeltaDiscoveryRequest {
  try {
    const reader = new FieldReader(bytes);
    const request: DeltaDiscoveryRequest = {
      $typeName: "envoy.service.discovery.v3.DeltaDiscoveryRequest",
      typeUrl: "", resourceNamesSubscribe: [], resourceNamesUnsubscribe: [],
      resourceLocatorsSubscribe: [], resourceLocatorsUnsubscribe: [], initialResourceVersions: {}, responseNonce: "",
    };
    for (let tag = reader.next(); tag; tag = reader.next()) {
      switch (tag.field) {
        case 1: request.node = fromBinary(NodeSchema, lengthDelimited(reader, tag.wireType)); break;
        case 2: request.typeUrl = text(reader, tag.wireType); break;
        case 3: request.resourceNamesSubscribe.push(text(reader, tag.wireType)); break;
        case 4: request.resourceNamesUnsubscribe.push(text(reader, tag.wireType)); break;
        case 5: {
          const [name, version] = mapEntry(lengthDelimited(reader, tag.wireType));
          request.initialResourceVersions[name] = version;
          break;
        }
        case 6: request.responseNonce = text(reader, tag.wireType); break;
        case 7: request.errorDetail = fromBinary(StatusSchema, lengthDelimited(reader, tag.wireType)); break;
        default: throw new Unexpected();
      }
    }
    return request;
  } catch {
    return fromBinary(DeltaDiscoveryRequestSchema, bytes);
  }
}
