// Mesh mTLS and authorization in the translation: PeerAuthentication → inbound chains, auto-mTLS and ISTIO_MUTUAL
// → upstream TLS with SAN checks, AuthorizationPolicy → RBAC. Every resource must pack into its xDS message.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { packResource } from "../api/index.ts";
import { parseYaml, validateMesh, type MeshConfig } from "../config/index.ts";
import {
  JWT_ISSUER_HEADER, JWT_SUBJECT_HEADER, peerAuthenticationMode, resourcesByTypeUrl, sidecarBootstrap, translateProxy, workloadInstanceOf,
  type EnvoyResources, type ProxyInfo, type TranslateContext,
} from "./index.ts";

type Node = Record<string, unknown>;

function meshOf(yaml: string): MeshConfig {
  const { documents, errors } = parseYaml(yaml, "test.yaml");
  assert.deepEqual(errors, []);
  const result = validateMesh(documents);
  assert.deepEqual(result.errors, [], "the test mesh is valid");
  return result.mesh!;
}

const SHA = "0123456789abcdef".repeat(4);
const context: TranslateContext = {
  registeredWorkloads: [],
  wasmModules: { "jwt-auth": { url: "http://127.0.0.1:15014/wasm/jwt-auth.wasm", sha256: SHA } },
};

function sidecar(overrides: Partial<ProxyInfo> = {}, agent = true): ProxyInfo {
  return {
    id: "sidecar~127.0.0.30~reviews.default~default.svc.cluster.local", type: "sidecar", namespace: "default",
    labels: { app: "reviews" }, serviceAccount: "reviews", ip: "127.0.0.30", workloadName: "reviews",
    inboundPorts: {}, appPorts: { http: 18080 }, listenAddress: "127.0.0.1", listenPorts: {},
    metadata: agent ? { SDS_SOCKET: "/tmp/agent.sock" } : {}, ...overrides,
  };
}

function translate(mesh: MeshConfig, proxy: ProxyInfo, ctx: TranslateContext = context): EnvoyResources {
  const resources = translateProxy(mesh, proxy, ctx);
  for (const [typeUrl, byName] of Object.entries(resourcesByTypeUrl(resources))) {
    for (const [name, json] of byName) assert.doesNotThrow(() => packResource(typeUrl, json), `${name} packs as ${typeUrl}`);
  }
  return resources;
}

const REVIEWS = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews.default.svc.cluster.local]
  ports: [{ number: 9080, name: http, protocol: HTTP, targetPort: 8080 }]
  resolution: STATIC
  workloadSelector: { labels: { app: reviews } }
`;

function inbound(resources: EnvoyResources): Node {
  const found = resources.listeners.get("127.0.0.30_8080");
  assert.ok(found, `inbound listener exists (have ${[...resources.listeners.keys()].join(", ")})`);
  return found as Node;
}

function chains(listener: Node): Node[] {
  return listener.filterChains as Node[];
}

function hcmOf(chain: Node): Node {
  return ((chain.filters as Node[])[0]!.typedConfig) as Node;
}

describe("PeerAuthentication", () => {
  const policies = `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: mesh, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: ns, namespace: legacy }
spec: { mtls: { mode: PERMISSIVE } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: unset, namespace: inherits }
spec: { mtls: { mode: UNSET } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: db, namespace: legacy }
spec:
  selector: { matchLabels: { app: db } }
  mtls: { mode: DISABLE }
  portLevelMtls: { "5432": { mode: STRICT }, "9000": { mode: UNSET } }
`;
  it("resolves mesh, namespace, workload and port levels with UNSET inheriting", () => {
    const mesh = meshOf(policies);
    assert.equal(peerAuthenticationMode(mesh, { namespace: "default", labels: {} }, [80]), "STRICT");
    assert.equal(peerAuthenticationMode(mesh, { namespace: "inherits", labels: {} }, [80]), "STRICT");
    assert.equal(peerAuthenticationMode(mesh, { namespace: "legacy", labels: { app: "web" } }, [80]), "PERMISSIVE");
    assert.equal(peerAuthenticationMode(mesh, { namespace: "legacy", labels: { app: "db" } }, [80]), "DISABLE");
    assert.equal(peerAuthenticationMode(mesh, { namespace: "legacy", labels: { app: "db" } }, [5432]), "STRICT");
    assert.equal(peerAuthenticationMode(mesh, { namespace: "legacy", labels: { app: "db" } }, [9000]), "DISABLE");
    assert.equal(peerAuthenticationMode(meshOf(REVIEWS), { namespace: "default", labels: {} }, [80]), "PERMISSIVE", "Istio's default");
  });

  it("gives a sidecar with an agent PERMISSIVE chains by default, with XFCC on the mTLS chain", () => {
    const listener = inbound(translate(meshOf(REVIEWS), sidecar()));
    assert.deepEqual((listener.listenerFilters as Node[]).map((filter) => filter.name), ["envoy.filters.listener.tls_inspector"]);
    const [tls, plain] = chains(listener);
    assert.deepEqual(tls!.filterChainMatch, { transportProtocol: "tls" });
    assert.deepEqual(plain!.filterChainMatch, { transportProtocol: "raw_buffer" });
    const context = (tls!.transportSocket as Node).typedConfig as Node;
    assert.equal(context.requireClientCertificate, true);
    const common = context.commonTlsContext as Node;
    assert.equal(((common.tlsCertificateSdsSecretConfigs as Node[])[0]!).name, "default");
    assert.equal(((common.combinedValidationContext as Node).validationContextSdsSecretConfig as Node).name, "ROOTCA");
    assert.equal(hcmOf(tls!).forwardClientCertDetails, "SANITIZE_SET");
    assert.deepEqual(hcmOf(tls!).setCurrentClientCertDetails, { uri: true });
    assert.equal(hcmOf(plain!).forwardClientCertDetails, "SANITIZE");
    assert.equal(plain!.transportSocket, undefined);
  });

  it("STRICT keeps only the mTLS chain; DISABLE and sidecars without an agent stay plain text", () => {
    const strict = meshOf(`${REVIEWS}---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: default }
spec: { mtls: { mode: STRICT } }
`);
    const strictChains = chains(inbound(translate(strict, sidecar())));
    assert.equal(strictChains.length, 1);
    assert.deepEqual(strictChains[0]!.filterChainMatch, { transportProtocol: "tls" });

    const withoutAgent = translate(strict, sidecar({}, false));
    const plain = chains(inbound(withoutAgent));
    assert.equal(plain.length, 1);
    assert.equal(plain[0]!.transportSocket, undefined);
    assert.ok(withoutAgent.warnings.some((warning) => /no agent SDS socket/.test(warning.message)));

    const disabled = meshOf(`${REVIEWS}---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  mtls: { mode: STRICT }
  portLevelMtls: { "8080": { mode: DISABLE } }
