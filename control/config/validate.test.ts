import { test } from "node:test";
import assert from "node:assert/strict";
import { formatIssue, parseYaml, validateMesh, type Issue, type MeshConfig } from "./index.ts";

function check(yaml: string, options = {}) {
  const parsed = parseYaml(yaml, "mesh.yaml");
  assert.deepEqual(parsed.errors, [], "test YAML parses");
  return validateMesh(parsed.documents, options);
}

function valid(yaml: string, options = {}): { mesh: MeshConfig; warnings: Issue[] } {
  const result = check(yaml, options);
  assert.deepEqual(result.errors.map(formatIssue), [], "no errors");
  assert.ok(result.mesh);
  return { mesh: result.mesh, warnings: result.warnings };
}

const byPath = (issues: Issue[]) => Object.fromEntries(issues.map((issue) => [issue.path, issue.message]));

const SERVICES = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ride}
spec:
  hosts: [ride]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  workloadSelector: {labels: {app: ride}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ride-v1}
spec: {address: 127.0.0.1, labels: {app: ride, version: v1}, serviceAccount: ride}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ride-v2}
spec: {address: 127.0.0.2, labels: {app: ride, version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ride}
spec:
  host: ride
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;

test("reports a bad duration with the resource/field path, the file line and an example", () => {
  const result = check(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ride
spec:
  hosts: [ride]
  http:
  - route:
    - destination: {host: ride}
    retries:
      attempts: 3
      perTryTimeout: 3x
`);
  assert.equal(result.mesh, null);
  assert.deepEqual(result.errors, [{
    path: "VirtualService/ride/http[0].retries.perTryTimeout",
    message: `"3x" is not a duration (e.g. "2s", "500ms", "1m30s")`,
    source: "mesh.yaml:12",
  }]);
});

test("reports every error of every resource at once, structural and semantic together", () => {
  const result = check(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ride}
spec:
  hosts: [ride]
  http:
  - match: [{uri: {prefix: /a, exact: /a}}, {uri: {regex: "(?=x)"}}, {headers: {"bad header": {exact: x}}}]
    route:
    - {destination: {host: ride, subset: v1}, weight: -10}
    - {destination: {host: ride, subset: V2}, weight: 10}
    timeout: 0s
    fault: {abort: {percentage: {value: 150}}}
    retries: {perTryTimout: 2s}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ride}
spec:
  host: ride
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: -1}}
    loadBalancer: {simple: FASTEST}
  subsets: [{name: v1}, {name: v1}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  servers:
  - port: {number: 70000, name: https, protocol: HTTPS}
    hosts: [app]
`);
  assert.equal(result.mesh, null);
  const errors = byPath(result.errors);
  assert.match(errors["VirtualService/ride/http[0].match[0].uri"]!, /only one of exact, prefix, regex/);
  assert.match(errors["VirtualService/ride/http[0].match[1].uri.regex"]!, /RE2/);
  assert.match(errors['VirtualService/ride/http[0].match[2].headers["bad header"]']!, /not a valid header name/);
  assert.match(errors["VirtualService/ride/http[0].route[0].weight"]!, /weight -10 < 0/);
  assert.match(errors["VirtualService/ride/http[0].route[1].destination.subset"]!, /subset name "V2" is invalid/);
  assert.match(errors["VirtualService/ride/http[0].timeout"]!, /at least 1ms/);
  assert.match(errors["VirtualService/ride/http[0].fault.abort.percentage.value"]!, /between 0 and 100/);
  assert.match(errors["VirtualService/ride/http[0].fault.abort"]!, /one of httpStatus, grpcStatus, http2Error must be set/);
  assert.match(errors["VirtualService/ride/http[0].retries.perTryTimout"]!, /unknown field "perTryTimout": did you mean "perTryTimeout"\?/);
  assert.match(errors["DestinationRule/ride/trafficPolicy.connectionPool.tcp.maxConnections"]!, /non-negative/);
  assert.match(errors["DestinationRule/ride/trafficPolicy.loadBalancer.simple"]!, /"FASTEST" is not one of UNSPECIFIED, LEAST_CONN/, "a bad enum value does not stop the other checks");
  assert.match(errors["DestinationRule/ride/subsets[1].name"]!, /duplicate subset names: v1/);
  assert.match(errors["Gateway/edge/servers[0].port.number"]!, /1\.\.65535/);
  assert.match(errors["Gateway/edge/servers[0].hosts[0]"]!, /short names/);
  assert.match(errors["Gateway/edge/servers[0].tls"]!, /must have TLS settings/);
  for (const error of result.errors) assert.match(error.source ?? "", /^mesh\.yaml:\d+$/);
});

test("a type error in one resource does not hide the errors of the others", () => {
  const result = check(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a}
spec: {hosts: [a], http: [{route: [{destination: {host: a}, weight: "ninety"}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: b}
spec: {hosts: [b], http: [{route: [{destination: {host: b}}], timeout: soon}]}
`);
  assert.deepEqual(Object.keys(byPath(result.errors)).sort(), ["VirtualService/a/http[0].route[0].weight", "VirtualService/b/http[0].timeout"]);
  assert.match(byPath(result.errors)["VirtualService/a/http[0].route[0].weight"]!, /expected a number, got a string/);
});

test("checks the envelope: kind, apiVersion, names and required fields", () => {
  const result = check(`apiVersion: networking.istio.io/v1
kind: EnvoyFilter
metadata: {name: x}
spec: {}
---
apiVersion: security.istio.io/v1
kind: VirtualService
metadata: {name: Bad_Name, namespace: prod}
spec: {hosts: [x], http: [{route: [{destination: {host: x}}]}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {}
spec: {}
---
- just
- a list
`);
  const errors = byPath(result.errors);
  assert.match(errors["EnvoyFilter/x/kind"]!, /unsupported kind "EnvoyFilter" \(supported: ServiceEntry/);
  assert.match(errors["VirtualService/prod/Bad_Name/apiVersion"]!, /use one of networking\.istio\.io\/v1/);
  assert.match(errors["VirtualService/prod/Bad_Name/metadata.name"]!, /DNS-1123/);
  assert.match(errors["DestinationRule/<unnamed>/metadata.name"]!, /name is required/);
  assert.match(errors["DestinationRule/<unnamed>/host"]!, /host is required/);
  assert.match(errors["(document)"]!, /expected a resource/);
  assert.equal(result.errors.find((error) => error.path === "(document)")?.source, "mesh.yaml:16");
});

test("a duplicate name in one namespace is an error; the same name in another namespace is not", () => {
  const duplicate = check(`${SERVICES}---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: ride}
spec: {host: ride}
`);
  assert.equal(duplicate.mesh, null);
  assert.match(duplicate.errors[0]!.message, /duplicate DestinationRule "ride" in namespace "default" \(also defined at mesh\.yaml:\d+\)/);
  valid(`${SERVICES}---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: ride, namespace: other}
spec: {host: ride.default.svc.cluster.local}
`);
});

test("unknown hosts, subsets and gateways are warnings, and the mesh still loads", () => {
  const { warnings } = valid(`${SERVICES}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ride}
spec:
  hosts: [ride]
  gateways: [edge, mesh]
  http:
  - route:
    - {destination: {host: ride, subset: v3}, weight: 50}
    - {destination: {host: payments}, weight: 50}
`);
  const messages = byPath(warnings);
  assert.match(messages["VirtualService/ride/http[0].route[0].destination.subset"]!, /host\+subset in destinationrule not found: "ride\+v3"/);
  assert.match(messages["VirtualService/ride/http[0].route[1].destination.host"]!, /referenced host not found: "payments"/);
  assert.match(messages["VirtualService/ride/gateways[0]"]!, /referenced gateway not found: "default\/edge"/);
});

test("weights are relative as in Istio: total 0 is an error, a total other than 100 a warning", () => {
  const zero = check(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ride}
spec: {hosts: [ride], http: [{route: [{destination: {host: ride, subset: a}}, {destination: {host: ride, subset: b}}]}]}
`);
  assert.match(byPath(zero.errors)["VirtualService/ride/http[0].route"]!, /total destination weight = 0/);
  const { warnings } = valid(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ride}
spec: {hosts: [ride], http: [{route: [{destination: {host: ride}, weight: 9}, {destination: {host: ride}, weight: 1}]}]}
`);
  assert.match(byPath(warnings)["VirtualService/ride/http[0].route"]!, /sum to 10, not 100/);
});

test("the MeshConfig resolves short hosts, subsets, endpoints and DestinationRule precedence", () => {
  const { mesh } = valid(`${SERVICES}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ride-root, namespace: istio-system}
spec: {host: ride.default.svc.cluster.local, trafficPolicy: {loadBalancer: {simple: RANDOM}}}
`);
  assert.equal(mesh.resolveHost("ride", "default"), "ride.default.svc.cluster.local");
  assert.equal(mesh.resolveHost("api.example.com", "default"), "api.example.com");
  const service = mesh.serviceByHost("ride", "default");
  assert.equal(service?.host, "ride.default.svc.cluster.local");
  assert.equal(mesh.serviceByHost("ride.default.svc.cluster.local", "other"), service);
  assert.equal(mesh.serviceByHost("ride", "other"), undefined, "a short name resolves in the caller's namespace");
  assert.equal(mesh.destinationRule("ride", "default")?.metadata.name, "ride", "the caller's namespace first");
  assert.equal(mesh.destinationRule("ride.default.svc.cluster.local", "other")?.metadata.name, "ride", "then the service's namespace");
  const v2 = mesh.subset("ride", "v2", "default");
  assert.deepEqual(mesh.endpoints(service!, v2).map((endpoint) => endpoint.address), ["127.0.0.2"]);
  assert.deepEqual(mesh.endpoints(service!).map((endpoint) => endpoint.address), ["127.0.0.1", "127.0.0.2"]);
  assert.equal(mesh.endpoints(service!)[0]!.serviceAccount, "ride");
});

test("policies apply from the root namespace and the workload's namespace by selector", () => {
  const { mesh } = valid(`apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: mesh-wide, namespace: istio-system}
spec: {url: "http://control/rate-limit.wasm"}
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: ride-only}
spec: {selector: {matchLabels: {app: ride}}, url: "http://control/metrics.wasm", phase: STATS, priority: 10}
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: elsewhere, namespace: prod}
spec: {url: "http://control/metrics.wasm"}
`);
  const names = (labels: Record<string, string>) => mesh.policiesFor("WasmPlugin", { namespace: "default", labels }).map((plugin) => plugin.metadata.name);
  assert.deepEqual(names({ app: "ride" }), ["mesh-wide", "ride-only"]);
  assert.deepEqual(names({ app: "users" }), ["mesh-wide"]);
});

test("gateways select workloads by labels and VirtualServices bind to gateways or the mesh", () => {
  const { mesh } = valid(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [app.example.com]
    tls: {mode: SIMPLE, credentialName: app-cert}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge-routes}
spec: {hosts: [app.example.com], gateways: [edge], http: [{route: [{destination: {host: ride}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mesh-routes}
spec: {hosts: [ride], http: [{route: [{destination: {host: ride}}]}]}
`);
  assert.deepEqual(mesh.gatewaysFor({ namespace: "default", labels: { istio: "ingressgateway" } }).map((gateway) => gateway.metadata.name), ["edge"]);
  assert.deepEqual(mesh.gatewaysFor({ namespace: "default", labels: { app: "ride" } }), []);
  assert.deepEqual(mesh.virtualServicesFor("default/edge").map((vs) => vs.metadata.name), ["edge-routes"]);
  assert.deepEqual(mesh.virtualServicesFor("mesh").map((vs) => vs.metadata.name), ["mesh-routes"]);
});

