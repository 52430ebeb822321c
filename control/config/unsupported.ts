// Istio configuration that validates but that as-mesh does not apply yet. Silently ignoring it would be worse than
// refusing it (an AuthorizationPolicy that looks enforced and is not), so each use is a warning that says what
// happens instead. Keep this list in step with control/translate/README.md ("Not translated yet").
import type { FieldPath } from "./parse.ts";
import type { MeshConfig } from "./mesh.ts";
import type { AnyResource } from "./schema.ts";

export type Warn = (resource: AnyResource, path: FieldPath, message: string) => void;

export function analyzeUnsupported(mesh: MeshConfig, warn: Warn): void {
  // AuthorizationPolicy and PeerAuthentication are translated (control/translate/rbac.ts, mtls.ts); these parts are not.
  for (const policy of mesh.list("AuthorizationPolicy")) {
    if (policy.spec.action === "CUSTOM") warn(policy, ["action"], "CUSTOM (external authorization) is not supported by as-mesh: this policy is not enforced");
    if (policy.spec.targetRef || policy.spec.targetRefs?.length) warn(policy, ["targetRef"], "targetRef policies are not applied by as-mesh yet; use a selector");
  }
  for (const policy of mesh.list("RequestAuthentication")) {
    if (policy.spec.targetRef || policy.spec.targetRefs?.length) warn(policy, ["targetRef"], "targetRef policies are not applied by as-mesh yet; use a selector");
  }
  for (const vs of mesh.list("VirtualService")) {
    if (vs.spec.tcp?.length) warn(vs, ["tcp"], "TCP routes are validated but not applied by as-mesh yet (the destination clusters are sent, no listener routes to them)");
    if (vs.spec.tls?.length) warn(vs, ["tls"], "TLS routes are validated but not applied by as-mesh yet");
    if (vs.spec.exportTo?.length) warn(vs, ["exportTo"], "exportTo is not applied to VirtualServices by as-mesh yet: the routes are visible to every namespace");
    vs.spec.http?.forEach((route, index) => {
      if (route.delegate) warn(vs, ["http", index, "delegate"], "delegate VirtualServices are not applied by as-mesh yet; this route is left out");
      if (route.corsPolicy) warn(vs, ["http", index, "corsPolicy"], "corsPolicy is not applied by as-mesh yet; CORS requests pass through unchanged");
    });
  }
  for (const se of mesh.list("ServiceEntry")) {
    if (se.spec.exportTo?.length) warn(se, ["exportTo"], "exportTo is not applied to ServiceEntries by as-mesh yet: the service is visible to every namespace");
  }
  for (const dr of mesh.list("DestinationRule")) {
    const policies = [dr.spec.trafficPolicy, ...(dr.spec.subsets ?? []).map((subset) => subset.trafficPolicy)];
    if (policies.some((policy) => policy?.loadBalancer?.localityLbSetting)) {
      warn(dr, ["trafficPolicy", "loadBalancer", "localityLbSetting"], "locality load balancing is not applied by as-mesh yet");
    }
  }
}