`);
    const disabledChains = chains(inbound(translate(disabled, sidecar())));
    assert.equal(disabledChains.length, 1);
    assert.equal(disabledChains[0]!.transportSocket, undefined);
    assert.equal(inbound(translate(disabled, sidecar())).listenerFilters, undefined);
  });

  it("puts the agent's SDS cluster and identity into the bootstrap and the group key", () => {
    const bootstrap = sidecarBootstrap({ namespace: "default", ip: "127.0.0.30", control: [{ host: "127.0.0.1", port: 15010 }], sdsSocket: "/run/agent.sock", trustDomain: "example.org" });
    const clusters = (bootstrap.staticResources!.clusters ?? []) as Node[];
    const sds = clusters.find((cluster) => cluster.name === "sds-grpc");
    assert.ok(sds, "sds-grpc cluster");
    assert.match(JSON.stringify(sds), /"path":"\/run\/agent.sock"/);
    assert.equal((bootstrap.node!.metadata as Node).SDS_SOCKET, "/run/agent.sock");
    assert.equal((bootstrap.node!.metadata as Node).TRUST_DOMAIN, "example.org");
    assert.equal(workloadInstanceOf(sidecar()).mtls, true);
    assert.equal(workloadInstanceOf(sidecar({}, false)).mtls, undefined);
  });
});

describe("upstream mTLS", () => {
  const registered = [
    { ...workloadInstanceOf(sidecar()), address: "127.0.0.30", ports: { http: 8080 } },
    { ...workloadInstanceOf(sidecar({ ip: "127.0.0.31", serviceAccount: "reviews-v2" }, false)), address: "127.0.0.31", ports: { http: 8080 } },
  ];
  const client = sidecar({ id: "sidecar~127.0.0.40~productpage.default~default.svc.cluster.local", ip: "127.0.0.40", labels: { app: "productpage" } });
  const cluster = (resources: EnvoyResources) => resources.clusters.get("outbound|9080||reviews.default.svc.cluster.local") as Node;

  it("auto-mTLS: endpoints with agents get ISTIO_MUTUAL with the destination's SPIFFE IDs, the rest plain text", () => {
    const resources = translate(meshOf(REVIEWS), client, { ...context, registeredWorkloads: registered });
    const matches = cluster(resources).transportSocketMatches as Node[];
    assert.equal(matches.length, 1);
    assert.deepEqual(matches[0]!.match, { tlsMode: "istio" });
    const tls = (matches[0]!.transportSocket as Node).typedConfig as Node;
    assert.equal(tls.sni, "outbound_.9080_._.reviews.default.svc.cluster.local");
    const sans = ((tls.commonTlsContext as Node).combinedValidationContext as Node).defaultValidationContext as Node;
    assert.deepEqual((sans.matchTypedSubjectAltNames as Node[]).map((san) => (san.matcher as Node).exact), [
      "spiffe://cluster.local/ns/default/sa/reviews", "spiffe://cluster.local/ns/default/sa/reviews-v2",
    ]);
    const endpoints = resources.endpoints.get("outbound|9080||reviews.default.svc.cluster.local")!.endpoints![0]!.lbEndpoints!;
    const tlsModes = endpoints.map((endpoint) => JSON.stringify(endpoint.metadata ?? null));
    assert.deepEqual(tlsModes, [JSON.stringify({ filterMetadata: { "envoy.transport_socket_match": { tlsMode: "istio" } } }), "null"]);
  });

  it("leaves auto-mTLS out for clients without an agent, DISABLE destinations and DestinationRules that say DISABLE", () => {
    assert.equal(cluster(translate(meshOf(REVIEWS), { ...client, metadata: {} }, { ...context, registeredWorkloads: registered })).transportSocketMatches, undefined);
    const disabled = meshOf(`${REVIEWS}---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: default }
spec: { mtls: { mode: DISABLE } }
`);
    assert.equal(cluster(translate(disabled, client, { ...context, registeredWorkloads: registered })).transportSocketMatches, undefined);
    const rule = meshOf(`${REVIEWS}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec: { host: reviews.default.svc.cluster.local, trafficPolicy: { tls: { mode: DISABLE } } }
`);
    const plain = cluster(translate(rule, client, { ...context, registeredWorkloads: registered }));
    assert.equal(plain.transportSocketMatches, undefined);
    assert.equal(plain.transportSocket, undefined);
  });

  it("ISTIO_MUTUAL from a DestinationRule checks the destination's identities", () => {
    const rule = meshOf(`${REVIEWS}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec: { host: reviews.default.svc.cluster.local, trafficPolicy: { tls: { mode: ISTIO_MUTUAL } } }
`);
    const tls = (cluster(translate(rule, client, { ...context, registeredWorkloads: registered.slice(0, 1) })).transportSocket as Node).typedConfig as Node;
    assert.match(JSON.stringify(tls), /"exact":"spiffe:\/\/cluster.local\/ns\/default\/sa\/reviews"/);
    assert.equal(tls.sni, "outbound_.9080_._.reviews.default.svc.cluster.local");
  });
});

/** The rules of the chain's RBAC filters (AUDIT, DENY, ALLOW), from their ECDS resources. */
function rbacFilters(resources: EnvoyResources): Node[] {
  const [tls] = chains(inbound(resources));
  const names = (hcmOf(tls!).httpFilters as Node[]).map((filter) => filter.name as string).filter((name) => name.startsWith("as-mesh.rbac."));
  return names.map((name) => {
    const config = resources.extensionConfigs.get(name);
    assert.ok(config, `ECDS resource ${name}`);
    return (config.typedConfig as Node).rules as Node;
  });
}

describe("AuthorizationPolicy", () => {
  it("an empty spec denies everything; DENY comes before ALLOW", () => {
    const mesh = meshOf(`${REVIEWS}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-all, namespace: default }
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: no-admin, namespace: istio-system }
spec:
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/admin*"] } }] }]
`);
    const resources = translate(mesh, sidecar());
    assert.deepEqual((hcmOf(chains(inbound(resources))[0]!).httpFilters as Node[]).map((filter) => filter.name), [
      "as-mesh.rbac.inbound_8080.audit", "as-mesh.rbac.inbound_8080.deny", "as-mesh.rbac.inbound_8080.allow",
      "envoy.filters.http.fault", "envoy.filters.http.router",
    ]);
    const [audit, deny, allow] = rbacFilters(resources);
    assert.deepEqual(audit, { action: "LOG", policies: {} });
    assert.equal(deny!.action, "DENY");
    assert.deepEqual(Object.values(deny!.policies as Node), [{ permissions: [{ urlPath: { path: { prefix: "/admin" } } }], principals: [{ any: true }] }]);
    assert.deepEqual(allow, { action: "ALLOW", policies: {} });
  });

  it("no policy: no RBAC filter without an agent; a DENY policy alone leaves the ALLOW filter allowing everything; gateways get RBAC too", () => {
    assert.deepEqual(rbacFilters(translate(meshOf(REVIEWS), sidecar({}, false))), []);
    // A sidecar with an agent always has them (no-ops), so the first policy does not change its listener.
    assert.deepEqual(rbacFilters(translate(meshOf(REVIEWS), sidecar())), [{ action: "LOG", policies: {} }, { action: "DENY", policies: {} }, undefined]);
    const denyOnly = `${REVIEWS}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: no-delete, namespace: istio-system }
spec: { action: DENY, rules: [{ to: [{ operation: { methods: [DELETE] } }] }] }
`;
    const [, deny, allow] = rbacFilters(translate(meshOf(denyOnly), sidecar()));
    assert.equal(Object.keys(deny!.policies as Node).length, 1);
    assert.equal(allow, undefined, "an RBAC filter without rules");
    const gateway = translate(meshOf(`${denyOnly}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec: { selector: { istio: ingressgateway }, servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }] }
`), { ...sidecar(), type: "router", labels: { istio: "ingressgateway" }, listenAddress: "0.0.0.0" });
    const names = (((gateway.listeners.get("0.0.0.0_80") as Node).filterChains as Node[])[0]!.filters as Node[])
      .flatMap((filter) => ((filter.typedConfig as Node).httpFilters as Node[]).map((entry) => entry.name));
    assert.ok(names.includes("as-mesh.rbac.gateway_80.deny"), names.join(", "));
  });

  it("translates principals, namespaces, methods, paths and conditions as Istio does", () => {
    const mesh = meshOf(`${REVIEWS}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: users, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  rules:
  - from: [{ source: { principals: ["cluster.local/ns/default/sa/productpage"], notNamespaces: ["test"] } }]
    to: [{ operation: { methods: [GET], paths: ["/users/*", "*/info"], ports: ["8080"] } }]
    when: [{ key: "request.headers[X-Tenant]", values: ["a"] }, { key: destination.port, notValues: ["9999"] }]