test("the root namespace and default namespace are configurable", () => {
  const { mesh } = valid(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: mesh-root}
spec: {mtls: {mode: STRICT}}
`, { rootNamespace: "mesh-root", defaultNamespace: "apps" });
  assert.equal(mesh.policiesFor("PeerAuthentication", { namespace: "apps", labels: {} }).length, 1);
  assert.equal(mesh.resolveHost("ride", "apps"), "ride.apps.svc.cluster.local");
});

test("reads YAML syntax errors as issues with the line and keeps the other documents", () => {
  const parsed = parseYaml(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ok}
spec: {hosts: [ok.example.com], resolution: DNS}
---
kind: VirtualService
  bad: indentation
`, "broken.yaml");
  assert.equal(parsed.documents.length, 1);
  assert.equal(parsed.errors.length > 0, true);
  assert.match(parsed.errors[0]!.source!, /^broken\.yaml:6$/);
  assert.match(parsed.errors[0]!.message, /^YAML syntax error/);
});

test("legacy spellings Istio still accepts are folded into the current fields", () => {
  const { mesh, warnings } = valid(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ride}
spec: {hosts: [ride], http: [{route: [{destination: {host: ride}}], mirror: {host: shadow}, mirror_percent: 25}]}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt}
spec: {jwtRules: [{issuer: "https://issuer", jwks_uri: "https://issuer/jwks.json"}]}
`);
  const route = mesh.get("VirtualService", "default", "ride")!.spec.http![0]!;
  assert.deepEqual(route.mirrorPercentage, { value: 25 });
  assert.equal(route.mirror_percent, undefined);
  assert.match(byPath(warnings)["VirtualService/ride/http[0].mirror_percent"]!, /deprecated/);
  assert.equal(mesh.get("RequestAuthentication", "default", "jwt")!.spec.jwtRules![0]!.jwksUri, "https://issuer/jwks.json");
  const both = check(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt}
spec: {jwtRules: [{issuer: "https://issuer", jwksUri: "https://issuer/jwks.json", jwks: "{\\"keys\\": []}"}]}
`);
  assert.match(byPath(both.errors)["RequestAuthentication/jwt/jwtRules[0]"]!, /only one of jwks or jwksUri/);
});

