// gRPC service definitions for ADS and SDS, built by hand from the generated message schemas: grpc-js needs only
// the method paths and (de)serializers, and bufbuild's binary codec is the one every resource was encoded with.
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import { fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
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

export type { DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse };
