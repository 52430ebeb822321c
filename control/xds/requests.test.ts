import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, equals, fromBinary, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import {
  DeltaDiscoveryRequestSchema, DiscoveryRequestSchema,
} from "../api/gen/envoy/service/discovery/v3/discovery_pb.ts";
import { decodeDeltaDiscoveryRequest, decodeDiscoveryRequest } from "./requests.ts";

const CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
const node = {
  id: "sidecar~10.0.0.1~ride-v1-0.default~default.svc.cluster.local", cluster: "ride",
  metadata: { NAMESPACE: "default", LABELS: { app: "ride", version: "v1" } },
  userAgentName: "envoy", userAgentVersionType: { case: "userAgentVersion" as const, value: "1.40.0" },
};

/** The generated codec's reading of `bytes`, or the error it throws. */
function generated<Desc extends DescMessage>(schema: Desc, bytes: Uint8Array) {
  try {
    return { message: fromBinary(schema, bytes) };
  } catch (error) {
    return { error: error as Error };
  }
}

function assertSameAsGenerated<Desc extends DescMessage>(schema: Desc, decode: (bytes: Buffer) => unknown, bytes: Uint8Array): void {
  const expected = generated(schema, bytes);
  if (expected.error) {
    assert.throws(() => decode(Buffer.from(bytes)), `the generated codec refuses ${Buffer.from(bytes).toString("hex")}`);
    return;
  }
  const actual = decode(Buffer.from(bytes));
  assert.ok(equals(schema, actual as never, expected.message as never), `decoded differently: ${Buffer.from(bytes).toString("hex")}`);
}

function sotw(init: MessageInitShape<typeof DiscoveryRequestSchema>): Uint8Array {
  return toBinary(DiscoveryRequestSchema, create(DiscoveryRequestSchema, init));
}

function delta(init: MessageInitShape<typeof DeltaDiscoveryRequestSchema>): Uint8Array {
  return toBinary(DeltaDiscoveryRequestSchema, create(DeltaDiscoveryRequestSchema, init));
}

const sotwRequests = [
  sotw({}),
  sotw({ typeUrl: CDS, node }),
  sotw({ typeUrl: CDS, versionInfo: "0a1b2c", responseNonce: "12-7" }),
  sotw({ typeUrl: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", resourceNames: ["80", "", "inbound|8080||", "ü"], responseNonce: "0-3" }),
  sotw({ typeUrl: CDS, responseNonce: "4-1", errorDetail: { code: 13, message: "cluster foo: bad config" } }),
  sotw({ typeUrl: CDS, resourceLocators: [{ name: "a", dynamicParameters: { k: "v" } }] }),
];

const deltaRequests = [
  delta({}),
  delta({ typeUrl: CDS, node, initialResourceVersions: { a: "v1", "outbound|80||b.default": "v2", "": "" } }),
  delta({ typeUrl: CDS, resourceNamesSubscribe: ["*", "x"], resourceNamesUnsubscribe: ["y"], responseNonce: "9-9" }),
  delta({ typeUrl: CDS, responseNonce: "9-10", errorDetail: { code: 3, message: "NACK", details: [] } }),
  delta({ typeUrl: CDS, resourceLocatorsSubscribe: [{ name: "a" }] }),
];

describe("xDS request decoding (server)", () => {
  it("reads SotW requests as the generated codec does: ACKs, first requests with a node, NACKs, locators", () => {
    for (const bytes of sotwRequests) assertSameAsGenerated(DiscoveryRequestSchema, decodeDiscoveryRequest, bytes);
  });

  it("reads delta requests as the generated codec does, initial versions included", () => {
    for (const bytes of deltaRequests) assertSameAsGenerated(DeltaDiscoveryRequestSchema, decodeDeltaDiscoveryRequest, bytes);
    const decoded = decodeDeltaDiscoveryRequest(Buffer.from(deltaRequests[1]!));
    assert.deepEqual(decoded.initialResourceVersions, { a: "v1", "outbound|80||b.default": "v2", "": "" });
    assert.equal(decoded.node?.id, node.id);
  });

  it("treats unknown fields, other wire types and damaged messages as the generated codec does", () => {
    const unknownField = Buffer.concat([sotw({ typeUrl: CDS }), Buffer.from([0xf8, 0x01, 0x05])]); // field 31, varint 5
    const nonceAsVarint = Buffer.from([0x28, 0x07]); // field 5 with wire type 0
    assertSameAsGenerated(DiscoveryRequestSchema, decodeDiscoveryRequest, unknownField);
    assertSameAsGenerated(DiscoveryRequestSchema, decodeDiscoveryRequest, nonceAsVarint);
    assertSameAsGenerated(DeltaDiscoveryRequestSchema, decodeDeltaDiscoveryRequest, nonceAsVarint);
    // Every truncation of every request: either both readings agree or both refuse.
    for (const bytes of sotwRequests) {
      for (let end = 0; end < bytes.length; end++) assertSameAsGenerated(DiscoveryRequestSchema, decodeDiscoveryRequest, bytes.subarray(0, end));
    }
    for (const bytes of deltaRequests) {
      for (let end = 0; end < bytes.length; end++) assertSameAsGenerated(DeltaDiscoveryRequestSchema, decodeDeltaDiscoveryRequest, bytes.subarray(0, end));
    }
  });

  it("gives a plain ACK exactly the shape the generated codec gives it (no extra or missing keys)", () => {
    const ack = decodeDiscoveryRequest(Buffer.from(sotwRequests[2]!));
    assert.equal(ack.$typeName, DiscoveryRequestSchema.typeName);
    assert.deepEqual({ ...ack }, { ...create(DiscoveryRequestSchema, { typeUrl: CDS, versionInfo: "0a1b2c", responseNonce: "12-7" }) });
  });
});