test("field and kind names that collide with JavaScript object properties are ordinary unknown names", () => {
  const result = check(`apiVersion: networking.istio.io/v1
kind: constructor
metadata: {name: a}
spec: {}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: b}
spec: {hosts: [b.example.com], constructor: 1, toString: 2}
`);
  const errors = byPath(result.errors);
  assert.match(errors["constructor/a/kind"]!, /unsupported kind "constructor"/);
  assert.match(errors["ServiceEntry/b/constructor"]!, /^unknown field "constructor": expected one of hosts/);
  assert.match(errors["ServiceEntry/b/toString"]!, /^unknown field "toString": expected one of hosts/);
});

test("hosts follow Istio's wildcard rules: a leading wildcard label, partial ones warned about", () => {
  const { warnings } = valid(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: partial}
spec: {hosts: ["*x.example.com"]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: wildcard}
spec: {hosts: ["*.example.org"]}
`);
  assert.match(byPath(warnings)["ServiceEntry/partial/hosts[0]"]!, /partial wildcard/);
  const result = check(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: bad}
spec: {hosts: ["api.*.example.com", "*", "-x.example.com"]}
`);
  const errors = byPath(result.errors);
  assert.match(errors["ServiceEntry/bad/hosts[0]"]!, /only allowed at the start of the first label/);
  assert.match(errors["ServiceEntry/bad/hosts[1]"]!, /invalid host \*/);
  assert.match(errors["ServiceEntry/bad/hosts[2]"]!, /not a valid DNS name/);
});

