// gRPC service definitions for ADS and SDS, built by hand from the generated message schemas: grpc-js needs only
// the method paths and (de)serializers, and bufbuild's binary codec is the one every resource was encoded with.
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import { fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { decodeDeltaDiscoveryRequest, decodeDiscoveryRequest } from "./requests.ts";
import {
  DeltaDiscoveryRequestSchema, DeltaDiscoveryResponseSchema, DiscoveryRequestSchema, DiscoveryResponseSchema,
  type DeltaDiscoveryRequest, type DeltaDiscoveryResponse, type DiscoveryRequest, type DiscoveryResponse,
} from "../api/gen/envoy/service/discovery/v3/discovery_pb.ts";

function method<I extends DescMessage, O extends DescMessage>(
  path: string, input: I, output: O, requestStream: boolean, responseStream: boolean,
): MethodDefinition<MessageShape<I>, MessageShape<O>> {
  return {
    path,
    requestStream,
    responseStream,
    requestSerialize: (message) => Buffer.from(toBinary(input, message)),
    requestDeserialize: (bytes) => fromBinary(input, bytes),
    responseSerialize: (message) => Buffer.from(toBinary(output, message)),
    responseDeserialize: (bytes) => fromBinary(output, bytes),
  };
}

/**
 * A response already encoded by the stream: the resources' bytes are encoded once per snapshot and shared, and
 * only the few per-stream fields (nonce, version, type) are encoded per write. Protobuf allows fields in any
 * order, so the two parts are simply concatenated.
 */
export interface EncodedResponse {
  readonly typeUrl: string;
  readonly encoded: Uint8Array;
}

function serverMethod<Req, O extends DescMessage>(
  definition: MethodDefinition<Req, MessageShape<O>>, output: O, decodeRequest: (bytes: Buffer) => Req,
): MethodDefinition<Req, MessageShape<O> | EncodedResponse> {
  return {
    ...definition,
    requestDeserialize: decodeRequest,
    responseSerialize: (message) => "encoded" in message
      ? Buffer.from(message.encoded.buffer, message.encoded.byteOffset, message.encoded.byteLength)
      : Buffer.from(toBinary(output, message)),
    responseDeserialize: definition.responseDeserialize,
  };
}

const ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/";
const SDS = "/envoy.service.secret.v3.SecretDiscoveryService/";

export const adsService = {
  streamAggregatedResources: method(`${ADS}StreamAggregatedResources`, DiscoveryRequestSchema, DiscoveryResponseSchema, true, true),
  deltaAggregatedResources: method(`${ADS}DeltaAggregatedResources`, DeltaDiscoveryRequestSchema, DeltaDiscoveryResponseSchema, true, true),
} satisfies ServiceDefinition;

export const sdsService = {
  streamSecrets: method(`${SDS}StreamSecrets`, DiscoveryRequestSchema, DiscoveryResponseSchema, true, true),
  deltaSecrets: method(`${SDS}DeltaSecrets`, DeltaDiscoveryRequestSchema, DeltaDiscoveryResponseSchema, true, true),
  fetchSecrets: method(`${SDS}FetchSecrets`, DiscoveryRequestSchema, DiscoveryResponseSchema, false, false),
} satisfies ServiceDefinition;

/** The same services as the server handles them: requests read by hand (requests.ts), responses may be pre-encoded. */
export const adsServerService = {
  streamAggregatedResources: serverMethod(adsService.streamAggregatedResources, DiscoveryResponseSchema, decodeDiscoveryRequest),
  deltaAggregatedResources: serverMethod(adsService.deltaAggregatedResources, DeltaDiscoveryResponseSchema, decodeDeltaDiscoveryRequest),
} satisfies ServiceDefinition;

export const sdsServerService = {
  streamSecrets: serverMethod(sdsService.streamSecrets, DiscoveryResponseSchema, decodeDiscoveryRequest),
  deltaSecrets: serverMethod(sdsService.deltaSecrets, DeltaDiscoveryResponseSchema, decodeDeltaDiscoveryRequest),
  fetchSecrets: sdsService.fetchSecrets,
} satisfies ServiceDefinition;

export type { DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse };
