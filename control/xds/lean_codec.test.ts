import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { ClusterSchema } from "../api/gen/envoy/config/cluster/v3/cluster_pb.ts";
import { NodeSchema } from "../api/gen/envoy/config/core/v3/base_pb.ts";
import {
  DeltaDiscoveryRequestSchema, DeltaDiscoveryResponseSchema, DiscoveryRequestSchema, DiscoveryResponseSchema,
} from "../api/gen/envoy/service/discovery/v3/discovery_pb.ts";
import { StatusSchema } from "../api/gen/google/rpc/status_pb.ts";
import { decodeDeltaDiscoveryResponse, decodeDiscoveryResponse, encodeDeltaDiscoveryRequest, encodeDiscoveryRequest } from "./lean_codec.ts";

const cluster = (name: string) => anyPack(ClusterSchema, create(ClusterSchema, { name, connectTimeout: { seconds: 1n } }));

describe("lean xDS codec (simulated proxies)", () => {
  it("reads a SotW response's version, nonce, type and resources as the generated codec does", () => {
    const message = create(DiscoveryResponseSchema, {
      versionInfo: "v-ünïcode", resources: [cluster("a"), cluster("b")], canary: true, typeUrl: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
      nonce: "7-12", controlPlane: { identifier: "as-mesh" },
    });
    const bytes = toBinary(DiscoveryResponseSchema, message);
    const lean = decodeDiscoveryResponse(bytes);
    assert.equal(lean.versionInfo, message.versionInfo);
    assert.equal(lean.typeUrl, message.typeUrl);
    assert.equal(lean.nonce, message.nonce);
    assert.deepEqual(lean.resources.map((any) => fromBinary(ClusterSchema, any.value).name), ["a", "b"]);
    assert.deepEqual(lean.resources.map((any) => any.typeUrl), message.resources.map((any) => any.typeUrl));
  });

  it("reads a delta response's resources, names, versions and removals", () => {
    const message = create(DeltaDiscoveryResponseSchema, {
      systemVersionInfo: "s1", typeUrl: "type.googleapis.com/envoy.config.cluster.v3.Cluster", nonce: "3-4",
      resources: [{ name: "a", version: "va", resource: cluster("a"), aliases: ["x"] }, { name: "b", version: "vb", resource: cluster("b") }],
      removedResources: ["gone", ""],
    });
    const lean = decodeDeltaDiscoveryResponse(toBinary(DeltaDiscoveryResponseSchema, message));
    assert.equal(lean.systemVersionInfo, "s1");
    assert.equal(lean.nonce, "3-4");
    assert.deepEqual(lean.resources.map((resource) => [resource.name, resource.version, fromBinary(ClusterSchema, resource.resource!.value).name]), [["a", "va", "a"], ["b", "vb", "b"]]);
    assert.deepEqual(lean.removedResources, ["gone", ""]);
  });

  it("refuses a truncated response instead of reading past it", () => {
    const bytes = toBinary(DiscoveryResponseSchema, create(DiscoveryResponseSchema, { versionInfo: "v1", nonce: "n" }));
    assert.throws(() => decodeDiscoveryResponse(bytes.subarray(0, bytes.length - 1)), /truncated/);
  });

  it("writes ACKs the generated codec reads back unchanged, and leaves first requests and NACKs to it", () => {
    const ack = create(DiscoveryRequestSchema, { versionInfo: "v2", resourceNames: ["r1", "", "r2"], typeUrl: "t", responseNonce: "n1" });
    assert.deepEqual(fromBinary(DiscoveryRequestSchema, encodeDiscoveryRequest(ack)), ack);
    const first = create(DiscoveryRequestSchema, { node: create(NodeSchema, { id: "p1" }), typeUrl: "t" });
    assert.deepEqual(fromBinary(DiscoveryRequestSchema, encodeDiscoveryRequest(first)), first);
    const nack = create(DiscoveryRequestSchema, { typeUrl: "t", responseNonce: "n2", errorDetail: create(StatusSchema, { code: 3, message: "bad" }) });
    assert.deepEqual(fromBinary(DiscoveryRequestSchema, encodeDiscoveryRequest(nack)), nack);

    const deltaAck = create(DeltaDiscoveryRequestSchema, { typeUrl: "t", responseNonce: "n3", resourceNamesSubscribe: ["a"], resourceNamesUnsubscribe: ["b"] });
    assert.deepEqual(fromBinary(DeltaDiscoveryRequestSchema, encodeDeltaDiscoveryRequest(deltaAck)), deltaAck);
    const resume = create(DeltaDiscoveryRequestSchema, { typeUrl: "t", initialResourceVersions: { a: "va" } });
    assert.deepEqual(fromBinary(DeltaDiscoveryRequestSchema, encodeDeltaDiscoveryRequest(resume)), resume);
  });
});