test("the CRD-level rules Istio's API server enforces are enforced too", () => {
  const result = check(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: ref}
spec: {targetRef: {kind: Service, name: ride, namespace: other}, jwtRules: [{issuer: x, spaceDelimitedClaims: [""]}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: uds}
spec: {address: "unix:///var/run/"}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: selector}
spec: {hosts: [a.example.com], workloadSelector: {labels: {app: "*"}}}
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: url}
spec: {url: "#%blah$#@"}
`);
  const errors = byPath(result.errors);
  assert.match(errors["RequestAuthentication/ref/targetRef.namespace"]!, /cross namespace referencing is not currently supported/);
  assert.match(errors["RequestAuthentication/ref/jwtRules[0].spaceDelimitedClaims[0]"]!, /must not be empty/);
  assert.match(errors["WorkloadEntry/uds/address"]!, /UDS may not be a dir/);
  assert.match(errors["ServiceEntry/selector/workloadSelector.labels.app"]!, /wildcard is not supported in selector/);
  assert.match(errors["WasmPlugin/url/url"]!, /failed to parse url/);
});

test("DestinationRule lookup prefers the exact host, then the most specific wildcard, and honours exportTo", () => {
  const { mesh } = valid(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: any-example}
spec: {host: "*.example.com", trafficPolicy: {loadBalancer: {simple: RANDOM}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api-example}
spec: {host: "*.api.example.com", trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: exact}
spec: {host: "v1.api.example.com", trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: private, namespace: team}
spec: {host: "db.example.com", exportTo: ["."], trafficPolicy: {loadBalancer: {simple: RANDOM}}}
`);
  assert.equal(mesh.destinationRule("v1.api.example.com", "default")?.metadata.name, "exact");
  assert.equal(mesh.destinationRule("v2.api.example.com", "default")?.metadata.name, "api-example");
  assert.equal(mesh.destinationRule("www.example.com", "default")?.metadata.name, "any-example");
  assert.equal(mesh.destinationRule("db.example.com", "team")?.metadata.name, "private");
  assert.equal(mesh.destinationRule("db.example.com", "default")?.metadata.name, "any-example", "a rule exported to its own namespace only is invisible elsewhere");
});

test("a kubectl List export is read item by item, with each item's own line", () => {
  const result = check(`apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: ServiceEntry
  metadata: {name: a, namespace: prod, resourceVersion: "1234", uid: abc}
  spec: {hosts: [a.example.com], resolution: DNS}
- apiVersion: networking.istio.io/v1
  kind: VirtualService
  metadata: {name: b, namespace: prod}
  spec: {hosts: [a.example.com], http: [{route: [{destination: {host: a.example.com}}], timeout: 3x}]}
`);
  assert.deepEqual(result.errors.map((error) => [error.path, error.source]), [["VirtualService/prod/b/http[0].timeout", "mesh.yaml:11"]]);
});

test("valid Istio config that as-mesh does not apply yet is flagged, never silently ignored", () => {
  const { warnings } = valid(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext-authz}
spec: {action: CUSTOM, provider: {name: opa}, rules: [{}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db}
spec: {hosts: [db.example.com], tcp: [{route: [{destination: {host: db.example.com}}]}]}
`);
  const messages = byPath(warnings);
  assert.match(messages["AuthorizationPolicy/ext-authz/action"]!, /CUSTOM .* not enforced/);
  assert.match(messages["VirtualService/db/tcp"]!, /TCP routes are validated but not applied/);
});