`);
    const [, , allow] = rbacFilters(translate(mesh, sidecar()));
    const policy = Object.values(allow!.policies as Node)[0] as Node;
    assert.deepEqual(policy.principals, [{ andIds: { ids: [
      { andIds: { ids: [
        { authenticated: { principalName: { exact: "spiffe://cluster.local/ns/default/sa/productpage" } } },
        { notId: { authenticated: { principalName: { safeRegex: { regex: ".*/ns/test/.*" } } } } },
      ] } },
      { header: { name: "x-tenant", stringMatch: { exact: "a" } } },
    ] } }]);
    assert.deepEqual(policy.permissions, [{ andRules: { rules: [
      { andRules: { rules: [
        { header: { name: ":method", stringMatch: { exact: "GET" } } },
        { orRules: { rules: [{ urlPath: { path: { prefix: "/users/" } } }, { urlPath: { path: { suffix: "/info" } } }] } },
        { any: true },
      ] } },
      { notRule: { notRule: { any: true } } },
    ] } }]);
  });

  it("request principals read jwt-auth's headers, and never match without a RequestAuthentication", () => {
    const policy = `${REVIEWS}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: jwt, namespace: default }
spec:
  rules:
  - from: [{ source: { requestPrincipals: ["https://issuer.example/tenant/alice"] } }]
    when: [{ key: "request.auth.claims[groups]", values: ["admin"] }]
`;
    const without = rbacFilters(translate(meshOf(policy), sidecar()))[2]!;
    assert.match(JSON.stringify(without), /"notId":\{"any":true\}/);
    const withJwt = translate(meshOf(`${policy}---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: default }
spec: { jwtRules: [{ issuer: "https://issuer.example/tenant", jwks: '{"keys":[]}' }] }
`), sidecar());
    const principals = JSON.stringify(rbacFilters(withJwt)[2]);
    // Issuer "https://issuer.example/tenant" and subject "alice" is one of the splits tried.
    assert.ok(principals.includes(JSON.stringify({ andIds: { ids: [
      { header: { name: JWT_ISSUER_HEADER, stringMatch: { exact: "https://issuer.example/tenant" } } },
      { header: { name: JWT_SUBJECT_HEADER, stringMatch: { exact: "alice" } } },
    ] } })));
    assert.match(principals, /x-as-mesh-jwt-claim-groups/);
    const jwtConfig = JSON.stringify(withJwt.extensionConfigs.get("as-mesh.jwt-auth"));
    for (const header of [JWT_ISSUER_HEADER, JWT_SUBJECT_HEADER, "x-as-mesh-jwt-claim-groups"]) assert.ok(jwtConfig.includes(header), header);
  });

  it("translates the design documents' policies as Istio documents them", () => {
    const files = ["doc001-01-authorizationpolicy-requestauthentication.yaml", "doc003-02-authorizationpolicy.yaml"];
    const text = files.map((file) => readFileSync(`/work/shared/mesh-examples/${file}`, "utf8")).join("\n---\n");
    const mesh = meshOf(`${text}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: user-service, namespace: production }
spec:
  hosts: [user-service.production.svc.cluster.local]
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  resolution: STATIC
  workloadSelector: { labels: { app: user-service } }
`);
    const proxy = sidecar({ namespace: "production", labels: { app: "user-service" }, ip: "127.0.0.50", appPorts: { http: 18080 } });
    const resources = translate(mesh, proxy);
    const allow = (resources.extensionConfigs.get("as-mesh.rbac.inbound_8080.allow")!.typedConfig as Node).rules as Node;
    assert.equal(allow.action, "ALLOW");
    // deny-all adds no rule, user-service-access two.
    const policies = allow.policies as Node;
    assert.deepEqual(Object.keys(policies), ["ns[production]-policy[user-service-access]-rule[0]", "ns[production]-policy[user-service-access]-rule[1]"]);
    // Rule 0: either gateway or order-service, any operation; rule 1: GET/POST on the paths, from anyone.
    assert.match(JSON.stringify(policies["ns[production]-policy[user-service-access]-rule[0]"]), /sa\/api-gateway.*sa\/order-service/);
    assert.deepEqual((policies["ns[production]-policy[user-service-access]-rule[1]"] as Node).principals, [{ any: true }]);
    // allow-get (default namespace, no selector) does not reach a production workload.
    assert.doesNotMatch(JSON.stringify(policies), /allow-get/);
  });
});
